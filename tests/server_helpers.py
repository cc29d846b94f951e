"""Support for the server tests (and tools/server_screenshots.py): a real server in a thread, job polling,
and a real headless chromium driven by selenium."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from music_reclass_gui.server.background import serve_in_thread as running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_CHROMIUM = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

__all__ = ["CHROMEDRIVER", "CHROMIUM", "HAVE_CHROMIUM", "browser", "drop_files", "running_server", "wait_job"]


def wait_job(client, job_id: str, timeout: float = 120.0) -> dict:
    """Poll GET /api/jobs/ID until the job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/api/jobs/{job_id}").json()
        if data["state"] in ("done", "cancelled", "failed"):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {data['state']} after {timeout} s: {data}")
        time.sleep(0.1)


def browser(width: int = 1280, height: int = 900, phone: bool = False):
    """Debian's chromium, headless, through its own chromedriver (no browser download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

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


def drop_files(driver, target_id: str, *paths: Path) -> None:
    """Drop real files on an element, as a user dragging them from the desktop would (a DataTransfer built
    from files the browser read from disk)."""
    from selenium.webdriver.common.by import By

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
