"""The interoperability screens: dead letters in sight, pause and replay through the services, tokens shown once, no matricule the gate would keep."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from identities.core import services
from identities.core.matricule import oid_info as matricule_info
from identities.core.models import Attribute
from identities.interop import clients, outbox
from identities.interop.models import ClientApplication, OutboxMessage, Receiver
from tests import factories
from tests.identities.portal.client import logged_in


@pytest.fixture
def dead_letter(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    factories.identity(front_desk, birth_name="REFUS")
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))
    loopback.answers = ["AE"]
    outbox.deliver(receiver.pk)
    return OutboxMessage.objects.get()


def test_a_dead_letter_shows_in_the_list_with_its_reason(dead_letter, civ_member):
    page = logged_in(civ_member).get(reverse("admin:identities_outboxmessage_changelist"), {"state__exact": "DEAD"})
    text = page.content.decode()
    assert page.status_code == 200
    assert "En échec définitif" in text and "refusé par le destinataire (AE)" in text
    receivers = logged_in(civ_member).get(reverse("admin:identities_receiver_changelist")).content.decode()
    assert '<strong class="ins-dead-count">1</strong>' in receivers


def test_the_administrator_replays_a_dead_letter_from_the_list(dead_letter, administrator, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = logged_in(administrator).post(reverse("admin:identities_outboxmessage_changelist"), {
            "action": "replay", "_selected_action": [dead_letter.pk],
        })
    dead_letter.refresh_from_db()
    assert response.status_code == 302
    assert (dead_letter.state, dead_letter.replays, dead_letter.replayed_by) == ("PENDING", 1, administrator)
    assert len(callbacks) == 1  # the delivery is asked for once the replay is committed


def test_the_cell_sees_messages_but_cannot_replay_them(dead_letter, civ_member):
    client = logged_in(civ_member)
    page = client.get(reverse("admin:identities_outboxmessage_changelist")).content.decode()
    assert 'value="replay"' not in page
    client.post(reverse("admin:identities_outboxmessage_changelist"), {"action": "replay", "_selected_action": [dead_letter.pk]})
    dead_letter.refresh_from_db()
    assert dead_letter.state == "DEAD"


def test_pausing_and_resuming_a_receiver_are_recorded_in_its_history(make_receiver, administrator):
    receiver = make_receiver(2600)
    client = logged_in(administrator)
    for action in ("pause", "resume"):
        client.post(reverse("admin:identities_receiver_changelist"), {"action": action, "_selected_action": [receiver.pk]})
    history = Receiver.history.filter(id=receiver.pk).order_by("history_date")
    assert [(record.paused, record.history_user) for record in history][1:] == [(True, administrator), (False, administrator)]


def test_a_message_shown_after_the_gate_closed_has_its_matricule_masked(make_receiver, loopback, make_identity, civ_member, administrator):
    receiver = make_receiver(loopback.port)
    identity = make_identity("QUAL")
    matricule = identity.ins_matricule
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))
    outbox.deliver(receiver.pk)
    sent = OutboxMessage.objects.get()
    assert matricule in sent.payload
    url = reverse("admin:identities_outboxmessage_change", args=[sent.pk])
    assert matricule in logged_in(administrator).get(url).content.decode()
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.DOUT, value=True, reason="doute")
    page = logged_in(administrator).get(url).content.decode()
    assert matricule not in page and "[matricule masqué]" in page
    # The whole INS identifier goes: its namespace and OID would still say the person has a NIR.
    assert "ASIP-SANTE-INS-NIR" not in page and "1.2.250.1.213.1.4." not in page
    assert "[OID masqué]" in page and "[autorité masquée]" in page


@pytest.mark.parametrize("status", ["RECUP", "QUAL"])
def test_a_received_message_shows_the_ins_identifier_only_for_a_qualified_identity(make_identity, administrator, status):
    from identities.interop.models import InboundMessage

    identity = make_identity(status)
    oid, authority = identity.ins_oid, matricule_info(identity.ins_oid).hl7_authority
    pid3 = f"{identity.ins_matricule}^^^{authority}&{oid}&ISO^INS"
    fhir = f'{{"system": "urn:oid:{oid}", "value": "{identity.ins_matricule}"}}'
    message = InboundMessage.objects.create(channel="HL7", source="DPI", control_id="1", payload=f"PID|1||{pid3}\r{fhir}",
                                            identity=identity, state="ACCEPTED")

    page = logged_in(administrator).get(reverse("admin:identities_inboundmessage_change", args=[message.pk])).content.decode()

    shown = status == "QUAL"
    assert (identity.ins_matricule in page, oid in page, authority in page) == (shown, shown, shown)


def test_a_new_client_application_gets_a_token_shown_once(administrator):
    client = logged_in(administrator)
    response = client.post(reverse("admin:identities_clientapplication_add"), {"name": "DPI", "scopes": "read", "active": "on"}, follow=True)
    application = ClientApplication.objects.get()
    (message,) = [str(message) for message in response.context["messages"] if "Jeton" in str(message)]
    token = message.rsplit(" ", 1)[1]
    assert clients.authenticate(f"Bearer {token}") == application
    assert token not in application.token_hash


def test_unknown_scopes_are_refused_in_the_form(administrator):
    response = logged_in(administrator).post(reverse("admin:identities_clientapplication_add"), {"name": "DPI", "scopes": "write"})
    assert response.status_code == 200 and "droits attendus parmi" in response.content.decode()
    assert not ClientApplication.objects.exists()
