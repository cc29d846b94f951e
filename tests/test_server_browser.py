"""The web page in a real headless browser (Debian's chromium driven by selenium): a file dropped on the
page is classified, accepted and applied (the tag read back with mutagen); the monitoring page's counters
move. Needs /usr/bin/chromium and /usr/bin/chromedriver (`.ci/run` installs them)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import mutagen
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from music_reclass_gui.inference.engine import DEFAULT_MODEL
from music_reclass_gui.server.config import ServerConfig
from tests.conftest import tone, write_audio
from tests.server_helpers import HAVE_CHROMIUM, browser, drop_files, running_server

TOKEN = "browser-token"

pytestmark = pytest.mark.skipif(
    not HAVE_CHROMIUM,
    reason="Debian chromium + chromium-driver are not installed (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, default_classifier):
    lib = tmp_path_factory.mktemp("browser-lib")
    config = ServerConfig(
        libraries=[lib],
        token=TOKEN,
        classifier=default_classifier,
        device="cpu",
        upload_dir=tmp_path_factory.mktemp("browser-uploads"),
    )
    with running_server(config) as (url, app):
        yield url, app


def test_drop_classify_accept_apply_then_monitoring_moves(server, tmp_path, default_classifier):
    url, _app = server
    song = tmp_path / "Dropped Song.flac"
    write_audio(song, tone(6, 22050, 260.0, seed=21), 22050)
    expected = default_classifier.classify(song).genre
    driver = browser()
    wait = WebDriverWait(driver, 120, ignored_exceptions=(StaleElementReferenceException,))  # rows re-drawn
    try:
        driver.get(url + "/")
        # the server has a token: the page asks for it
        wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(TOKEN)
        driver.find_element(By.ID, "token-save").click()
        wait.until(lambda d: DEFAULT_MODEL in d.find_element(By.ID, "device").text)

        drop_files(driver, "drop", song)
        row = (By.CSS_SELECTOR, "#items tbody tr")
        wait.until(lambda d: d.find_elements(*row) and "classified" in d.find_element(*row).text)
        tr = driver.find_element(*row)
        assert tr.find_element(By.CSS_SELECTOR, "td.file").text == "Dropped Song.flac"
        assert tr.find_element(By.CSS_SELECTOR, "td.proposed").text.splitlines()[0] == expected
        assert len(tr.find_elements(By.CSS_SELECTOR, ".bar")) == 3
        stored = Path(tr.get_attribute("data-path"))

        tr.find_element(By.CSS_SELECTOR, "button.accept").click()
        wait.until(lambda d: "accepted" in d.find_element(*row).text)
        apply = driver.find_element(By.ID, "apply")
        wait.until(lambda d: apply.is_enabled())
        apply.click()
        wait.until(lambda d: "written" in d.find_element(*row).text)
        assert "Wrote genres to 1 file(s)" in driver.find_element(By.ID, "message").text
        assert mutagen.File(stored)["genre"] == [expected]
        assert driver.find_element(By.ID, "undo").is_enabled()

        driver.get(url + "/monitor")
        wait.until(lambda d: d.find_element(By.ID, "t-tracks").text not in ("", "–"))
        before = int(driver.find_element(By.ID, "t-tracks").text)
        assert before >= 1
        assert driver.find_element(By.ID, "t-accept").text == "100 %"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as c:
            assert (
                c.post("/api/classify", files={"file": ("again.flac", song.read_bytes())}).status_code == 200
            )
        wait.until(lambda d: int(d.find_element(By.ID, "t-tracks").text) == before + 1)
        assert float(driver.find_element(By.ID, "t-mean").text.split()[0]) > 0
    finally:
        driver.quit()


def test_pages_fit_a_phone_screen(server):
    url, _app = server
    driver = browser(390, 844, phone=True)
    try:
        for page in ("/", "/monitor"):
            driver.get(url + page)
            time.sleep(0.5)
            assert driver.execute_script("return window.innerWidth") == 390
            width = driver.execute_script("return document.documentElement.scrollWidth")
            assert width <= 390, f"{page} scrolls sideways on a phone ({width} px)"
            sticking_out = driver.execute_script(
                "return [...document.querySelectorAll('main *')].filter(e => e.offsetParent !== null"
                " && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.id || e.tagName)"
            )
            assert sticking_out == [], f"{page}: cut off on a phone: {sticking_out}"
    finally:
        driver.quit()
