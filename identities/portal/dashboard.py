"""The indicators of the identity-vigilance dashboard, for a period and an establishment, against the previous period.

Stocks (identities by status, attribute, channel; the qualification rate on any day) are sums of
the daily identity counts (``IdentityTally``, kept by a database trigger); INSi exchanges (outcomes
and response-time percentiles) and creations are sums of the daily flow counts (``FlowTally``,
``DurationTally``, kept by triggers too): a period reads rows per day, whatever the size of the
base. Duplicates, merges, collisions and worklist items are counted over the two periods from the
timestamp indexes of their own tables.
Nothing here carries a name or a matricule: only counts, rates and durations.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Case, Count, DateField, F, Min, Q, Sum, When
from django.db.models.functions import Cast, Coalesce, Trunc
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from identities.core.models import Attribute, Channel, Status, WorklistItem
from identities.core.worklists import AGE_BANDS, QueueSize
from identities.merge.models import Collision, Merge
from identities.portal.models import DurationTally, FlowTally, IdentityMonthTally, IdentityTally
from insi import protocol, verification

_SEARCHES = (protocol.SEARCH_TRAITS, protocol.SEARCH_VITALE)
# A period of up to this many days is drawn day by day; a longer one month by month.
DAILY_UP_TO_DAYS = 62


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- Period and filters ---

@dataclass(frozen=True)
class Period:
    """From ``start`` to ``end``, both days included (local dates)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before."""
        end = self.start - timedelta(days=1)
        return Period(end - timedelta(days=self.days - 1), end)

    def bounds(self) -> tuple[datetime, datetime]:
        """The aware instants [start 00:00, day after end 00:00) in the portal's time zone."""
        tz = timezone.get_current_timezone()
        return (timezone.make_aware(datetime.combine(self.start, time()), tz),
                timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time()), tz))


def current_month(today: date | None = None) -> Period:
    today = today or timezone.localdate()
    return Period(today.replace(day=1), today)


# --- Figures ---

@dataclass(frozen=True)
class Compared:
    """One indicator over the period and over the previous one."""

    current: float | int | None
    previous: float | int | None

    @property
    def change(self) -> float | int | None:
        if self.current is None or self.previous is None:
            return None
        change = self.current - self.previous
        return round(change, 1) if isinstance(change, float) else change


@dataclass(frozen=True)
class Row:
    """A line of a table: its code (stable, for tests and CSV), its label and its compared values."""

    code: str
    label: str
    values: tuple[Compared, ...]


@dataclass(frozen=True)
class Point:
    day: date
    active: int
    qualified: int

    @property
    def rate(self) -> float | None:
        return _percent(self.qualified, self.active)


@dataclass
class Figures:
    period: Period
    previous: Period
    establishment_id: int | None
    kpis: dict[str, Compared] = field(default_factory=dict)
    by_status: list[Row] = field(default_factory=list)
    by_attribute: list[Row] = field(default_factory=list)
    by_channel: list[Row] = field(default_factory=list)
    creations: list[Row] = field(default_factory=list)
    insi: list[Row] = field(default_factory=list)
    insi_times: list[Row] = field(default_factory=list)
    duplicates: list[Row] = field(default_factory=list)
    collisions: list[Row] = field(default_factory=list)
    backlog: list[Row] = field(default_factory=list)
    queues: list[QueueSize] = field(default_factory=list)
    series: list[Point] = field(default_factory=list)
    monthly_series: bool = False


def _compared_rows(choices, current: Counter, previous: Counter, *, total_current: int, total_previous: int) -> list[Row]:
    return [
        Row(code, str(label), (Compared(current[code], previous[code]),
                               Compared(_percent(current[code], total_current), _percent(previous[code], total_previous))))
        for code, label in choices
    ]


# --- Stocks: the daily identity counts ---

def _tally(model, establishment_id: int | None):
    rows = model.objects.all()
    return rows if establishment_id is None else rows.filter(establishment_id=establishment_id)


def _whole_months(period: Period) -> tuple[list[date], Q]:
    """The first days of the period's whole months, and a Q for its other days."""
    months, days = [], Q(pk__in=[])
    first = period.start
    while first <= period.end:
        month = first.replace(day=1)
        month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        last = min(month_end, period.end)
        if first == month and last == month_end:
            months.append(month)
        else:
            days |= Q(day__gte=first, day__lte=last)
        first = month_end + timedelta(days=1)
    return months, days


