"""The dashboard's figures on a base whose counts are known, per establishment and against the previous period;
its exports (a real PDF, CSV tables) without personal data; who may read it."""
import csv
import io
from datetime import date

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from django.db.models import Q

from identities.core import establishments, worklists
from identities.core.models import Establishment, Identity, IdentityEvent, Status, WorklistItem
from identities.portal import dashboard, dashboard_report
from identities.portal.models import DurationTally, FlowTally, IdentityTally
from identities.portal.tally import tally_compact
from insi import protocol
from insi.models import Exchange
from tests.identities.portal.client import logged_in
from tests.identities.portal.dashboard_base import MATRICULES, NAMES, PERIOD, at, known_base, north, north_desk  # noqa: F401

pytestmark = pytest.mark.usefixtures("birthplaces")


def _values(rows):
    return {row.code: (row.values[0].current, row.values[0].previous) for row in rows}


def test_identities_belong_to_their_creators_establishment(known_base, north):
    default = establishments.default_establishment()
    assert {key: identity.establishment_id for key, identity in known_base.items()} == {
        "a": default.pk, "b": default.pk, "c": default.pk, "d": default.pk, "e": default.pk, "f": north.pk, "g": north.pk,
    }


def test_the_stocks_at_the_end_of_the_period_and_of_the_previous_one(known_base):
    figures = dashboard.dashboard_figures(period=PERIOD)
    assert figures.previous == dashboard.Period(date(2026, 8, 31), date(2026, 9, 30))
    assert figures.kpis["active"] == dashboard.Compared(5, 3)
    assert _values(figures.by_status) == {"PROV": (2, 2), "RECUP": (0, 0), "VALI": (1, 0), "QUAL": (2, 1)}
    assert figures.kpis["qualification_rate"] == dashboard.Compared(40.0, 33.3)
    assert figures.kpis["qualification_rate"].change == 6.7
    assert figures.kpis["nia_share"] == dashboard.Compared(50.0, 0.0)
    assert _values(figures.by_attribute) == {"DOUT": (1, 0), "FICT": (0, 0), "HOMA": (0, 0)}
    assert _values(figures.by_channel)["CV"] == (1, 0)
    assert figures.kpis["created"] == dashboard.Compared(3, 3)


def test_the_establishment_filter(known_base, north):
    default = establishments.default_establishment()
    of_default = dashboard.dashboard_figures(period=PERIOD, establishment_id=default.pk)
    assert (of_default.kpis["active"], of_default.kpis["qualification_rate"]) == (
        dashboard.Compared(3, 2), dashboard.Compared(66.7, 50.0))
    assert of_default.kpis["created"] == dashboard.Compared(2, 2)
    of_north = dashboard.dashboard_figures(period=PERIOD, establishment_id=north.pk)
    assert _values(of_north.by_status) == {"PROV": (1, 1), "RECUP": (0, 0), "VALI": (1, 0), "QUAL": (0, 0)}
    assert of_north.kpis["qualification_rate"] == dashboard.Compared(0.0, 0.0)
    assert _values(of_north.insi)["verified_ko"] == (1, 0)
    assert _values(of_north.insi)["search_fault"] == (0, 0)  # the call made before any identity belongs to none
    assert of_north.kpis["verification_ko_rate"] == dashboard.Compared(100.0, None)
    assert _values(of_north.duplicates) == {"found": (0, 0), "confirmed": (0, 0), "dismissed": (0, 0), "merged": (0, 1), "unmerged": (0, 0)}
    assert _values(of_north.backlog)["PROV"] == (0, 1)


def test_the_qualification_rate_day_by_day(known_base):
    points = {point.day: (point.active, point.qualified, point.rate) for point in dashboard.dashboard_figures(period=PERIOD).series}
    assert len(points) == 31
    assert points[date(2026, 10, 1)] == (3, 1, 33.3)
    assert points[date(2026, 10, 11)] == (5, 1, 20.0)
    assert points[date(2026, 10, 12)] == (5, 2, 40.0)
    assert points[date(2026, 10, 31)] == (5, 2, 40.0)


def test_a_long_period_is_drawn_month_by_month(known_base):
    figures = dashboard.dashboard_figures(period=dashboard.Period(date(2026, 8, 15), date(2026, 11, 30)))
    assert figures.monthly_series
    assert [(point.day, point.active, point.qualified) for point in figures.series] == [
        (date(2026, 8, 31), 0, 0), (date(2026, 9, 30), 3, 1), (date(2026, 10, 31), 5, 2), (date(2026, 11, 30), 6, 2),
    ]


