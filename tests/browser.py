"""Debian's Chromium, headless, driven through Debian's chromedriver (Selenium): the dashboard's browser test and
the README's pictures (`python -m bench.dashboard --screenshots`) both use it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALLED = CHROMIUM.exists() and CHROMEDRIVER.exists()
MISSING = f"{CHROMIUM} and {CHROMEDRIVER} (Debian's chromium and chromium-driver)"
# Chromium's own connections (updates, sync, safe browsing) only fail on a machine with no internet.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--window-size=1280,900",
)


@contextmanager
def chromium(profile: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a new, empty profile in `profile`, quit at the end of the block."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, folder: Path, name: str) -> Path:
    """The whole page as a PNG: the viewport stretched to the page's height for the picture (a headless
    window cannot be made taller than its screen), then put back."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    metrics = {"width": 1280, "height": min(height, 6000), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    path = folder / f"dashboard-{name}.png"
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path
