"""What the HL7 v2, FHIR and CDA formats share: the local authority, the evidence, the code tables, received identities (pure, no Django)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from identities.core import traits

# The four statuses and the attributes, in the portal's (and RNIV's) vocabulary.
PROV, RECUP, VALI, QUAL = "PROV", "RECUP", "VALI", "QUAL"
DOUT, FICT, HOMA = "DOUT", "FICT", "HOMA"
# Receiving systems only know PROV and VALI; they deduce QUAL from VALI + matricule + OID
# (domain.md §2 rule 6; PAM France §6.6.1, §6.6.15; FR Core 2.2.0 fr-core-patient-ins fr-core-1).
RECEIVER_STATUS = {PROV: PROV, RECUP: PROV, VALI: VALI, QUAL: VALI}
# HL7 table 0445 as IHE France completes it (PAM §6.6.15): statuses, then the attributes. FR Core
# 2.2.0 publishes the same codes as fr-core-cs-v2-0445 (the identityStatus value set).
TABLE_0445 = frozenset({
    "VIDE", "PROV", "VALI", "DOUB", "DESA", "DPOT", "DOUA", "COLP", "COLV", "FILI", "CACH", "ANOM", "IDVER",
    "RECD", "IDRA", "USUR", "HOMD", "HOMA", "INVA", "FICT", "DOUT",
})



class Trigger(StrEnum):
    """PAM-FR identity events."""

    A28 = "A28"  # create
    A31 = "A31"  # update (traits, status, attributes, INS appearing or replaced)
    A40 = "A40"  # merge
    A47 = "A47"  # change of the identifier list: shared INS removed (downgrade, invalidation)


# The identity-document table of PAM France's ZFD-7 (table IHE-FRANCE-ZFD-7, §6.18.7). FR Core
# 2.2.0's validationMode (fr-core-cs-mode-validation-identity) has the same codes but AV (fhir.py).
IDENTITY_DOCUMENTS = {
    "AN": "Extrait d'acte de naissance",
    "CC": "Carnet de circulation",
    "CE": "Carte européenne",
    "CM": "Carte militaire",
    "CN": "Carte nationale d'identité",
    "CS": "Titre de séjour",
    "LE": "Livret de famille",
    "PA": "Passeport",
    "PC": "Permis de conduire",
    "TC": "Tiers de confiance",
    "AV": "Application Carte Vitale",
    "DC": "Document de Circulation pour étranger mineur",
    "AC": "Acte de naissance + Carte vitale avec photo",
    "IE": "Identification électronique EIDAS",
}
# The facility's document types (DocumentType.code, seeded by identities/core/defaults.py) to
# that table. A type the facility adds is transmitted when its code is one of the table's
# (``tc``, ``cc``…, any case) or one of the names below; otherwise it is not transmitted.
DOCUMENT_CODES = {
    "passeport": "PA",
    "cni": "CN",
    "titre-sejour": "CS",
    "eidas": "IE",
    "appli-carte-vitale": "AV",
    "extrait-naissance": "AN",
    "livret-famille": "LE",
    "permis-conduire": "PC",
    "carte-militaire": "CM",
    "carnet-circulation": "CC",
    "carte-europeenne": "CE",
    "tiers-confiance": "TC",
    "document-circulation-mineur": "DC",
}
# A birth-certificate extract checked with a carte Vitale with photo (direct EHPAD admission).
_WITH_VITALE_PHOTO = {("extrait-naissance", "carte-vitale-photo"): "AC"}

# Characters that structure an HL7 message or an XML attribute must never come from data.
_HL7_SEPARATORS = re.compile(r"[|^~\\&\r\n]")


@dataclass(frozen=True)
class LocalAuthority:
    """The facility's authority for its permanent identifier (IPP): HL7 namespace and OID."""

    namespace: str
    oid: str

    def __post_init__(self):
        if not self.oid or not re.fullmatch(r"[0-2](\.\d+)+", self.oid):
            raise ValueError(f"OID of the local identifier authority is not an OID: {self.oid!r}")
        if not self.namespace or _HL7_SEPARATORS.search(self.namespace):
            raise ValueError(f"HL7 namespace of the local identifier authority is empty or holds a separator: {self.namespace!r}")

    @property
    def system(self) -> str:
        return f"urn:oid:{self.oid}"

    @classmethod
    def from_settings(cls, settings) -> LocalAuthority:
        return cls(namespace=settings.INTEROP_IPP_NAMESPACE, oid=settings.INTEROP_IPP_OID)


