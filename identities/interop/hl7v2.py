"""HL7 v2.5 IHE PAM France 2.11 identity messages (A28, A31, A40, A47), their ACKs, and received A28/A31 (pure, no Django)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from identities.core import matricule, traits
from identities.core.diffusion import SharedIns
from identities.interop.common import (
    PROV,
    QUAL,
    RECUP,
    VALI,
    Evidence,
    LocalAuthority,
    MessageError,
    ReceivedIdentity,
    ReceivedIns,
    Trigger,
    attributes_of,
    checked_text,
    compact_date,
)

VERSION = "2.5"
# MSH-12: HL7 2.5, internationalisation FRA, PAM France 2.11.
VERSION_ID = "2.5^FRA^2.11"
CHARACTER_SET = "UNICODE UTF-8"
COUNTRY = "FRA"
# hl7apy checks the messages against the HL7 2.5 structure (Message.validate). Not its STRICT
# level: that one also enforces 2.5's field lengths, which PAM-FR itself exceeds (the
# test authority ASIP-SANTE-INS-NIR-TEST is longer than HD-1's 20 characters). Values are
# checked by the portal's own rules (traits, matricule) instead.
_LEVEL = VALIDATION_LEVEL.TOLERANT


STRUCTURES = {Trigger.A28: "ADT_A05", Trigger.A31: "ADT_A05", Trigger.A40: "ADT_A39", Trigger.A47: "ADT_A30"}
RECEIVED_TRIGGERS = (Trigger.A28, Trigger.A31)

# Receiving systems only know PROV and VALI; they deduce QUAL from VALI + matricule + OID.
RECEIVER_STATUS = {PROV: PROV, RECUP: PROV, VALI: VALI, QUAL: VALI}
_HL7_SEX = {"M": "M", "F": "F", "I": "U"}
_SEX_FROM_HL7 = {"M": "M", "F": "F", "U": "I"}


@dataclass(frozen=True)
class Header:
    """Who sends to whom, the message's control id and time (MSH)."""

    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    control_id: str
    created_at: datetime
    processing_id: str = "P"


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S%z")


def _day(value: date | datetime) -> str:
    return value.strftime("%Y%m%d")


def _new_message(structure: str, message_type: str, header: Header) -> Message:
    message = Message(structure, version=VERSION, validation_level=_LEVEL)
    msh = message.msh
    msh.msh_3 = checked_text(header.sending_application, what="MSH-3")
    msh.msh_4 = checked_text(header.sending_facility, what="MSH-4")
    msh.msh_5 = checked_text(header.receiving_application, what="MSH-5")
    msh.msh_6 = checked_text(header.receiving_facility, what="MSH-6")
    msh.msh_7 = _timestamp(header.created_at)
    msh.msh_9 = message_type
    msh.msh_10 = checked_text(header.control_id, what="MSH-10")
    msh.msh_11 = header.processing_id
    msh.msh_12 = VERSION_ID
    msh.msh_17 = COUNTRY
    msh.msh_18 = CHARACTER_SET
    return message


def _add(segment, name: str, value: str) -> None:
    segment.add_field(name).value = value


def _identifier(value: str, namespace: str, oid: str, kind: str) -> str:
    return f"{value}^^^{namespace}&{oid}&ISO^{kind}"


