"""In a real (headless) browser at 1280 px: homonyms told apart in the search results without horizontal scroll,
a readable history, and the portal's own 404 page."""
import pytest

from identities.core import ipp, services
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
    # The short IPP, whole, in its column: prefix, number and a valid check digit (no UUID prefix any more).
    assert len(ipps) == 2 and ipps[0] != ipps[1] and all(ipp.normalise(shown) == shown for shown in ipps), ipps
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


def test_the_cell_acts_on_worklist_items_from_the_list(portal_url, narrow_browser, front_desk, civ_member, civ_referent, birthplaces):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from identities.core import worklists
    from identities.core.models import WorklistItem

    browser = narrow_browser
    items = [
        worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.DOUBTFUL, reason="à instruire",
                                    identity_id=factories.identity(front_desk, birth_name=name).pk)
        for name in ("ALPHA", "BETA", "GAMMA")
    ]
    login(browser, portal_url, civ_member)
    browser.get(portal_url + "/identities/worklistitem/?kind__exact=DOUT")
    assert "3 éléments" in browser.find_element(By.CSS_SELECTOR, "p.paginator").text

    def row(item):
        return browser.find_element(By.XPATH, f"//tr[.//input[@name='_selected_action' and @value='{item.pk}']]")

    def click_and_wait(button):
        button.click()
        WebDriverWait(browser, 5).until(expected_conditions.staleness_of(button))

    click_and_wait(row(items[0]).find_element(By.XPATH, ".//button[text()='Prendre']"))
    assert "kind__exact=DOUT" in browser.current_url
    assert "Dominique" in row(items[0]).text or civ_member.username in row(items[0]).text
    click_and_wait(row(items[1]).find_element(By.XPATH, ".//button[text()='Marquer traité']"))
    assert "2 éléments" in browser.find_element(By.CSS_SELECTOR, "p.paginator").text

    row(items[2]).find_element(By.NAME, "_selected_action").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("assign_selected")
    Select(browser.find_element(By.NAME, "owner")).select_by_value(str(civ_referent.pk))
    click_and_wait(browser.find_element(By.CSS_SELECTOR, "button[name=index]"))
    assert "1 élément(s) attribué(s)." in browser.page_source
    states = {item.pk: (item.owner_id, item.state) for item in WorklistItem.objects.filter(pk__in=[i.pk for i in items])}
    assert states == {items[0].pk: (civ_member.pk, "OPEN"), items[1].pk: (civ_member.pk, "DONE"),
                      items[2].pk: (civ_referent.pk, "OPEN")}