def _stocks(figures: Figures) -> None:
    """One pass over the identity counts: identities by status, attribute and channel at the end of both periods,
    creations in both, active and qualified identities at each point of the curve.

    The months before the period's first month (and, drawn month by month, its whole months) are read from the
    monthly counts, the other days from the daily ones: rows per month of history, not per day."""
    period, previous, establishment_id = figures.period, figures.previous, figures.establishment_id
    monthly = period.days > DAILY_UP_TO_DAYS
    first_month = period.start.replace(day=1)
    months, days = _whole_months(period) if monthly else ([], _days(period))
    sources = (
        (_tally(IdentityMonthTally, establishment_id).filter(Q(day__lt=first_month) | Q(day__in=months)), F("day")),
        (_tally(IdentityTally, establishment_id).filter(day__gte=first_month, day__lte=period.end).filter(Q(day__lt=period.start) | days),
         Cast(Trunc("day", "month"), DateField()) if monthly else F("day")),
    )
    groups = [
        group for rows, bucket in sources for group in rows
        # Everything before the period is one bucket (None): the stock it starts from.
        .annotate(bucket=Case(When(day__lt=period.start, then=None), default=bucket, output_field=DateField()))
        .values("bucket", "status", "channel", "nia", "doubtful", "fictitious", "homonym").order_by()
        .annotate(change=Sum("active"), created_now=Coalesce(Sum("created", filter=Q(day__gte=period.start)), 0))
    ]
    previous_months, previous_days = _whole_months(previous)
    created_before = sum(
        rows.aggregate(created=Coalesce(Sum("created"), 0))["created"] for rows in (
            _tally(IdentityMonthTally, establishment_id).filter(day__in=previous_months),
            _tally(IdentityTally, establishment_id).filter(previous_days))
    )
    status, status_before, channel, channel_before = Counter(), Counter(), Counter(), Counter()
    attribute, attribute_before, nia, created = Counter(), Counter(), Counter(), Counter()
    curve = Counter()  # per bucket: (active, qualified) changes
    for group in groups:
        targets = [(status, channel, attribute, "now")] + ([(status_before, channel_before, attribute_before, "before")]
                                                           if group["bucket"] is None else [])
        for by_status, by_channel, by_attribute, when in targets:
            by_status[group["status"]] += group["change"]
            by_channel[group["channel"]] += group["change"]
            for code, flag in ((Attribute.DOUT, "doubtful"), (Attribute.FICT, "fictitious"), (Attribute.HOMA, "homonym")):
                if group[flag]:
                    by_attribute[code] += group["change"]
            if group["nia"]:
                nia[when] += group["change"]
        curve[(group["bucket"], "active")] += group["change"]
        if group["status"] == Status.QUAL:
            curve[(group["bucket"], "qualified")] += group["change"]
        created["now"] += group["created_now"]
    active, active_before = sum(status.values()), sum(status_before.values())
    with_ins = status[Status.RECUP] + status[Status.QUAL]
    with_ins_before = status_before[Status.RECUP] + status_before[Status.QUAL]
    figures.by_status = _compared_rows(Status.choices, status, status_before, total_current=active, total_previous=active_before)
    figures.by_attribute = _compared_rows(Attribute.choices, attribute, attribute_before,
                                          total_current=active, total_previous=active_before)
    figures.by_channel = _compared_rows(Channel.choices, channel, channel_before, total_current=active, total_previous=active_before)
    figures.kpis |= {
        "active": Compared(active, active_before),
        "qualification_rate": Compared(_percent(status[Status.QUAL], active), _percent(status_before[Status.QUAL], active_before)),
        # NIA among the identities that hold a matricule (the database allows one on RECUP and QUAL only).
        "nia_share": Compared(_percent(nia["now"], with_ins), _percent(nia["before"], with_ins_before)),
        "created": Compared(created["now"], created_before),
    }
    running_active, running_qualified = curve[(None, "active")], curve[(None, "qualified")]
    figures.series = []
    for day in _point_days(period, monthly):
        key = day.replace(day=1) if monthly else day
        running_active += curve[(key, "active")]
        running_qualified += curve[(key, "qualified")]
        figures.series.append(Point(day, running_active, running_qualified))
    figures.monthly_series = monthly


def _point_days(period: Period, monthly: bool) -> list[date]:
    """The days the curve is drawn at: each day, or the end of each month (the period's end for the last)."""
    if not monthly:
        return [period.start + timedelta(days=offset) for offset in range(period.days)]
    days, month = [], period.start.replace(day=1)
    while month <= period.end:
        following = (month + timedelta(days=32)).replace(day=1)
        days.append(min(following - timedelta(days=1), period.end))
        month = following
    return days


