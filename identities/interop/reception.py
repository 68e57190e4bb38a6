"""Identities received from another identification domain: the reception rule, and the HL7 listener's and FHIR import's handling of each message.

Rule 4 of domain.md: qualification is not transitive across domains. An INS arrives with
the sender's word that the identity is qualified (HL7 ``VALI`` + matricule + OID, FHIR
``QUAL``) or is dropped; a kept INS is checked with INSi (the ``INS_RECEPTION_VERIFIER``
hook) before it is integrated, and without a verifier or an answer it waits on the received
message, never integrated unverified. Every received message is stored, usable or not; an
unusable one changes nothing else.
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from identities.core import matricule, roles, services, traits
from identities.core.errors import NotAllowed, RuleViolation, ServiceError
from identities.core.models import Identity
from identities.interop import fhir, hl7v2, intake, mllp, selectors
from identities.interop.common import QUAL, MessageError, ReceivedIdentity, ReceivedIns
from identities.interop.models import InboundMessage
from identities.workflows.ins_integration import integrate_confirmed_ins, received_ins
from identities.workflows.verification import verification_alert

logger = logging.getLogger(__name__)

State = InboundMessage.State
InsOutcome = InboundMessage.InsOutcome


@dataclass(frozen=True)
class ReceivedForVerification:
    """What the INSi check of a received INS is given: the INS with the traits it came with."""

    matricule: str
    oid: str
    birth_name: str
    birth_given_names: str
    sex: str
    birth_date: str
    birthplace_code: str
    identity_id: int | None = None


# The INS_RECEPTION_VERIFIER hook (identities.workflows.ins_integration.verify_received_ins): called
# with a ReceivedForVerification, answers a verdict whose ``verified`` is True (INSi confirms),
# False (KO) or None (no answer), with the ``exchange_id`` of the call.
Verifier = Callable[[ReceivedForVerification], Any]


def configured_verifier() -> Verifier | None:
    path = settings.INS_RECEPTION_VERIFIER
    return import_string(path) if path else None


@dataclass
class ReceptionOutcome:
    identity: Identity | None
    state: str
    ins_outcome: str
    message: str
    candidates: list[Identity] = field(default_factory=list)


def _checked_ins(ins: ReceivedIns) -> ReceivedIns:
    """The received INS in its 15-character form; RuleViolation when malformed or of the other environment."""
    return ReceivedIns(matricule=received_ins(ins.matricule, ins.oid), oid=ins.oid)


def receive_external_identity(
    *,
    actor,
    birth_name: str,
    birth_given_names: str,
    birth_date: str,
    sex: str,
    declared_status: str,
    source: str,
    first_birth_given_name: str = "",
    birthplace_code: str = "",
    used_name: str = "",
    used_given_name: str = "",
    ins: ReceivedIns | None = None,
    verify: Verifier | None = None,
) -> ReceptionOutcome:
    """Take in an identity sent by another identification domain.

    The identity is created (provisional) after the anteriority search; when the search
    finds someone, nothing is created and the message waits for the CIV. The INS is kept
    only if the sender declares the identity qualified; a kept INS is integrated only after
    ``verify`` (INSi) confirms it — the identity then becomes RECUP, never QUAL: a document
    must still be checked here. INSi KO: traits only, and the CIV is alerted (the "INSi
    verification failures" queue). No verifier, or no answer from INSi: the INS waits on the
    received message. Raises RuleViolation for unusable traits or INS.
    """
    kept = _checked_ins(ins) if ins is not None and declared_status == QUAL else None
    dropped = ins is not None and kept is None
    try:
        strict = traits.normalise_strict_traits(
            birth_name=birth_name, birth_given_names=birth_given_names, first_birth_given_name=first_birth_given_name,
            birth_date=birth_date, sex=sex, birthplace_code=birthplace_code,
        )
    except traits.TraitError as error:
        raise RuleViolation(error.message, field=error.field) from error
    # A sender repeats the birth name as used name when there is none (PAM-FR's D name).
    if traits.search_key(used_name) == traits.search_key(strict.birth_name):
        used_name = ""
    if traits.search_key(used_given_name) == traits.search_key(strict.first_birth_given_name):
        used_given_name = ""
    created = services.identity_create(
        actor=actor, **vars(strict), used_name=used_name, used_given_name=used_given_name,
    )
    if created.identity is None:
        return ReceptionOutcome(
            identity=None, state=State.REVIEW, candidates=created.candidates,
            ins_outcome=InsOutcome.PENDING if kept else (InsOutcome.DROPPED if dropped else InsOutcome.NONE),
            message=f"{len(created.candidates)} identité(s) proche(s) déjà connue(s) : rien n'est créé, "
            "la CIV rapproche ou crée l'identité.",
        )
    identity = created.identity
    if kept is None:
        note = " ; INS ignoré : l'émetteur ne déclare pas l'identité qualifiée" if dropped else ""
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.DROPPED if dropped else InsOutcome.NONE,
                                f"Identité provisoire créée{note}.")
    if verify is None:
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.PENDING,
                                "Identité provisoire créée ; INS en attente de vérification INSi, non intégré.")
    verdict = verify(ReceivedForVerification(
        matricule=kept.matricule, oid=kept.oid, birth_name=strict.birth_name, birth_given_names=strict.birth_given_names,
        sex=strict.sex, birth_date=strict.birth_date, birthplace_code=strict.birthplace_code, identity_id=identity.pk,
    ))
    if verdict.verified is None:
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.PENDING,
                                "Identité provisoire créée ; INSi n'a pas répondu : INS en attente de vérification, non intégré.")
    if not verdict.verified:
        logger.warning("INS received from another domain not confirmed by INSi (identity %s)", identity.pk)
        verification_alert(identity=identity, actor=actor,
                           reason=f"INS reçu de {source} non confirmé par INSi : seuls les traits ont été intégrés.")
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.KO,
                                "INS non confirmé par INSi : seuls les traits sont intégrés, la CIV est alertée.")
    try:
        applied = integrate_confirmed_ins(actor=actor, identity=identity, ins=kept.matricule, oid=kept.oid, exchange_id=verdict.exchange_id)
    except (RuleViolation, NotAllowed) as error:
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.NOT_APPLIED, f"INS vérifié mais non intégré : {error.message}")
    if not applied.applied:
        return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.NOT_APPLIED, applied.message)
    return ReceptionOutcome(identity, State.ACCEPTED, InsOutcome.VERIFIED,
                            "INS vérifié par INSi et intégré : identité récupérée (une pièce d'identité reste à contrôler).")


# --- The channels: one received message in, its answer out ---

# Where each trait sits, per channel, to point a refusal at the element at fault.
_HL7_LOCATIONS = {
    traits.BIRTH_NAME: "PID-5", traits.GIVEN_NAMES: "PID-5", traits.FIRST_GIVEN_NAME: "PID-5",
    traits.USED_NAME: "PID-5", traits.USED_GIVEN_NAME: "PID-5", traits.BIRTH_DATE: "PID-7",
    traits.SEX: "PID-8", traits.BIRTHPLACE: "PID-11", "matricule": "PID-3", "oid": "PID-3", "sender_patient_id": "PID-3",
}
_FHIR_LOCATIONS = {
    traits.BIRTH_NAME: "Patient.name.family", traits.GIVEN_NAMES: "Patient.name.extension:birth-list-given-name",
    traits.FIRST_GIVEN_NAME: "Patient.name.given", traits.USED_NAME: "Patient.name.family",
    traits.USED_GIVEN_NAME: "Patient.name.given", traits.BIRTH_DATE: "Patient.birthDate", traits.SEX: "Patient.gender",
    traits.BIRTHPLACE: "Patient.extension:birthPlace", "matricule": "Patient.identifier", "oid": "Patient.identifier",
    "sender_patient_id": "Patient.identifier",
}


def _check_key(ins: ReceivedIns | None) -> None:
    """A matricule from another domain is not an INSi answer: a wrong key is the sender's error,
    refused before anything else (and before any INSi call)."""
    if ins is not None:
        try:
            matricule.validate(ins.matricule)
        except matricule.MatriculeError as error:
            raise RuleViolation(f"matricule INS reçu invalide : {error.message}", field="matricule") from error


def _receive(received: ReceivedIdentity, *, channel: str, source: str, control_id: str, payload: str, verify) -> ReceptionOutcome:
    """The reception and its record, in one transaction: a refusal leaves nothing behind but the refused message."""
    if len(received.sender_patient_id) > _stored_length("sender_patient_id"):
        raise RuleViolation(f"identifiant du patient chez l'émetteur de plus de {_stored_length('sender_patient_id')} caractères",
                            field="sender_patient_id")
    _check_key(received.ins)
    with transaction.atomic():
        known = selectors.identity_received_from(source, received.sender_patient_id)
        if known is not None:
            # Another domain never overwrites an identity of ours: its updates go to the CIV.
            if received.ins is not None and received.declared_status == QUAL:
                _checked_ins(received.ins)
            outcome = ReceptionOutcome(
                identity=known, state=State.REVIEW,
                ins_outcome=InsOutcome.PENDING if received.ins and received.declared_status == QUAL else InsOutcome.NONE,
                message=f"Identité déjà reçue de cet émetteur (n° {known.pk}) : la mise à jour n'est pas appliquée "
                "automatiquement, la CIV l'examine.",
            )
        else:
            outcome = receive_external_identity(
                actor=roles.system_user(), source=source, verify=verify,
                **{name: value for name, value in vars(received).items() if name != "sender_patient_id"},
            )
        waiting = outcome.ins_outcome == InsOutcome.PENDING
        InboundMessage.objects.create(
            channel=channel, source=source, control_id=control_id, sender_patient_id=received.sender_patient_id,
            payload=payload, state=outcome.state, outcome=outcome.message, identity=outcome.identity,
            ins_outcome=outcome.ins_outcome,
            pending_matricule=received.ins.matricule if waiting else "", pending_oid=received.ins.oid if waiting else "",
        )
    return outcome


def _stored_length(name: str) -> int:
    return InboundMessage._meta.get_field(name).max_length


def _fit(value: str, name: str) -> str:
    """A value of a refused message cut to its column (the payload keeps it whole)."""
    return intake.storable(value)[:_stored_length(name)]


def _reject(*, channel: str, source: str, control_id: str, payload: str, error: MessageError) -> None:
    InboundMessage.objects.create(
        channel=channel, source=_fit(source, "source"), control_id=_fit(control_id, "control_id"), payload=intake.storable(payload),
        state=State.REJECTED, error_location=_fit(error.location, "error_location"), error=intake.storable(error.message),
    )
    logger.info("%s message refused at %s", channel, _fit(error.location, "error_location"))


def _record_failure(*, channel: str, source: str, payload: str) -> MessageError:
    """Our own failure (logged without its text): the message is kept if the database still answers."""
    logger.exception("%s message could not be handled", channel)
    failure = MessageError("message", "erreur interne du destinataire : renvoyer le message plus tard", code="internal")
    try:
        _reject(channel=channel, source=source, control_id="", payload=payload, error=failure)
    except Exception:
        logger.exception("%s message could not be stored", channel)
    return failure


def _as_message_error(error: ServiceError, locations: dict[str, str]) -> MessageError:
    return MessageError(locations.get(error.field or "", "message"), error.message)


# MSH-18 (§6.1): ISO 8859/15 is France's usual encoding, UTF-8 and ISO 8859/1 are met too.
_ENCODINGS = {b"8859/15": "iso-8859-15", b"8859/1": "latin-1", b"UNICODE UTF-8": "utf-8", b"": "utf-8"}


def _decode(raw: bytes) -> str:
    """The message in the encoding its MSH-18 announces; any other announced encoding is refused."""
    first = raw.split(b"\r", 1)[0].split(b"\n", 1)[0]
    fields = first.split(first[3:4] or b"|") if first.startswith(b"MSH") else []
    announced = fields[17].strip() if len(fields) > 17 else b""
    encoding = _ENCODINGS.get(announced)
    if encoding is None:
        raise MessageError("MSH-18", f"jeu de caractères « {announced.decode('ascii', 'replace')} » non pris en charge "
                           "(8859/15, 8859/1 ou UNICODE UTF-8)", code="invalid")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        raise MessageError("MSH-18", f"le message n'est pas encodé en {announced.decode() or 'UTF-8'} comme l'annonce MSH-18", code="invalid") from None


def _our_header(received: hl7v2.ReceivedHeader | None) -> hl7v2.Header:
    return hl7v2.Header(
        sending_application=settings.INTEROP_APPLICATION,
        sending_facility=settings.INTEROP_FACILITY,
        receiving_application=received.sending_application if received else "",
        receiving_facility=received.sending_facility if received else "",
        control_id=uuid.uuid4().hex[:20],
        created_at=timezone.localtime(),
        processing_id=settings.INTEROP_HL7_PROCESSING_ID,
    )


def receive_hl7(raw: bytes, *, verify: Verifier | None = None) -> bytes:
    """One MLLP message from another domain in, its ACK out: AA, AE naming the problem
    (do not resend), AR (not taken here, or our failure: resend later)."""
    text, header = raw.decode("utf-8", errors="replace"), None
    try:
        text = _decode(raw)
        intake.check_hl7_text(text)
        header = hl7v2.read_header(text)
        intake.check_hl7_header(header)
        received = hl7v2.read_patient_message(text)
        try:
            outcome = _receive(received.identity, channel=InboundMessage.Channel.HL7, source=_hl7_source(header),
                               control_id=header.control_id, payload=text, verify=verify)
        except ServiceError as error:
            raise _as_message_error(error, _HL7_LOCATIONS) from error
    except MessageError as error:
        _reject(channel=InboundMessage.Channel.HL7, source=_hl7_source(header), control_id=header.control_id if header else "",
                payload=text, error=error)
        return _ack(header, "AR" if error.code == "unsupported" else "AE", error.message, error)
    except Exception:
        failure = _record_failure(channel=InboundMessage.Channel.HL7, source=_hl7_source(header), payload=text)
        return _ack(header, "AR", failure.message, failure)
    return _ack(header, "AA", outcome.message)


def refuse_oversize_hl7(head: bytes, size: int) -> bytes:
    """An MLLP message over the size limit: its beginning stored, refused (AE: sending it again will not help)."""
    text = head.decode("utf-8", errors="replace")
    try:
        header = hl7v2.read_header(text)
    except MessageError:
        header = None
    error = intake.oversize_error(size, limit=mllp.MAX_MESSAGE_BYTES, kept=mllp.KEPT_BYTES)
    _reject(channel=InboundMessage.Channel.HL7, source=_hl7_source(intake.echoable(header)),
            control_id=header.control_id if header else "", payload=text, error=error)
    return _ack(header, "AE", error.message, error)


def _hl7_source(header: hl7v2.ReceivedHeader | None) -> str:
    return f"HL7 {header.sending_application}/{header.sending_facility}" if header else "HL7 (émetteur illisible)"


def _ack(header: hl7v2.ReceivedHeader | None, code: str, text: str, error: MessageError | None = None) -> bytes:
    header = intake.echoable(header)  # what cannot be echoed is left out: the ACK goes all the same
    ack = hl7v2.build_ack(
        header=_our_header(header), trigger=header.trigger if header else "", acknowledged_id=header.control_id if header else "",
        code=code, text=text, error=error,
    )
    return ack.encode("utf-8")


@dataclass(frozen=True)
class FhirAnswer:
    status: int
    body: dict
    location: str = ""
    retry_after: str = ""


def refuse_oversize_fhir(head: bytes, size: int, *, client_name: str, limit: int) -> FhirAnswer:
    """A posted body over the size limit: its beginning stored, refused (413)."""
    error = intake.oversize_error(size, limit=limit, kept=len(head))
    _reject(channel=InboundMessage.Channel.FHIR, source=f"FHIR {client_name}", control_id="",
            payload=head.decode("utf-8", errors="replace"), error=error)
    return FhirAnswer(413, fhir.operation_outcome("error", "too-costly", error.message))


def receive_fhir_patient(body: bytes, *, client_name: str, verify: Verifier | None = None) -> FhirAnswer:
    """One Patient posted to the import endpoint in, an OperationOutcome out."""
    source = f"FHIR {client_name}"
    text = body.decode("utf-8", errors="replace")
    try:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise MessageError("(corps)", f"le corps n'est pas du JSON UTF-8 valide ({error})", code="structure") from None
        except RecursionError:
            raise MessageError("(corps)", f"JSON imbriqué sur plus de {intake.MAX_JSON_DEPTH} niveaux", code="structure") from None
        intake.check_json(data)
        received = fhir.read_patient(data)
        control_id = str(data.get("id", ""))
        if len(control_id) > intake.MAX_CONTROL_ID:
            raise MessageError("Patient.id", f"identifiant de la ressource de plus de {intake.MAX_CONTROL_ID} caractères")
        try:
            outcome = _receive(received, channel=InboundMessage.Channel.FHIR, source=source,
                               control_id=control_id, payload=text, verify=verify)
        except ServiceError as error:
            raise _as_message_error(error, _FHIR_LOCATIONS) from error
    except MessageError as error:
        _reject(channel=InboundMessage.Channel.FHIR, source=source, control_id="", payload=text, error=error)
        return FhirAnswer(400, fhir.operation_outcome("error", error.code, error.message, expression=error.location))
    except Exception:
        failure = _record_failure(channel=InboundMessage.Channel.FHIR, source=source, payload=text)
        return FhirAnswer(503, fhir.operation_outcome("error", "transient", failure.message), retry_after="60")
    if outcome.identity is None:
        return FhirAnswer(202, fhir.operation_outcome("warning", "informational", outcome.message))
    return FhirAnswer(201, fhir.operation_outcome("information", "informational", outcome.message),
                      location=f"Patient/{outcome.identity.uuid}")
