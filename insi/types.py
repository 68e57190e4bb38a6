"""The plain data the teleservice takes and returns: call context, queries and typed outcomes (no Django, no zeep)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from insi import protocol
from insi.oids import NIA_OID, key_checks


class Mode(StrEnum):
    """Which certificate authenticates the call: user-triggered (MANU) or automatic (AUTO)."""

    MANU = "MANU"
    AUTO = "AUTO"


@dataclass(frozen=True)
class CallContext:
    """Who or what makes the call, for the exchange log and the choice of certificate.

    ``identity_id`` is the caller's identity primary key, stored as a plain number.
    ``assertions`` switches to card mode: the signed SAML assertions produced by the CPx
    card middleware (then the carte Vitale's), inserted verbatim in wsse:Security.
    """

    mode: Mode
    user: Any = None
    task_label: str = ""
    identity_id: int | None = None
    assertions: tuple[bytes, ...] = ()

    @classmethod
    def manual(cls, user, *, identity_id: int | None = None, assertions: tuple[bytes, ...] = ()) -> CallContext:
        return cls(mode=Mode.MANU, user=user, identity_id=identity_id, assertions=assertions)

    @classmethod
    def automatic(cls, task_label: str, *, identity_id: int | None = None) -> CallContext:
        return cls(mode=Mode.AUTO, task_label=task_label, identity_id=identity_id)


@dataclass(frozen=True)
class TraitsQuery:
    """One search by traits (RECSANSVITALE). Values are sent as given: normalise them first."""

    birth_name: str
    given_name: str  # one given name, or the whole list joined by spaces
    sex: str
    birth_date: str  # YYYY-MM-DD
    birthplace: str = ""  # COG code, optional filter


@dataclass(frozen=True)
class VitaleQuery:
    """One search with carte Vitale data (RECVITALE, card data also in ContexteBAM/COUVERTURE)."""

    beneficiary_number: str  # 13 characters
    beneficiary_key: str
    birth_name: str
    birth_date: str  # lunar: day and month may be 00
    birth_rank: str = "1"
    insured_number: str = ""  # the card holder's (ouvrant droit) matricule, when it differs
    insured_key: str = ""
    regime: str = ""
    fund: str = ""
    centre: str = ""


@dataclass(frozen=True)
class VerificationQuery:
    """One unitary verification of a stored INS against its traits (provisional messages)."""

    number: str
    key: str
    oid: str
    birth_name: str
    given_names: str  # the list, space-separated
    sex: str
    birth_date: str
    birthplace: str = ""


@dataclass(frozen=True)
class InsNumber:
    """A matricule INS as returned (INSACTIF or INSHISTO); authoritative even when its key does not check."""

    number: str
    key: str
    oid: str
    kind: str = ""  # TypeMatricule, when sent
    start: str = ""  # DateDeb / DateFin as sent (DateFin may precede DateDeb)
    end: str = ""

    @property
    def matricule(self) -> str:
        return self.number + self.key

    @property
    def key_checks(self) -> bool:
        return key_checks(self.number, self.key)

    @property
    def is_nia(self) -> bool:
        return self.oid == NIA_OID


@dataclass(frozen=True)
class ReturnedTraits:
    """The TIQ block exactly as returned; ``given_names`` (ListePrenom) is the source of truth."""

    birth_name: str
    given_names: str
    first_given_name: str  # Prenom, often absent
    sex: str
    birth_date: str  # may hold 00
    birthplace: str


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one logical call ended with; ``exchange_id`` is the log row of its last attempt.

    Every outcome has a ``code``, the return code the exchange log keeps: 00/01/02, OK/KO,
    the fault's error code or the kind of transport failure.
    """

    technical: ClassVar[bool] = False
    exchange_id: int | None = None
    attempts: int = 1


@dataclass(frozen=True, kw_only=True)
class Found(Outcome):
    active: InsNumber
    history: tuple[InsNumber, ...]
    traits: ReturnedTraits
    label: str = protocol.CR_LABELS[protocol.CR_FOUND]
    code: ClassVar[str] = protocol.CR_FOUND


@dataclass(frozen=True, kw_only=True)
class NotFound(Outcome):
    label: str = protocol.CR_LABELS[protocol.CR_NOT_FOUND]
    code: ClassVar[str] = protocol.CR_NOT_FOUND


@dataclass(frozen=True, kw_only=True)
class Several(Outcome):
    label: str = protocol.CR_LABELS[protocol.CR_SEVERAL]
    code: ClassVar[str] = protocol.CR_SEVERAL


@dataclass(frozen=True, kw_only=True)
class VerificationOk(Outcome):
    label: str = ""
    code: ClassVar[str] = "OK"


@dataclass(frozen=True, kw_only=True)
class VerificationKo(Outcome):
    label: str = ""
    code: ClassVar[str] = "KO"


@dataclass(frozen=True, kw_only=True)
class Fault(Outcome):
    """A SOAP 1.2 fault from the service. ``code`` is siram:Erreur/@code (insi_102, desir_550...)."""

    code: str
    subcode: str = ""  # Subcode/Value without its prefix (siram_40...)
    soap_code: str = ""  # Code/Value without its prefix: Sender or Receiver
    message: str = ""  # Reason/Text
    severity: str = ""
    detail: str = ""  # the text of siram:Erreur
    message_id: str = ""  # siram:Erreur/@messageID, echoing the request's wsa:MessageID
    http_status: int | None = None

    @property
    def technical(self) -> bool:  # type: ignore[override]
        return self.subcode == protocol.SUBCODE_TECHNICAL or self.code == protocol.ERROR_TECHNICAL


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TLS = "tls"
    HTTP = "http"
    MALFORMED = "malformed"


@dataclass(frozen=True, kw_only=True)
class TransportFailure(Outcome):
    """No usable SOAP answer: timeout, connection or TLS failure, HTTP error without a fault, unreadable XML."""

    kind: FailureKind
    message: str = ""
    http_status: int | None = None

    @property
    def code(self) -> str:  # type: ignore[override]
        return f"http_{self.http_status}" if self.kind == FailureKind.HTTP else str(self.kind)

    @property
    def technical(self) -> bool:  # type: ignore[override]
        # A TLS refusal (bad certificate) or a 4xx will not heal by retrying.
        if self.kind == FailureKind.TLS:
            return False
        return self.kind != FailureKind.HTTP or (self.http_status or 0) >= 500


SearchOutcome = Found | NotFound | Several | Fault | TransportFailure
VerificationOutcome = VerificationOk | VerificationKo | Fault | TransportFailure