# --- Flows: the tables of what happened ---

class _Within:
    """Q objects for a timestamp in the period or in the previous one."""

    def __init__(self, figures: Figures):
        self.low, self.high = figures.period.bounds()
        self.previous_low, self.previous_high = figures.previous.bounds()

    def both(self, column: str) -> Q:
        return Q(**{f"{column}__gte": self.previous_low, f"{column}__lt": self.high})

    def now(self, column: str) -> Q:
        return Q(**{f"{column}__gte": self.low, f"{column}__lt": self.high})

    def before(self, column: str) -> Q:
        return Q(**{f"{column}__gte": self.previous_low, f"{column}__lt": self.previous_high})


def _of_establishment(queryset, figures: Figures, path: str):
    if figures.establishment_id is None:
        return queryset
    return queryset.filter(**{f"{path}__establishment_id": figures.establishment_id})


def _compare(within: _Within, column: str, conditions: dict[str, Q]) -> dict:
    """Count() FILTER per condition, in the period (``code``) and the previous one (``code__before``)."""
    aggregates = {}
    for code, condition in conditions.items():
        aggregates[code] = Count("pk", filter=condition & within.now(column))
        aggregates[f"{code}__before"] = Count("pk", filter=condition & within.before(column))
    return aggregates


def _rows(counts: dict, labels: list[tuple[str, str]]) -> list[Row]:
    return [Row(code, str(label), (Compared(counts[code], counts[f"{code}__before"]),)) for code, label in labels]


def _days(period: Period) -> Q:
    return Q(day__gte=period.start, day__lte=period.end)


def _tally_rows(figures: Figures):
    rows = FlowTally.objects.all()
    return rows if figures.establishment_id is None else rows.filter(establishment_id=figures.establishment_id)


def _flows(figures: Figures, conditions: dict[str, Q]) -> dict:
    """Sums of the daily flow counts per condition, in the period (``code``) and the previous one (``code__before``)."""
    now, before = _days(figures.period), _days(figures.previous)
    rows = _tally_rows(figures).filter(day__gte=figures.previous.start, day__lte=figures.period.end)
    aggregates = {}
    for code, condition in conditions.items():
        aggregates[code] = Coalesce(Sum("count", filter=condition & now), 0)
        aggregates[f"{code}__before"] = Coalesce(Sum("count", filter=condition & before), 0)
    return rows.aggregate(**aggregates)


def _creations(figures: Figures) -> None:
    """Creations recorded by the creation service (with their anteriority search): with hits reviewed, without any."""
    created = Q(flow=FlowTally.CREATED)
    counts = _flows(figures, {"reviewed": created & Q(outcome=FlowTally.REVIEWED),
                              "unreviewed": created & Q(outcome=FlowTally.UNREVIEWED)})
    for when in ("", "__before"):
        counts[f"searched{when}"] = counts[f"reviewed{when}"] + counts[f"unreviewed{when}"]
    figures.creations = _rows(counts, [
        ("searched", _("Créations après recherche d'antériorité")),
        ("reviewed", _("… avec des identités proches examinées et écartées")),
        ("unreviewed", _("… sans aucune identité proche à examiner")),
    ])
    figures.kpis["unreviewed_share"] = Compared(_percent(counts["unreviewed"], counts["searched"]),
                                                _percent(counts["unreviewed__before"], counts["searched__before"]))


def _spans(period: Period) -> Q:
    """The response-time histogram rows that make up the period: its whole months' rows, its other days' rows."""
    months, days = _whole_months(period)
    return Q(monthly=True, day__in=months) | (Q(monthly=False) & days)


def _nearest_rank(histogram: list[tuple[int, int]], fraction: float) -> int | None:
    """The percentile of a histogram (duration, count) sorted by duration, nearest rank: a duration that was measured."""
    rank = max(math.ceil(fraction * sum(count for _duration, count in histogram)), 1)
    seen = 0
    for duration, count in histogram:
        seen += count
        if seen >= rank:
            return duration
    return None


def _durations(figures: Figures) -> dict:
    """Median and 95th percentile of both periods, from the histograms of the INSi response times."""
    now, before = _spans(figures.period), _spans(figures.previous)
    rows = DurationTally.objects.filter(now | before)
    if figures.establishment_id is not None:
        rows = rows.filter(establishment_id=figures.establishment_id)
    histogram = list(rows.values("duration_ms").order_by("duration_ms").annotate(
        now=Coalesce(Sum("count", filter=now), 0), before=Coalesce(Sum("count", filter=before), 0)))
    result = {}
    for suffix, key in (("", "now"), ("__before", "before")):
        counts = [(row["duration_ms"], row[key]) for row in histogram if row[key]]
        for name, fraction in (("p50", 0.5), ("p95", 0.95)):
            result[f"{name}{suffix}"] = _nearest_rank(counts, fraction)
    return result


