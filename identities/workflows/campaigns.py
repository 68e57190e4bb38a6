"""Mass verification campaigns and recovery batches: their runs, claimed identity by identity, paced, resumable after a crash."""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask

from identities.core import roles
from identities.core.errors import NotAllowed, RuleViolation, ServiceError, require_permission
from identities.core.models import Identity, Status, WorklistItem
from identities.core.worklists import worklist_items_visible_to
from identities.workflows import insi_adapter as insi
from identities.workflows import pacing
from identities.workflows.models import InsiRecovery, InsiRun, InsiRunItem, VerificationCampaign
from identities.workflows.queue import start_run_slices
from identities.workflows.recovery import recovery_refusal, recovery_search
from identities.workflows.verification import NIA_OIDS, Trigger, Verdict, mail_ko_alert, verification_verify

logger = logging.getLogger(__name__)

Outcome = InsiRunItem.Outcome
RUN_TASK = "identities.tasks.campaign_run_scheduled"  # the name beat's schedules refer to
_MANAGE = "identities.change_verificationcampaign"


# --- Campaign configuration ---

def campaign_save(*, actor, campaign: VerificationCampaign) -> VerificationCampaign:
    """Validate and save a campaign, and keep its django-celery-beat schedule in step (one task per campaign)."""
    require_permission(actor, _MANAGE, _("Refusé : seule la CIV configure les campagnes de vérification."))
    unknown = set(campaign.statuses) - {Status.RECUP, Status.QUAL}
    if not campaign.statuses or unknown:
        raise RuleViolation(_("statuts : choisissez « récupérée » et/ou « qualifiée » (seules à porter un INS)"), field="statuses")
    if campaign.worklist_kind and campaign.worklist_kind not in WorklistItem.Kind.values:
        raise RuleViolation(_("file de travail inconnue"), field="worklist_kind")
    if not campaign.calls_per_second or campaign.calls_per_second <= 0:
        raise RuleViolation(_("la cadence doit être strictement positive"), field="calls_per_second")
    with transaction.atomic():
        if campaign.created_by_id is None:
            campaign.created_by = actor
        campaign._history_user = actor
        campaign.save()
        _sync_schedule(campaign)
    return campaign


def _sync_schedule(campaign: VerificationCampaign) -> None:
    if campaign.schedule_id is None:
        # Saved, not updated in bulk: beat learns of the change through the model's signals.
        for task in PeriodicTask.objects.filter(pk=campaign.periodic_task_id, enabled=True):
            task.enabled = False
            task.save(update_fields=["enabled"])
        return
    task, _created = PeriodicTask.objects.update_or_create(
        name=f"Campagne de vérification INSi n° {campaign.pk}",
        defaults={
            "task": RUN_TASK, "crontab": campaign.schedule, "interval": None, "args": json.dumps([campaign.pk]),
            "enabled": campaign.active, "description": str(campaign.name),
        },
    )
    if campaign.periodic_task_id != task.pk:
        campaign.periodic_task = task
        campaign.save(update_fields=["periodic_task"])


def campaign_scope(campaign: VerificationCampaign, *, now: datetime | None = None) -> QuerySet[Identity]:
    """The identities a run of this campaign would verify (before its share is taken)."""
    now = now or timezone.now()
    qs = Identity.objects.filter(
        is_active=True, doubtful=False, fictitious=False, status__in=campaign.statuses, ins_matricule__isnull=False
    )
    if campaign.nature == VerificationCampaign.Nature.NIA:
        qs = qs.filter(ins_oid__in=NIA_OIDS)
    elif campaign.nature == VerificationCampaign.Nature.NIR:
        qs = qs.exclude(ins_oid__in=NIA_OIDS)
    never = Q(last_verified_at__isnull=True)
    if campaign.last_verified_before:
        start_of_day = timezone.make_aware(datetime.combine(campaign.last_verified_before, datetime.min.time()))
        qs = qs.filter(never | Q(last_verified_at__lt=start_of_day))
    if campaign.not_verified_for_days is not None:
        qs = qs.filter(never | Q(last_verified_at__lt=now - timedelta(days=campaign.not_verified_for_days)))
    if campaign.worklist_kind:
        qs = qs.filter(worklist_items__kind=campaign.worklist_kind, worklist_items__state=WorklistItem.State.OPEN)
    return qs.distinct() if campaign.worklist_kind else qs


