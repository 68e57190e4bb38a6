"""The diffusion gate on every channel that leaves the portal, for every case the services can produce.

Each case is brought about through the services (qualification, NIA, HOMA, DOUT, FICT, a
withdrawn document, a locked trait changed, USUR, a merge, a deactivated record); then every
channel is asked through its own entry point: the A4 identity document and the labels (text
and the datamatrix scanned off the rasterised page), the HL7 v2 messages the outbox builds,
FHIR Patient read and search, the CDA recordTarget, and the logs written meanwhile. The INS
(its matricule, in any printed form, and the INS authority and OIDs) shows exactly where the
table says the gate shares it. The screens are pinned in ``core/test_rules_pinned.py``.
"""
from __future__ import annotations

import json
import logging

import pytest

from identities.core import services
from identities.core.matricule import compute_key
from identities.core.models import Attribute, Identity, Status
from identities.documents import labels as label_services
from identities.documents.models import LabelFormat
from identities.interop import clients, outbox
from identities.interop.models import ClientApplication, OutboxMessage, Receiver
from identities.merge import collisions
from identities.merge import services as merge_services
from tests import factories
from tests.identities.documents import pdfs

pytestmark = pytest.mark.usefixtures("birthplaces")

NIR_OID, NIA_OID = factories.INSI_TEST_NIR_OID, "1.2.250.1.213.1.4.9"
MATRICULE13 = "2800563220123"
MATRICULE = MATRICULE13 + compute_key(MATRICULE13)
# Whatever says "this person has an INS": the matricule as stored, grouped, or its 13 digits;
# the INS OIDs (.4.8 to .4.11) and their HL7 namespaces (ASIP-SANTE-INS-NIR, -NIA, -NIR-TEST...).
INS_MARKS = (*pdfs.matricule_forms(MATRICULE), "1.2.250.1.213.1.4.", "ASIP-SANTE-INS")

# case: does the gate share the INS? (the rule, written out: QUAL, neither DOUT nor FICT nor
# USUR, active, a matricule with its OID and the five traits; NIR and NIA alike)
CASES = {
    "PROV": False, "RECUP": False, "VALI": False, "QUAL": True, "QUAL NIA": True, "QUAL+HOMA": True,
    "DOUT": False, "FICT": False, "WITHDRAWN": False, "DOWNGRADED": False, "USUR": False, "INACTIVE": False,
    "MERGED SURVIVOR": True,
}


def _qualified_nia(front_desk) -> Identity:
    identity = factories.identity(front_desk)
    factories.check_passport(front_desk, identity)
    services.identity_apply_insi_result(actor=front_desk, identity_id=identity.pk,
                                        result=factories.insi_result(identity, matricule=MATRICULE13, oid=NIA_OID))
    identity.refresh_from_db()
    assert (identity.status, identity.ins_oid) == (Status.QUAL, NIA_OID)
    return identity


def _bring_about(case: str, front_desk, civ_member, civ_referent) -> tuple[Identity, Identity | None]:
    """The identity in that case, through the services (and the record merged into it, if any)."""
    absorbed = None
    if case == "QUAL NIA":
        identity = _qualified_nia(front_desk)
    elif case in ("QUAL", "QUAL+HOMA", "DOUT", "WITHDRAWN", "DOWNGRADED", "USUR", "INACTIVE", "MERGED SURVIVOR"):
        identity = factories.qualified(front_desk, MATRICULE13)
    elif case == "RECUP":
        identity = factories.recovered(front_desk, MATRICULE13)
    else:
        identity = factories.identity(front_desk)
    if case == "VALI":
        factories.check_passport(front_desk, identity)
    attribute = {"QUAL+HOMA": Attribute.HOMA, "DOUT": Attribute.DOUT, "FICT": Attribute.FICT}.get(case)
    if attribute:
        services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=attribute, value=True, reason="test")
    if case == "WITHDRAWN":
        services.identity_withdraw_document_check(actor=civ_member, check_id=identity.document_checks.get().pk, reason="test")
    if case == "DOWNGRADED":
        services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                        reason="Acte de naissance", birth_name="MARTINE")
    if case == "USUR":
        collisions.usurpation_set(actor=civ_member, identity_id=identity.pk, suspected=True, reason="Plainte du patient")
    if case == "INACTIVE":
        # Deactivated with its INS kept for the history: no service does it, the gate must hold anyway.
        Identity.objects.filter(pk=identity.pk).update(is_active=False)
    if case == "MERGED SURVIVOR":
        absorbed = factories.identity(front_desk, used_name="DOUBLON")
        merge_services.merge_request(actor=civ_referent, first_id=identity.pk, second_id=absorbed.pk, reason="Doublon")
        absorbed.refresh_from_db()
        assert absorbed.is_merged
    identity.refresh_from_db()
    return identity, absorbed


