"""Duplicate and homonym pairs: the engine's verdicts stored as CIV queue items, one identity at once or the whole base in parts."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from identities.core.errors import RuleViolation, require_permission
from identities.core.models import Identity, WorklistItem
from identities.core.queue import enqueue
from identities.core.worklists import worklists_sync
from identities.matching import desk, store
from identities.matching.explain import BAND_TEXTS, french_number
from identities.matching.models import MatchModel, MatchPair, SweepPart, SweepRun
from identities.matching.records import Record
from identities.matching.rules import CERTAIN, DUPLICATE, HOMONYM
from identities.matching.sweep import Scored, ScoredPair, candidate_pairs, score, stored_here
from identities.matching.table import Table

Kind = WorklistItem.Kind
PART_TASK = "identities.matching.sweep_part"
_QUEUE_OF = {DUPLICATE: Kind.DUPLICATE, HOMONYM: Kind.HOMONYM}


def _homonym_reason(a: Record, b: Record) -> str:
    """The sentence the homonym queue has always shown: what is the same, then the signs of two people."""
    differences = []
    if a.sex != b.sex:
        differences.append(_("sexes différents"))
    if a.ins_matricule and b.ins_matricule and a.ins_matricule != b.ins_matricule:
        differences.append(_("matricules INS différents"))
    if a.birthplace_code and b.birthplace_code and a.birthplace_code != b.birthplace_code:
        differences.append(_("lieux de naissance différents"))
    same = _("Même nom (de naissance ou utilisé), même premier prénom, même date de naissance")
    return f"{same} ; {', '.join(differences)}" if differences else same


def _reason(pair: ScoredPair) -> str:
    if pair.kind == HOMONYM:
        return _homonym_reason(pair.left, pair.right)
    if pair.band == CERTAIN:
        return _("Même matricule INS sur les deux identités : doublon certain (collision INS à fusionner)")
    # The queue's one line: the verdict and what differs (the pair page shows every trait).
    differing = [line.split(" (", 1)[0] for line in pair.explanation[:5] if " : identique" not in line]
    return _("%(band)s, score %(score)s : %(differing)s") % {
        "band": BAND_TEXTS[pair.band].capitalize(), "score": french_number(pair.weight),
        "differing": " ; ".join(differing) or _("tous les traits identiques"),
    }


def _match_kind(pair: ScoredPair) -> str:
    if pair.kind == HOMONYM:
        return MatchPair.Kind.HOMONYM
    return MatchPair.Kind.INS_COLLISION if pair.band == CERTAIN else MatchPair.Kind.DUPLICATE


@dataclass
class StoreOutcome:
    new: int = 0  # queued for the first time, or reopened (a trait changed since it was dismissed)
    updated: int = 0


def pairs_store(found: list[ScoredPair], *, actor, run: SweepRun | None = None) -> StoreOutcome:
    """Queue the engine's pairs: new ones opened, open ones rescored, dismissed ones reopened only if a trait changed.

    Safe to run twice or concurrently on the same pairs (a part redone after a killed worker):
    a pair is one row (the queue's unique constraint), whoever writes it first.
    """
    outcome = StoreOutcome()
    if not found:
        return outcome
    wanted = {}
    for pair in found:
        lo, hi = sorted((pair.left, pair.right), key=lambda r: r.id)
        wanted[(_QUEUE_OF[pair.kind], lo.id, hi.id)] = (pair, store.fingerprint(lo, hi))
    existing = _existing(wanted)
    before = set(existing)
    now = timezone.now()
    fresh = [WorklistItem(kind=kind, identity_id=lo, other_id=hi, reason=_reason(pair), created_by=actor, opened_at=now)
             for (kind, lo, hi), (pair, _print) in wanted.items() if (kind, lo, hi) not in existing]
    with transaction.atomic():
        WorklistItem.objects.bulk_create(fresh, batch_size=2000, ignore_conflicts=True)
        if fresh:
            existing = _existing(wanted)
        reopen, rescore, matches = [], [], []
        for key, (pair, print_) in wanted.items():
            item_id, state, decision, old_print, opened_at, old_reason = existing[key]
            if key not in before and opened_at == now:  # inserted by this call, not by a concurrent part
                outcome.new += 1
            elif state == WorklistItem.State.DONE and decision == WorklistItem.Decision.DISMISSED and old_print and old_print != print_:
                reopen.append(item_id)
                outcome.new += 1
            elif key not in before:
                continue  # a concurrent part wrote it first, with its verdict
            elif state == WorklistItem.State.DONE:
                continue  # decided on these very traits: left as decided
            else:
                outcome.updated += 1
            if key in before and _reason(pair) != old_reason:  # new items already carry theirs
                rescore.append(WorklistItem(pk=item_id, reason=_reason(pair)))
            matches.append(MatchPair(item_id=item_id, score=round(pair.weight, 2), band=pair.band, kind=_match_kind(pair),
                                     explanation=pair.explanation, fingerprint=print_, run=run))
        WorklistItem.objects.bulk_update(rescore, ["reason"], batch_size=2000)
        WorklistItem.objects.filter(pk__in=reopen).update(
            state=WorklistItem.State.OPEN, decision="", decided_by=None, decided_at=None, opened_at=now,
            decision_note=_("rouverte : un trait d'une des deux identités a changé depuis qu'elle a été écartée"),
        )
        ids = [m.item_id for m in matches]
        MatchPair.objects.filter(item_id__in=ids).delete()
        MatchPair.objects.bulk_create(matches, batch_size=2000)
    return outcome


def _existing(wanted: dict) -> dict:
    """(kind, lo, hi) → (item id, state, decision, stored fingerprint, opened at, reason) of the pair items already there."""
    found = {}
    firsts = sorted({lo for _kind, lo, _hi in wanted})
    for start in range(0, len(firsts), 1000):
        rows = (WorklistItem.objects.filter(other__isnull=False, identity_id__in=firsts[start:start + 1000])
                .values_list("kind", "identity_id", "other_id", "pk", "state", "decision", "match__fingerprint", "opened_at", "reason"))
        for kind, lo, hi, pk, state, decision, print_, opened_at, reason in rows:
            if (kind, lo, hi) in wanted:
                found[(kind, lo, hi)] = (pk, state, decision, print_ or "", opened_at, reason)
    return found


# --- One identity, at once ---

def worklist_detect_pairs(*, actor, identity_id: int | None = None) -> int:
    """Check one identity against the base (created or changed just now), or sweep the whole base; returns the pairs new to the CIV."""
    require_permission(actor, "identities.view_identity", _("Refusé : vous n'avez pas accès aux identités."))
    if identity_id is None:
        return sweep_run_inline(actor=actor).new
    identity = Identity.objects.filter(pk=identity_id, is_active=True).first()
    if identity is None:
        return 0
    return pairs_store(desk.check_identity(identity), actor=actor).new


# --- The whole base, in parts ---

# The base as this process read it for the run it last took part in (see _run_table).
_RUN_TABLE: dict[tuple, Table] = {}


def sweep_start(*, actor, parts: int | None = None) -> SweepRun:
    """Open a sweep for the workers: learn the model (EM on every candidate pair), store it, queue the parts."""
    _require_sweeper(actor)
    parts = parts or settings.MATCHING_SWEEP_PARTS
    if parts < 1:
        raise RuleViolation(_("le nombre de parties doit être au moins 1"), field="parts")
    table = store.active_table()
    run, _scored = _sweep_open(actor=actor, parts=parts, table=table)
    # A worker that opened the run (the nightly task) takes parts of it without reading the base again.
    _RUN_TABLE.clear()
    _RUN_TABLE[_run_key(run)] = table
    transaction.on_commit(partial(_dispatch, run.pk))
    return run


def _sweep_open(*, actor, parts: int, table: Table) -> tuple[SweepRun, Scored | None]:
    """The run and its parts, with the model it scores with; and every candidate scored by that
    model when it was learnt here (None when the base is too small to learn from)."""
    scored = None
    if len(table) >= settings.MATCHING_ESTIMATE_FROM:
        # Every candidate, not one part's: EM counts the match rate over all pairs of the base,
        # taking the pairs it is not shown as two people, so one part's share of the candidates
        # would divide the prior by about the number of parts. The parts then score with this model.
        left, right, skipped = candidate_pairs(table)
        scored = score(table, left, right, bands=store.bands(), skipped_groups=skipped)
        stored = store.model_save(scored.model, identities=len(table))
    else:
        # Too few identities for EM to learn anything: the last model (generated identities' at first).
        store.current_model()
        stored = MatchModel.objects.first()
    with transaction.atomic():
        run = SweepRun.objects.create(started_by=actor, model=stored, identities=len(table))
        SweepPart.objects.bulk_create([SweepPart(run=run, number=n) for n in range(parts)])
    return run, scored


def _require_sweeper(actor) -> None:
    require_permission(actor, "identities.manage_worklists", _("Refusé : seule la CIV lance la détection des doublons."))


def _dispatch(run_id: int) -> None:
    for part_id in SweepPart.objects.filter(run_id=run_id).exclude(state=SweepPart.State.DONE).values_list("pk", flat=True):
        enqueue(PART_TASK, part_id)


def sweep_part_work(part_id: int, *, actor) -> str:
    """Do one part on a worker: its candidate pairs scored with the run's model, stored with the part's DONE in one transaction.

    Idempotent: a part already done is skipped; a part redone (its worker was killed, or two
    workers took it) writes no pair twice and is counted once.
    """
    part = _part_claim(part_id)
    if part is None:
        return "skipped"
    run = part.run
    table = _run_table(run)
    parts = run.parts.count()
    left, right, _skipped = candidate_pairs(table, parts=parts, part=part.number)
    scored = score(table, left, right, model=store.stored_model(run.model_id), bands=store.bands())
    rows = scored.proposed()
    here = stored_here(table, scored.comparison.left[rows], scored.comparison.right[rows], parts=parts, part=part.number)
    return _part_finish(part, scored, rows[here], actor=actor)


def _run_table(run: SweepRun) -> Table:
    """The base as a run's parts see it, read once per worker process for all the parts of that run
    it takes, and kept until it takes a part of the next run (the previous table dropped before the
    next is read: two at once would double the worker's memory). ``started_at`` tells apart a run
    whose id a rolled-back transaction gave again."""
    key = _run_key(run)
    if key not in _RUN_TABLE:
        _RUN_TABLE.clear()
        _RUN_TABLE[key] = store.active_table()
    return _RUN_TABLE[key]


def _run_key(run: SweepRun) -> tuple:
    return run.pk, run.started_at


def _part_claim(part_id: int) -> SweepPart | None:
    part = SweepPart.objects.select_related("run").filter(pk=part_id).first()
    if part is None or part.state == SweepPart.State.DONE:
        return None
    SweepPart.objects.filter(pk=part_id).exclude(state=SweepPart.State.DONE).update(
        state=SweepPart.State.RUNNING, started_at=timezone.now(), attempts=part.attempts + 1
    )
    return part


def _part_finish(part: SweepPart, scored: Scored, rows: np.ndarray, *, actor) -> str:
    """The part's proposed pairs (these rows of ``scored``) explained and stored, the part marked DONE
    (and its run when it was the last), one transaction."""
    run = part.run
    found = _explained(scored, rows)
    with transaction.atomic():
        locked = SweepPart.objects.select_for_update().get(pk=part.pk)
        if locked.state == SweepPart.State.DONE:
            return "skipped"  # another worker finished it meanwhile: its pairs are there
        outcome = pairs_store(found, actor=actor, run=run)
        locked.state, locked.finished_at = SweepPart.State.DONE, timezone.now()
        locked.candidates, locked.proposed, locked.new = len(scored), len(found), outcome.new
        locked.save()
        # Two last parts finishing at once would each see the other not done yet: the run's row,
        # locked, makes the second wait for the first's commit and see it.
        SweepRun.objects.select_for_update().filter(pk=run.pk).first()
        if not run.parts.exclude(state=SweepPart.State.DONE).exists():
            SweepRun.objects.filter(pk=run.pk, state=SweepRun.State.RUNNING).update(state=SweepRun.State.DONE, finished_at=timezone.now())
    return "done"


def _explained(scored: Scored, rows: np.ndarray) -> list[ScoredPair]:
    """These pairs with their explanations. The table of a whole-base sweep keeps no record:
    those of the pairs are read back (a pair one of whose identities was merged or deactivated
    since the read is left out: it is no longer a pair to look at)."""
    records = {r.id: r for r in store.records_by_id(scored.proposed_ids(rows))}
    ids, left, right = scored.table.ids, scored.comparison.left, scored.comparison.right
    return [scored.pair(int(i), records) for i in rows if ids[left[i]].item() in records and ids[right[i]].item() in records]


def sweeps_to_resume() -> list[int]:
    """Parts not done of runs still running (after a worker was killed, its part is redone)."""
    return list(SweepPart.objects.filter(run__state=SweepRun.State.RUNNING).exclude(state=SweepPart.State.DONE)
                .values_list("pk", flat=True))


@dataclass
class SweepOutcome:
    run: SweepRun
    new: int


def sweep_run_inline(*, actor) -> SweepOutcome:
    """The whole sweep in this process, in one pass (the command, the CIV's refresh button, tests):
    the base read once, every candidate blocked and scored once, the pairs stored as the run's one part."""
    _require_sweeper(actor)
    table = store.active_table()
    run, scored = _sweep_open(actor=actor, parts=1, table=table)
    part = _part_claim(run.parts.get().pk)
    if scored is None:  # a small base: scored with the stored model
        left, right, _skipped = candidate_pairs(table)
        scored = score(table, left, right, model=store.stored_model(run.model_id), bands=store.bands())
    _part_finish(part, scored, scored.proposed(), actor=actor)
    run.refresh_from_db()
    return SweepOutcome(run=run, new=sum(run.parts.values_list("new", flat=True)))


@dataclass
class SweepProgress:
    run: SweepRun
    parts: int
    done: int
    running: int
    proposed: int
    new: int

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.parts) if self.parts else 100


def sweep_progress(run: SweepRun) -> SweepProgress:
    parts = list(run.parts.all())
    return SweepProgress(
        run=run, parts=len(parts), done=sum(p.state == SweepPart.State.DONE for p in parts),
        running=sum(p.state == SweepPart.State.RUNNING for p in parts),
        proposed=sum(p.proposed for p in parts), new=sum(p.new for p in parts),
    )


def latest_sweep_progress() -> SweepProgress | None:
    """Where the newest sweep is, for the CIV's queue screen."""
    run = SweepRun.objects.first()
    return sweep_progress(run) if run else None


@dataclass
class RefreshOutcome:
    opened: int
    closed: int
    pairs: int


def worklists_refresh(*, actor, detect_pairs: bool = True) -> RefreshOutcome:
    """The pass over the whole base on demand (the CIV's button, the command): state queues, then the pair sweep here."""
    synced = worklists_sync(actor=actor)
    pairs = sweep_run_inline(actor=actor).new if detect_pairs else 0
    return RefreshOutcome(opened=synced.opened, closed=synced.closed, pairs=pairs)
