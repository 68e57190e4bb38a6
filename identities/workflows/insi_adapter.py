"""The one door from identities to the INSi client: queries built from identities, outcomes mapped back."""
from __future__ import annotations

from dataclasses import asdict

from identities.core.services import InsiIdentity, InsiMatricule
from insi.client import get_client
from insi.exchanges import exchange_bodies_purge
from insi.strategy import StrategyReport, search_recommended
from insi.types import (
    CallContext,
    FailureKind,
    Fault,
    Found,
    Mode,
    NotFound,
    Outcome,
    SearchOutcome,
    Several,
    TransportFailure,
    VerificationKo,
    VerificationOk,
    VerificationOutcome,
    VerificationQuery,
    VitaleQuery,
)

# The outcome types are re-exported: the workflows know INSi only through this module.
__all__ = [
    "CallContext", "Fault", "Found", "Mode", "NotFound", "Outcome", "Several", "StrategyReport", "TransportFailure",
    "VerificationKo", "VerificationOk", "automatic", "failure_text", "for_identity", "from_json", "insi_identity",
    "is_technical", "manual", "purge_exchange_bodies", "search_by_traits", "search_with_vitale", "to_json", "verify",
]


def manual(user, identity_id: int | None) -> CallContext:
    """A call a user triggered (INSI-MANU certificate), logged with the user and the identity."""
    return CallContext.manual(user, identity_id=identity_id)


def automatic(label: str, identity_id: int | None) -> CallContext:
    """A call of a task or campaign (INSI-AUTO certificate), logged with its label and the identity."""
    return CallContext.automatic(label[:200], identity_id=identity_id)


def for_identity(context: CallContext, identity_id: int) -> CallContext:
    """The same caller, about another identity (a batch or campaign walks through many)."""
    if context.mode == "MANU":
        return CallContext.manual(context.user, identity_id=identity_id, assertions=context.assertions)
    return CallContext.automatic(context.task_label, identity_id=identity_id)


def search_by_traits(
    *, birth_name: str, given_names: str, sex: str, birth_date: str, birthplace: str, context: CallContext
) -> StrategyReport:
    """The certified clients' strategy: one call per given name, then all joined; the birthplace only on 02."""
    return search_recommended(
        birth_name=birth_name, given_names=given_names.split(" "), sex=sex, birth_date=birth_date,
        birthplace=birthplace, context=context,
    )


def search_with_vitale(card, *, context: CallContext) -> SearchOutcome:
    """A search with the beneficiary of a carte Vitale (a ``vitale.VitaleCard``: NIRs of 15 characters)."""
    query = VitaleQuery(
        beneficiary_number=card.beneficiary_nir[:13], beneficiary_key=card.beneficiary_nir[13:],
        birth_name=card.birth_name, birth_date=card.birth_date, birth_rank=card.birth_rank,
        insured_number=card.insured_nir[:13], insured_key=card.insured_nir[13:],
    )
    return get_client().search_with_vitale(query, context=context)


def verify(*, matricule: str, oid: str, birth_name: str, given_names: str, sex: str, birth_date: str, birthplace: str,
           context: CallContext) -> VerificationOutcome:
    """One unitary verification of a matricule (15 characters) against the traits it should belong to."""
    query = VerificationQuery(
        number=matricule[:13], key=matricule[13:], oid=oid, birth_name=birth_name, given_names=given_names,
        sex=sex, birth_date=birth_date, birthplace=birthplace,
    )
    return get_client().verify(query, context=context)


def purge_exchange_bodies(*, older_than_days: int) -> int:
    """Drop the bodies of old exchanges (the rows stay): the retention of personal data in the log."""
    return exchange_bodies_purge(older_than_days=older_than_days)


def is_technical(outcome: Outcome) -> bool:
    """A failure that may heal by trying again later (never a functional answer)."""
    return isinstance(outcome, (Fault, TransportFailure)) and outcome.technical


def failure_text(outcome: Outcome) -> str:
    """What a user is told of a failed call (the codes, never the bodies)."""
    if isinstance(outcome, Fault):
        return f"erreur {outcome.code} : {outcome.message or outcome.detail}".strip(" :")
    if isinstance(outcome, TransportFailure):
        return _FAILURE_TEXTS[outcome.kind].format(status=outcome.http_status)
    return outcome.code


# Each failure says what happened: an answer that came but could not be read is not "unreachable".
_FAILURE_TEXTS = {
    FailureKind.TIMEOUT: "pas de réponse du service dans le délai imparti (timeout)",
    FailureKind.CONNECTION: "service injoignable (connexion impossible)",
    FailureKind.TLS: "connexion sécurisée refusée (certificat ou autorité de certification)",
    FailureKind.HTTP: "le service a répondu par une erreur HTTP {status} sans message SOAP",
    FailureKind.MALFORMED: "réponse du service illisible (message SOAP mal formé ou non conforme)",
}


def insi_identity(found: Found) -> InsiIdentity:
    """The identity INSi returned, in the referential's terms (traits exactly as sent)."""
    def number(entry) -> InsiMatricule:
        return InsiMatricule(matricule=entry.matricule, oid=entry.oid, start_date=entry.start, end_date=entry.end)

    return InsiIdentity(
        active=number(found.active),
        birth_name=found.traits.birth_name,
        birth_given_names=found.traits.given_names,
        sex=found.traits.sex,
        birth_date=found.traits.birth_date,
        birthplace_code=found.traits.birthplace,
        history=tuple(number(entry) for entry in found.history),
    )


def to_json(identity: InsiIdentity) -> dict:
    return asdict(identity)


def from_json(data: dict) -> InsiIdentity:
    return InsiIdentity(
        **{key: value for key, value in data.items() if key not in ("active", "history")},
        active=InsiMatricule(**data["active"]),
        history=tuple(InsiMatricule(**entry) for entry in data.get("history", ())),
    )
