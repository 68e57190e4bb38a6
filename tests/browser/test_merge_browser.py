"""In a real (headless) browser: the merge screen shows the survivor the RNIV order keeps and why, refuses what must be refused, four eyes."""
import pytest

from identities.core import services
from identities.core.models import Attribute, Identity
from identities.merge import services as merge_services
from identities.merge.models import Merge
from identities.workflows.models import InsiRecovery
from tests.browser import chromium
from tests.browser.test_portal_browser import browser, portal_url  # noqa: F401 - fixtures
from tests.identities.merge.conftest import make_identity, prove  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not chromium.available(), reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium)"),
    pytest.mark.django_db(transaction=True),
]


def log_in(browser, portal_url, user):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(portal_url + "/login/")
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys("not-a-real-password-1")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, ".ins-home")  # logged in: the home page (waits for it)


def submit(browser, element_id: str) -> str:  # noqa: F811
    """Click and wait for the next page (the clicked button goes stale); its text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.ID, element_id)
    button.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(button))
    return browser.find_element(By.TAG_NAME, "body").text


def open_pair(browser, portal_url, first, second):  # noqa: F811
    browser.get(f"{portal_url}/fusion/paire/{first.pk}/{second.pk}/")


@pytest.mark.parametrize(
    ("older", "newer", "kept", "why"),
    [
        ("VALI", "QUAL", "newer", "une identité qualifiée l'emporte toujours"),
        ("PROV", "VALI", "newer", "son statut est supérieur"),
        ("VALI", "RECUP", "newer", "elle porte le matricule INS"),
        ("PROV", "PROV", "older", "l'identité la plus ancienne"),
    ],
)
def test_the_screen_proposes_the_survivor_of_the_rniv_order_and_merges(
    older, newer, kept, why, portal_url, browser, make_identity, civ_member  # noqa: F811
):
    from selenium.webdriver.common.by import By

    first, second = make_identity(older), make_identity(newer, birth_given_names="JEANNE")
    prove(civ_member, first, second)
    survivor = first if kept == "older" else second
    log_in(browser, portal_url, civ_member)
    open_pair(browser, portal_url, first, second)
    assert why in browser.find_element(By.ID, "merge-why").text
    assert "merge-differs" in browser.find_element(By.ID, "row-birth_given_names").get_attribute("class")
    radios = browser.find_elements(By.CSS_SELECTOR, "input[name=survivor]")
    assert len(radios) == (2 if older == newer else 1)  # the other survivor is offered only at equal status
    assert "Identités fusionnées" in submit(browser, "confirm-merge")
    assert Identity.objects.get(pk=(second if survivor == first else first).pk).merged_into_id == survivor.pk


@pytest.mark.parametrize("case", ["two INS", "fictitious", "already merged", "INSi recovery", "not proven"])
def test_the_screen_shows_each_refusal_and_changes_nothing(case, portal_url, browser, make_identity, civ_member, civ_referent):  # noqa: F811
    from selenium.webdriver.common.by import By

    statuses = ("QUAL", "RECUP") if case == "two INS" else ("PROV", "PROV")
    first, second = make_identity(statuses[0]), make_identity(statuses[1], birth_given_names="JEANNE")
    if case != "not proven":
        prove(civ_member, first, second)
    expected = {
        "two INS": "collision possible", "fictitious": "une identité fictive ne se fusionne jamais",
        "already merged": "a déjà été fusionnée", "INSi recovery": "attend la décision sur la récupération INSi",
        "not proven": "ne sont pas un doublon avéré",
    }[case]
    if case == "fictitious":
        services.identity_set_attribute(actor=civ_member, identity_id=second.pk, attribute=Attribute.FICT, value=True, reason="test")
    if case == "INSi recovery":
        InsiRecovery.objects.create(identity=second, method=InsiRecovery.Method.TRAITS, requested_by=civ_member,
                                    identity_version=second.version, code="00", state=InsiRecovery.State.AWAITING)
    if case == "already merged":
        third = make_identity("PROV", birth_given_names="JEANNE M")
        prove(civ_member, second, third)
        merge_services.merge_request(actor=civ_member, first_id=third.pk, second_id=second.pk, survivor_id=third.pk)
    before = Merge.objects.count()
    log_in(browser, portal_url, civ_member)
    open_pair(browser, portal_url, first, second)
    assert expected in browser.find_element(By.ID, "merge-refusal").text
    assert not browser.find_elements(By.ID, "confirm-merge")
    assert Merge.objects.count() == before


def test_four_eyes_a_member_proposes_and_the_referent_approves(portal_url, browser, make_identity, civ_member, civ_referent):  # noqa: F811
    from selenium.webdriver.common.by import By

    merge_services.merge_set_policy(actor=civ_referent, four_eyes=True)
    first, second = make_identity("PROV"), make_identity("PROV", birth_given_names="JEANNE")
    prove(civ_member, first, second)
    log_in(browser, portal_url, civ_member)
    open_pair(browser, portal_url, first, second)
    assert "attend la validation" in submit(browser, "confirm-merge")
    proposal = Merge.objects.get()
    browser.find_element(By.LINK_TEXT, str(proposal.pk)).click()
    assert "une autre personne que celle qui a proposé" in submit(browser, "approve-merge") and Identity.objects.get(pk=second.pk).is_active
    log_in(browser, portal_url, civ_referent)
    browser.get(f"{portal_url}/fusion/proposition/{proposal.pk}/")
    assert "Fusion approuvée" in submit(browser, "approve-merge")
    assert Merge.objects.get().state == Merge.State.DONE and not Identity.objects.get(pk=second.pk).is_active
