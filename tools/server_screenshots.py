"""Screenshots of the server's web page and monitoring page (docs/server-web.png, docs/server-monitoring.png).

Serves a temporary library of real GTZAN clips (../shared/data), opens the folder on the page in headless
Debian chromium, accepts / edits / rejects a few proposals, applies them, then shows the monitoring page.

    python tools/server_screenshots.py [--out docs] [--model msd-musicnn]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "gtzan" / "clips"
PICK = ("blues", "classical", "country", "disco", "jazz", "metal", "reggae", "rock")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--model", default="msd-musicnn")
    args = ap.parse_args()
    if not CLIPS.is_dir():
        print(f"needs the GTZAN clips in {CLIPS}", file=sys.stderr)
        return 2
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    from music_reclass_gui.server.background import serve_in_thread
    from music_reclass_gui.server.config import ServerConfig
    from tests.server_helpers import browser

    with tempfile.TemporaryDirectory(prefix="music-reclass-shots-") as tmp:
        lib = Path(tmp) / "Music"
        (lib / "GTZAN sampler").mkdir(parents=True)
        for genre in PICK:
            clip = sorted((CLIPS / genre).glob("*.wav"))[1]
            shutil.copyfile(clip, lib / "GTZAN sampler" / clip.name)
        config = ServerConfig(
            libraries=[lib], model=args.model, device="cpu", upload_dir=Path(tmp) / "uploads"
        )
        with serve_in_thread(config) as (url, _app):
            driver = browser(1280, 1000)
            wait = WebDriverWait(driver, 300)
            try:
                driver.get(url + "/")
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#folder option")) > 2)
                Select(driver.find_element(By.ID, "folder")).select_by_value(str(lib / "GTZAN sampler"))
                driver.find_element(By.ID, "open").click()
                wait.until(lambda d: "done" in d.find_element(By.ID, "progress-text").text)
                rows = driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")
                rows[0].find_element(By.CSS_SELECTOR, "button.accept").click()
                time.sleep(0.5)
                rows = driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")
                rows[2].find_element(By.CSS_SELECTOR, "button.reject").click()
                time.sleep(0.5)
                rows = driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")
                rows[1].find_element(By.CSS_SELECTOR, "button.edit").click()
                box = driver.find_element(By.CSS_SELECTOR, "td.proposed input")
                box.clear()
                box.send_keys("Classical; Orchestral\n")
                time.sleep(0.5)
                driver.find_element(By.ID, "apply").click()
                wait.until(lambda d: "Wrote" in d.find_element(By.ID, "message").text)
                rows = driver.find_elements(By.CSS_SELECTOR, "#items tbody tr")
                rows[4].find_element(By.CSS_SELECTOR, "button.accept").click()
                time.sleep(1.0)
                args.out.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.out / "server-web.png"))
                driver.get(url + "/monitor")
                time.sleep(3.0)
                driver.save_screenshot(str(args.out / "server-monitoring.png"))
                phone = browser(390, 844, phone=True)
                try:
                    phone.get(url + "/")
                    time.sleep(2.0)
                    phone.save_screenshot(str(args.out / "server-web-phone.png"))
                finally:
                    phone.quit()
            finally:
                driver.quit()
    print(f"wrote {args.out}/server-web.png, server-monitoring.png, server-web-phone.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
