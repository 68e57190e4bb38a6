"""Headless Chromium for the browser test and the screenshot script (Debian's chromium and chromium-driver)."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")

# Quiet and self-contained: no sandbox (containers), no GPU, no network calls of its own.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
)


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def chromium_driver(*, width: int = 1400, height: int = 1000, language: str = "fr"):
    """A WebDriver on a new, empty profile; the caller quits it (the profile goes with it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="insportal-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--lang={language}",
                 f"--accept-lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    # The console is kept for the tests to read (a Content-Security-Policy refusal is written there).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    quit_driver = driver.quit

    def quit_and_clean():
        quit_driver()
        shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver
