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


class OidSource(StrEnum):
    """Where an OID comes from: the environment guard does not accept the same OIDs from each."""

    INSI = "insi"  # an INSi answer (recovery, verification)
    RECEIVED = "received"  # a document, a datamatrix, another domain's feed or import


@dataclass(frozen=True)
class OidInfo:
    oid: str
    nature: Nature
    test_only: bool  # an identifier type of test/demo documents and feeds, never an INSi answer
    hl7_authority: str  # HD-1 as ANS publishes it (AnnexN §N.1): the same namespace whatever the OID
    label: str


OIDS = {
    info.oid: info
    for info in (
        OidInfo("1.2.250.1.213.1.4.8", Nature.NIR, False, "ASIP-SANTE-INS-NIR", "INS-NIR"),
        OidInfo("1.2.250.1.213.1.4.9", Nature.NIA, False, "ASIP-SANTE-INS-NIA", "INS-NIA"),
        OidInfo("1.2.250.1.213.1.4.10", Nature.NIR, True, "ASIP-SANTE-INS-NIR", "INS-NIR de test"),
        OidInfo("1.2.250.1.213.1.4.11", Nature.NIR, True, "ASIP-SANTE-INS-NIR", "INS-NIR de démonstration"),
    )
}
# INSi answers .4.8 / .4.9 in every environment, its qualification platform included; the
# environments are kept apart by endpoint, certificate and database, not by rewriting OIDs.
NIR_OID = "1.2.250.1.213.1.4.8"
NIA_OID = "1.2.250.1.213.1.4.9"
INSI_OIDS = frozenset({NIR_OID, NIA_OID})
ENVIRONMENTS = ("test", "production")


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
    if text[13:] != compute_key(text[:13]):
        # The right key is never shown: it would invite typing it over a mistyped digit.
        raise MatriculeError(
            "matricule", f"la clé {text[13:]} ne correspond pas aux 13 premiers caractères : vérifiez le matricule saisi sur la pièce"
        )
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


def check_oid(oid: str, *, environment: str, source: OidSource) -> OidInfo:
    """The OID's description, refused when this environment does not take it from this source.

    INSi only ever answers ``.4.8`` / ``.4.9``; the test and demo OIDs ``.4.10`` / ``.4.11``
    come from test documents and feeds, accepted in ``test`` and refused in ``production``.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown INS environment {environment!r}")
    info = oid_info(oid)
    if source == OidSource.INSI and oid not in INSI_OIDS:
        raise MatriculeError("oid", f"OID {oid} refusé : INSi ne répond qu'avec les OID {NIR_OID} (NIR) et {NIA_OID} (NIA)")
    if info.test_only and environment == "production":
        raise MatriculeError("oid", f"OID {oid} ({info.label}) refusé en production : les identités de test n'entrent pas dans la base de production")
    return info


def nature_of(oid: str) -> Nature:
    return oid_info(oid).nature


def display(value: str) -> str:
    """Grouped for reading: ``2 79 03 51 215 189 89``."""
    text = normalise(value)
    return " ".join((text[0], text[1:3], text[3:5], text[5:7], text[7:10], text[10:13], text[13:15]))
