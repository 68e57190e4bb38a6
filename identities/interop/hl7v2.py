"""HL7 v2.5 IHE PAM France 2.11 identity messages (A28, A31, A40, A47), their ACKs, and received A28/A31 (pure, no Django).

Messages are assembled as plain ER7 text (the sender's hot path: hl7apy costs about 90 % of a
message's time); tests parse every message kind back with hl7apy at its STRICT level.
Section numbers (§) are those of IHE PAM National Extension France 2.11.2; AnnexN is its
data-type annex (ITI TF-2 Appendix N France 1.8.2).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from identities.core import matricule, traits
from identities.core.diffusion import SharedIns, WithdrawnIns
from identities.interop.common import (
    RECEIVER_STATUS,
    TABLE_0445,
    Evidence,
    LocalAuthority,
    MessageError,
    ReceivedIdentity,
    ReceivedIns,
    Trigger,
    attributes_of,
    compact_date,
    declared_status,
)

# MSH-12: HL7 2.5, internationalisation FRA, PAM France 2.11 (§6.5: only "2.11", never 2.11.x).
VERSION_ID = "2.5^FRA^2.11"
CHARACTER_SET = "UNICODE UTF-8"  # MSH-18 (§6.1)
COUNTRY = "FRA"  # MSH-17
LANGUAGE = "FR"  # MSH-19, as §6.5's example shows it
PROFILE = "2.11^IHE_FRANCE-2.11-PAM"  # MSH-21 (§6.5): the conformance declaration
# Reading received messages: the HL7 2.5 structure is checked, lengths are not (senders vary).
_READ_LEVEL = VALIDATION_LEVEL.TOLERANT

STRUCTURES = {Trigger.A28: "ADT_A05", Trigger.A31: "ADT_A05", Trigger.A40: "ADT_A39", Trigger.A47: "ADT_A30"}
RECEIVED_TRIGGERS = (Trigger.A28, Trigger.A31)
# §6.18: ZFD travels with A01, A04, A05, A14, A28, A31 (and Z99): of ours, A28 and A31 only.
ZFD_TRIGGERS = (Trigger.A28, Trigger.A31)
# Table IHE-FRANCE-ZFD-5 (§6.18.5); the portal's AV (Appli carte Vitale) channel has no code there.
ZFD5_CHANNELS = frozenset({"SM", "CV", "INSI", "CB", "RFID"})

_HL7_SEX = {"M": "M", "F": "F", "I": "U"}
_SEX_FROM_HL7 = {"M": "M", "F": "F", "U": "I"}
NULL = '""'  # HL7's explicit null: "erase what you hold" (HL7 2.5 §2.5.3, PAM §4.4.3, §6.6.2)


# --- ER7 text: escaping per data type (HL7 2.5 §2.7) ---

_DELIMITERS = re.compile(r"[|^~\\&\r\n]")
_ESCAPES = {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\", "\r": "\\X0D\\", "\n": "\\X0A\\"}


def escape_text(value: str | None) -> str:
    """A text value (ST, TX, FT, or such a component): delimiters written as escape sequences."""
    return _DELIMITERS.sub(lambda found: _ESCAPES[found.group()], value) if value else ""


def coded(value: str | None, *, what: str) -> str:
    """A coded value (ID, IS, HD, TS, NM): escape sequences are not allowed there, so a delimiter is refused."""
    if value and _DELIMITERS.search(value):
        raise ValueError(f"{what} holds an HL7 delimiter and cannot be transmitted")
    return value or ""


def _segment(name: str, fields: dict[int, str]) -> str:
    """``name|f1|f2…`` with field n at position n, trailing empty fields left out."""
    last = max((number for number, value in fields.items() if value), default=0)
    return "|".join([name, *(fields.get(number, "") for number in range(1, last + 1))])


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


def _msh(header: Header, message_type: str) -> str:
    # MSH-1 is the field separator itself: the list below starts at MSH-2.
    return "|".join([
        "MSH", "^~\\&",
        coded(header.sending_application, what="MSH-3"), coded(header.sending_facility, what="MSH-4"),
        coded(header.receiving_application, what="MSH-5"), coded(header.receiving_facility, what="MSH-6"),
        _timestamp(header.created_at), "", message_type, escape_text(header.control_id), coded(header.processing_id, what="MSH-11"),
        VERSION_ID, "", "", "", "", COUNTRY, CHARACTER_SET, LANGUAGE, "", PROFILE,
    ])


def _cx(value: str, namespace: str, oid: str, kind: str) -> str:
    """CX with its assigning authority HD ``namespace&OID&ISO`` (AnnexN §N.1, §N.3)."""
    return f"{value}^^^{coded(namespace, what='CX-4')}&{coded(oid, what='CX-4')}&ISO^{kind}"


def _ipp(identity, authority: LocalAuthority) -> str:
    return _cx(escape_text(identity.ipp), authority.namespace, authority.oid, "PI")


def _ins(ins: SharedIns | WithdrawnIns) -> str:
    return _cx(coded(ins.matricule, what="CX-1"), ins.hl7_authority, ins.oid, "INS")


@dataclass(frozen=True)
class Erased:
    """Complementary traits this action erased: receivers that had them are told with HL7's null (§6.6.2)."""

    used_name: bool = False
    used_given_name: bool = False


