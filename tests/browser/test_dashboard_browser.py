"""In a real (headless) browser: a manager filters the dashboard by period and establishment and reads its figures.

With ``INSPORTAL_WRITE_SCREENSHOTS=1`` the page is saved as docs/screenshots/06-tableau-de-bord.png.
"""
import os
from pathlib import Path

import pytest

from identities.core import establishments
from tests.browser import chromium
from tests.browser.test_portal_browser import browser, portal_url  # noqa: F401  (the live server and the driver)
from tests.identities.portal.dashboard_base import NAMES, known_base, north, north_desk  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "06-tableau-de-bord.png"


def test_a_manager_filters_the_dashboard_by_period_and_establishment(portal_url, browser, manager, birthplaces, known_base):
    from django.urls import reverse
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import staleness_of
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(portal_url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(manager.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.get(portal_url + reverse("admin:dashboard"))
    for name, value in (("du", "2026-10-01"), ("au", "2026-10-31")):
        browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.NAME, name), value)
    Select(browser.find_element(By.NAME, "etablissement")).select_by_visible_text(str(establishments.default_establishment()))
    before = browser.find_element(By.ID, "dashboard-period")
    browser.find_element(By.CSS_SELECTOR, "#dashboard-filters input[type=submit]").click()
    WebDriverWait(browser, 20).until(staleness_of(before))  # the filtered page has replaced the first one

    assert "Période du 01/10/2026 au 31/10/2026" in browser.find_element(By.ID, "dashboard-period").text
    rate = browser.find_element(By.ID, "kpi-qualification_rate").text
    assert "66,7 %" in rate and "50,0 %" in rate and "+16,7 pt" in rate
    assert browser.find_element(By.CSS_SELECTOR, "svg.ins-line-chart").is_displayed()
    assert "Site Nord" not in browser.find_element(By.ID, "table-statuts").text
    assert all(name not in browser.page_source for name in NAMES)
    pdf_link = browser.find_element(By.ID, "dashboard-pdf").get_attribute("href")
    assert "du=2026-10-01" in pdf_link and "etablissement=" in pdf_link
    refusals = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert refusals == []

    browser.set_window_size(1280, 2400)
    png = browser.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    if os.environ.get("INSPORTAL_WRITE_SCREENSHOTS") == "1":
        SCREENSHOT.write_bytes(png)
