"""The demo's recovered and qualified identities verify OK against the bundled simulator (its catalogue knows them)."""
import io

import pytest
from django.core.management import call_command

from identities.core.models import Identity, Status, WorklistItem
from identities.workflows.verification import verification_verify

pytestmark = pytest.mark.django_db


def test_every_fed_demo_identity_verifies_ok_with_the_simulator(insi, django_user_model):
    call_command("seed_demo", stdout=io.StringIO())
    civ = django_user_model.objects.get(username="demo.civ")
    fed = list(Identity.objects.filter(status__in=[Status.RECUP, Status.QUAL]))
    assert len(fed) >= 10

    verdicts = {identity.birth_name: verification_verify(actor=civ, identity_id=identity.pk, email=False).verdict for identity in fed}

    assert set(verdicts.values()) == {"OK"}, verdicts
    assert not WorklistItem.objects.filter(kind=WorklistItem.Kind.INSI_VERIFICATION).exists()