def campaign_share(campaign: VerificationCampaign, scope_size: int, *, now: datetime) -> int | None:
    """How many identities this run takes: the whole scope, or its even share of the review cycle.

    The share is the scope times the days since the previous run over the cycle (one day
    for a first run), rounded up: run daily over 1 461 days, a base is reviewed in 4 years.
    """
    if not campaign.cycle_days:
        return None
    previous = campaign.runs.order_by("-created_at").values_list("created_at", flat=True).first()
    # In whole hours: a run starting a few seconds late must not take one identity more.
    elapsed = round((now - previous).total_seconds() / 3600) / 24 if previous else 1.0
    fraction = min(max(elapsed, 0.0), campaign.cycle_days) / campaign.cycle_days
    return math.ceil(scope_size * fraction)


def campaign_start_run(*, actor, campaign_id: int, scheduled: bool = False, now: datetime | None = None) -> InsiRun:
    """Start a run of the campaign over its scope (or its share), unless one is still going: that one is returned."""
    require_permission(actor, _MANAGE, _("Refusé : seule la CIV lance les campagnes de vérification."))
    now = now or timezone.now()
    with transaction.atomic():
        campaign = VerificationCampaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None:
            raise RuleViolation(_("campagne %(id)s introuvable") % {"id": campaign_id})
        live = campaign.runs.filter(state__in=[InsiRun.State.RUNNING, InsiRun.State.PAUSED]).first()
        if live is not None:
            return live
        if scheduled and not campaign.active:
            raise NotAllowed(_("Campagne inactive : l'exécution planifiée est ignorée."))
        scope = campaign_scope(campaign, now=now)
        share = campaign_share(campaign, scope.count(), now=now)
        run = InsiRun.objects.create(
            kind=InsiRun.Kind.VERIFICATION, campaign=campaign, started_by=actor, calls_per_second=campaign.calls_per_second,
            label=_("Campagne « %(name)s »") % {"name": campaign.name},
        )
        run.label = (_("Campagne « %(name)s », exécution n° %(run)s") % {"name": campaign.name, "run": run.pk})[:200]
        ordered = scope.order_by(F("last_verified_at").asc(nulls_first=True), "pk").values("pk")
        run.total = _insert_items(run, ordered if share is None else ordered[:share])
        run.save(update_fields=["label", "total"])
        _start_slices_on_commit(run)
    logger.info("INSi run=%s campaign=%s started identities=%s", run.pk, campaign_id, run.total)
    return run


# A run this large refreshes the planner's statistics of the item table.
ANALYZE_FROM = 1000


def _insert_items(run: InsiRun, identity_ids: QuerySet) -> int:
    """One INSERT … SELECT: a campaign may cover hundreds of thousands of identities."""
    sql, params = identity_ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {InsiRunItem._meta.db_table} (run_id, identity_id, state, attempts, outcome, detail) "
            f"SELECT %s, ids.pk, %s, 0, '', '' FROM ({sql}) ids",
            [run.pk, InsiRunItem.State.PENDING, *params],
        )
        inserted = cursor.rowcount
        if inserted >= ANALYZE_FROM and connection.vendor == "postgresql":
            # Fresh statistics, or the planner may believe a few items are pending, sort them all
            # and claim each in O(pending): seen to cut a 100,000-identity run from 90 to 18/s.
            cursor.execute(f"ANALYZE {InsiRunItem._meta.db_table}")
        return inserted