def test_creations_and_the_anteriority_hits_reviewed(known_base):
    figures = dashboard.dashboard_figures(period=PERIOD)
    assert _values(figures.creations) == {"searched": (3, 3), "reviewed": (1, 0), "unreviewed": (2, 3)}
    assert figures.kpis["unreviewed_share"] == dashboard.Compared(66.7, 100.0)


def test_insi_outcomes_ko_rate_and_response_times(known_base):
    figures = dashboard.dashboard_figures(period=PERIOD)
    assert _values(figures.insi) == {
        "found": (1, 1), "not_found": (1, 0), "several": (1, 0), "search_fault": (1, 0),
        "verified_ok": (1, 1), "verified_ko": (1, 0), "verify_fault": (0, 0),
    }
    assert figures.kpis["verification_ko_rate"] == dashboard.Compared(50.0, 0.0)
    assert _values(figures.insi_times) == {"p50": (300, 50), "p95": (1000, 150)}


def test_duplicates_merges_and_collisions(known_base):
    figures = dashboard.dashboard_figures(period=PERIOD)
    assert _values(figures.duplicates) == {"found": (2, 0), "confirmed": (1, 0), "dismissed": (1, 0), "merged": (1, 1), "unmerged": (0, 0)}
    assert _values(figures.collisions) == {"flagged": (1, 0), "detected": (1, 0), "dismissed": (1, 0), "split": (0, 0)}


def test_worklist_backlogs_and_ages(known_base):
    figures = dashboard.dashboard_figures(period=PERIOD, now=at(1, 12))
    assert _values(figures.backlog)["PROV"] == (1, 1)
    assert _values(figures.backlog)["DPOT"] == (0, 0)
    assert figures.kpis["backlog"] == dashboard.Compared(1, 1)
    provisional = next(queue for queue in figures.queues if queue.kind == "PROV")
    assert (provisional.open, provisional.under_a_week, provisional.week_to_month, provisional.over_a_month) == (1, 0, 0, 1)


def test_the_counts_stay_exact_through_bulk_updates_and_the_folding(known_base):
    def direct():
        return {status: Identity.objects.filter(is_active=True, status=status).count() for status in Status.values}

    Identity.objects.filter(status=Status.PROV).update(doubtful=False)  # a raw bulk write, no service
    Identity.objects.filter(pk=known_base["e"].pk).update(is_active=False)
    today = timezone.localdate()
    before = IdentityTally.objects.count()
    tally_compact()
    assert IdentityTally.objects.count() < before
    figures = dashboard.dashboard_figures(period=dashboard.Period(today, today))
    assert {row.code: row.values[0].current for row in figures.by_status} == direct()
    assert _values(figures.by_attribute)["DOUT"][0] == 0
    # A long period: its whole months from the monthly counts (kept through the folding's delete and insert).
    since_january = dashboard.dashboard_figures(period=dashboard.Period(date(2026, 1, 1), today))
    assert since_january.monthly_series
    assert {row.code: row.values[0].current for row in since_january.by_status} == direct()
    assert since_january.series[-1].active == sum(direct().values())
    assert since_january.kpis["created"].current == Identity.objects.filter(created_at__year=2026).count()


