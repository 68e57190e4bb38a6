"""Creation from the carte Vitale: the card's beneficiaries, anteriority first, then create or open and recover by card (simulator)."""
import pytest
from django.urls import reverse

from identities.core.models import Channel, Identity, Status
from identities.workflows import recovery as rec
from identities.workflows.card_intake import card_intake
from identities.workflows.models import InsiRecovery
from identities.workflows.vitale import SimulatorCardReader
from insi.models import Exchange
from tests.identities.portal.client import logged_in
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db
MICHELANGELO = {"birth_name": "NESSI", "birth_given_names": "MICHELANGELO", "birth_date": "2010-08-07", "sex": "M",
                "birthplace_code": ""}


def _son():
    return SimulatorCardReader("SIM-NESSI").beneficiaries()[1]


def test_the_card_offers_its_beneficiaries():
    beneficiaries = SimulatorCardReader("SIM-NESSI").beneficiaries()

    assert [(b.given_name, b.sex, b.insured_nir) for b in beneficiaries] == [
        ("NATHALIE", "F", "277076322082910"), ("MICHELANGELO", "M", "277076322082910"),
    ]


def test_choosing_a_new_beneficiary_creates_the_identity_and_recovers_its_ins_by_card(insi, front_desk):
    intake = card_intake(actor=front_desk, card=_son())

    identity = Identity.objects.get()
    assert (identity.status, identity.channel, identity.sex, identity.birth_given_names) == (Status.PROV, Channel.CV, "M", "MICHELANGELO")
    assert intake.recovery.method == InsiRecovery.Method.VITALE and intake.recovery.state == InsiRecovery.State.AWAITING
    assert intake.recovery.returned["birth_given_names"] == "MICHELANGELO ANTHONY"
    assert Exchange.objects.get().operation == "rechercherInsAvecCarteVitale"

    rec.recovery_accept(actor=front_desk, recovery_id=intake.recovery.pk)
    identity.refresh_from_db()
    assert (identity.status, identity.ins_matricule) == (Status.RECUP, "110086322083060")


def test_the_anteriority_search_comes_first_and_the_chosen_record_is_opened(insi, front_desk):
    known = people.desk(front_desk, MICHELANGELO)

    first = card_intake(actor=front_desk, card=_son())
    assert first.identity is None and [c.pk for c in first.candidates] == [known.pk] and not Exchange.objects.exists()

    opened = card_intake(actor=front_desk, card=_son(), identity_id=known.pk)

    assert opened.identity.pk == known.pk and Identity.objects.count() == 1
    assert opened.recovery.identity_id == known.pk and opened.recovery.state == InsiRecovery.State.AWAITING


def test_a_record_already_holding_the_beneficiarys_ins_is_opened_without_a_call(insi, front_desk):
    held = people.fed(front_desk, MICHELANGELO | {"birth_given_names": "MICHELANGELO ANTHONY", "birthplace_code": "63220"},
                      "110086322083060")

    intake = card_intake(actor=front_desk, card=_son())

    assert intake.identity.pk == held.pk and intake.recovery is None and "Aucune récupération nécessaire" in intake.message
    assert not Exchange.objects.exists()


def test_the_page_reads_the_card_then_a_choice_leads_to_the_comparison(insi, front_desk):
    client = logged_in(front_desk)
    read = client.post(reverse("admin:card_read"), {"action": "read", "card": "SIM-NESSI"}).content.decode()
    assert 'id="card-choose-1"' in read and "MICHELANGELO" in read

    response = client.post(reverse("admin:card_read"), {"action": "choose", "card": "SIM-NESSI", "index": "1"})

    recovery = InsiRecovery.objects.get()
    assert response.url == reverse("admin:insi_recovery", args=[recovery.pk])


def test_an_unknown_beneficiary_index_is_a_clear_error_and_nothing_is_written(insi, front_desk):
    page = logged_in(front_desk).post(reverse("admin:card_read"), {"action": "choose", "card": "SIM-NESSI", "index": "7"})

    assert "bénéficiaire inconnu" in page.content.decode() and not Identity.objects.exists()