def _pid5(identity, five, erased: Erased) -> str:
    """PID-5 (§6.6.2, AnnexN §N.10): type L always (first given name, then INSi's whole list);
    type D only when a used name or given name is defined, or to erase one with ``""``."""
    birth_name, first = escape_text(five.birth_name), escape_text(identity.first_birth_given_name)
    names = [f"{birth_name}^{first}^{escape_text(five.birth_given_names)}^^^^L"]
    used_name = escape_text(identity.used_name) or (NULL if erased.used_name else "")
    used_given = escape_text(identity.used_given_name) or (NULL if erased.used_given_name and not used_name else "")
    if used_name or used_given:
        # The given name that goes with a used name: the used one, or the first birth given name.
        names.append(f"{used_name}^{used_given or (first if used_name else '')}^^^^^D")
    return "~".join(names)


def _pid(identity, ins: SharedIns | None, authority: LocalAuthority, *, withdrawn: WithdrawnIns | None, erased: Erased) -> str:
    """PID of PAM-FR: the matricule only from the diffusion gate, with the five traits it was cleared with.
    A withdrawal (A47, §4.4.3/§4.4.4) repeats the INS authority with ``""`` as the identifier."""
    five = ins or identity  # a SharedIns carries the five traits the matricule travels with
    identifiers = [_ipp(identity, authority)]
    if ins is not None:
        identifiers.append(_ins(ins))
    elif withdrawn is not None:
        identifiers.append(_cx(NULL, withdrawn.hl7_authority, withdrawn.oid, "INS"))
    fields = {1: "1", 3: "~".join(identifiers), 5: _pid5(identity, five, erased), 7: compact_date(five.birth_date),
              8: _HL7_SEX[five.sex]}
    if five.birthplace_code:
        fields[11] = f"^^^^^^BDL^^{coded(five.birthplace_code, what='PID-11')}"
    fields[32] = "~".join((RECEIVER_STATUS[identity.status], *attributes_of(identity)))
    return _segment("PID", fields)