def test_the_flow_counts_stay_exact_through_bulk_writes_and_the_folding(known_base, north):
    """INSi outcomes, response times and creations come from counts kept by triggers: raw bulk updates, moves in time
    and deletions show at once, whole months (month rows) and parts of months (day rows) alike, and the folding
    changes nothing."""
    Exchange.objects.filter(return_code="KO").update(return_code="OK", duration_ms=700)  # Site Nord's, on 09/10
    Exchange.objects.filter(return_code="insi_102").update(started_at=at(5, 11))  # the fault moves to November
    Exchange.objects.filter(return_code=protocol.CR_SEVERAL).delete()
    IdentityEvent.objects.filter(identity=known_base["c"], kind=IdentityEvent.Kind.CREATED).update(details={"anteriority_hits": 2})
    Identity.objects.filter(pk=known_base["f"].pk).update(establishment=establishments.default_establishment())

    def figures():
        october = dashboard.dashboard_figures(period=PERIOD)
        of_north = dashboard.dashboard_figures(period=PERIOD, establishment_id=north.pk)
        november = dashboard.dashboard_figures(period=dashboard.Period(date(2026, 11, 1), date(2026, 11, 30)))
        days = dashboard.dashboard_figures(period=dashboard.Period(date(2026, 10, 2), date(2026, 10, 9)))
        return (_values(october.insi), _values(october.insi_times), _values(october.creations), _values(of_north.insi)["verified_ok"],
                _values(of_north.insi_times), _values(november.insi)["search_fault"], _values(november.insi_times)["p50"],
                _values(days.insi_times))

    expected = (
        {"found": (1, 1), "not_found": (1, 0), "several": (0, 0), "search_fault": (0, 0),
         "verified_ok": (2, 1), "verified_ko": (0, 0), "verify_fault": (0, 0)},
        {"p50": (200, 50), "p95": (700, 150)},  # 100, 200, 300, 700 ms in October
        {"searched": (3, 3), "reviewed": (2, 0), "unreviewed": (1, 3)},
        (1, 0),  # an exchange stays with the establishment its identity had when it was made
        {"p50": (700, 150), "p95": (700, 150)},
        (1, 0), (1000, 200),  # November against 2–31 October
        {"p50": (200, None), "p95": (700, None)},  # 2–9 October: day rows only
    )
    assert figures() == expected
    rows = FlowTally.objects.count() + DurationTally.objects.count()
    tally_compact()
    assert FlowTally.objects.count() + DurationTally.objects.count() < rows
    assert figures() == expected


def test_the_worklist_counts_stay_exact_through_bulk_writes_and_the_folding(known_base, north, civ_member):
    """Backlogs at the end of both periods and the ages of the open items come from counts kept by a trigger; the items
    opened on the day an age band starts are placed to the minute, as on the worklists page."""
    now = at(1, 11, hour=12)  # the week began on 25/10 at noon, the month on 02/10 at noon
    for identity, moment in ((known_base["a"], at(25, hour=8)), (known_base["b"], at(25, hour=18)), (known_base["f"], at(2, hour=10)),
                             (known_base["g"], at(2, hour=14)), (known_base["c"], at(20, 9))):
        item = worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.DOUBTFUL, identity_id=identity.pk, reason="doute")
        WorklistItem.objects.filter(pk=item.pk).update(opened_at=moment)
    # Raw bulk writes: one closed in October, one in November (after the period), one moved in time.
    WorklistItem.objects.filter(kind=WorklistItem.Kind.DOUBTFUL, identity=known_base["c"]).update(
        state=WorklistItem.State.DONE, decision=WorklistItem.Decision.HANDLED, decided_at=at(30))
    WorklistItem.objects.filter(kind=WorklistItem.Kind.DOUBTFUL, identity=known_base["a"]).update(opened_at=at(24, hour=23))

    def direct(end, establishment=None):
        items = WorklistItem.objects.filter(opened_at__lt=end).filter(
            Q(state=WorklistItem.State.OPEN) | Q(state=WorklistItem.State.DONE, decided_at__gte=end))
        if establishment is not None:
            items = items.filter(identity__establishment=establishment)
        return {kind: items.filter(kind=kind).count() for kind in WorklistItem.Kind.values}

    def figures():
        all_of_them = dashboard.dashboard_figures(period=PERIOD, now=now)
        of_north = dashboard.dashboard_figures(period=PERIOD, establishment_id=north.pk, now=now)
        return _values(all_of_them.backlog), all_of_them.queues, _values(of_north.backlog)

    end, previous_end = PERIOD.bounds()[1], PERIOD.previous().bounds()[1]
    expected = (
        {kind: (direct(end)[kind], direct(previous_end)[kind]) for kind in WorklistItem.Kind.values},
        worklists.worklist_queue_sizes(now=now),
        {kind: (direct(end, north)[kind], direct(previous_end, north)[kind]) for kind in WorklistItem.Kind.values},
    )
    doubtful = next(queue for queue in expected[1] if queue.kind == WorklistItem.Kind.DOUBTFUL)
    assert (doubtful.open, doubtful.under_a_week, doubtful.week_to_month, doubtful.over_a_month) == (4, 1, 2, 1)
    assert expected[0]["DOUT"] == (4, 1)
    assert figures() == expected
    tally_compact()
    assert figures() == expected


# --- The screen, the exports, who may see them ---

def _query(**extra):
    return {"du": PERIOD.start.isoformat(), "au": PERIOD.end.isoformat(), **extra}


