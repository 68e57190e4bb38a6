"""A base whose dashboard figures are known: seven identities of two establishments and what happened to them in
October 2026 and in the 31 days before (the dashboard tests and the dashboard's browser test)."""
from datetime import date, datetime

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from identities.core import roles, services, worklists
from identities.core.matricule import NIA_OID
from identities.core.models import Establishment, Identity, IdentityEvent, StaffEstablishment, Status, WorklistItem
from identities.merge.models import Collision, Merge
from identities.portal import dashboard
from insi import protocol, verification
from insi.models import Exchange
from tests import factories

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
