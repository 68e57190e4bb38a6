"""The identity screens: list, search-first creation, change form, locked traits, actions, history."""
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from identities.core import services
from identities.core.models import DocumentType, Identity, IdentityEvent, Status, WorklistItem
from identities.portal.admin import CappedCountPaginator
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")

LIST = "admin:identities_identity_changelist"
ADD = "admin:identities_identity_add"


def change_url(identity):
    return reverse("admin:identities_identity_change", args=[identity.pk])


def action_url(identity, action):
    return reverse("admin:identities_identity_action", args=[identity.pk, action])


def form_data(identity, **overrides):
    """What the change form posts back unchanged, plus the overrides (and the inline's management form)."""
    data = {
        "expected_version": identity.version,
        "birth_name": identity.birth_name,
        "birth_given_names": identity.birth_given_names,
        "first_birth_given_name": identity.first_birth_given_name,
        "birth_date": identity.birth_date_display,
        "sex": identity.sex,
        "birthplace_code": identity.birthplace_code,
        "used_name": identity.used_name,
        "used_given_name": identity.used_given_name,
        "document_checks-TOTAL_FORMS": identity.document_checks.count(),
        "document_checks-INITIAL_FORMS": identity.document_checks.count(),
        "document_checks-MIN_NUM_FORMS": 0,
        "document_checks-MAX_NUM_FORMS": 1000,
    }
    return data | overrides


def new_identity_data(**overrides):
    return {
        "birth_name": "LEFEVRE", "birth_given_names": "ANNE", "first_birth_given_name": "", "birth_date": "02/03/1991",
        "sex": "F", "birthplace_code": "75056", "used_name": "", "used_given_name": "", "channel": "SM",
    } | overrides


# --- The list ---

def test_the_list_shows_badges_and_the_ins_nature_only_for_a_qualified_identity(front_desk, civ_member):
    factories.qualified(front_desk)
    recovered = factories.recovered(front_desk, matricule13="1790263220456", birth_name="BERNARD", birth_given_names="LUC", sex="M")
    services.identity_set_attribute(actor=civ_member, identity_id=recovered.pk, attribute="HOMA", value=True, reason="même nom")
    page = logged_in(civ_member).get(reverse(LIST)).content.decode()
    assert "Identité qualifiée" in page and "Identité récupérée" in page
    assert "ins-attribute-homa" in page
    assert page.count('class="field-nature_column">NIR<') == 1


def test_the_list_and_the_identity_page_show_the_short_ipp_never_the_internal_uuid(front_desk, civ_member):
    identity = factories.identity(front_desk)
    client = logged_in(civ_member)
    row = client.get(reverse(LIST)).content.decode()
    page = client.get(change_url(identity)).content.decode()
    assert re.fullmatch(r"IP[0-9]{8}", identity.ipp)
    assert f'<td class="field-ipp_column"><span class="ins-ipp">{identity.ipp}</span></td>' in row
    assert re.search(rf'<div class="readonly">{identity.ipp}</div>', page)  # the IPP field of the page
    assert f"MARTIN JEANNE (17/05/1980, IPP {identity.ipp})" in page  # its title, as every screen names it
    assert str(identity.uuid) not in row + page and str(identity.uuid)[:8] not in row + page


def test_the_list_stops_counting_at_its_cap_and_asks_for_a_narrower_search(front_desk, monkeypatch):
    for name in ("ALPHA", "BRAVO", "CHARLIE"):
        factories.identity(front_desk, birth_name=name)
    monkeypatch.setattr(CappedCountPaginator, "CAP", 2)
    page = logged_in(front_desk).get(reverse(LIST)).content.decode()
    assert "plus de 2 identités" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status__exact": "QUAL"}, {"MARTIN"}),
        ({"attribut": "DOUT"}, {"DOUTEUX"}),
        ({"attribut": "aucun"}, {"MARTIN", "PROVISOIRE"}),
        ({"nature": "NIR"}, {"MARTIN"}),
        ({"nature": "NIA"}, set()),
        ({"verification": "jamais"}, {"DOUTEUX", "PROVISOIRE"}),
        ({"verification": "recente"}, {"MARTIN"}),
        ({"channel__exact": "CV"}, {"PROVISOIRE"}),
    ],
)
def test_the_list_filters_by_status_attribute_nature_verification_and_channel(front_desk, civ_member, params, expected):
    factories.qualified(front_desk)
    factories.identity(front_desk, birth_name="PROVISOIRE", channel="CV")
    doubtful = factories.identity(front_desk, birth_name="DOUTEUX")
    services.identity_set_attribute(actor=civ_member, identity_id=doubtful.pk, attribute="DOUT", value=True, reason="deux patients")
    response = logged_in(civ_member).get(reverse(LIST), params)
    assert {identity.birth_name for identity in response.context["cl"].result_list} == expected


