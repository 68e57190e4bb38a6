"""Recovery of the INS through the simulator: comparison, acceptance, refusal, automatic feeding, rule 5, 01/02 guidance, carte Vitale."""
import pytest

from identities.core.errors import ConflictError, NotAllowed, RuleViolation
from identities.core.models import IdentityEvent, InsMatricule, Status
from identities.core.services import identity_set_attribute, identity_update_traits
from identities.workflows import recovery as rec
from identities.workflows.models import InsiRecovery
from identities.workflows.vitale import TypedCardReader
from insi.models import Exchange
from tests import factories
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db
State = InsiRecovery.State


def test_a_00_waits_for_the_users_decision_and_changes_nothing_yet(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert (recovery.state, recovery.code) == (State.AWAITING, "00")
    assert recovery.returned["birth_given_names"] == "PIERRE-ALAIN GUNTHER"
    assert identity.status == Status.PROV and identity.ins_matricule is None


def test_every_call_is_in_the_exchange_log_with_its_identity_and_user(insi, front_desk):
    identity = people.desk(front_desk, people.HOUILLES)

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    calls = Exchange.objects.filter(identity_id=identity.pk).order_by("pk")
    # One call per given name, then all of them joined.
    assert [c.return_code for c in calls] == ["01", "01", "01", "01"]
    assert {c.username for c in calls} == {"camille.accueil"}
    assert recovery.exchange_ids == [c.pk for c in calls]


def test_the_comparison_marks_each_trait_insi_would_change(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN, birthplace_code="75056")
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    rows = {row.field: row for row in rec.recovery_comparison(recovery)}

    assert rows["birth_given_names"].differs and rows["birth_given_names"].returned == "PIERRE-ALAIN GUNTHER"
    assert rows["birthplace_code"].differs and rows["birthplace_code"].returned == "63220 Mazoires"
    assert not rows["birth_name"].differs and not rows["sex"].differs and not rows["birth_date"].differs
    assert not rows["first_birth_given_name"].differs


def test_accepting_feeds_the_identity_with_the_returned_traits_and_its_matricule(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)

    identity.refresh_from_db()
    recovery.refresh_from_db()
    assert recovery.state == State.ACCEPTED and recovery.decided_by == front_desk
    assert identity.status == Status.RECUP
    assert (identity.birth_given_names, identity.first_birth_given_name) == ("PIERRE-ALAIN GUNTHER", "PIERRE-ALAIN")
    assert identity.ins_matricule == "101066322075460"
    assert InsMatricule.objects.get(identity=identity, kind=InsMatricule.Kind.ACTIVE).insi_exchange_id == recovery.exchange_id


def test_accepting_for_a_validated_identity_qualifies_it(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    factories.check_passport(front_desk, identity)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)

    identity.refresh_from_db()
    assert identity.status == Status.QUAL


def test_rejecting_records_the_reason_and_leaves_the_identity_as_it_was(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    rec.recovery_reject(actor=front_desk, recovery_id=recovery.pk, reason="Le patient n'a pas de second prénom")

    identity.refresh_from_db()
    recovery.refresh_from_db()
    assert recovery.state == State.REJECTED and recovery.decision_reason == "Le patient n'a pas de second prénom"
    assert identity.status == Status.PROV and identity.birth_given_names == "PIERRE-ALAIN"
    assert IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.INSI_RECOVERY, details__decision=State.REJECTED).exists()


def test_it_refuses_to_reject_without_a_reason(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    with pytest.raises(RuleViolation) as refused:
        rec.recovery_reject(actor=front_desk, recovery_id=recovery.pk, reason="  ")

    assert refused.value.field == "reason"


def test_it_refuses_to_accept_twice(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)
    rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)

    with pytest.raises(RuleViolation, match="déjà close"):
        rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)


def test_it_refuses_to_accept_when_the_identity_changed_since_the_search(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)
    identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version, used_name="DURAND")

    with pytest.raises(ConflictError, match="modifiée depuis la recherche"):
        rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)