def _fill_pid(pid, identity, ins: SharedIns | None, authority: LocalAuthority) -> None:
    """PID of PAM-FR: the matricule only from the diffusion gate, with the five traits it was cleared with."""
    five = ins or identity  # a SharedIns carries the five traits the matricule travels with
    _add(pid, "pid_3", _identifier(str(identity.ipp), authority.namespace, authority.oid, "PI"))
    if ins is not None:
        _add(pid, "pid_3", _identifier(ins.matricule, ins.hl7_authority, ins.oid, "INS"))
    birth_name = checked_text(five.birth_name, what="PID-5")
    given_names = checked_text(five.birth_given_names, what="PID-5")
    first = checked_text(identity.first_birth_given_name, what="PID-5")
    _add(pid, "pid_5", f"{birth_name}^{first}^{given_names}^^^^L")
    used_name = checked_text(identity.used_name, what="PID-5") or birth_name
    used_given = checked_text(identity.used_given_name, what="PID-5") or first
    _add(pid, "pid_5", f"{used_name}^{used_given}^^^^^D")
    pid.pid_7 = compact_date(five.birth_date)
    pid.pid_8 = _HL7_SEX[five.sex]
    if five.birthplace_code:
        _add(pid, "pid_11", f"^^^^^^BDL^^{five.birthplace_code}")
    for code in (RECEIVER_STATUS[identity.status], *attributes_of(identity)):
        _add(pid, "pid_32", code)


def _zfd(identity, five, evidence: Evidence | None, zone) -> str:
    """PAM-FR's ZFD (unknown to hl7apy, written by hand): lunar date, corrected-date flag,
    channel, INSi date (in the sender's time zone), validating document and its expiry."""
    birth = traits.parse_birth_date(five.birth_date)
    fields = [""] * 8
    if birth.is_partial:
        fields[0] = f"{birth.day:02d}^{birth.month:02d}^{birth.year:04d}"
    fields[3] = "Y" if identity.birth_date_corrected else "N"
    fields[4] = identity.channel
    if identity.last_insi_call_at:
        fields[5] = _day(identity.last_insi_call_at.astimezone(zone))
    if evidence is not None and evidence.official_code:
        fields[6] = evidence.official_code
        if evidence.expiry_date:
            fields[7] = _day(evidence.expiry_date)
    return "|".join(["ZFD", *fields]).rstrip("|")


def build_message(
    trigger: Trigger,
    identity,
    ins: SharedIns | None,
    *,
    header: Header,
    authority: LocalAuthority,
    event_at: datetime,
    evidence: Evidence | None = None,
    merged_ipp: str = "",
) -> str:
    """The ER7 text of a PAM-FR identity message, validated against the HL7 2.5 structure.

    ``ins`` must come from ``diffusion.shareable_ins(identity)``: it is the only way a
    matricule gets into PID-3. A47 names the patient by its permanent identifier in MRG-1
    (a matricule that is no longer shared is never repeated); A40 takes the merged record's.
    """
    trigger = Trigger(trigger)
    if (trigger == Trigger.A40) != bool(merged_ipp):
        raise ValueError("A40 takes the merged record's identifier, and only A40 does")
    structure = STRUCTURES[trigger]
    message = _new_message(structure, f"ADT^{trigger}^{structure}", header)
    message.evn.evn_2 = _timestamp(event_at)
    message.evn.evn_6 = _timestamp(event_at)
    patient = message.add_group("ADT_A39_PATIENT") if trigger == Trigger.A40 else message
    _fill_pid(patient.pid, identity, ins, authority)
    if trigger in (Trigger.A28, Trigger.A31):
        patient.pv1.pv1_2 = "N"  # PAM-FR: no visit for an identity message
    else:
        patient.mrg.mrg_1 = _identifier(merged_ipp or str(identity.ipp), authority.namespace, authority.oid, "PI")
    message.validate()
    # hl7apy leaves Z segments out of a strict message's text: PAM-FR's ZFD is appended after it.
    return message.to_er7() + "\r" + _zfd(identity, ins or identity, evidence, header.created_at.tzinfo)


# --- Acknowledgements ---

# HL7 table 0357, by MessageError.code.
_ERROR_CODES = {
    "structure": ("100", "Segment sequence error"),
    "required": ("101", "Required field missing"),
    "invalid": ("102", "Data type error"),
    "unsupported": ("201", "Unsupported event code"),
    "internal": ("207", "Application internal error"),
}