# --- Creation goes through the search ---

def test_creating_without_searching_first_sends_back_to_the_search(front_desk):
    response = logged_in(front_desk).get(reverse(ADD))
    assert response.status_code == 302 and response["Location"] == reverse(LIST)


def test_the_create_button_appears_after_a_search_and_carries_what_was_typed(front_desk):
    client = logged_in(front_desk)
    assert "create-identity" not in client.get(reverse(LIST)).content.decode()
    page = client.get(reverse(LIST), {"nom": "Lefèvre", "prenom": "Anne", "naissance": "02/03/1991"}).content.decode()
    assert 'id="create-identity"' in page
    form = client.get(reverse(ADD), {"birth_name": "Lefèvre", "birth_given_names": "Anne", "birth_date": "02/03/1991", "_recherche": "1"})
    assert form.context["adminform"].form.initial["birth_name"] == "Lefèvre"


def test_the_manager_gets_no_create_button(manager, front_desk):
    page = logged_in(manager).get(reverse(LIST), {"nom": "MARTIN"}).content.decode()
    assert "create-identity" not in page


def test_an_identity_without_candidates_is_created_provisional_and_queued_for_its_agent(front_desk):
    response = logged_in(front_desk).post(reverse(ADD), new_identity_data(birth_name="Lefèvre"))
    created = Identity.objects.get()
    assert response.status_code == 302
    assert (created.birth_name, created.birth_date, created.status) == ("LEFEVRE", "1991-03-02", Status.PROV)
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.PROVISIONAL)
    assert item.identity == created and item.owner == front_desk


def test_close_identities_are_shown_and_must_be_acknowledged_before_creating(front_desk, civ_member):
    known = factories.identity(front_desk, birth_name="LEFEVRE", birth_given_names="ANNE", birth_date="1991-03-02", sex="F")
    client = logged_in(front_desk)
    shown = client.post(reverse(ADD), new_identity_data(birthplace_code="2A004"))
    assert Identity.objects.count() == 1
    page = shown.content.decode()
    assert f'name="acknowledged" value="{known.pk}"' in page
    assert "identité(s) proche(s) existent déjà" in page
    created = client.post(reverse(ADD), new_identity_data(birthplace_code="2A004", acknowledged=[known.pk]))
    assert created.status_code == 302 and Identity.objects.count() == 2
    # Same names and date, born elsewhere: two people, handed to the CIV as homonyms to confirm.
    assert WorklistItem.objects.filter(kind=WorklistItem.Kind.HOMONYM, identity=known).exists()


def test_a_creation_error_names_the_field_and_the_rule(front_desk):
    response = logged_in(front_desk).post(reverse(ADD), new_identity_data(birth_name="DUP0NT"))
    errors = response.context["adminform"].form.errors
    assert "les chiffres ne sont pas autorisés" in errors["birth_name"][0]
    assert not Identity.objects.exists()


def test_no_sex_is_preselected_on_the_creation_form(front_desk):
    page = logged_in(front_desk).get(reverse(ADD), {"_recherche": "1"}).content.decode()
    assert 'value="F" selected' not in page and 'value="M" selected' not in page


# --- The change form ---

def test_a_qualified_identity_shows_its_matricule_and_a_recovered_one_hides_it(front_desk, civ_member):
    qualified = factories.qualified(front_desk)
    recovered = factories.recovered(front_desk, matricule13="1790263220456", birth_name="BERNARD", birth_given_names="LUC", sex="M")
    client = logged_in(civ_member)
    assert "2 80 05 63 220 123" in client.get(change_url(qualified)).content.decode()
    page = client.get(change_url(recovered)).content.decode()
    assert "non diffusable" in page
    assert recovered.ins_matricule not in page and "1 79 02 63 220 456" not in page


def test_locked_traits_are_read_only_for_the_civ_member_and_editable_for_the_referent(front_desk, civ_member, civ_referent):
    identity = factories.qualified(front_desk)
    assert 'name="birth_name"' not in logged_in(civ_member).get(change_url(identity)).content.decode()
    page = logged_in(civ_referent).get(change_url(identity)).content.decode()
    assert 'name="birth_name"' in page
    assert "passera de « Identité qualifiée » à « Identité validée »" in page