def recovery_batch_start(*, actor, identity_ids: list[int]) -> InsiRun:
    """Recover the INS of many identities, one call after the other, in the background (the user may leave the page)."""
    require_permission(actor, "identities.use_insi", _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    ids = list(dict.fromkeys(identity_ids))
    if not ids:
        raise RuleViolation(_("aucune identité sélectionnée"), field="identities")
    with transaction.atomic():
        run = InsiRun.objects.create(
            kind=InsiRun.Kind.RECOVERY, started_by=actor, calls_per_second=settings.INSI_BATCH_CALLS_PER_SECOND,
            label=_("Récupération en lot"),
        )
        run.label = (_("Récupération en lot n° %(run)s (%(user)s)") % {"run": run.pk, "user": actor.get_username()})[:200]
        run.total = _insert_items(run, Identity.objects.filter(pk__in=ids, is_active=True).order_by("pk").values("pk"))
        run.save(update_fields=["label", "total"])
        _start_slices_on_commit(run)
    return run


def worklist_identity_ids(kind: str, user) -> list[int]:
    """The identities of a worklist's open items the user may see (the source of a recovery batch)."""
    return list(
        worklist_items_visible_to(user).filter(kind=kind, state=WorklistItem.State.OPEN, other__isnull=True)
        .order_by("opened_at", "pk").values_list("identity_id", flat=True)
    )


# --- Controlling a run ---

def _may_control(actor, run: InsiRun) -> None:
    if run.kind == InsiRun.Kind.VERIFICATION:
        require_permission(actor, _MANAGE, _("Refusé : seule la CIV pilote les campagnes de vérification."))
    elif not (actor.pk == run.started_by_id or actor.has_perm(_MANAGE)):
        raise NotAllowed(_("Refusé : seul l'auteur du lot ou la CIV peut le piloter."))


def _move(actor, run_id: int, sources: list[str], target: str) -> InsiRun:
    with transaction.atomic():
        run = InsiRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            raise RuleViolation(_("exécution %(id)s introuvable") % {"id": run_id})
        _may_control(actor, run)
        if run.state not in sources:
            raise RuleViolation(_("impossible : l'exécution est « %(state)s »") % {"state": run.get_state_display()})
        run.state = target
        if target == InsiRun.State.CANCELLED:
            run.finished_at, run.summary = timezone.now(), run_counts(run)
        elif target == InsiRun.State.RUNNING:
            _start_slices_on_commit(run)
        run.save(update_fields=["state", "finished_at", "summary"])
    logger.info("INSi run=%s moved to %s by user=%s", run_id, target, actor.pk)
    return run


def run_pause(*, actor, run_id: int) -> InsiRun:
    """Stop taking new identities; the one being verified finishes."""
    return _move(actor, run_id, [InsiRun.State.RUNNING], InsiRun.State.PAUSED)


def run_resume(*, actor, run_id: int) -> InsiRun:
    return _move(actor, run_id, [InsiRun.State.PAUSED], InsiRun.State.RUNNING)


def run_cancel(*, actor, run_id: int) -> InsiRun:
    """Stop for good; identities not reached stay counted as not processed."""
    return _move(actor, run_id, [InsiRun.State.RUNNING, InsiRun.State.PAUSED], InsiRun.State.CANCELLED)


def _start_slices_on_commit(run: InsiRun) -> None:
    transaction.on_commit(partial(start_run_slices, run.pk, max(1, settings.INSI_RUN_PARALLELISM)))


def runs_to_resume() -> list[int]:
    """Running runs that still have identities to process (after a worker restart, nothing is lost)."""
    pending = InsiRunItem.objects.filter(state=InsiRunItem.State.PENDING).values("run_id")
    return list(InsiRun.objects.filter(state=InsiRun.State.RUNNING, pk__in=pending).values_list("pk", flat=True))


# --- Processing, identity by identity ---

@dataclass(frozen=True)
class Step:
    """What one call of ``run_step`` did: ``processed`` an identity, or why it did not."""

    status: str  # "processed" | "waiting" | "busy" | "finished" | "stopped"
    wait: float = 0.0


def _claimable(run_id: int, now: datetime) -> QuerySet[InsiRunItem]:
    return InsiRunItem.objects.filter(run_id=run_id, state=InsiRunItem.State.PENDING).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )


class _Lost(Exception):
    """Another worker closed the item first (only possible without row locks): roll this work back."""


