"""In a real (headless) browser at 1280 px: homonyms told apart in the search results without horizontal scroll,
a readable history, and the portal's own 404 page."""
import pytest

from identities.core import services
from tests import factories
from tests.browser import chromium
from tests.browser.test_birthplace_browser import login
from tests.browser.test_portal_browser import portal_url  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def narrow_browser():
    driver = chromium.chromium_driver(width=1280, height=900)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def _overflows(browser, selector: str) -> bool:
    return browser.execute_script(
        "const node = document.querySelector(arguments[0]); return node.scrollWidth > node.clientWidth + 1;", selector)


def test_homonyms_are_told_apart_at_a_glance_without_horizontal_scroll_at_1280_px(
    portal_url, narrow_browser, front_desk, civ_member, birthplaces  # noqa: F811
):
    from selenium.webdriver.common.by import By

    browser = narrow_browser
    factories.identity(front_desk, birth_name="MARTIN", birth_given_names="JEAN", birth_date="1950-03-15", sex="M",
                       birthplace_code="63113", used_name="DUPONT-LAJOIE")
    factories.qualified(front_desk, birth_name="MARTIN", birth_given_names="JEAN", birth_date="1950-03-15", sex="M",
                        birthplace_code="2A004")
    login(browser, portal_url, civ_member)
    browser.get(portal_url + "/identities/identity/?nom=martin&prenom=jean")

    rows = {row.text for row in browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")}
    assert any("Clermont-Ferrand" in row and "(DUPONT-LAJOIE)" in row and "PROV" in row for row in rows), rows
    assert any("Ajaccio" in row and "QUAL" in row and "NIR" in row for row in rows), rows
    ipps = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#result_list .ins-ipp")]
    assert len(ipps) == 2 and ipps[0] != ipps[1] and all(len(ipp) == 8 for ipp in ipps)
    assert not _overflows(browser, "#changelist .results"), "the results table scrolls horizontally"
    assert not _overflows(browser, "html"), "the page scrolls horizontally"


def test_the_history_and_a_missing_page_read_as_french(portal_url, narrow_browser, front_desk, civ_member, birthplaces):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser = narrow_browser
    identity = factories.identity(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="Pièce suspecte")
    login(browser, portal_url, civ_member)

    browser.get(f"{portal_url}/identities/identity/{identity.pk}/history/")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Historique des modifications : MARTIN")
    table = browser.find_element(By.ID, "change-history").text
    assert "Identité douteuse : Non → Oui" in table and "Attribut « Identité douteuse » posé : Pièce suspecte" in table

    browser.get(portal_url + "/nulle-part/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Page introuvable"
    assert browser.find_element(By.LINK_TEXT, "Rechercher une identité")