def test_a_locked_change_first_shows_what_it_will_do_and_changes_nothing(front_desk, civ_referent):
    identity = factories.qualified(front_desk)
    response = logged_in(civ_referent).post(change_url(identity), form_data(identity, birth_name="MARTINEZ", reason="erreur"))
    assert response.status_code == 200
    error = response.context["adminform"].form.errors["confirm_locked_change"][0]
    assert "Nom de naissance" in error and "matricule INS et l'OID seront invalidés" in error
    identity.refresh_from_db()
    assert identity.status == Status.QUAL and identity.birth_name == "MARTIN"


def test_a_confirmed_locked_change_without_reason_is_refused_on_the_reason_field(front_desk, civ_referent):
    identity = factories.qualified(front_desk)
    response = logged_in(civ_referent).post(
        change_url(identity), form_data(identity, birth_name="MARTINEZ", confirm_locked_change="on")
    )
    assert "un motif est obligatoire" in response.context["adminform"].form.errors["reason"][0]
    identity.refresh_from_db()
    assert identity.status == Status.QUAL


def test_a_confirmed_locked_change_with_a_reason_downgrades_and_says_so(front_desk, civ_referent):
    identity = factories.qualified(front_desk)
    response = logged_in(civ_referent).post(
        change_url(identity),
        form_data(identity, birth_name="MARTINEZ", confirm_locked_change="on", reason="Erreur signalée par la patiente"),
        follow=True,
    )
    identity.refresh_from_db()
    assert (identity.birth_name, identity.status, identity.ins_matricule) == ("MARTINEZ", Status.VALI, None)
    assert "statut passé de « Identité qualifiée » à « Identité validée »" in response.content.decode()


def test_the_front_desk_corrects_a_provisional_identity_from_the_form(front_desk):
    identity = factories.identity(front_desk)
    response = logged_in(front_desk).post(change_url(identity), form_data(identity, used_name="Dupont-Moretti"))
    assert response.status_code == 302
    identity.refresh_from_db()
    assert identity.used_name == "DUPONT-MORETTI"
    assert identity.events.filter(kind=IdentityEvent.Kind.TRAITS_CHANGED).exists()


def test_a_stale_form_is_refused_with_who_changed_the_identity(front_desk, civ_member):
    identity = factories.identity(front_desk)
    stale = form_data(identity, used_name="DURAND")
    services.identity_update_traits(actor=civ_member, identity_id=identity.pk, expected_version=identity.version, used_name="LEROY")
    response = logged_in(front_desk).post(change_url(identity), stale)
    assert "dominique.civ" in str(response.context["adminform"].form.non_field_errors())
    identity.refresh_from_db()
    assert identity.used_name == "LEROY"


def test_the_creation_form_does_not_offer_the_insi_channel_and_refuses_it(front_desk):
    client = logged_in(front_desk)
    page = client.get(reverse(ADD), {"_recherche": "1"}).content.decode()
    assert 'value="SM"' in page and 'value="INSI"' not in page
    response = client.post(reverse(ADD) + "?_recherche=1", new_identity_data(channel="INSI"))
    assert response.status_code == 200 and not Identity.objects.exists()


def test_a_stale_form_without_its_hidden_version_is_refused_too(front_desk, civ_member):
    identity = factories.identity(front_desk)
    stale = form_data(identity, used_name="DURAND")
    del stale["expected_version"]
    services.identity_update_traits(actor=civ_member, identity_id=identity.pk, expected_version=identity.version, used_name="LEROY")
    response = logged_in(front_desk).post(change_url(identity), stale)
    assert "Version de l'identité absente du formulaire" in " ".join(response.context["adminform"].form.non_field_errors())
    identity.refresh_from_db()
    assert identity.used_name == "LEROY"


def test_the_manager_sees_an_identity_but_cannot_save_it(front_desk, manager):
    identity = factories.identity(front_desk)
    client = logged_in(manager)
    page = client.get(change_url(identity)).content.decode()
    assert 'name="_save"' not in page
    assert client.post(change_url(identity), form_data(identity, used_name="X")).status_code == 403


# --- Decisions offered on the identity ---

def _offers(client, identity):
    return {offer.key: offer for offer in client.get(change_url(identity)).context["offers"]}


def test_the_front_desk_is_offered_only_what_its_role_allows(front_desk):
    offers = _offers(logged_in(front_desk), factories.qualified(front_desk))
    assert set(offers) == {"document", "DOUT-on"}
    assert offers["document"].allowed and offers["DOUT-on"].allowed


