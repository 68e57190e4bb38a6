"""Collisions (COLP, COLV, dismissed, split with every move traced, never merged) and usurpation (USUR holds the INS back)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from identities.core import services
from identities.core.diffusion import shareable_ins
from identities.core.errors import ConflictError, NotAllowed, RuleViolation
from identities.core.matricule import compute_key
from identities.core.models import DocumentCheck, Identity, IdentityEvent
from identities.interop import outbox
from identities.interop.models import OutboxMessage
from identities.merge import collisions
from identities.merge import services as merge_services
from identities.merge.models import Collision
from tests import factories
from tests.identities.interop.conftest import make_receiver  # noqa: F401 - fixture
from tests.identities.merge.conftest import prove


def test_the_civ_flags_then_confirms_or_dismisses_a_collision(make_identity, civ_member, front_desk):
    identity = make_identity("PROV")
    with pytest.raises(NotAllowed, match="seule la CIV"):
        collisions.collision_flag(actor=front_desk, identity_id=identity.pk, reason="deux patientes sous un dossier")
    flagged = collisions.collision_flag(actor=civ_member, identity_id=identity.pk, reason="deux patientes sous un dossier")
    assert flagged.state == Collision.State.SUSPECTED
    with pytest.raises(RuleViolation, match="déjà signalée"):
        collisions.collision_flag(actor=civ_member, identity_id=identity.pk, reason="encore")
    with pytest.raises(RuleViolation, match="commentaire est obligatoire"):
        collisions.collision_decide(actor=civ_member, collision_id=flagged.pk, confirmed=False)
    dismissed = collisions.collision_decide(actor=civ_member, collision_id=flagged.pk, confirmed=False, note="une seule personne")
    assert dismissed.state == Collision.State.DISMISSED
    with pytest.raises(ConflictError, match="rien n'a été modifié"):
        collisions.collision_decide(actor=civ_member, collision_id=flagged.pk, confirmed=True)
    assert IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.COLLISION).count() == 2


def test_a_confirmed_collision_is_split_each_move_traced_and_the_two_are_never_merged(make_identity, civ_member, civ_referent):
    record = make_identity("VALI")
    check = DocumentCheck.objects.get(identity=record)
    doc_event = IdentityEvent.objects.get(identity=record, kind=IdentityEvent.Kind.DOCUMENT_CHECKED)
    collision = collisions.collision_flag(actor=civ_member, identity_id=record.pk, reason="la pièce est celle de la sœur")
    collisions.collision_decide(actor=civ_member, collision_id=collision.pk, confirmed=True)
    second_traits = {"birth_name": "MARTIN", "birth_given_names": "LUCIE", "birth_date": "1982-03-02", "sex": "F"}
    with pytest.raises(NotAllowed, match="seul un référent CIV"):
        collisions.collision_split(actor=civ_member, collision_id=collision.pk, traits=second_traits, reason="x")
    split = collisions.collision_split(actor=civ_referent, collision_id=collision.pk, traits=second_traits,
                                       event_ids=[doc_event.pk], check_ids=[check.pk], reason="la pièce est celle de la sœur")
    second = split.second_identity
    assert split.state == Collision.State.SPLIT and second.birth_given_names == "LUCIE"
    check.refresh_from_db()
    doc_event.refresh_from_db()
    assert (check.identity_id, doc_event.identity_id) == (second.pk, second.pk)
    moved = IdentityEvent.objects.filter(kind=IdentityEvent.Kind.MOVED).order_by("identity_id")
    assert {(e.identity_id, e.details["role"]) for e in moved} == {(record.pk, "from"), (second.pk, "to")}
    assert all(e.details["document_checks"] == [check.pk] and e.details["events"] == [doc_event.pk] for e in moved)
    prove(civ_member, record, second)
    with pytest.raises(RuleViolation, match="collision séparée ; elles ne se fusionnent jamais"):
        merge_services.merge_request(actor=civ_referent, first_id=record.pk, second_id=second.pk)


def test_usurpation_holds_the_ins_back_on_every_channel_until_resolved(make_identity, civ_member, make_receiver):  # noqa: F811
    identity = make_identity("QUAL")
    make_receiver(2700)
    assert shareable_ins(identity) is not None
    collisions.usurpation_set(actor=civ_member, identity_id=identity.pk, suspected=True, reason="carte Vitale prêtée")
    identity.refresh_from_db()
    assert shareable_ins(identity) is None
    assert OutboxMessage.objects.filter(identity=identity).latest("pk").trigger == "A47"  # receivers drop the INS
    with pytest.raises(RuleViolation, match="usurpation"):
        other = make_identity("PROV", birth_given_names="JEANNE")
        prove(civ_member, identity, other)
        merge_services.merge_request(actor=civ_member, first_id=identity.pk, second_id=other.pk)
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))  # the commit released the A47
    collisions.usurpation_set(actor=civ_member, identity_id=identity.pk, suspected=False, reason="résolue avec le patient")
    identity.refresh_from_db()
    assert shareable_ins(identity) is not None
    assert OutboxMessage.objects.filter(identity=identity).latest("pk").trigger == "A31"


def test_an_ins_history_that_contradicts_one_person_is_flagged_automatically(front_desk, birthplaces):
    identity = factories.identity(front_desk)
    other_sex = "1800563220777"  # a man's NIR, born in May 1980, reported for a woman's record
    result = factories.insi_result(identity, history=[services.InsiMatricule(matricule=other_sex + compute_key(other_sex),
                                                                             oid=factories.INSI_TEST_NIR_OID)])
    services.identity_apply_insi_result(actor=front_desk, identity_id=identity.pk, result=result)
    (suspect,) = Collision.objects.filter(identity=identity)
    assert suspect.automatic and suspect.state == Collision.State.SUSPECTED and "sexes ou de dates de naissance" in suspect.reason
    consistent = factories.recovered(front_desk, matricule13="2800563220124", birth_name="DURAND")
    assert not Collision.objects.filter(identity=consistent).exists()
    assert Identity.objects.get(pk=identity.pk).status == "RECUP"


def test_the_collision_screens_flag_confirm_and_split(make_identity, civ_member, civ_referent, front_desk):
    from django.urls import reverse

    from tests.identities.portal.client import logged_in

    record = make_identity("VALI")
    check = DocumentCheck.objects.get(identity=record)
    page = logged_in(civ_member).get(reverse("admin:identities_identity_change", args=[record.pk])).content.decode()
    assert reverse("admin:collision_flag", args=[record.pk]) in page
    assert logged_in(front_desk).get(reverse("admin:collision_flag", args=[record.pk])).status_code == 403
    member = logged_in(civ_member)
    member.post(reverse("admin:collision_flag", args=[record.pk]), {"reason": "deux patientes"})
    collision = Collision.objects.get()
    assert f'href="{reverse("admin:collision", args=[collision.pk])}"' in member.get(reverse("admin:collision_list")).content.decode()
    member.post(reverse("admin:collision", args=[collision.pk]), {"action": "decide", "decision": "confirm", "note": ""})
    assert Collision.objects.get().state == Collision.State.CONFIRMED
    assert 'id="collision-split"' not in member.get(reverse("admin:collision", args=[collision.pk])).content.decode()
    referent = logged_in(civ_referent)
    assert 'id="collision-split"' in referent.get(reverse("admin:collision", args=[collision.pk])).content.decode()
    referent.post(reverse("admin:collision", args=[collision.pk]), {
        "action": "split", "birth_name": "MARTIN", "birth_given_names": "LUCIE", "birth_date": "1982-03-02", "sex": "F",
        "birthplace_code": "", "checks": [check.pk], "reason": "la pièce est celle de la sœur",
    })
    split = Collision.objects.get()
    assert split.state == Collision.State.SPLIT and DocumentCheck.objects.get().identity_id == split.second_identity_id


def test_the_usurpation_screen_sets_and_lifts_usur(make_identity, civ_member, front_desk):
    from django.urls import reverse

    from tests.identities.portal.client import logged_in

    identity = make_identity("QUAL")
    assert logged_in(front_desk).get(reverse("admin:usurpation", args=[identity.pk])).status_code == 403
    logged_in(civ_member).post(reverse("admin:usurpation", args=[identity.pk]), {"reason": "carte prêtée"})
    page = logged_in(civ_member).get(reverse("admin:identities_identity_change", args=[identity.pk])).content.decode()
    assert 'id="usurpation-notice"' in page and identity.ins_matricule not in page
    logged_in(civ_member).post(reverse("admin:usurpation", args=[identity.pk]), {"reason": "résolue"})
    assert not Identity.objects.get(pk=identity.pk).usurpation_suspected