@dataclass(frozen=True)
class Evidence:
    """The identity document that validated the identity (the latest valid check), if any."""

    document_type: str  # DocumentType.code
    expiry_date: date | None
    checked_at: datetime
    companion_type: str = ""  # DocumentType.code of the companion document, if any

    @property
    def official_code(self) -> str:
        """The code of IDENTITY_DOCUMENTS (ZFD-7, FR Core validationMode), or "" when the type has none."""
        combined = _WITH_VITALE_PHOTO.get((self.document_type, self.companion_type))
        if combined:
            return combined
        code = DOCUMENT_CODES.get(self.document_type, self.document_type.upper())
        return code if code in IDENTITY_DOCUMENTS else ""

    @classmethod
    def of(cls, check) -> Evidence | None:
        """From a DocumentCheck-like object (``document_type.code``, ``companion_type``, ``expiry_date``, ``checked_at``)."""
        if check is None:
            return None
        companion = check.companion_type.code if check.companion_type_id else ""
        return cls(document_type=check.document_type.code, expiry_date=check.expiry_date, checked_at=check.checked_at,
                   companion_type=companion)


def attributes_of(identity) -> list[str]:
    """DOUT, FICT, HOMA in a stable order (FICT never comes with another: the model forbids it)."""
    flags = ((identity.doubtful, DOUT), (identity.fictitious, FICT), (identity.homonym, HOMA))
    return [code for on, code in flags if on]


def declared_status(codes: set[str], ins: ReceivedIns | None) -> str:
    """A sender's status (its PID-32 or identityStatus codes, table 0445) in our vocabulary: a
    matricule counts only with VALI (PAM §6.6.15: otherwise the identity is integrated without
    it); VALI + matricule + OID is the sender's QUAL (§6.6.1). DOUT or FICT makes it provisional."""
    if VALI not in codes or codes & {DOUT, FICT}:
        return PROV
    return QUAL if ins is not None else VALI


def compact_date(value: str) -> str:
    """``AAAAMMJJ`` cut at the first unknown part (HL7 DTM, CDA TS): ``1950-05-00`` → ``195005``."""
    birth = traits.parse_birth_date(value)
    if not birth.month:
        return f"{birth.year:04d}"
    if not birth.day:
        return f"{birth.year:04d}{birth.month:02d}"
    return f"{birth.year:04d}{birth.month:02d}{birth.day:02d}"


# --- Identities received from another identification domain (HL7 A28/A31, FHIR import) ---

class MessageError(ValueError):
    """A received message that cannot be used: ``location`` points at the element (``PID-5``,
    ``Patient.name[0].family``), ``message`` says the problem in French."""

    def __init__(self, location: str, message: str, *, code: str = "invalid"):
        self.location = location
        self.message = message
        self.code = code
        super().__init__(f"{location} : {message}")


@dataclass(frozen=True)
class ReceivedIns:
    matricule: str
    oid: str


@dataclass(frozen=True)
class ReceivedIdentity:
    """An identity as another domain sent it, before any rule of ours is applied.

    ``declared_status`` is in our vocabulary: HL7 ``VALI`` with an INS is the sender's QUAL
    (receivers deduce QUAL from VALI + matricule + OID), ``VALI`` without one stays VALI.
    """

    birth_name: str
    birth_given_names: str
    first_birth_given_name: str
    birth_date: str
    sex: str
    birthplace_code: str
    used_name: str
    used_given_name: str
    declared_status: str
    ins: ReceivedIns | None
    sender_patient_id: str = ""
