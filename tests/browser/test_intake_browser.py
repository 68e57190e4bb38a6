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
    # The home page's entry points: logged in (the implicit wait covers the redirect).
    browser.find_element(By.ID, "link-apcv")


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


@pytest.mark.parametrize(("ins", "status", "banner"), [
    ("275126322074974", Status.RECUP, "vérification OK"),
    ("275126322075073", Status.PROV, "vérification KO"),
])
def test_a_datamatrix_from_another_facility_is_verified_by_insi_before_its_ins_is_integrated(
    simulator, browser, front_desk, ins, status, banner
):
    from selenium.webdriver.common.by import By

    from identities.core.diffusion import SharedIns
    from identities.documents import datamatrix

    payload = datamatrix.build_payload(SharedIns(
        # The OID INSi answers with in every environment (what another facility's document then carries).
        matricule=ins, oid="1.2.250.1.213.1.4.8", nature="NIR", hl7_authority="ASIP-SANTE-INS-NIR",
        label="INS-NIR", birth_name="ADRUN", birth_given_names="ZOE", sex="F", birth_date="1975-12-31",
        birthplace_code="63220",
    ))
    _log_in(browser, simulator, front_desk)
    browser.get(simulator + "/documents/datamatrix/")
    # A keyboard-wedge scanner types GS as the character it is; the reader accepts its spelt-out form too.
    browser.find_element(By.NAME, "scan").send_keys(payload.replace(datamatrix.GS, "<GS>"))
    browser.find_element(By.CSS_SELECTOR, "input[name=action][value=Lire]").click()
    assert browser.find_element(By.ID, "verify-ins").is_selected()
    browser.find_element(By.ID, "datamatrix-create").click()

    assert banner in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    identity = Identity.objects.get()
    assert identity.status == status and identity.ins_matricule == (ins if status == Status.RECUP else None)
    assert browser.find_element(By.CSS_SELECTOR, ".ins-summary .ins-badge").text.startswith(status)


def test_the_desk_creates_from_the_carte_vitale_and_recovers_the_ins_by_card_in_the_same_flow(simulator, browser, front_desk):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    _log_in(browser, simulator, front_desk)
    browser.find_element(By.ID, "link-card").click()
    Select(browser.find_element(By.NAME, "card")).select_by_value("SIM-NESSI")
    browser.find_element(By.ID, "card-read").click()
    assert "MICHELANGELO" in browser.find_element(By.ID, "card-beneficiaries").text
    browser.find_element(By.ID, "card-choose-1").click()

    # The recovery by card answered 00: the comparison waits for the agent.
    assert "MICHELANGELO ANTHONY" in browser.find_element(By.ID, "comparison").text
    browser.find_element(By.ID, "accept").click()

    assert browser.find_element(By.CSS_SELECTOR, ".ins-summary .ins-badge").text.startswith("RECUP")
    identity = Identity.objects.get()
    assert (identity.channel, identity.ins_matricule) == ("CV", "110086322083060")
    assert list(Exchange.objects.values_list("operation", flat=True)) == ["rechercherInsAvecCarteVitale"]
