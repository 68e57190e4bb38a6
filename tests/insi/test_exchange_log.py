"""The exchange log: one row per call with the exact bytes, linked to its caller, purged of bodies, read-only admin."""
import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from insi import protocol
from insi.client import get_client
from insi.exchanges import exchange_bodies_purge
from insi.models import Exchange
from insi.types import CallContext, TraitsQuery
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.django_db

ECETINSI = TraitsQuery("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")


@pytest.fixture
def agent_call(on_simulator, front_desk):
    outcome = get_client().search_by_traits(ECETINSI, context=CallContext.manual(front_desk, identity_id=4242))
    return Exchange.objects.get(pk=outcome.exchange_id)


def test_each_call_leaves_one_row_with_what_was_sent_and_received(agent_call):
    sent = etree.fromstring(bytes(agent_call.request_body))
    received = etree.fromstring(bytes(agent_call.response_body))

    assert Exchange.objects.count() == 1
    assert sent.find(f".//{{{protocol.RECSANS_NS}}}RECSANSVITALE") is not None
    assert received.findtext(f".//{{{protocol.RESULTAT_NS}}}CodeCR") == "00"
    assert agent_call.message_id == sent.findtext(f".//{{{protocol.WSA_NS}}}MessageID")
    assert agent_call.operation == Exchange.Operation.SEARCH_TRAITS
    assert (agent_call.return_code, agent_call.http_status, agent_call.error) == ("00", 200, "")
    assert agent_call.duration_ms >= 0
    assert agent_call.started_at <= timezone.now()


def test_a_user_call_is_linked_to_the_user_and_the_identity(agent_call, front_desk):
    assert (agent_call.user, agent_call.username, agent_call.mode) == (front_desk, "camille.accueil", "MANU")
    assert agent_call.identity_id == 4242
    assert Exchange.objects.filter(identity_id=4242).get() == agent_call


def test_an_automatic_call_is_linked_to_its_task(on_simulator):
    context = CallContext.automatic("campagne vérification 2025-T1", identity_id=7)

    outcome = get_client().search_by_traits(ECETINSI, context=context)

    exchange = Exchange.objects.get(pk=outcome.exchange_id)
    assert (exchange.task_label, exchange.mode, exchange.user, exchange.identity_id) == (
        "campagne vérification 2025-T1", "AUTO", None, 7
    )


def test_deleting_the_user_keeps_the_row_and_the_username(agent_call, front_desk):
    front_desk.delete()

    agent_call.refresh_from_db()
    assert agent_call.user is None
    assert agent_call.username == "camille.accueil"


def test_a_fault_is_logged_with_its_code_and_text(on_simulator, automatic):
    outcome = get_client().search_by_traits(TraitsQuery("ADRUN", "ZOE", "X", "1975-12-31"), context=automatic)

    exchange = Exchange.objects.get(pk=outcome.exchange_id)
    assert (exchange.return_code, exchange.http_status) == ("insi_24", 500)
    assert "sexe" in exchange.error


def test_the_row_belongs_to_the_callers_transaction(on_simulator, automatic):
    with pytest.raises(RuntimeError), transaction.atomic():
        get_client().search_by_traits(ECETINSI, context=automatic)
        assert Exchange.objects.count() == 1
        raise RuntimeError("the caller's change fails")

    assert not Exchange.objects.exists()


def test_log_output_holds_ids_codes_and_durations_but_no_personal_data(on_simulator, automatic, caplog):
    with caplog.at_level(logging.DEBUG):
        outcome = get_client().search_by_traits(ECETINSI, context=automatic)

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert f"exchange={outcome.exchange_id}" in text and "code=00" in text
    for personal in ("ECETINSI", "PIERRE-ALAIN", "2009-07-14", "1090763220834", "63220"):
        assert personal not in text


