"""In a real (headless) browser, against the simulator: the desk's intake paths — the Appli carte Vitale qualifies without INSi."""
import pytest

from identities.core.models import Identity, Status
from insi.models import Exchange
from insi.simulator import apcv as apcv_side
from insi.simulator.catalog import TEST_IDENTITIES
from tests.browser import chromium
from tests.browser.test_portal_browser import browser, portal_url  # noqa: F401 - the fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]


def _log_in(browser, url, user):
    from selenium.webdriver.common.by import By

    browser.get(url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


@pytest.fixture
def simulator(portal_url, settings, birthplaces):
    """The live server's own simulator (INSi and ApCV sides)."""
    settings.INS_ENVIRONMENT = "test"
    settings.INSI_ENDPOINT = portal_url + "/insi-simulator/lps"
    settings.APCV_ENDPOINT = portal_url + "/insi-simulator/apcv"
    return portal_url


def test_the_desk_scans_the_appli_carte_vitale_and_gets_a_qualified_identity_with_no_insi_exchange(
    simulator, browser, front_desk
):
    from selenium.webdriver.common.by import By

    person = next(p for p in TEST_IDENTITIES if p.birth_name == "ADRUN")
    _log_in(browser, simulator, front_desk)
    browser.find_element(By.ID, "link-apcv").click()
    browser.find_element(By.NAME, "scanned").send_keys(apcv_side.qr_code_of(person))
    browser.find_element(By.ID, "apcv-read").click()

    badge = browser.find_element(By.CSS_SELECTOR, ".ins-summary .ins-badge")
    assert badge.text.startswith("QUAL"), badge.text
    assert "sans appel INSi" in browser.page_source
    identity = Identity.objects.get()
    assert (identity.status, identity.channel, identity.ins_matricule) == (Status.QUAL, "AV", person.matricule)
    assert not Exchange.objects.exists()