@dataclass(frozen=True)
class Ack:
    code: str  # AA, AE, AR (or CA, CE, CR in enhanced mode)
    control_id: str
    text: str

    @property
    def accepted(self) -> bool:
        return self.code in ("AA", "CA")

    @property
    def content_refused(self) -> bool:
        """AE: the receiver refuses this content, sending it again will not help."""
        return self.code in ("AE", "CE")


def build_ack(
    *, header: Header, trigger: str, acknowledged_id: str, code: str, text: str = "", error: MessageError | None = None
) -> str:
    """An original-mode ACK for a received message; a negative one names the problem in ERR."""
    # The ACK echoes the event it answers, when the received MSH-9 could be read.
    event = trigger if trigger.isalnum() else ""
    message = _new_message("ACK", f"ACK^{event}^ACK" if event else "ACK", header)
    message.msa.msa_1 = code
    message.msa.msa_2 = checked_text(acknowledged_id, what="MSA-2")
    if text:
        message.msa.msa_3 = _ack_text(text)
    if error is not None:
        err = message.add_segment("ERR")
        segment, _, field = error.location.partition("-")
        if len(segment) == 3 and segment.isalnum() and segment.isupper():
            err.err_2 = f"{segment}^1^{field}" if field.isdigit() else f"{segment}^1"
        number, label = _ERROR_CODES.get(error.code, _ERROR_CODES["invalid"])
        err.err_3 = f"{number}^{label}^HL70357"
        err.err_4 = "E"
        err.err_8 = _ack_text(error.message)
    message.validate()
    return message.to_er7()


def _ack_text(text: str) -> str:
    # Free text travels inside a field: separators become spaces rather than break the ACK.
    return "".join(" " if char in "|^~\\&\r\n" else char for char in text)[:200]


def read_ack(text: str) -> Ack:
    """The MSA of an ACK, read without a full parse (receivers' ACKs vary more than their MSA)."""
    for segment in _segments(text):
        if segment.startswith("MSA"):
            fields = segment.split(segment[3:4] or "|")
            code = fields[1] if len(fields) > 1 else ""
            if code not in ("AA", "AE", "AR", "CA", "CE", "CR"):
                raise MessageError("MSA-1", f"code d'acquittement « {code} » inconnu")
            return Ack(code=code, control_id=fields[2] if len(fields) > 2 else "", text=fields[3] if len(fields) > 3 else "")
    raise MessageError("MSA", "la réponse n'est pas un acquittement HL7 (segment MSA absent)", code="structure")


# --- Received A28/A31 ---

@dataclass(frozen=True)
class ReceivedHeader:
    """What can be read of a message's MSH even when the rest is unusable (to address the NAK)."""

    control_id: str
    trigger: str
    sending_application: str
    sending_facility: str


@dataclass(frozen=True)
class ReceivedMessage:
    header: ReceivedHeader
    identity: ReceivedIdentity


def _segments(text: str) -> list[str]:
    return [line for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if line.strip()]


def read_header(text: str) -> ReceivedHeader:
    """MSH-3, 4, 9.2 and 10 by plain splitting; raises MessageError when there is no MSH."""
    segments = _segments(text)
    if not segments or not segments[0].startswith("MSH") or len(segments[0]) < 8:
        raise MessageError("MSH", "le message ne commence pas par un segment MSH", code="structure")
    separator = segments[0][3]
    fields = segments[0].split(separator)
    component = segments[0][4]

    def field(number: int) -> str:
        # MSH-1 is the separator itself, so MSH-n is fields[n - 1].
        return fields[number - 1] if len(fields) >= number else ""

    message_type = field(9).split(component)
    return ReceivedHeader(
        control_id=field(10),
        trigger=message_type[1] if len(message_type) > 1 else "",
        sending_application=field(3).split(component)[0],
        sending_facility=field(4).split(component)[0],
    )


def _value(element) -> str:
    return element.to_er7().strip() if element is not None else ""