class _Nothing(Exception):
    """No identity to claim now."""


def _load(run_id: int) -> InsiRun | None:
    return InsiRun.objects.select_related("started_by").filter(pk=run_id).first()


def run_step(run_id: int, *, run: InsiRun | None = None, actor=None) -> Step:
    """Process the next identity of a run: claim it under a row lock, call INSi, record, close it by compare-and-swap.

    The claim, the INSi exchange rows, the domain change and the closing of the item are one
    transaction: a worker killed mid-way leaves the item pending, untouched, for the next one.
    ``run`` and ``actor`` may be passed by a caller that steps many times (they do not change).
    """
    run = run or _load(run_id)
    if run is None:
        return Step("stopped")
    actor = actor or _actor(run)
    pacing.wait_for_slot(_bucket(run), run.calls_per_second)
    try:
        with transaction.atomic():
            now = timezone.now()
            # The run's state is read with the claim: a paused or cancelled run yields nothing more.
            item = (
                _claimable(run_id, now).filter(run__state=InsiRun.State.RUNNING)
                .select_for_update(skip_locked=True, of=("self",)).order_by("pk").first()
            )
            if item is None:
                raise _Nothing
            outcome, detail, exchange_id, technical, calls = _PROCESSORS[run.kind](run, item, actor)
            closing = {"exchange_id": exchange_id, "detail": detail[:2000], "attempts": item.attempts + 1}
            if technical and item.attempts + 1 < settings.INSI_RUN_MAX_ATTEMPTS:
                delay = settings.INSI_RUN_RETRY_BACKOFF * 2 ** item.attempts
                closing |= {"not_before": now + timedelta(seconds=delay)}
            else:
                closing |= {"state": InsiRunItem.State.DONE, "outcome": outcome, "finished_at": timezone.now()}
            if not InsiRunItem.objects.filter(pk=item.pk, state=InsiRunItem.State.PENDING, attempts=item.attempts).update(**closing):
                raise _Lost
    except _Lost:
        return Step("busy")
    except _Nothing:
        return _idle(run)
    # One slot was taken for the identity; the pace counts every call it needed (a KO is followed by a search).
    for _extra in range(calls - 1):
        pacing.wait_for_slot(_bucket(run), run.calls_per_second)
    return Step("processed")


def _idle(run: InsiRun) -> Step:
    """No identity to take now: stopped, finished, all waiting for a retry, or all held by other workers."""
    if not InsiRun.objects.filter(pk=run.pk, state=InsiRun.State.RUNNING).exists():
        return Step("stopped")
    pending = InsiRunItem.objects.filter(run_id=run.pk, state=InsiRunItem.State.PENDING)
    if not pending.exists():
        _finish(run)
        return Step("finished")
    next_retry = pending.filter(not_before__gt=timezone.now()).aggregate(at=Min("not_before"))["at"]
    if next_retry is not None and not _claimable(run.pk, timezone.now()).exists():
        return Step("waiting", wait=max(0.0, (next_retry - timezone.now()).total_seconds()))
    return Step("busy")


def _finish(run: InsiRun) -> None:
    summary = run_counts(run)
    if not InsiRun.objects.filter(pk=run.pk, state=InsiRun.State.RUNNING).update(
        state=InsiRun.State.DONE, finished_at=timezone.now(), summary=summary
    ):
        return
    logger.info("INSi run=%s finished %s", run.pk, summary)
    campaign = VerificationCampaign.objects.filter(pk=run.campaign_id).first() if run.campaign_id else None
    if campaign and campaign.email_alerts and summary.get(Outcome.KO) and settings.INSI_KO_ALERT_EMAILS:
        ko = list(run.items.filter(outcome=Outcome.KO).values_list("identity_id", flat=True))
        mail_ko_alert(ko, context_label=run.label)


def _bucket(run: InsiRun) -> str:
    # Recovery batches share one pace; a campaign has one live run at a time, paced on its own.
    return "recovery-batches" if run.kind == InsiRun.Kind.RECOVERY else f"campaign-{run.campaign_id or run.pk}"


