"""The dashboard's figures on a base whose counts are known, per establishment and against the previous period;
its exports (a real PDF, CSV tables) without personal data; who may read it."""
import csv
import io
from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from identities.core import establishments, roles, services, worklists
from identities.core.matricule import NIA_OID
from identities.core.models import Establishment, Identity, IdentityEvent, StaffEstablishment, Status, WorklistItem
from identities.merge.models import Collision, Merge
from identities.portal import dashboard, dashboard_report
from identities.portal.models import IdentityTally
from identities.portal.tally import tally_compact
from insi import protocol, verification
from insi.models import Exchange
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")

# October 2026, compared with the 31 days before it (31 August – 30 September).
PERIOD = dashboard.Period(date(2026, 10, 1), date(2026, 10, 31))
NAMES = ("ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT")
MATRICULES = ("2800563220123", "1790263220456")


def at(day: int, month: int = 10, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(2026, month, day, hour), timezone.get_current_timezone())


def _created_on(identity: Identity, moment: datetime) -> None:
    """Move a creation into the past: the identity, with its present state, and its creation event."""
    Identity.objects.filter(pk=identity.pk).update(created_at=moment, updated_at=moment)
    IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.CREATED).update(at=moment)


@pytest.fixture
def north(db):
    return Establishment.objects.create(code="nord", name="Site Nord")


@pytest.fixture
def north_desk(db, django_user_model, north):
    user = django_user_model.objects.create_user(username="nour.accueil", password="not-a-real-password-1")
    user.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    StaffEstablishment.objects.create(user=user, establishment=north)
    return user


def _exchange(identity, operation, code, duration_ms, moment):
    return Exchange.objects.create(
        operation=operation, mode="MANU", identity_id=identity.pk if identity else None, message_id=f"m{duration_ms}",
        endpoint="https://insi.test", started_at=moment, duration_ms=duration_ms, return_code=code,
    )


@pytest.fixture
def known_base(front_desk, north_desk, civ_member, north):
    """Seven identities, two establishments; what happened in October 2026 and in the 31 days before.

    Default establishment (created by Camille, who has none):
      A  ALPHA    created 10/09, qualified (NIR) since then
      B  BRAVO    created 15/09 provisional, qualified with a NIA on 12/10
      C  CHARLIE  created 05/10, carte Vitale, doubtful
      D  DELTA    created 20/10, inactive (merged)
      E  ECHO     created 20/11 (after the period)
    Site Nord (created by Nour, who works there):
      G  FOXTROT  created 20/09 provisional
      F  FOXTROT  created 08/10 validated (same traits as G: one anteriority hit reviewed)
    Past state changes are written as raw updates carrying their date (``updated_at``), which the
    daily counts date a change by; the creations as moves of ``created_at``.
    """
    a = factories.qualified(front_desk, birth_name=NAMES[0], birth_date="1950-01-01", matricule13=MATRICULES[0])
    b = factories.identity(front_desk, birth_name=NAMES[1], birth_date="1951-02-02")
    c = factories.identity(front_desk, birth_name=NAMES[2], birth_date="1952-03-03", channel="CV")
    worklists_item_c = worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.PROVISIONAL, identity_id=c.pk, reason="à qualifier")
    services.identity_set_attribute(actor=civ_member, identity_id=c.pk, attribute="DOUT", value=True, reason="doute")
    d = factories.identity(front_desk, birth_name=NAMES[3], birth_date="1953-04-04")
    Identity.objects.filter(pk=d.pk).update(is_active=False)
    e = factories.identity(front_desk, birth_name=NAMES[4], birth_date="1954-05-05")
    g = factories.identity(north_desk, birth_name=NAMES[5], birth_date="1955-06-06")
    f = factories.identity(north_desk, birth_name=NAMES[5], birth_date="1955-06-06")
    factories.check_passport(front_desk, f)
    for identity, moment in ((a, at(10, 9)), (b, at(15, 9)), (c, at(5)), (d, at(20)), (e, at(20, 11)), (g, at(20, 9)), (f, at(8))):
        _created_on(identity, moment)
    Identity.objects.filter(pk=b.pk).update(status=Status.QUAL, ins_matricule=MATRICULES[1] + "99", ins_oid=NIA_OID, updated_at=at(12))

    # INSi: October (p50 300 ms, p95 1,000 ms; one KO of two verifications), September (50 and 150 ms).
    search_traits, verify = protocol.SEARCH_TRAITS, verification.OPERATION
    for identity, operation, code, duration, moment in (
        (a, verify, "OK", 300, at(2)), (b, search_traits, protocol.CR_FOUND, 100, at(3)),
        (b, search_traits, protocol.CR_NOT_FOUND, 200, at(4)), (c, search_traits, protocol.CR_SEVERAL, 400, at(6)),
        (f, verify, "KO", 500, at(9)), (None, search_traits, "insi_102", 1000, at(10)),
        (a, verify, "OK", 50, at(11, 9)), (g, search_traits, protocol.CR_FOUND, 150, at(21, 9)),
    ):
        _exchange(identity, operation, code, duration, moment)

    # Duplicates: (A, B) found 03/10, dismissed 04/10; (C, F) found 10/10, confirmed 11/10. Merges 15/10 and 25/09.
    for first, second, opened, decided, decision in ((a, b, at(3), at(4), "DISMISSED"), (c, f, at(10), at(11), "CONFIRMED")):
        item = worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.DUPLICATE, identity_id=first.pk,
                                           other_id=second.pk, reason="paire")
        WorklistItem.objects.filter(pk=item.pk).update(opened_at=opened, state="DONE", decision=decision, decided_at=decided)
    for survivor, absorbed, moment in ((a, d, at(15)), (g, e, at(25, 9))):
        Merge.objects.create(survivor=survivor, absorbed=absorbed, state=Merge.State.DONE, survivor_rule="règle",
                             proposed_by=civ_member, merged_at=moment)
    # A collision found automatically on 02/10, dismissed on 09/10.
    collision = Collision.objects.create(identity=a, state=Collision.State.DISMISSED, reason="motif", automatic=True,
                                         flagged_by=civ_member, decided_at=at(9))
    Collision.objects.filter(pk=collision.pk).update(flagged_at=at(2))
    # Worklists: C provisional since 07/10 (still open); G provisional 21/09, handled 14/10.
    WorklistItem.objects.filter(pk=worklists_item_c.pk).update(opened_at=at(7))
    item_g = worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.PROVISIONAL, identity_id=g.pk, reason="à qualifier")
    WorklistItem.objects.filter(pk=item_g.pk).update(opened_at=at(21, 9), state="DONE", decision="HANDLED", decided_at=at(14))
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}


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


def test_the_counts_stay_exact_through_bulk_updates_and_the_nightly_folding(known_base):
    def direct():
        return {status: Identity.objects.filter(is_active=True, status=status).count() for status in Status.values}

    Identity.objects.filter(status=Status.PROV).update(doubtful=False)  # a raw bulk write, no service
    Identity.objects.filter(pk=known_base["e"].pk).update(is_active=False)
    today = timezone.localdate()
    before = IdentityTally.objects.count()
    tally_compact(before=today + timedelta(days=1))
    assert IdentityTally.objects.count() < before
    figures = dashboard.dashboard_figures(period=dashboard.Period(today, today))
    assert {row.code: row.values[0].current for row in figures.by_status} == direct()
    assert _values(figures.by_attribute)["DOUT"][0] == 0


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
