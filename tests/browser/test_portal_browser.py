"""In a real (headless) browser: a CIV member searches, opens an identity, checks a document, sees the badge change."""
from datetime import date, timedelta

import pytest

from identities.core.models import Status
from tests import factories
from tests.browser import chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    # The browser talks to a live server thread: committed data; roles and defaults come back after the flush.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def portal_url(settings):
    """A live server of its own, started after the settings below: production's HTTPS-only
    settings would lock a plain-HTTP test server out, and the security middleware reads them
    once, when the server starts."""
    from pytest_django.live_server_helper import LiveServer

    settings.SECURE_SSL_REDIRECT = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    server = LiveServer("localhost")
    yield server.url
    server.stop()


@pytest.fixture
def browser():
    driver = chromium.chromium_driver()
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_a_civ_member_searches_opens_an_identity_and_validates_it_with_a_passport(
    portal_url, browser, civ_member, front_desk, birthplaces
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    identity = factories.identity(front_desk, birth_name="DE LA FONTAINE", birth_given_names="JEAN-PIERRE", birth_date="1962-07-08", sex="M")
    factories.identity(front_desk, birth_name="DURAND", birth_given_names="PAUL", birth_date="1962-07-08", sex="M")

    browser.get(portal_url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(civ_member.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    assert "Au quotidien" in browser.page_source

    browser.find_element(By.LINK_TEXT, "Rechercher une identité").click()
    browser.find_element(By.NAME, "nom").send_keys("de-la fontaine")
    browser.find_element(By.NAME, "prenom").send_keys("jean pierre")
    browser.find_element(By.NAME, "naissance").send_keys("08/07/1962")
    browser.find_element(By.CSS_SELECTOR, "#anteriority-search input[type=submit]").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1 and "DE LA FONTAINE" in rows[0].text, [row.text for row in rows]

    rows[0].find_element(By.LINK_TEXT, "DE LA FONTAINE").click()
    assert browser.find_element(By.CSS_SELECTOR, ".ins-summary .ins-badge").text.startswith("PROV")

    browser.find_element(By.ID, "action-document").click()
    Select(browser.find_element(By.NAME, "document_type")).select_by_visible_text("Passeport")
    browser.find_element(By.NAME, "expiry_date").send_keys((date.today() + timedelta(days=800)).strftime("%d/%m/%Y"))
    browser.find_element(By.ID, "confirm-action").click()

    badge = browser.find_element(By.CSS_SELECTOR, ".ins-summary .ins-badge")
    assert badge.text.startswith("VALI") and "Identité validée" in badge.text
    assert "ins-status-vali" in badge.get_attribute("class")
    identity.refresh_from_db()
    assert identity.status == Status.VALI


def test_every_page_works_under_the_content_security_policy(portal_url, browser, civ_referent, front_desk, birthplaces):
    """The referent walks through the daily pages: the browser refuses nothing, and the admin's scripts run."""
    from django.urls import reverse
    from selenium.webdriver.common.by import By

    identity = factories.qualified(front_desk)
    provisional = factories.identity(front_desk, birth_name="DURAND")
    browser.get(portal_url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(civ_referent.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    pages = [
        reverse("admin:index"), reverse("admin:dashboard"), reverse("admin:identities_identity_changelist"),
        reverse("admin:identities_identity_change", args=[identity.pk]),
        reverse("admin:identities_identity_history", args=[identity.pk]),
        reverse("admin:identities_identity_action", args=[provisional.pk, "piece"]),
        reverse("admin:identities_worklistitem_changelist"), reverse("admin:insi_exchange_changelist"),
    ]
    for page in pages:
        browser.get(portal_url + page)
        assert "Erreur" not in browser.title, page
    browser.get(portal_url + reverse("admin:identities_identity_changelist"))
    browser.find_element(By.ID, "action-toggle").click()  # admin/js/actions.js, served from 'self'
    assert all(box.is_selected() for box in browser.find_elements(By.CSS_SELECTOR, "#result_list input.action-select"))
    browser.get(portal_url + reverse("admin:identities_identity_action", args=[provisional.pk, "piece"]))
    assert browser.find_elements(By.CSS_SELECTOR, ".datetimeshortcuts")  # the calendar widget's script ran

    refusals = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert refusals == []
