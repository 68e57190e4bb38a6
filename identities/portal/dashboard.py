"""The indicators of the dashboard: aggregate queries over identities, status events and worklists."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from identities.core import matricule
from identities.core.models import Attribute, Channel, Identity, IdentityEvent, Status
from identities.core.worklists import QueueSize, worklist_queue_sizes

_NIA_OIDS = [oid for oid, info in matricule.OIDS.items() if info.nature == matricule.Nature.NIA]
_ATTRIBUTE_FIELDS = {Attribute.DOUT: "doubtful", Attribute.FICT: "fictitious", Attribute.HOMA: "homonym"}


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class Share:
    code: str
    label: str
    count: int
    percent: float | None


@dataclass(frozen=True)
class MonthPoint:
    month: date
    active: int
    qualified: int

    @property
    def rate(self) -> float | None:
        return _percent(self.qualified, self.active)


@dataclass(frozen=True)
class VigilanceMonth:
    """Merges, unmerges and collisions flagged in one month (counted from the audit trail)."""

    month: date
    merges: int
    unmerges: int
    collisions: int


@dataclass(frozen=True)
class Figures:
    active: int
    by_status: list[Share]
    by_attribute: list[Share]
    by_channel: list[Share]
    with_ins: int
    nia: int
    monthly: list[MonthPoint]
    queues: list[QueueSize]
    vigilance: list[VigilanceMonth]

    @property
    def qualified(self) -> int:
        return next(share.count for share in self.by_status if share.code == Status.QUAL)

    @property
    def qualification_rate(self) -> float | None:
        """QUAL among all active identities."""
        return _percent(self.qualified, self.active)

    @property
    def nia_share(self) -> float | None:
        """NIA among the identities that hold a matricule INS (RECUP and QUAL)."""
        return _percent(self.nia, self.with_ins)


def _month_starts(now: datetime, months: int) -> list[date]:
    local = timezone.localtime(now)
    year, month = local.year, local.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _monthly(active_now: int, qualified_now: int, *, now: datetime, months: int) -> list[MonthPoint]:
    """The qualification rate at the end of each month, walked back from today's figures.

    At the end of month M: the identities created by then, and among them those QUAL today,
    corrected by the moves in and out of QUAL that the audit trail records after M. Only the
    months of the window are read, so the cost does not grow with the age of the base.
    Identities loaded without audit events (bulk imports, generated test data) count as
    qualified since their creation; identities deactivated since (merges) are not added back.
    """
    starts = _month_starts(now, months)
    tz = timezone.get_current_timezone()
    bounds = [timezone.make_aware(datetime(start.year, start.month, 1), tz) for start in starts]
    window_start = bounds[0]

    def month_of(value: datetime) -> date:
        return timezone.localtime(value, tz).date()

    # One pass over the window, read from the index on (created_at, status, is_active) alone: a
    # range per month (no time-zone arithmetic per row) and created_at counted, not id.
    in_month = {
        start: Q(created_at__gte=low) & (Q(created_at__lt=high) if high else Q())
        for start, low, high in zip(starts, bounds, [*bounds[1:], None])
    }
    counts = Identity.objects.filter(is_active=True, created_at__gte=window_start).aggregate(
        **{f"n{index}": Count("created_at", filter=in_month[start]) for index, start in enumerate(starts)},
        **{f"q{index}": Count("created_at", filter=in_month[start] & Q(status=Status.QUAL)) for index, start in enumerate(starts)},
    )
    created = {start: counts[f"n{index}"] for index, start in enumerate(starts)}
    qualified_created = {start: counts[f"q{index}"] for index, start in enumerate(starts)}
    moves = [
        (month_of(row["month"]), month_of(row["created"]), row["gained"] - row["lost"])
        for row in IdentityEvent.objects.filter(kind=IdentityEvent.Kind.STATUS_CHANGED, at__gte=window_start)
        .filter(Q(to_status=Status.QUAL) | Q(from_status=Status.QUAL)).exclude(to_status=F("from_status"))
        .annotate(month=TruncMonth("at", tzinfo=tz), created=TruncMonth("identity__created_at", tzinfo=tz))
        .values("month", "created")
        .annotate(gained=Count("id", filter=Q(to_status=Status.QUAL)), lost=Count("id", filter=Q(from_status=Status.QUAL)))
    ]
    points = []
    for month in starts:
        later = [start for start in starts if start > month]
        active = active_now - sum(created.get(start, 0) for start in later)
        qualified = qualified_now - sum(qualified_created.get(start, 0) for start in later)
        qualified -= sum(net for moved, born, net in moves if moved > month and born <= month)
        points.append(MonthPoint(month=month, active=active, qualified=qualified))
    return points


def _vigilance(*, now: datetime, months: int) -> list[VigilanceMonth]:
    """Per month: merges and unmerges (their survivor's event, one per operation) and collisions
    (one event per record flagged), read through the index on the events' date."""
    starts = _month_starts(now, months)
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime(starts[0].year, starts[0].month, 1), tz)
    merged = Q(kind=IdentityEvent.Kind.MERGED, details__role="survivor")
    unmerged = Q(kind=IdentityEvent.Kind.UNMERGED, details__role="survivor")
    collided = Q(kind=IdentityEvent.Kind.COLLISION)
    rows = {
        timezone.localtime(row["month"], tz).date(): row
        for row in IdentityEvent.objects.filter(at__gte=since).filter(merged | unmerged | collided)
        .annotate(month=TruncMonth("at", tzinfo=tz)).values("month")
        .annotate(merges=Count("id", filter=merged), unmerges=Count("id", filter=unmerged), collisions=Count("id", filter=collided))
        .order_by()
    }
    empty = {"merges": 0, "unmerges": 0, "collisions": 0}
    return [VigilanceMonth(month=start, **{key: rows.get(start, empty)[key] for key in empty}) for start in starts]


def dashboard_figures(*, months: int = 12, now: datetime | None = None) -> Figures:
    """Every figure of the dashboard, from aggregate queries that read indexes rather than the table."""
    now = now or timezone.now()
    active = Identity.objects.filter(is_active=True)
    statuses, channels = Counter(), Counter()
    # Index-only on (status, channel, is_active): a fraction of the table's size.
    for row in active.values("status", "channel").annotate(n=Count("status")).order_by():
        statuses[row["status"]] += row["n"]
        channels[row["channel"]] += row["n"]
    # The partial indexes of the attributes hold only the flagged identities.
    flagged = active.filter(Q(doubtful=True) | Q(fictitious=True) | Q(homonym=True)).aggregate(
        **{code: Count("id", filter=Q(**{field: True})) for code, field in _ATTRIBUTE_FIELDS.items()}
    )
    total = sum(statuses.values())

    def shares(counts, choices) -> list[Share]:
        return [Share(code, str(label), counts[code], _percent(counts[code], total)) for code, label in choices]

    return Figures(
        active=total,
        by_status=shares(statuses, Status.choices),
        by_attribute=shares(flagged, Attribute.choices),
        by_channel=shares(channels, Channel.choices),
        # The database allows a matricule on RECUP and QUAL identities only (identity_ins_only_when_from_insi).
        with_ins=statuses[Status.RECUP] + statuses[Status.QUAL],
        nia=active.filter(ins_oid__in=_NIA_OIDS).count(),
        monthly=_monthly(total, statuses[Status.QUAL], now=now, months=months),
        queues=worklist_queue_sizes(now=now),
        vigilance=_vigilance(now=now, months=months),
    )