def _document(actor, identity) -> str:
    try:
        pdf = label_services.identity_print_document(actor=actor, identity_id=identity.pk)
    except services.RuleViolation:
        return ""  # a deactivated record is not printed
    return pdfs.text_of(pdf) + " ".join(pdfs.datamatrices_in(pdf))


def _labels(actor, identity) -> str:
    profile = label_services.label_profile_save(actor=actor, name="Tout", label_format_id=LabelFormat.objects.get(code="a4-3x8").pk,
                                                extra_traits=list(label_services.EXTRA_TRAITS))
    assert profile.show_ins and profile.show_datamatrix
    try:
        pdf = label_services.identities_print_labels(actor=actor, identity_ids=[identity.pk], profile_id=profile.pk).pdf
    except services.RuleViolation:
        return ""
    return pdfs.text_of(pdf) + " ".join(pdfs.datamatrices_in(pdf))


def _hl7(identity) -> str:
    """Every message the outbox holds for the identity, built now, without the MRG segment: MRG-1
    of an A47 names the INS to delete, the one exception the gate's module states."""
    messages = OutboxMessage.objects.filter(identity_id=identity.pk).order_by("pk")
    assert messages.exists()
    built = [outbox.build(message)[0] for message in messages]
    return "\n".join(segment for text in built for segment in text.split("\r") if not segment.startswith("MRG"))


def _api(client, token: str, path: str) -> str:
    response = client.get(path, secure=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (200, 404), (path, response.status_code)
    return response.content.decode()


def _served(client, token, path: str) -> str:
    """The resources a search serves (its self link repeats the criteria the client sent)."""
    bundle = json.loads(_api(client, token, path))
    assert bundle["resourceType"] == "Bundle"
    return json.dumps(bundle.get("entry", []))


def _fhir(client, token, identity) -> dict[str, str]:
    return {
        "fhir read": _api(client, token, f"/fhir/Patient/{identity.uuid}"),
        "fhir search": _served(client, token, "/fhir/Patient?family=MARTIN"),
        "fhir search by INS": _served(client, token, f"/fhir/Patient?identifier=urn:oid:{identity.ins_oid or NIR_OID}|{MATRICULE}"),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_every_channel_carries_the_ins_only_when_the_gate_shares_it(case, client, front_desk, civ_member, civ_referent,
                                                                     administrator, caplog):
    caplog.set_level(logging.DEBUG)
    Receiver.objects.create(name="SIH", host="127.0.0.1", port=9, receiving_application="SIH", receiving_facility="CHU")
    token = clients.client_application_save(actor=administrator, application=ClientApplication(name="DPI", scopes="read"))
    identity, absorbed = _bring_about(case, front_desk, civ_member, civ_referent)

    outputs = {
        "document": _document(front_desk, identity), "labels": _labels(front_desk, identity), "hl7": _hl7(identity),
        **_fhir(client, token, identity), "cda": _api(client, token, f"/cda/Patient/{identity.uuid}/recordTarget"),
    }
    if absorbed is not None:
        # The merged-away record is served as itself (FHIR) and through its survivor (CDA).
        outputs["fhir read of the absorbed"] = _api(client, token, f"/fhir/Patient/{absorbed.uuid}")
    shown = {channel: any(mark in text for mark in INS_MARKS) for channel, text in outputs.items()}

    expected = {channel: CASES[case] for channel in outputs}
    if "fhir read of the absorbed" in expected:
        expected["fhir read of the absorbed"] = False  # its own resource: replaced-by link, no INS
    assert shown == expected
    if CASES[case]:
        # Shared: with the nature its OID tells, on the paper and in the messages.
        assert identity.ins_oid in outputs["hl7"] and identity.ins_oid in outputs["fhir read"]
    # No log line, whatever the case, carries the matricule.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not any(form in logged for form in pdfs.matricule_forms(MATRICULE))
