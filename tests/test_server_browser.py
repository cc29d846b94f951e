"""The web page in a real headless browser (Debian's chromium driven by selenium): a file dropped on the
page is classified, accepted and applied (the tag read back with mutagen); the monitoring page's counters
move. Needs /usr/bin/chromium and /usr/bin/chromedriver (`.ci/run` installs them)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import mutagen
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from music_reclass_gui.inference.engine import DEFAULT_MODEL
from music_reclass_gui.server.config import ServerConfig
from tests.conftest import tone, write_audio
from tests.server_helpers import running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TOKEN = "browser-token"

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Debian chromium + chromium-driver are not installed (apt-get install chromium chromium-driver)",
)


def browser(width: int = 1280, height: int = 900, phone: bool = False) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    if phone:  # a real window cannot be narrower than ~500 px: emulate the phone's viewport
        metrics = {"width": width, "height": height, "pixelRatio": 2.0, "touch": True}
        opts.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def drop_files(driver: webdriver.Chrome, target_id: str, *paths: Path) -> None:
    """Drop real files on an element, as a user dragging them from the desktop would (a DataTransfer built
    from files the browser read from disk)."""
    driver.execute_script(
        "const i = document.createElement('input'); i.type = 'file'; i.multiple = true; i.id = '__src';"
        "i.style.cssText = 'position:fixed;left:0;top:0;opacity:0.01'; document.body.appendChild(i);"
    )
    driver.find_element(By.ID, "__src").send_keys("\n".join(str(p) for p in paths))
    driver.execute_script(
        "const dt = new DataTransfer(); for (const f of document.getElementById('__src').files) dt.items.add(f);"
        "const zone = document.getElementById(arguments[0]);"
        "for (const t of ['dragenter', 'dragover', 'drop'])"
        "  zone.dispatchEvent(new DragEvent(t, {bubbles: true, cancelable: true, dataTransfer: dt}));"
        "document.getElementById('__src').remove();",
        target_id,
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
    wait = WebDriverWait(driver, 120)
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
    finally:
        driver.quit()