@pytest.mark.parametrize("attribute", ["DOUT", "FICT"])
def test_it_refuses_recovery_for_a_doubtful_or_fictitious_identity_without_calling_insi(insi, front_desk, civ_member, attribute):
    identity = people.desk(front_desk, people.ADRUN)
    identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=attribute, value=True, reason="enquête")

    with pytest.raises(NotAllowed, match="douteuse ou fictive"):
        rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert not Exchange.objects.filter(identity_id=identity.pk).exists()


def test_it_says_no_recovery_is_needed_for_a_recovered_identity(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    assert "Aucune récupération nécessaire" in rec.recovery_refusal(identity)
    with pytest.raises(RuleViolation, match="Aucune récupération nécessaire"):
        rec.recovery_search(actor=front_desk, identity_id=identity.pk)


def test_a_manager_may_not_call_insi(insi, front_desk, manager):
    identity = people.desk(front_desk, people.ADRUN)

    with pytest.raises(NotAllowed):
        rec.recovery_search(actor=manager, identity_id=identity.pk)


# --- Automatic feeding on the similarity rate ---

def test_it_feeds_automatically_when_the_rate_reaches_the_threshold(insi, front_desk, settings):
    settings.INSI_AUTO_FEED_THRESHOLD = 95.0
    identity = people.desk(front_desk, people.ARTAGNAN)

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert recovery.state == State.AUTO_ACCEPTED and recovery.similarity == 100.0
    assert identity.status == Status.RECUP and identity.birth_given_names == "PIERRE-ALAIN GUNTHER"
    event = IdentityEvent.objects.get(identity=identity, kind=IdentityEvent.Kind.INSI_RECOVERY)
    assert event.details["decision"] == "auto" and event.details["threshold"] == 95.0 and "taux =" in event.details["formula"]


def test_below_the_threshold_the_user_decides(insi, front_desk, settings):
    settings.INSI_AUTO_FEED_THRESHOLD = 95.0
    # A birthplace typed wrong costs the rate its birthplace weight: 90 %.
    identity = people.desk(front_desk, people.ARTAGNAN, birthplace_code="75056")

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert recovery.state == State.AWAITING and recovery.similarity == 90.0
    assert "90.0 % < seuil 95.0 %" in recovery.message


def test_without_a_threshold_nothing_is_fed_automatically(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert recovery.state == State.AWAITING and recovery.similarity == 100.0
    assert "désactivée" in recovery.message


# --- Rule 5: results never integrated ---

def _returning(insi, name: str, tag: bytes, value: bytes):
    def change(body: bytes) -> bytes:
        start = body.index(b"<" + tag + b">")
        end = body.index(b"</" + tag + b">", start)
        return body[: start + len(tag) + 2] + value + body[end:]

    insi.rewrite(name, change)


@pytest.mark.parametrize(("tag", "value", "why"), [
    (b"DateNaissance", b"1975-00-00", "contient 00"),
    (b"DateNaissance", b"1975-12-00", "contient 00"),
    (b"NomNaissance", b"", "nom de naissance retourné par INSi est vide"),
    (b"ListePrenom", b"", "liste des prénoms retournée par INSi est vide"),
    (b"Sexe", b"", "sexe retourné par INSi est vide"),
    (b"Sexe", b"I", "sexe retourné par INSi (I) n'est ni M ni F"),
])
def test_it_never_integrates_a_result_with_a_00_date_or_an_empty_trait_and_says_why(insi, front_desk, settings, tag, value, why):
    settings.INSI_AUTO_FEED_THRESHOLD = 50.0
    identity = people.desk(front_desk, people.ADRUN)
    _returning(insi, "ADRUN", tag, value)

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert recovery.state == State.UNUSABLE and why in recovery.message
    assert identity.status == Status.PROV
    with pytest.raises(RuleViolation, match="déjà close"):
        rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)


# --- 01 and 02: guidance and retry ---

def test_a_01_advises_on_used_names_and_given_names_and_retries_with_the_used_name(insi, front_desk):
    # The married name was typed as the birth name, the birth name as the used name.
    identity = people.desk(front_desk, people.ADRUN, birth_name="DURAND", used_name="ADRUN")
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    guidance = rec.guidance(recovery)

    assert recovery.state == State.NOT_FOUND
    assert "nom d'usage" in guidance.advice[0] and "autres prénoms" in guidance.advice[1]
    [suggestion] = guidance.suggestions
    retried = rec.recovery_search(actor=front_desk, identity_id=identity.pk, birth_name=suggestion.birth_name,
                                  given_names=suggestion.given_names, birthplace=suggestion.birthplace)
    assert retried.state == State.AWAITING and retried.query["birth_name"] == "ADRUN"


def test_a_02_advises_given_names_then_the_birthplace_and_a_retry_with_it_finds_one(insi, front_desk):
    identity = people.desk(front_desk, people.DE_VINCI)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    guidance = rec.guidance(recovery)

    assert recovery.state == State.SEVERAL
    assert "autres prénoms" in guidance.advice[0] and "lieu de naissance" in guidance.advice[1]
    retried = rec.recovery_search(actor=front_desk, identity_id=identity.pk, birthplace="63220")
    assert retried.state == State.AWAITING and retried.returned["birth_given_names"] == "LEONARDO PIERO"


def test_a_02_is_narrowed_by_the_known_birthplace_without_asking(insi, front_desk):
    identity = people.desk(front_desk, people.DE_VINCI, birthplace_code="2A004")

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert recovery.state == State.AWAITING and recovery.returned["birthplace_code"] == "2A004"
    assert [c.return_code for c in Exchange.objects.filter(identity_id=identity.pk).order_by("pk")] == ["02", "00"]


def test_a_retry_refuses_traits_that_break_the_rules_naming_the_field(insi, front_desk):
    identity = people.desk(front_desk, people.DE_VINCI)

    with pytest.raises(RuleViolation) as refused:
        rec.recovery_search(actor=front_desk, identity_id=identity.pk, given_names="LEONARDO 2")

    assert refused.value.field == "birth_given_names"
    assert not Exchange.objects.filter(identity_id=identity.pk).exists()


# --- Carte Vitale ---

def test_the_carte_vitale_path_finds_the_beneficiary(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    card = TypedCardReader({"beneficiary_nir": "2 75 12 63 220 749 74", "birth_name": "Adrun", "birth_date": "31/12/1975"}).read()

    recovery = rec.recovery_search_with_vitale(actor=front_desk, identity_id=identity.pk, card=card)

    assert recovery.method == InsiRecovery.Method.VITALE and recovery.state == State.AWAITING
    assert recovery.returned["active"]["matricule"] == people.ADRUN_INS
    assert Exchange.objects.get(pk=recovery.exchange_id).operation == "rechercherInsAvecCarteVitale"


def test_a_lunar_date_with_00_is_sent_as_read(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    card = TypedCardReader({"beneficiary_nir": people.ADRUN_INS, "birth_name": "ADRUN", "birth_date": "00/00/1975"}).read()

    recovery = rec.recovery_search_with_vitale(actor=front_desk, identity_id=identity.pk, card=card)

    assert recovery.query["birth_date"] == "1975-00-00" and recovery.state == State.AWAITING


@pytest.mark.parametrize(("data", "field"), [
    ({"beneficiary_nir": "275126322074975", "birth_name": "ADRUN", "birth_date": "31/12/1975"}, "beneficiary_nir"),
    ({"beneficiary_nir": people.ADRUN_INS, "birth_name": "ADRUN", "birth_date": "1975-13-01"}, "birth_date"),
    ({"beneficiary_nir": people.ADRUN_INS, "birth_name": "ADRUN", "birth_date": "31/12/1975", "birth_rank": "0"}, "birth_rank"),
    ({"beneficiary_nir": people.ADRUN_INS, "birth_name": "4DRUN", "birth_date": "31/12/1975"}, "birth_name"),
])
def test_the_typed_card_refuses_bad_data_naming_the_field(data, field):
    with pytest.raises(RuleViolation) as refused:
        TypedCardReader(data).read()

    assert refused.value.field == field


# --- Collisions and failures ---

def test_accepting_an_ins_already_held_by_another_identity_is_a_collision(insi, front_desk):
    people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    twin = people.desk(front_desk, people.ADRUN, used_name="DURAND")
    recovery = rec.recovery_search(actor=front_desk, identity_id=twin.pk)

    rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)

    recovery.refresh_from_db()
    twin.refresh_from_db()
    assert recovery.state == State.COLLISION and "Collision" in recovery.message
    assert twin.status == Status.PROV


def test_a_service_that_does_not_answer_is_a_failure_recorded_with_its_calls(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    insi.fail("ADRUN")

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert recovery.state == State.FAILED and "erreur HTTP 500 sans message SOAP" in recovery.message
    assert Exchange.objects.filter(identity_id=identity.pk, return_code="http_500").count() == 3


def test_an_unreadable_answer_is_said_to_be_unreadable_not_unreachable(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    insi.rewrite("ADRUN", lambda body: body[: len(body) // 2])

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert recovery.state == State.FAILED
    assert "réponse du service illisible" in recovery.message and "injoignable" not in recovery.message


# --- The identity is not held during the call ---

@pytest.mark.django_db(transaction=True)
def test_the_identity_is_not_locked_while_insi_answers(insi, front_desk):
    from django.db import transaction

    from identities.core.models import Identity

    identity = people.desk(front_desk, people.ADRUN)

    def lock_without_waiting():
        with transaction.atomic():
            return Identity.objects.select_for_update(nowait=True).get(pk=identity.pk).pk

    seen = insi.meanwhile("ADRUN", lock_without_waiting)
    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert seen == {"result": identity.pk}
    assert recovery.state == State.AWAITING


@pytest.mark.django_db(transaction=True)
def test_a_change_made_during_the_call_is_seen_before_anything_is_written(insi, front_desk, settings):
    settings.INSI_AUTO_FEED_THRESHOLD = 50.0
    identity = people.desk(front_desk, people.ADRUN)
    seen = insi.meanwhile("ADRUN", lambda: identity_update_traits(
        actor=front_desk, identity_id=identity.pk, expected_version=identity.version, used_name="DURAND"))

    recovery = rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert "error" not in seen and identity.used_name == "DURAND"
    # Not fed automatically, though the rate passes the threshold: the traits compared are no longer the stored ones.
    assert recovery.state == State.AWAITING and "modifiée pendant l'appel INSi" in recovery.message
    assert identity.status == Status.PROV
    with pytest.raises(ConflictError, match="modifiée depuis la recherche INSi"):
        rec.recovery_accept(actor=front_desk, recovery_id=recovery.pk)


@pytest.mark.django_db(transaction=True)
def test_an_identity_marked_doubtful_during_the_call_is_refused_after_it(insi, front_desk, civ_member):
    identity = people.desk(front_desk, people.ADRUN)
    insi.meanwhile("ADRUN", lambda: identity_set_attribute(
        actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="Deux patients au guichet"))

    with pytest.raises(NotAllowed, match="douteuse ou fictive"):
        rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert not InsiRecovery.objects.filter(identity=identity).exists()
    assert Exchange.objects.filter(identity_id=identity.pk, return_code="00").exists()  # the call stays traced


def test_recovery_is_refused_on_an_inactive_identity_and_insi_is_not_called(insi, front_desk):
    from identities.core.models import Identity

    identity = people.desk(front_desk, people.ADRUN)
    # A record merged away: the merge service deactivates it.
    Identity.objects.filter(pk=identity.pk).update(is_active=False)

    with pytest.raises(RuleViolation, match="Identité désactivée"):
        rec.recovery_search(actor=front_desk, identity_id=identity.pk)

    assert insi.calls.get("ADRUN", 0) == 0 and not Exchange.objects.filter(identity_id=identity.pk).exists()
    assert not InsiRecovery.objects.filter(identity_id=identity.pk).exists()