def _repetitions(segment, name: str) -> list:
    return list(segment.children.get(name.upper()) or [])


def _birth_date(pid) -> str:
    text = _value(pid.pid_7.ts_1) if pid.children.get("PID_7") else ""
    if len(text) < 4 or not text[:4].isdigit():
        raise MessageError("PID-7", "date de naissance absente ou illisible", code="required")
    digits = text[:8]
    year, month, day = digits[:4], digits[4:6] or "00", digits[6:8] or "00"
    try:
        return traits.parse_birth_date(f"{year}-{month}-{day}").iso()
    except traits.TraitError as error:
        raise MessageError("PID-7", error.message) from error


def _identifiers(pid) -> tuple[ReceivedIns | None, str]:
    ins, local = None, ""
    for cx in _repetitions(pid, "pid_3"):
        kind, oid, value = _value(cx.cx_5), _value(cx.cx_4.hd_2), _value(cx.cx_1)
        if kind == "INS":
            if oid not in matricule.OIDS:
                raise MessageError("PID-3", f"OID {oid or '(absent)'} : ce n'est pas une autorité d'affectation INS")
            ins = ReceivedIns(matricule=value, oid=oid)
        elif kind == "PI" and not local:
            local = value
    return ins, local


def _names(pid) -> tuple[tuple[str, str, str], tuple[str, str]]:
    birth, used = None, ("", "")
    for xpn in _repetitions(pid, "pid_5"):
        kind = _value(xpn.xpn_7)
        parts = (_value(xpn.xpn_1.fn_1), _value(xpn.xpn_2), _value(xpn.xpn_3))
        if kind == "L" and birth is None:
            birth = parts
        elif kind == "D":
            used = parts[:2]
    if birth is None or not birth[0]:
        raise MessageError("PID-5", "nom de naissance absent : une occurrence de type L est attendue", code="required")
    return birth, used


def read_patient_message(text: str) -> ReceivedMessage:
    """A received A28/A31 as plain data; raises MessageError naming the first problem found."""
    header = read_header(text)
    if header.trigger not in RECEIVED_TRIGGERS:
        raise MessageError("MSH-9", f"événement « {header.trigger} » non pris en charge : seuls A28 et A31 sont reçus", code="unsupported")
    standard = "\r".join(segment for segment in _segments(text) if not segment.startswith("Z"))
    try:
        message = parse_message(standard, validation_level=_LEVEL, find_groups=True)
        message.validate()
    except (HL7apyException, ValueError) as error:
        raise MessageError("message", f"structure HL7 2.5 invalide ({error})", code="structure") from error
    pid = message.pid
    ins, local = _identifiers(pid)
    (birth_name, first, given_names), (used_name, used_given) = _names(pid)
    sex = _SEX_FROM_HL7.get(_value(pid.pid_8)) if pid.children.get("PID_8") else None
    if sex is None:
        raise MessageError("PID-8", "sexe absent ou inconnu (F, M ou U attendu)", code="required")
    birthplace = next(
        (_value(xad.xad_9) for xad in _repetitions(pid, "pid_11") if _value(xad.xad_7) == "BDL"), ""
    )
    codes = [_value(code) for code in _repetitions(pid, "pid_32")]
    status = codes[0] if codes else PROV
    # PAM-FR: VALI + matricule + OID is how the sender says its identity is qualified.
    declared = QUAL if status == VALI and ins is not None else (VALI if status == VALI else PROV)
    return ReceivedMessage(
        header=header,
        identity=ReceivedIdentity(
            birth_name=birth_name,
            birth_given_names=given_names or first,
            first_birth_given_name=first,
            birth_date=_birth_date(pid),
            sex=sex,
            birthplace_code=birthplace,
            used_name=used_name,
            used_given_name=used_given,
            declared_status=declared,
            ins=ins,
            sender_patient_id=local,
        ),
    )