def test_the_manager_reads_the_filtered_dashboard_in_french(known_base, manager, north):
    response = logged_in(manager).get(reverse("admin:dashboard"), _query(etablissement=north.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Taux de qualification" in page and "période précédente" in page
    assert "Période du 01/10/2026 au 31/10/2026, comparée à la période précédente du 31/08/2026 au 30/09/2026." in page
    assert "<svg" in page and "<script" not in page.split("<div id=\"content-main\">")[1]
    for name in NAMES:
        assert name not in page


def test_a_wrong_period_is_said_and_nothing_breaks(manager):
    response = logged_in(manager).get(reverse("admin:dashboard"), {"du": "2026-10-31", "au": "2026-10-01"})
    assert response.status_code == 200
    assert "La fin de la période doit suivre son début." in response.content.decode()
    response = logged_in(manager).get(reverse("admin:dashboard"), {"du": "31 octobre", "etablissement": "999"})
    assert response.status_code == 200
    assert "Saisissez une date valide." in response.content.decode()


def test_the_pdf_export_holds_the_figures_and_no_personal_data(known_base, manager):
    response = logged_in(manager).get(reverse("admin:dashboard_pdf"), _query())
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    text = " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ").replace("\u202f", " ")
    assert "Tableau de bord de l'identitovigilance" in text
    assert "40,0 %" in text and "33,3 %" in text  # qualification rate, period and previous
    assert "66,7 %" in text  # creations without an anteriority hit to review
    assert "50,0 %" in text  # verification KO rate
    assert "1 000" in text  # INSi p95 (ms)
    for name in NAMES:
        assert name not in text
    for matricule in MATRICULES:
        assert matricule not in text and matricule not in response.content.decode("latin-1")


def test_each_table_exports_as_csv_without_personal_data(known_base, manager):
    client = logged_in(manager)
    for table in dashboard_report.tables(dashboard.dashboard_figures(period=PERIOD)):
        response = client.get(reverse("admin:dashboard_csv", args=[table.slug]), _query())
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        content = response.content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(content), delimiter=";"))
        assert rows[0] == table.columns
        for name in (*NAMES, *MATRICULES):
            assert name not in content
    rows = list(csv.reader(io.StringIO(client.get(reverse("admin:dashboard_csv", args=["statuts"]), _query())
                                       .content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Indicateur", "du 01/10/2026 au 31/10/2026", "du 31/08/2026 au 30/09/2026", "Évolution",
                       "Part (du 01/10/2026 au 31/10/2026)", "Part (du 31/08/2026 au 30/09/2026)"]
    assert rows[4] == ["Identité qualifiée", "2", "1", "1", "40,0", "33,3"]
    assert client.get(reverse("admin:dashboard_csv", args=["inconnu"])).status_code == 404


@pytest.mark.parametrize("persona", ["manager", "civ_member", "civ_referent", "administrator"])
def test_who_reads_the_dashboard_and_its_exports(request, persona):
    client = logged_in(request.getfixturevalue(persona))
    for url in (reverse("admin:dashboard"), reverse("admin:dashboard_pdf"), reverse("admin:dashboard_csv", args=["statuts"])):
        assert client.get(url).status_code == 200


def test_the_front_desk_has_neither_the_dashboard_nor_its_exports(front_desk):
    client = logged_in(front_desk)
    for url in (reverse("admin:dashboard"), reverse("admin:dashboard_pdf"), reverse("admin:dashboard_csv", args=["statuts"])):
        assert client.get(url).status_code == 403


def test_only_the_administrator_manages_establishments(manager, civ_referent, administrator):
    url = reverse("admin:identities_establishment_changelist")
    assert logged_in(manager).get(url).status_code == 403
    assert logged_in(civ_referent).get(url).status_code == 403
    admin = logged_in(administrator)
    assert admin.get(url).status_code == 200
    response = admin.post(reverse("admin:identities_establishment_add"),
                          {"code": "sud", "name": "Site Sud", "finess": "A12345678", "is_default": "on"})
    assert response.status_code == 302
    assert list(Establishment.objects.filter(is_default=True).values_list("code", flat=True)) == ["sud"]
    response = admin.post(reverse("admin:identities_establishment_add"), {"code": "est", "name": "Site Est", "finess": "12"})
    assert response.status_code == 200 and "9 caractères" in response.content.decode()
    south = Establishment.objects.get(code="sud")
    response = admin.post(reverse("admin:identities_establishment_change", args=[south.pk]),
                          {"code": "sud", "name": "Site Sud", "finess": ""})
    assert response.status_code == 200 and "Désignez un autre établissement par défaut" in response.content.decode()
    assert Establishment.objects.get(code="sud").is_default
