"""Creation from the carte Vitale: the beneficiary chosen, the anteriority search, then create or open and recover by card.

Reading the card lists its beneficiaries (vitale.CardBeneficiaries). For the one chosen,
the record already holding their NIR as INS is opened; otherwise the anteriority search
runs on the card's traits (birth name, first given name, birth date) and the agent judges
the candidates; then the identity is created (provisional, channel CV) or the chosen one
opened, and its INS is searched with the card (RECVITALE) in the same transaction: the
result waits on the recovery page for the side-by-side comparison, as every recovery.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from identities.core import selectors, services
from identities.core.errors import RuleViolation, require_permission
from identities.core.models import Channel, Identity
from identities.workflows import recovery
from identities.workflows.models import InsiRecovery
from identities.workflows.vitale import VitaleCard


def open_or_create(*, actor, matricule: str, identity_id: int | None, acknowledged_candidates, **creation) -> tuple[int | None, list[Identity]]:
    """The desk's intake rule (card, application): the chosen record, else the one holding this INS, else a creation
    after the anteriority search — ``(None, candidates)`` when it finds people the agent has not judged yet."""
    if identity_id is not None:
        return identity_id, []
    holders = selectors.identities_holding_matricule_ever(matricule)
    if len(holders) == 1:
        return holders[0].pk, []
    created = services.identity_create(actor=actor, acknowledged_candidates=list(acknowledged_candidates), **creation)
    if created.identity is None:
        return None, created.candidates
    return created.identity.pk, []


@dataclass
class CardIntake:
    card: VitaleCard
    identity: Identity | None = None
    recovery: InsiRecovery | None = None
    message: str = ""
    candidates: list[Identity] = field(default_factory=list)


def card_intake(*, actor, card: VitaleCard, identity_id: int | None = None, acknowledged_candidates=()) -> CardIntake:
    """Create or open the beneficiary's identity, then recover its INS with the card; candidates first when there are some."""
    require_permission(actor, "identities.add_identity", _("Refusé : vous n'avez pas le droit de créer une identité."))
    if not card.given_name:
        raise RuleViolation(_("la carte ne donne pas le prénom du bénéficiaire : saisissez l'identité"), field="card")
    intake = CardIntake(card=card)
    with transaction.atomic():
        target, intake.candidates = open_or_create(
            actor=actor, matricule=card.beneficiary_nir, identity_id=identity_id, acknowledged_candidates=acknowledged_candidates,
            birth_name=card.birth_name, birth_given_names=card.given_name, birth_date=card.birth_date, sex=card.sex,
            channel=Channel.CV,
        )
        if target is None:
            return intake
        intake.identity = Identity.objects.get(pk=target)
        refusal = recovery.recovery_refusal(intake.identity)
        if refusal:
            intake.message = refusal
            return intake
        intake.recovery = recovery.recovery_search_with_vitale(actor=actor, identity_id=target, card=card)
    return intake
