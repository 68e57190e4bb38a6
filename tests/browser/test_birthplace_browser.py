"""In a real (headless) browser: the desk types a postal code for a birthplace, is told so and takes the INSEE code,
then finds a commune by name."""
import pytest

from tests.browser import chromium
from tests.browser.test_portal_browser import browser, portal_url  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]


def login(browser, portal_url, user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(portal_url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Wait for the home page: a page asked for before the login answer would be the login form again.
    WebDriverWait(browser, 10).until(lambda _: "/login/" not in browser.current_url)


def test_a_postal_code_is_named_and_the_insee_code_proposed_then_a_commune_is_found_by_name(
    portal_url, browser, front_desk, birthplaces  # noqa: F811
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    login(browser, portal_url, front_desk)
    browser.get(portal_url + "/identities/identity/add/?_recherche=1&birth_name=LEMAIRE&birth_given_names=ANNE")
    # Served by the portal itself: no script from another host (closed hospital networks).
    sources = [script.get_attribute("src") for script in browser.find_elements(By.CSS_SELECTOR, "script[src]")]
    assert sources and all(source.startswith(portal_url) for source in sources), sources

    browser.find_element(By.NAME, "birth_date").send_keys("15/03/1990")
    field = browser.find_element(By.NAME, "birthplace_code")
    field.send_keys("75012")
    status = browser.find_element(By.ID, "birthplace-status")
    WebDriverWait(browser, 5).until(lambda _: "Boulogne" in status.text)
    assert "jusqu'au 31/12/1967" in status.text and "ins-birthplace-warning" in status.get_attribute("class")
    postal = browser.find_element(By.ID, "birthplace-postal")
    assert "75012 est le code postal de Paris 12e Arrondissement (code INSEE 75112)" in postal.text

    postal.find_element(By.CSS_SELECTOR, "button[data-code='75112']").click()
    assert field.get_attribute("value") == "75112"
    WebDriverWait(browser, 5).until(lambda _: "Paris 12e Arrondissement" in status.text)
    assert "ins-birthplace-ok" in status.get_attribute("class")

    search = browser.find_element(By.ID, "birthplace-search")
    search.send_keys("boulogne-billan")
    WebDriverWait(browser, 5).until(lambda _: browser.find_elements(By.CSS_SELECTOR, "#birthplace-results li[role=option]"))
    options = browser.find_elements(By.CSS_SELECTOR, "#birthplace-results li[role=option]")
    assert [option.get_attribute("data-code") for option in options] == ["92012", "75012"]
    options[0].click()
    assert field.get_attribute("value") == "92012"
    WebDriverWait(browser, 5).until(lambda _: "Boulogne-Billancourt" in status.text)
