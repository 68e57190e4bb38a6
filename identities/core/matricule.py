"""The matricule INS (NIR or NIA): key, format, OIDs and their nature (pure, no Django)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from stdnum.fr import nir as stdnum_nir

_MATRICULE = re.compile(r"^[12378]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}$")


class Nature(StrEnum):
    NIR = "NIR"
    NIA = "NIA"


@dataclass(frozen=True)
class OidInfo:
    oid: str
    nature: Nature
    environment: str  # "production" or "test"
    hl7_authority: str
    label: str


OIDS = {
    info.oid: info
    for info in (
        OidInfo("1.2.250.1.213.1.4.8", Nature.NIR, "production", "ASIP-SANTE-INS-NIR", "INS-NIR"),
        OidInfo("1.2.250.1.213.1.4.9", Nature.NIA, "production", "ASIP-SANTE-INS-NIA", "INS-NIA"),
        OidInfo("1.2.250.1.213.1.4.10", Nature.NIR, "test", "ASIP-SANTE-INS-NIR-TEST", "INS-NIR de test"),
        OidInfo("1.2.250.1.213.1.4.11", Nature.NIR, "test", "ASIP-SANTE-INS-NIR-DEMO", "INS-NIR de démonstration"),
    )
}
# The NIA has no test OID: the qualification platform answers with the production NIA OID,
# so it is accepted in both environments (see docs/decisions.md).
_ACCEPTED = {
    "production": {"1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9"},
    "test": {"1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11", "1.2.250.1.213.1.4.9"},
}
NIR_OID = {"production": "1.2.250.1.213.1.4.8", "test": "1.2.250.1.213.1.4.10"}
NIA_OID = "1.2.250.1.213.1.4.9"


class MatriculeError(ValueError):
    """A matricule or OID that breaks a rule; ``message`` is in French, for the user."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


def compute_key(first13: str) -> str:
    """Key = 97 − (13 digits mod 97), Corsica's 2A/2B counted as 19/18."""
    digits = first13.upper().replace("2A", "19").replace("2B", "18")
    return f"{97 - int(digits) % 97:02d}"


def normalise(value: str) -> str:
    return re.sub(r"[\s.]", "", value or "").upper()


def check_format(value: str) -> str:
    """The 15-character form (13 + key) or a MatriculeError; the key is not checked here."""
    text = normalise(value)
    if not _MATRICULE.match(text):
        raise MatriculeError("matricule", "le matricule INS doit compter 15 caractères : 13 (chiffres, 2A ou 2B pour la Corse) et une clé de 2 chiffres")
    return text


def validate(value: str) -> str:
    """Manual entry: format and key must both be right."""
    text = check_format(value)
    expected = compute_key(text[:13])
    if text[13:] != expected:
        raise MatriculeError("matricule", f"la clé {text[13:]} est fausse pour ce matricule (clé attendue : {expected})")
    return text


def key_checks(value: str) -> bool:
    """Whether the key is right; INSi values are authoritative even when it is not."""
    text = normalise(value)
    return len(text) == 15 and text[13:] == compute_key(text[:13])


def stdnum_agrees(value: str) -> bool:
    """Independent check by python-stdnum's ``fr.nir`` (used in tests as a cross-check)."""
    return stdnum_nir.is_valid(value)


def oid_info(oid: str) -> OidInfo:
    try:
        return OIDS[oid]
    except KeyError:
        raise MatriculeError("oid", f"OID {oid!r} inconnu : ce n'est pas un OID d'autorité INS") from None


def check_oid(oid: str, *, environment: str) -> OidInfo:
    """The OID's description, refused when it belongs to the other environment."""
    info = oid_info(oid)
    if oid not in _ACCEPTED[environment]:
        other = "de production" if environment == "test" else "de test"
        raise MatriculeError("oid", f"OID {oid} {other} refusé : les OID de test et de production ne se mélangent pas")
    return info


def nature_of(oid: str) -> Nature:
    return oid_info(oid).nature


def display(value: str) -> str:
    """Grouped for reading: ``2 79 03 51 215 189 89``."""
    text = normalise(value)
    return " ".join((text[0], text[1:3], text[3:5], text[5:7], text[7:10], text[10:13], text[13:15]))