def _insi(figures: Figures) -> None:
    """INSi exchanges (one row per attempt) by outcome; verification KO rate; response times."""
    search, verify = Q(flow__in=_SEARCHES), Q(flow=verification.OPERATION)
    conditions = {
        "found": search & Q(outcome=protocol.CR_FOUND),
        "not_found": search & Q(outcome=protocol.CR_NOT_FOUND),
        "several": search & Q(outcome=protocol.CR_SEVERAL),
        "search_fault": search & ~Q(outcome__in=[protocol.CR_FOUND, protocol.CR_NOT_FOUND, protocol.CR_SEVERAL]),
        "verified_ok": verify & Q(outcome="OK"),
        "verified_ko": verify & Q(outcome="KO"),
        "verify_fault": verify & ~Q(outcome__in=["OK", "KO"]),
    }
    counts = _flows(figures, conditions)
    figures.insi = _rows(counts, [
        ("found", _("Recherche : une identité trouvée")),
        ("not_found", _("Recherche : aucune identité trouvée")),
        ("several", _("Recherche : plusieurs identités trouvées")),
        ("search_fault", _("Recherche : erreur ou service indisponible")),
        ("verified_ok", _("Vérification : INS confirmé (OK)")),
        ("verified_ko", _("Vérification : INS non confirmé (KO)")),
        ("verify_fault", _("Vérification : erreur ou service indisponible")),
    ])
    times = _durations(figures)
    figures.insi_times = [
        Row("p50", str(_("Temps de réponse médian (ms)")), (Compared(times["p50"], times["p50__before"]),)),
        Row("p95", str(_("Temps de réponse, 95e centile (ms)")), (Compared(times["p95"], times["p95__before"]),)),
    ]

    def ko_rate(suffix: str) -> float | None:
        return _percent(counts[f"verified_ko{suffix}"], counts[f"verified_ok{suffix}"] + counts[f"verified_ko{suffix}"])

    figures.kpis["verification_ko_rate"] = Compared(ko_rate(""), ko_rate("__before"))


def _duplicates(figures: Figures, within: _Within) -> None:
    """Potential duplicates found, confirmed and dismissed; merges and unmerges done."""
    duplicate = WorklistItem.Kind.DUPLICATE
    pairs = _flows(figures, {
        "found": Q(flow=f"opened:{duplicate}"),
        "confirmed": Q(flow=f"decided:{duplicate}", outcome=WorklistItem.Decision.CONFIRMED),
        "dismissed": Q(flow=f"decided:{duplicate}", outcome=WorklistItem.Decision.DISMISSED),
    })
    merges = _of_establishment(Merge.objects.filter(merged_at__isnull=False).filter(within.both("merged_at")), figures, "survivor")
    merged = merges.aggregate(**_compare(within, "merged_at", {"merged": Q()}))
    unmerges = _of_establishment(Merge.objects.filter(within.both("unmerged_at")), figures, "survivor")
    unmerged = unmerges.aggregate(**_compare(within, "unmerged_at", {"unmerged": Q()}))
    figures.duplicates = _rows(pairs | merged | unmerged, [
        ("found", _("Doublons potentiels détectés")),
        ("confirmed", _("Doublons avérés (confirmés)")),
        ("dismissed", _("Doublons écartés (deux personnes)")),
        ("merged", _("Fusions réalisées")),
        ("unmerged", _("Défusions")),
    ])


def _collisions(figures: Figures, within: _Within) -> None:
    flagged = _of_establishment(Collision.objects.filter(within.both("flagged_at")), figures, "identity").aggregate(
        **_compare(within, "flagged_at", {"flagged": Q(), "detected": Q(automatic=True)}))
    decided = _of_establishment(Collision.objects.filter(within.both("decided_at")), figures, "identity").aggregate(
        **_compare(within, "decided_at", {"dismissed": Q(state=Collision.State.DISMISSED), "split": Q(state=Collision.State.SPLIT)}))
    figures.collisions = _rows(flagged | decided, [
        ("flagged", _("Collisions signalées")),
        ("detected", _("… dont détectées automatiquement")),
        ("dismissed", _("Collisions écartées (une seule personne)")),
        ("split", _("Collisions séparées (deuxième identité créée)")),
    ])


