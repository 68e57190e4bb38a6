"""The dashboard's figures on a known set of identities, and who may read them."""
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from identities.core import services, worklists
from identities.core.matricule import NIA_OID
from identities.core.models import Identity, IdentityEvent, Status, WorklistItem
from identities.portal import dashboard
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")


def _mid_month(start):
    return timezone.make_aware(datetime(start.year, start.month, 15, 12), timezone.get_current_timezone())


@pytest.fixture
def known_base(front_desk, civ_member):
    """Seven active identities: 2 QUAL (one NIR, one NIA), 1 RECUP, 1 VALI, 3 PROV (one doubtful, one fictitious).

    Two of the qualified ones were created two months ago; the second became QUAL last month.
    """
    now = timezone.now()
    before_last, last, _current = dashboard._month_starts(now, 3)
    q1 = factories.qualified(front_desk, birth_name="QUALNIR")
    q2 = factories.identity(front_desk, birth_name="QUALNIA")
    factories.check_passport(front_desk, q2)
    services.identity_apply_insi_result(
        actor=front_desk, identity_id=q2.pk, result=factories.insi_result(q2, matricule="1790263220456", oid=NIA_OID)
    )
    factories.recovered(front_desk, matricule13="2850875056789", birth_name="RECUPEREE")
    factories.check_passport(front_desk, factories.identity(front_desk, birth_name="VALIDEE"))
    factories.identity(front_desk, birth_name="CARTEVITALE", channel="CV")
    doubtful = factories.identity(front_desk, birth_name="DOUTEUSE")
    services.identity_set_attribute(actor=civ_member, identity_id=doubtful.pk, attribute="DOUT", value=True, reason="doute")
    fictitious = factories.identity(front_desk, birth_name="FICTIVE")
    services.identity_set_attribute(actor=civ_member, identity_id=fictitious.pk, attribute="FICT", value=True, reason="VIP")
    merged = factories.identity(front_desk, birth_name="FUSIONNEE")
    Identity.objects.filter(pk=merged.pk).update(is_active=False)  # what a merge does; merges come later

    # Move the past into place (the audit trail is what the monthly curve is read from).
    Identity.objects.filter(pk__in=[q1.pk, q2.pk]).update(created_at=_mid_month(before_last))
    IdentityEvent.objects.filter(identity__in=[q1, q2]).update(at=_mid_month(before_last))
    IdentityEvent.objects.filter(identity=q2, to_status=Status.QUAL).update(at=_mid_month(last))

    worklists.worklists_sync(actor=civ_member)
    WorklistItem.objects.filter(kind=WorklistItem.Kind.DOUBTFUL).update(opened_at=now - timedelta(days=40))
    return now


def test_the_counts_by_status_attribute_and_channel(known_base):
    figures = dashboard.dashboard_figures(months=3, now=known_base)
    assert figures.active == 7
    assert {share.code: share.count for share in figures.by_status} == {"PROV": 3, "RECUP": 1, "VALI": 1, "QUAL": 2}
    assert {share.code: share.count for share in figures.by_attribute} == {"DOUT": 1, "FICT": 1, "HOMA": 0}
    channels = {share.code: share.count for share in figures.by_channel}
    assert (channels["CV"], channels["SM"], channels["INSI"]) == (1, 6, 0)


def test_the_qualification_rate_and_the_share_of_nia(known_base):
    figures = dashboard.dashboard_figures(months=3, now=known_base)
    assert figures.qualification_rate == 28.6  # 2 / 7
    assert (figures.nia, figures.with_ins, figures.nia_share) == (1, 3, 33.3)


def test_the_monthly_qualification_rate_is_walked_back_from_the_audit_trail(known_base):
    points = dashboard.dashboard_figures(months=3, now=known_base).monthly
    assert [(point.active, point.qualified) for point in points] == [(2, 1), (2, 2), (7, 2)]
    assert [point.rate for point in points] == [50.0, 100.0, 28.6]


def test_the_worklist_sizes_and_ages(known_base):
    queues = {queue.kind: queue for queue in dashboard.dashboard_figures(months=3, now=known_base).queues}
    assert queues["PROV"].open == 1 and queues["PROV"].under_a_week == 1
    assert queues["DOUT"].open == 1 and queues["DOUT"].over_a_month == 1 and queues["DOUT"].oldest_age_days >= 40
    assert queues["INSI_KO"].open == 0 and queues["INSI_KO"].oldest is None


def test_an_empty_base_shows_no_rate_rather_than_a_division_by_zero(db):
    figures = dashboard.dashboard_figures(months=2)
    assert (figures.active, figures.qualification_rate, figures.nia_share) == (0, None, None)


def test_the_manager_reads_the_figures_in_french(known_base, manager):
    page = logged_in(manager).get(reverse("admin:dashboard")).content.decode()
    assert 'id="kpi-qualification">28,6 %' in page
    assert 'id="kpi-nia">33,3 %' in page
    assert "<polyline" in page and "http" not in page.split("<polyline")[1].split("</svg>")[0]
    # The manager reads the queue sizes but is not sent into the queues.
    assert "worklistitem" not in page.split('id="queues"')[1]


def test_the_cell_can_open_a_queue_from_the_dashboard(known_base, civ_member):
    page = logged_in(civ_member).get(reverse("admin:dashboard")).content.decode()
    assert reverse("admin:identities_worklistitem_changelist") + "?kind__exact=DOUT" in page


def test_the_front_desk_has_no_dashboard(front_desk):
    assert logged_in(front_desk).get(reverse("admin:dashboard")).status_code == 403


def test_identities_loaded_without_audit_events_count_as_qualified_since_their_creation(front_desk):
    now = timezone.now()
    before_last, last, _current = dashboard._month_starts(now, 3)
    loaded = factories.qualified(front_desk, birth_name="IMPORTEE")
    factories.identity(front_desk, birth_name="ANCIENNE")
    IdentityEvent.objects.filter(identity=loaded).delete()  # as a bulk import leaves it
    Identity.objects.filter(pk=loaded.pk).update(created_at=_mid_month(last))
    Identity.objects.exclude(pk=loaded.pk).update(created_at=_mid_month(before_last))
    points = dashboard.dashboard_figures(months=3, now=now).monthly
    assert [(point.active, point.qualified) for point in points] == [(1, 0), (2, 1), (2, 1)]