def test_the_cell_is_told_why_an_action_of_its_role_is_refused_now(front_desk, civ_member):
    offers = _offers(logged_in(civ_member), factories.identity(front_desk))
    assert not offers["invalidate"].allowed and "ne porte pas d'INS" in offers["invalidate"].why


@pytest.mark.parametrize(("persona", "actions"), [
    ("manager", ["piece", "invalider-ins", "attribut/DOUT/poser", "attribut/FICT/poser", "attribut/HOMA/poser", "retrait/{check}"]),
    ("front_desk", ["invalider-ins", "attribut/FICT/poser", "attribut/HOMA/poser", "retrait/{check}"]),
])
def test_no_decision_page_is_shown_to_a_role_that_would_be_refused(persona, actions, request, front_desk):
    identity = factories.qualified(front_desk)
    client = logged_in(request.getfixturevalue(persona))
    page = client.get(change_url(identity)).content.decode()
    assert "Retirer" not in page
    for action in actions:
        url = action_url(identity, action.format(check=identity.document_checks.get().pk))
        response = client.get(url)
        assert response.status_code == 403 and "Confirmer" not in response.content.decode(), action
        assert f'href="{url}"' not in page, action


@pytest.mark.parametrize(("persona", "shown"), [
    ("manager", set()), ("front_desk", {"print_labels", "recover_selected"}), ("civ_member", {"print_labels", "recover_selected"}),
])
def test_the_list_offers_only_the_bulk_actions_the_role_may_run(persona, shown, request, front_desk):
    factories.identity(front_desk)
    page = logged_in(request.getfixturevalue(persona)).get(reverse(LIST)).content.decode()
    assert {name for name in ("print_labels", "recover_selected") if f'value="{name}"' in page} == shown


def test_a_fictitious_flag_is_not_offered_on_a_doubtful_identity(front_desk, civ_member):
    identity = factories.identity(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="doute")
    offers = _offers(logged_in(civ_member), identity)
    assert not offers["FICT-on"].allowed and "ne se combine avec aucun autre" in offers["FICT-on"].why
    assert offers["DOUT-off"].allowed


def test_checking_a_passport_turns_the_badge_to_validated(front_desk):
    identity = factories.identity(front_desk)
    client = logged_in(front_desk)
    passport = DocumentType.objects.get(code="passeport")
    expiry = (date.today() + timedelta(days=400)).strftime("%d/%m/%Y")
    response = client.post(action_url(identity, "piece"), {"document_type": passport.pk, "expiry_date": expiry}, follow=True)
    page = response.content.decode()
    assert "ins-status-vali" in page and "Identité passée au statut « Identité validée »" in page
    identity.refresh_from_db()
    assert identity.status == Status.VALI


def test_an_expired_document_is_refused_on_its_expiry_date(front_desk):
    identity = factories.identity(front_desk)
    passport = DocumentType.objects.get(code="passeport")
    response = logged_in(front_desk).post(action_url(identity, "piece"), {"document_type": passport.pk, "expiry_date": "01/01/2020"})
    assert "pièce périmée depuis le 01/01/2020" in response.context["form"].errors["expiry_date"][0]
    identity.refresh_from_db()
    assert identity.status == Status.PROV


def test_the_document_form_preselects_no_type(front_desk):
    form = logged_in(front_desk).get(action_url(factories.identity(front_desk), "piece")).context["form"]
    assert form["document_type"].value() is None


def test_flagging_doubtful_needs_a_reason_and_then_invalidates_the_ins(front_desk, civ_member):
    identity = factories.qualified(front_desk)
    client = logged_in(civ_member)
    refused = client.post(action_url(identity, "attribut/DOUT/poser"), {"reason": ""})
    assert "un motif est obligatoire" in refused.context["form"].errors["reason"][0]
    client.post(action_url(identity, "attribut/DOUT/poser"), {"reason": "Deux patients sous la même identité"})
    identity.refresh_from_db()
    assert identity.doubtful and identity.status == Status.PROV and identity.ins_matricule is None
    assert WorklistItem.objects.filter(kind=WorklistItem.Kind.DOUBTFUL, identity=identity, state="OPEN").exists()


def test_a_refused_action_changes_nothing(front_desk):
    identity = factories.identity(front_desk)
    response = logged_in(front_desk).post(action_url(identity, "attribut/FICT/poser"), {"reason": "test"})
    assert response.status_code == 403
    identity.refresh_from_db()
    assert not identity.fictitious


