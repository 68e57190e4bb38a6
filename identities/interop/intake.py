"""What any received message may hold before it is read (control characters, JSON depth and nulls, echoed header values), and its text made storable (pure, no Django)."""
from __future__ import annotations

import re
from dataclasses import replace

from identities.interop.common import MessageError
from identities.interop.hl7v2 import ReceivedHeader

# Control characters other than tab and line ends have no place in the text of an HL7 message
# (ER7 escapes them as \Xdd\) nor in a JSON string value; PostgreSQL cannot even store a NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# HL7 separators and escape character: a value holding one cannot be echoed back as it is.
_HL7_STRUCTURE = re.compile(r"[|^~\\&\r\n]")
MAX_JSON_DEPTH = 32  # a FR Core Patient nests about ten levels
MAX_CONTROL_ID = 100  # MSH-10 and Patient.id, as stored with the message
MAX_ECHOED = 90  # MSH-3 and MSH-4 echoed in the ACK (and kept in the message's source)


def storable(text: str) -> str:
    """The text as the database can keep it: a NUL becomes U+FFFD, so the stored copy shows where it was."""
    return text.replace("\x00", "\ufffd")


def _control_refusal(text: str, location: str) -> MessageError | None:
    found = _CONTROL.search(text)
    if found is None:
        return None
    return MessageError(location, f"caractère de contrôle 0x{ord(found.group()):02X} interdit (position {found.start() + 1})")


def check_hl7_text(text: str) -> None:
    """Raise MessageError at the first control character (other than tab, CR, LF)."""
    refusal = _control_refusal(text, "message")
    if refusal is not None:
        raise refusal


def check_hl7_header(header: ReceivedHeader) -> None:
    """MSH-10 must come back in MSA-2 as it was sent: refuse one that cannot."""
    if _HL7_STRUCTURE.search(header.control_id):
        raise MessageError("MSH-10", "identifiant du message illisible : il contient un séparateur ou le caractère d'échappement HL7")
    if len(header.control_id) > MAX_CONTROL_ID:
        raise MessageError("MSH-10", f"identifiant du message de plus de {MAX_CONTROL_ID} caractères")
    for location, value in (("MSH-3", header.sending_application), ("MSH-4", header.sending_facility)):
        if len(value) > MAX_ECHOED:
            raise MessageError(location, f"plus de {MAX_ECHOED} caractères")


def echoable(header: ReceivedHeader | None) -> ReceivedHeader | None:
    """The header with every value that cannot be echoed in an ACK left out (the ACK is sent all the same)."""
    if header is None:
        return None

    def kept(value: str, limit: int) -> str:
        return "" if _HL7_STRUCTURE.search(value) or _CONTROL.search(value) or len(value) > limit else value

    return replace(header, control_id=kept(header.control_id, MAX_CONTROL_ID), trigger=kept(header.trigger, 3),
                   sending_application=kept(header.sending_application, MAX_ECHOED),
                   sending_facility=kept(header.sending_facility, MAX_ECHOED))


def check_json(data) -> None:
    """Raise MessageError at the first element nested too deep, null, or holding a control character.

    FHIR JSON admits ``null`` only in the arrays that align primitive extensions (``_given``).
    Walked without recursion, so a hostile nesting costs a loop, not the stack.
    """
    pending = [(data, "Patient", 1, False)]
    while pending:
        value, where, depth, aligned = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise MessageError(where, f"éléments imbriqués sur plus de {MAX_JSON_DEPTH} niveaux", code="structure")
        if value is None and not aligned:
            raise MessageError(where, "valeur null interdite en FHIR JSON (omettre l'élément)", code="structure")
        if isinstance(value, str):
            refusal = _control_refusal(value, where)
            if refusal is not None:
                raise refusal
        elif isinstance(value, dict):
            for key, item in value.items():
                refusal = _control_refusal(key, where)
                if refusal is not None:
                    raise refusal
                pending.append((item, f"{where}.{key}", depth + 1, False))
        elif isinstance(value, list):
            alignment = where.rpartition(".")[2].startswith("_")
            pending.extend((item, f"{where}[{index}]", depth + 1, alignment) for index, item in enumerate(value))


def oversize_error(size: int, *, limit: int, kept: int) -> MessageError:
    return MessageError("message", f"message de {size} octets : {limit} octets au plus (seuls les {kept} premiers sont conservés)")