def _actor(run: InsiRun):
    """Who acts: the author of a recovery batch (their calls are theirs), the system account for a campaign."""
    if run.kind == InsiRun.Kind.RECOVERY and run.started_by_id:
        return run.started_by
    return roles.system_user()


def _verify_item(run: InsiRun, item: InsiRunItem, actor) -> tuple[str, str, int | None, bool, int]:
    result = verification_verify(
        actor=actor, identity_id=item.identity_id, context=insi.automatic(run.label, item.identity_id),
        trigger=Trigger.CAMPAIGN, email=False,
    )
    outcome = {
        Verdict.OK: Outcome.OK, Verdict.REPLACED: Outcome.REPLACED, Verdict.KO: Outcome.KO,
        Verdict.FAILED: Outcome.FAILED, Verdict.SKIPPED: Outcome.SKIPPED,
    }[result.verdict]
    return outcome, result.message, result.exchange_id, result.technical, result.calls


_RECOVERY_OUTCOMES = {
    InsiRecovery.State.AWAITING: Outcome.FOUND, InsiRecovery.State.AUTO_ACCEPTED: Outcome.AUTO,
    InsiRecovery.State.NOT_FOUND: Outcome.NOT_FOUND, InsiRecovery.State.SEVERAL: Outcome.SEVERAL,
    InsiRecovery.State.UNUSABLE: Outcome.UNUSABLE, InsiRecovery.State.COLLISION: Outcome.UNUSABLE,
    InsiRecovery.State.FAILED: Outcome.FAILED,
}


def _recover_item(run: InsiRun, item: InsiRunItem, actor) -> tuple[str, str, int | None, bool, int]:
    refusal = recovery_refusal(Identity.objects.get(pk=item.identity_id))
    if refusal:
        return Outcome.SKIPPED, refusal, None, False, 0
    try:
        with transaction.atomic():
            recovery = recovery_search(actor=actor, identity_id=item.identity_id, context=insi.manual(actor, item.identity_id), run=run)
    except ServiceError as error:
        return Outcome.SKIPPED, error.message, None, False, 0
    # One exchange id per call of the search strategy.
    return _RECOVERY_OUTCOMES[recovery.state], recovery.message, recovery.exchange_id, recovery.technical, len(recovery.exchange_ids)


_PROCESSORS = {InsiRun.Kind.VERIFICATION: _verify_item, InsiRun.Kind.RECOVERY: _recover_item}


def run_work(run_id: int, *, seconds: float) -> str:
    """Process a run's identities for about ``seconds``: "more" when work remains for another slice, else why it stopped."""
    deadline = time.monotonic() + seconds
    run = _load(run_id)
    if run is None:
        return "stopped"
    actor = _actor(run)
    while (left := deadline - time.monotonic()) > 0:
        step = run_step(run_id, run=run, actor=actor)
        if step.status == "waiting":
            time.sleep(min(step.wait, left) + 0.01)
        elif step.status != "processed":
            return step.status
    return "more"


# --- Reading a run ---

def run_counts(run: InsiRun) -> dict[str, int]:
    """Identities per outcome, plus those not processed yet; exact whatever crashed on the way."""
    rows = run.items.values("state", "outcome").annotate(n=Count("pk"))
    counts: dict[str, int] = {}
    for row in rows:
        key = row["outcome"] if row["state"] == InsiRunItem.State.DONE else "PENDING"
        counts[key] = counts.get(key, 0) + row["n"]
    return counts


@dataclass(frozen=True)
class Progress:
    run: InsiRun
    counts: dict[str, int]

    @property
    def done(self) -> int:
        return sum(n for key, n in self.counts.items() if key != "PENDING")

    @property
    def percent(self) -> int:
        return 100 if not self.run.total else math.floor(100 * self.done / self.run.total)

    def labelled(self) -> list[tuple[str, str, int]]:
        return [(code, label, self.counts.get(code, 0)) for code, label in Outcome.choices if self.counts.get(code)]


def run_progress(run: InsiRun) -> Progress:
    return Progress(run=run, counts=run_counts(run))