def _zfd(identity, evidence: Evidence | None, zone) -> str:
    """PAM-FR's ZFD (§6.18): corrected-date flag, channel, INSi date (in the sender's time zone),
    validating document and its expiry. ZFD-1 is the lunar date (§6.18.1: days 31-35 for a
    week of the month), which the portal does not record: an unknown day or month (``00``)
    is told by PID-7's precision, not here."""
    fields = {4: "Y" if identity.birth_date_corrected else "N"}
    if identity.channel in ZFD5_CHANNELS:
        fields[5] = identity.channel
    if identity.last_insi_call_at:
        fields[6] = _day(identity.last_insi_call_at.astimezone(zone))
    if evidence is not None and evidence.official_code:
        fields[7] = evidence.official_code
        if evidence.expiry_date:
            fields[8] = _day(evidence.expiry_date)
    return _segment("ZFD", fields)


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
    withdrawn: WithdrawnIns | None = None,
    erased: Erased = Erased(),
) -> str:
    """The ER7 text of a PAM-FR identity message.

    ``ins`` must come from ``diffusion.shareable_ins(identity)``: it is the only way a
    matricule gets into PID-3. ``withdrawn`` (from ``diffusion.withdrawn_ins``) is the only
    way a matricule that is no longer shared gets out, and only as MRG-1 of an A47 (§4.4.2 a
    new NIR replacing it in PID-3, §4.4.3/§4.4.4 ``""`` in PID-3: removed). A40 takes the
    merged record's permanent identifier in MRG-1, PID-3 being the surviving record's.
    """
    trigger = Trigger(trigger)
    if (trigger == Trigger.A40) != bool(merged_ipp):
        raise ValueError("A40 takes the merged record's identifier, and only A40 does")
    if (trigger == Trigger.A47) != (withdrawn is not None):
        raise ValueError("A47 takes the withdrawn INS (MRG-1), and only A47 does")
    structure = STRUCTURES[trigger]
    moment = _timestamp(event_at)
    segments = [
        _msh(header, f"ADT^{trigger}^{structure}"),
        f"EVN||{moment}||||{moment}",
        _pid(identity, ins, authority, withdrawn=withdrawn, erased=erased),
    ]
    if trigger == Trigger.A47:
        segments.append(f"MRG|{_ins(withdrawn)}")
    elif trigger == Trigger.A40:
        segments.append(f"MRG|{_cx(escape_text(merged_ipp), authority.namespace, authority.oid, 'PI')}")
    else:
        segments.append("PV1||N")  # §6.10.1: PV1-2 "N", no visit for an identity message
    if trigger in ZFD_TRIGGERS:
        segments.append(_zfd(identity, evidence, header.created_at.tzinfo))
    return "\r".join(segments)


# --- Acknowledgements ---

# HL7 table 0357, by MessageError.code.
_ERROR_CODES = {
    "structure": ("100", "Segment sequence error"),
    "required": ("101", "Required field missing"),
    "invalid": ("102", "Data type error"),
    "table": ("103", "Table value not found"),
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


_LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:-(\d+))?$")


def build_ack(
    *, header: Header, trigger: str, acknowledged_id: str, code: str, text: str = "", error: MessageError | None = None
) -> str:
    """An original-mode ACK for a received message (same MSH as our messages, MSH-21 included);
    a negative one names the problem in ERR (location, table 0357 code, severity, French text)."""
    # The ACK echoes the event it answers, when the received MSH-9 could be read.
    event = trigger if trigger.isalnum() else ""
    segments = [_msh(header, f"ACK^{event}^ACK" if event else "ACK"), _segment("MSA", {1: code, 2: _short(acknowledged_id, 20), 3: _short(text, 80)})]
    if error is not None:
        location = _LOCATION.match(error.location)
        where = "" if location is None else f"{location[1]}^1^{location[2]}" if location[2] else f"{location[1]}^1"
        number, label = _ERROR_CODES.get(error.code, _ERROR_CODES["invalid"])
        segments.append(_segment("ERR", {2: where, 3: f"{number}^{label}^HL70357", 4: "E", 8: _short(error.message, 250)}))
    return "\r".join(segments)


def _short(value: str, length: int) -> str:
    """Free text of an ACK within its HL7 length (MSA-2 ST 20, MSA-3 ST 80, ERR-8 TX 250), escaped."""
    kept = value[:length]
    while len(escaped := escape_text(kept)) > length:
        kept = kept[:-1]
    return escaped


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


def _reliability_codes(pid) -> set[str]:
    """PID-32 (§6.6.15): status and attributes, every code from table 0445 as IHE France completes it."""
    codes = {_value(code) for code in _repetitions(pid, "pid_32")} - {""}
    unknown = sorted(codes - TABLE_0445)
    if unknown:
        raise MessageError("PID-32", f"code « {unknown[0]} » absent de la table 0445 (fiabilité de l'identité)", code="table")
    return codes


def read_patient_message(text: str) -> ReceivedMessage:
    """A received A28/A31 as plain data; raises MessageError naming the first problem found."""
    header = read_header(text)
    if header.trigger not in RECEIVED_TRIGGERS:
        raise MessageError("MSH-9", f"événement « {header.trigger} » non pris en charge : seuls A28 et A31 sont reçus", code="unsupported")
    standard = "\r".join(segment for segment in _segments(text) if not segment.startswith("Z"))
    try:
        message = parse_message(standard, validation_level=_READ_LEVEL, find_groups=True)
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
    declared = declared_status(_reliability_codes(pid), ins)
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