def test_the_purge_drops_old_bodies_and_keeps_every_row(on_simulator, automatic):
    for _ in range(3):
        get_client().search_by_traits(ECETINSI, context=automatic)
    old, *recent = Exchange.objects.order_by("pk")
    Exchange.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=91))

    assert exchange_bodies_purge(older_than_days=90) == 1

    old.refresh_from_db()
    assert (old.request_body, old.response_body) == (None, None)
    assert old.bodies_purged_at is not None and old.return_code == "00"
    assert all(Exchange.objects.get(pk=row.pk).request_body for row in recent)
    assert Exchange.objects.count() == 3


def test_the_purge_command_uses_the_retention_setting(on_simulator, automatic, capsys):
    on_simulator.INSI_EXCHANGE_BODY_RETENTION_DAYS = 10
    get_client().search_by_traits(ECETINSI, context=automatic)
    Exchange.objects.update(started_at=timezone.now() - timedelta(days=11))

    call_command("insi_purge_exchange_bodies")

    assert "1 échange(s)" in capsys.readouterr().out
    assert Exchange.objects.get().request_body is None


@pytest.fixture
def log_reader(django_user_model):
    """An account holding only the view permission on the exchange log."""
    user = django_user_model.objects.create_user("lecteur.journal", password=None)
    user.user_permissions.add(Permission.objects.get(content_type__app_label="insi", codename="view_exchange"))
    return user


ECETINSI_MATRICULE = "1090763220834"  # the active NIR the simulator returns for ECETINSI


def test_a_holder_of_the_view_permission_reads_the_log_but_not_the_raw_answer(log_reader, agent_call):
    client = logged_in(log_reader)

    listing = client.get(reverse("admin:insi_exchange_changelist"))
    detail = client.get(reverse("admin:insi_exchange_change", args=[agent_call.pk])).content.decode()

    assert listing.status_code == 200
    assert "camille.accueil" in listing.content.decode()
    assert "RECSANSVITALE" not in detail and ECETINSI_MATRICULE not in detail
    assert "Non affichés : réservés aux membres et référents de la CIV" in detail
    assert 'name="_save"' not in detail


@pytest.mark.parametrize("persona", ["civ_member", "civ_referent"])
def test_the_civ_reads_the_log_down_to_the_bytes_and_is_told_why_they_are_restricted(request, persona, agent_call):
    detail = logged_in(request.getfixturevalue(persona)).get(reverse("admin:insi_exchange_change", args=[agent_call.pk]))

    text = detail.content.decode()
    assert detail.status_code == 200
    assert "RECSANSVITALE" in text and ECETINSI_MATRICULE in text
    assert "exception à la règle de diffusion" in text


def test_the_administrator_sees_the_log_without_the_raw_answer(administrator, agent_call):
    text = logged_in(administrator).get(reverse("admin:insi_exchange_change", args=[agent_call.pk])).content.decode()

    assert "00" in text and ECETINSI_MATRICULE not in text and "RECSANSVITALE" not in text


@pytest.mark.parametrize("persona", ["front_desk", "manager", "outsider"])
def test_the_log_is_hidden_from_roles_without_the_view_permission(request, persona, agent_call):
    client = logged_in(request.getfixturevalue(persona))

    response = client.get(reverse("admin:insi_exchange_changelist"))

    # Refused (403), or sent to the login page when the account may not enter the admin at all.
    assert response.status_code in (302, 403)
    assert "camille.accueil" not in response.content.decode()


def test_nobody_adds_or_deletes_log_rows_from_the_admin(administrator, agent_call):
    client = logged_in(administrator)

    assert client.get(reverse("admin:insi_exchange_add")).status_code == 403
    assert client.get(reverse("admin:insi_exchange_delete", args=[agent_call.pk])).status_code == 403


def test_no_one_can_be_granted_the_right_to_change_or_delete_the_log():
    codenames = set(Permission.objects.filter(content_type__app_label="insi").values_list("codename", flat=True))

    assert codenames == {"view_exchange", "view_exchange_body"}