def test_a_refusal_by_the_identitys_state_explains_why_and_changes_nothing(front_desk, civ_member):
    identity = factories.identity(front_desk)
    response = logged_in(civ_member).post(action_url(identity, "invalider-ins"), {"reason": "test"})
    assert "ne porte pas d'INS" in response.context["form"].non_field_errors()[0]
    identity.refresh_from_db()
    assert identity.status == Status.PROV


def test_the_civ_withdraws_a_document_check_and_invalidates_an_ins(front_desk, civ_member):
    identity = factories.qualified(front_desk)
    client = logged_in(civ_member)
    check = identity.document_checks.get()
    client.post(action_url(identity, f"retrait/{check.pk}"), {"reason": "Pièce d'un tiers"})
    identity.refresh_from_db()
    assert identity.status == Status.RECUP
    client.post(action_url(identity, "invalider-ins"), {"reason": "Vérification INSi KO"})
    identity.refresh_from_db()
    assert identity.status == Status.PROV and identity.ins_matricule is None


def test_after_an_invalidation_the_page_says_when_by_whom_and_why(front_desk, civ_member):
    identity = factories.qualified(front_desk)
    logged_in(civ_member).post(action_url(identity, "invalider-ins"), {"reason": "Usurpation signalée"})

    page = logged_in(civ_member).get(reverse("admin:identities_identity_change", args=[identity.pk])).content.decode()
    assert re.search(r"INS invalidé le \d\d/\d\d/\d{4} à \d\d:\d\d par [^:]+ : Usurpation signalée", page)
    assert "n'a pas été récupéré" not in page
    row = re.search(r'<table class="ins-history">.*?</table>', page, re.S).group(0)
    assert "<td>Invalidé</td>" in row and "Usurpation signalée" in row


def test_an_unknown_action_is_not_found(front_desk):
    assert logged_in(front_desk).get(action_url(factories.identity(front_desk), "supprimer")).status_code == 404


# --- History ---

def test_the_history_says_who_when_what_and_why_and_masks_the_ins(front_desk, civ_referent):
    identity = factories.qualified(front_desk)
    services.identity_update_traits(
        actor=civ_referent, identity_id=identity.pk, expected_version=identity.version, reason="Erreur signalée", birth_name="MARTINEZ"
    )
    matricule = factories.qualified.__defaults__[0]
    page = logged_in(civ_referent).get(reverse("admin:identities_identity_history", args=[identity.pk])).content.decode()
    assert "sacha.referent" in page and "Erreur signalée" in page
    assert "MARTIN &rarr; MARTINEZ" in page or "MARTIN → MARTINEZ" in page
    assert "Identité qualifiée" in page
    assert matricule not in page
    assert "Revert" not in page and "Rétablir" not in page


def test_the_history_reads_as_the_identity_page_shows_it(front_desk, civ_referent, birthplaces):
    identity = factories.qualified(front_desk)
    services.identity_update_traits(
        actor=civ_referent, identity_id=identity.pk, expected_version=identity.version, reason="Acte de naissance",
        birthplace_code="75112",
    )
    services.identity_set_attribute(actor=civ_referent, identity_id=identity.pk, attribute="DOUT", value=True,
                                    reason="Pièce suspecte")
    page = logged_in(civ_referent).get(reverse("admin:identities_identity_history", args=[identity.pk])).content.decode()

    assert "<h1>Historique des modifications : MARTIN JEANNE" in page
    assert "Identité douteuse :</strong> Non &rarr; Oui" in page
    assert "63220 Mazoires &rarr; 75112 Paris 12e Arrondissement" in page
    assert "Attribut « Identité douteuse » posé : Pièce suspecte" in page
    assert "Résultat INSi intégré (Récupération INSi)" in page
    # Local time, as people read it: no UTC offset, no raw True/False/None, no English.
    for raw in ("+00:00", "False", "True", "None", "(recovery)", "View history"):
        assert raw not in page, raw


def test_a_single_version_is_not_offered_for_reverting(front_desk):
    identity = factories.identity(front_desk)
    version = identity.history.first()
    url = reverse("admin:identities_identity_simple_history", args=[identity.pk, version.history_id])
    response = logged_in(front_desk).get(url)
    assert response.status_code == 302 and response["Location"].endswith(reverse("admin:identities_identity_history", args=[identity.pk]))


def test_a_refusal_on_a_field_the_form_does_not_show_names_the_field(front_desk, civ_member):
    identity = factories.identity(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="doute")
    response = logged_in(civ_member).post(action_url(identity, "attribut/FICT/poser"), {"reason": "VIP"})
    assert response.context["form"].non_field_errors()[0].startswith("Attribut : « identité fictive » ne se combine")