def _backlog(figures: Figures, now: datetime) -> None:
    """Open items per worklist at the end of both periods, and the ages of those open now.

    Open at the end of a day = opened up to that day and not decided by then: from the daily counts
    (``opened:<kind>`` minus ``decided:<kind>``). The ages come from the items open now counted by
    their day of opening (``open:<kind>``); only the items opened on the day an age band starts, and
    on the oldest day, are read from the queue index (state, kind, opened_at), to place them exactly."""
    end, previous_end = figures.period.end, figures.previous.end
    kinds = WorklistItem.Kind.values
    ends = _tally_rows(figures).filter(day__lte=end, flow__in=[f"{prefix}:{kind}" for prefix in ("opened", "decided") for kind in kinds])
    at = Counter()
    for row in ends.values("flow").order_by().annotate(at_end=Sum("count"), at_previous_end=Sum("count", filter=Q(day__lte=previous_end))):
        prefix, kind = row["flow"].split(":", 1)
        sign = 1 if prefix == "opened" else -1
        at[(kind, "end")] += sign * row["at_end"]
        at[(kind, "previous_end")] += sign * (row["at_previous_end"] or 0)
    figures.backlog = [Row(kind, str(label), (Compared(at[(kind, "end")], at[(kind, "previous_end")]),))
                       for kind, label in WorklistItem.Kind.choices]
    figures.queues = _queues(figures, now)
    figures.kpis["backlog"] = Compared(sum(row.values[0].current for row in figures.backlog),
                                       sum(row.values[0].previous for row in figures.backlog))


def _queues(figures: Figures, now: datetime) -> list[QueueSize]:
    """The items open now per worklist by age band (the worklists page's bands, exactly), and the oldest."""
    cuts = {band: now - timedelta(days=AGE_BANDS[band][2]) for band in ("semaine", "mois")}  # opened since then: younger
    cut_days = {band: timezone.localdate(cut) for band, cut in cuts.items()}
    by_day: dict[str, list[tuple[date, int]]] = {}
    for row in (_tally_rows(figures).filter(flow__in=[f"open:{kind}" for kind in WorklistItem.Kind.values]).values("flow", "day").order_by("day")
                .annotate(open=Sum("count")).filter(open__gt=0)):
        by_day.setdefault(row["flow"].split(":", 1)[1], []).append((row["day"], row["open"]))
    # The items opened on the day a band starts, read from the queue index to place them to the minute.
    open_items = _of_establishment(WorklistItem.objects.filter(state=WorklistItem.State.OPEN), figures, "identity")
    on_cut_days = Q(pk__in=[])
    for day in cut_days.values():
        low, high = Period(day, day).bounds()
        on_cut_days |= Q(opened_at__gte=low, opened_at__lt=high)
    exact = {row["kind"]: row for row in open_items.filter(kind__in=list(by_day)).filter(on_cut_days).values("kind").order_by()
             .annotate(**{band: Count("pk", filter=Q(opened_at__gte=cut, opened_at__lt=Period(cut_days[band], cut_days[band]).bounds()[1]))
                          for band, cut in cuts.items()})}
    for kind, days in by_day.items():  # the oldest: the first item of the oldest day, from the same index
        low, high = Period(days[0][0], days[0][0]).bounds()
        exact.setdefault(kind, {})["oldest"] = (open_items.filter(kind=kind, opened_at__gte=low, opened_at__lt=high)
                                                .order_by("opened_at").values_list("opened_at", flat=True).first())
    queues = []
    for kind, label in WorklistItem.Kind.choices:
        days, read = by_day.get(kind, []), exact.get(kind, {})
        younger = {band: sum(count for day, count in days if day > cut_days[band]) + read.get(band, 0) for band in cuts}
        total = sum(count for _day, count in days)
        queues.append(QueueSize(kind=kind, label=str(label), open=total, under_a_week=younger["semaine"],
                                week_to_month=younger["mois"] - younger["semaine"], over_a_month=total - younger["mois"],
                                oldest=read.get("oldest")))
    return queues


def dashboard_figures(*, period: Period | None = None, establishment_id: int | None = None, now: datetime | None = None) -> Figures:
    """Every figure of the dashboard for the period (default: this month so far) and one establishment (default: all)."""
    now = now or timezone.now()
    period = period or current_month(timezone.localdate(now))
    figures = Figures(period=period, previous=period.previous(), establishment_id=establishment_id)
    within = _Within(figures)
    _stocks(figures)
    _creations(figures)
    _insi(figures)
    _duplicates(figures, within)
    _collisions(figures, within)
    _backlog(figures, now)
    return figures
