"""The critical rules pinned one by one, so that a one-line bug in any of them fails here.

Every strict trait locked (and the matricule and OID), each role's exact permissions,
the reason on every audit event, INS invalidation only with a reason, and the diffusion
gate over every combination (exhaustively, then property-based with Hypothesis).
"""
import itertools
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, Permission
from hypothesis import given, settings, strategies as st

from identities.core import roles, services
from identities.core.diffusion import shareable_ins
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import STRICT_TRAIT_FIELDS, Identity, IdentityEvent, Status
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")

# --- Locking: each strict trait, the matricule, the OID ---

# One change per strict trait of the factories' identity (MARTIN JEANNE MARIE, 17/05/1980, F, 63220).
ONE_CHANGE_PER_STRICT_TRAIT = {
    "birth_name": {"birth_name": "MARTINE"},
    "birth_given_names": {"birth_given_names": "JEANNE MARIE LOUISE"},
    "first_birth_given_name": {"first_birth_given_name": "JEANNE-MARIE"},
    "birth_date": {"birth_date": "1980-05-18"},
    "sex": {"sex": "M"},
    "birthplace_code": {"birthplace_code": "75056"},
}


def test_the_table_covers_every_strict_trait():
    assert set(ONE_CHANGE_PER_STRICT_TRAIT) == set(STRICT_TRAIT_FIELDS)


def _locked(front_desk, status):
    return factories.qualified(front_desk) if status == Status.QUAL else factories.recovered(front_desk)


@pytest.mark.parametrize("status", [Status.RECUP, Status.QUAL])
@pytest.mark.parametrize("trait", sorted(ONE_CHANGE_PER_STRICT_TRAIT))
def test_each_strict_trait_is_locked_for_anyone_without_the_habilitation(trait, status, front_desk, civ_member):
    identity = _locked(front_desk, status)
    before = {name: getattr(identity, name) for name in (*STRICT_TRAIT_FIELDS, "ins_matricule", "ins_oid", "status", "version")}

    with pytest.raises(NotAllowed, match="verrouillé"):
        services.identity_update_traits(actor=civ_member, identity_id=identity.pk, expected_version=identity.version,
                                        reason="correction", **ONE_CHANGE_PER_STRICT_TRAIT[trait])

    identity.refresh_from_db()
    assert {name: getattr(identity, name) for name in before} == before


@pytest.mark.parametrize(("status", "downgraded"), [(Status.RECUP, Status.PROV), (Status.QUAL, Status.VALI)])
@pytest.mark.parametrize("trait", sorted(ONE_CHANGE_PER_STRICT_TRAIT))
def test_each_strict_trait_changed_by_the_referent_invalidates_the_ins_and_downgrades(trait, status, downgraded, front_desk, civ_referent):
    identity = _locked(front_desk, status)

    outcome = services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                              reason="Acte de naissance", **ONE_CHANGE_PER_STRICT_TRAIT[trait])

    identity.refresh_from_db()
    assert outcome.ins_invalidated and trait in outcome.changed
    assert (identity.status, identity.ins_matricule, identity.ins_oid) == (downgraded, None, None)


@pytest.mark.parametrize("field", ["ins_matricule", "ins_oid", "status"])
def test_the_matricule_the_oid_and_the_status_are_never_changed_as_traits(field, front_desk, civ_referent):
    identity = factories.qualified(front_desk)
    value = {"ins_matricule": "180032B02040123", "ins_oid": "1.2.250.1.213.1.4.9", "status": Status.PROV}[field]

    with pytest.raises(RuleViolation, match="non modifiable"):
        services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                        reason="essai", **{field: value})

    identity.refresh_from_db()
    assert (identity.status, identity.ins_oid) == (Status.QUAL, factories.INSI_TEST_NIR_OID) and identity.ins_matricule


def test_the_change_form_ignores_a_posted_matricule_or_oid(front_desk, civ_referent):
    from django.urls import reverse

    from tests.identities.portal.client import logged_in
    from tests.identities.portal.test_admin_identity import form_data

    identity = factories.recovered(front_desk)
    matricule, oid = identity.ins_matricule, identity.ins_oid
    logged_in(civ_referent).post(reverse("admin:identities_identity_change", args=[identity.pk]),
                                 form_data(identity, used_name="DUPONT", ins_matricule="180032B02040123", ins_oid="1.2.250.1.213.1.4.9"))

    identity.refresh_from_db()
    assert identity.used_name == "DUPONT" and (identity.ins_matricule, identity.ins_oid) == (matricule, oid)


# --- Each role's exact permissions, in one table ---

_DESK = {
    "identities.add_documentcheck", "identities.add_identity", "identities.add_labelprofile", "identities.change_identity",
    "identities.change_labelprofile", "identities.flag_doubtful", "identities.print_identity", "identities.record_document_check",
    "identities.use_insi", "identities.view_birthplace", "identities.view_documentcheck", "identities.view_documenttype",
    "identities.view_identity", "identities.view_insirecovery", "identities.view_insirun", "identities.view_insmatricule",
    "identities.view_labelformat", "identities.view_labelprofile", "identities.view_worklistitem",
}
_CIV = _DESK | {
    "identities.add_identitylink", "identities.add_verificationcampaign", "identities.change_verificationcampaign",
    "identities.import_identities_csv", "identities.invalidate_ins", "identities.manage_attributes", "identities.manage_worklists",
    "identities.view_dashboard", "identities.view_identityevent", "identities.view_identitylink", "identities.view_inboundmessage",
    "identities.view_outboxmessage", "identities.view_receiver", "identities.view_verificationcampaign",
    "identities.withdraw_document_check", "insi.view_exchange", "insi.view_exchange_body",
    # merge and collisions (identities/merge), the duplicate sweep (identities/matching)
    "identities.approve_merge", "identities.manage_collisions", "identities.merge_identities", "identities.view_collision",
    "identities.view_merge", "identities.view_matchingsettings", "identities.view_sweeppart", "identities.view_sweeprun",
}
_REFERENT = _CIV | {
    "identities.add_documenttype", "identities.change_documenttype", "identities.add_labelformat", "identities.change_labelformat",
    "identities.delete_labelprofile", "identities.manage_label_settings", "identities.modify_locked_traits",
    "identities.change_matching_thresholds", "identities.change_matchingsettings", "identities.change_mergepolicy",
    "identities.configure_merge", "identities.merge_any_pair", "identities.split_collision", "identities.unmerge_identities",
    "identities.view_mergepolicy",
    # label jobs (identities/documents): follow and download everybody's, for support
    "identities.view_every_label_job",
}
_MANAGER = {
    "identities.view_dashboard", "identities.view_identity", "identities.view_insirun", "identities.view_verificationcampaign",
    "identities.view_collision", "identities.view_merge",
}
ROLE_TABLE = {roles.FRONT_DESK: _DESK, roles.CIV_MEMBER: _CIV, roles.CIV_REFERENT: _REFERENT, roles.MANAGER: _MANAGER}


def _granted(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_each_role_holds_exactly_the_permissions_of_the_table(db):
    assert {role: _granted(role) for role in ROLE_TABLE} == ROLE_TABLE


def test_the_administrator_holds_every_permission_but_the_raw_insi_answers(db):
    apps = ("identities", "insi", "django_celery_beat", "auth")
    everything = {f"{p.content_type.app_label}.{p.codename}"
                  for p in Permission.objects.filter(content_type__app_label__in=apps).select_related("content_type")}
    assert _granted(roles.ADMINISTRATOR) == everything - {"insi.view_exchange_body"}


# --- The reason on every audit event ---

REASON = "Motif vérifiable 7f3a"


def _new_events(identity, since: int):
    return list(IdentityEvent.objects.filter(identity=identity, pk__gt=since).order_by("pk"))


def _last_event_id() -> int:
    return IdentityEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize("action", ["locked trait", "withdrawal", "doubtful", "fictitious", "homonym", "invalidation"])
def test_every_event_of_an_action_with_a_reason_records_that_reason(action, front_desk, civ_member, civ_referent):
    identity = factories.qualified(front_desk)
    since = _last_event_id()
    if action == "locked trait":
        services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                        reason=REASON, birth_name="MARTINE")
    elif action == "withdrawal":
        services.identity_withdraw_document_check(actor=civ_member, check_id=identity.document_checks.get().pk, reason=REASON)
    elif action == "invalidation":
        services.identity_invalidate_ins(actor=civ_member, identity_id=identity.pk, reason=REASON)
    else:
        attribute = {"doubtful": "DOUT", "fictitious": "FICT", "homonym": "HOMA"}[action]
        services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=attribute, value=True, reason=REASON)

    events = _new_events(identity, since)
    assert events, action
    assert [(event.kind, event.reason) for event in events] == [(event.kind, REASON) for event in events]
    # The history row of the save carries it too (shortened to the column's 100 characters).
    assert REASON in identity.history.first().history_change_reason


# --- INS invalidation only with a reason ---

@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_an_ins_is_never_invalidated_without_a_reason(reason, front_desk, civ_member):
    identity = factories.qualified(front_desk)
    since = _last_event_id()

    with pytest.raises(RuleViolation, match="motif est obligatoire") as refused:
        services.identity_invalidate_ins(actor=civ_member, identity_id=identity.pk, reason=reason)

    identity.refresh_from_db()
    assert refused.value.field == "reason"
    assert identity.status == Status.QUAL and identity.ins_matricule and not _new_events(identity, since)


# --- The diffusion gate, every combination ---

NIR, NIA = "1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9"
FIVE = ("birth_name", "birth_given_names", "sex", "birth_date", "birthplace_code")
ATTRIBUTES = {"none": (False, False, False), "HOMA": (False, False, True), "DOUT": (True, False, False),
              "DOUT+HOMA": (True, False, True), "FICT": (False, True, False)}
MISSING = (None, *FIVE, "ins_matricule", "ins_oid")


def _candidate(status, attribute, oid, missing, active, corrected):
    doubtful, fictitious, homonym = ATTRIBUTES[attribute]
    values = {"birth_name": "MARTIN", "birth_given_names": "JEANNE MARIE", "sex": "F", "birth_date": "1980-05-17",
              "birthplace_code": "63220", "ins_matricule": "280056322012345", "ins_oid": oid}
    if missing:
        values[missing] = "" if missing in FIVE else None
    # Read by attribute only: the gate must hold for any object shaped like an identity, stored or not.
    return SimpleNamespace(status=status, doubtful=doubtful, fictitious=fictitious, homonym=homonym, is_active=active,
                           birth_date_corrected=corrected, **values)


def _expected(identity) -> bool:
    # PAM France §6.6.4: a birth date corrected here keeps the INS home.
    return (identity.status == Status.QUAL and not identity.doubtful and not identity.fictitious and identity.is_active
            and not identity.birth_date_corrected and bool(identity.ins_matricule) and bool(identity.ins_oid) and all(getattr(identity, name) for name in FIVE))


CASES = list(itertools.product(Status.values, ATTRIBUTES, (NIR, NIA), MISSING, (True, False), (False, True)))


def test_the_matrix_holds_every_combination():
    assert len(CASES) == 4 * 5 * 2 * 8 * 2 * 2


@pytest.mark.parametrize(("status", "attribute", "oid", "missing", "active", "corrected"), CASES)
def test_the_gate_shares_only_a_complete_active_qualified_identity(status, attribute, oid, missing, active, corrected):
    identity = _candidate(status, attribute, oid, missing, active, corrected)

    shared = shareable_ins(identity)

    assert (shared is not None) == _expected(identity)
    if shared is not None:
        # Never without its five traits, the nature told by the OID.
        assert (shared.matricule, shared.oid) == (identity.ins_matricule, identity.ins_oid)
        assert tuple(getattr(shared, name) for name in FIVE) == tuple(getattr(identity, name) for name in FIVE)
        assert shared.nature == ("NIR" if oid == NIR else "NIA")


_text = st.one_of(st.just(""), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ -'", min_size=1, max_size=12))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(
    status=st.sampled_from(Status.values), doubtful=st.booleans(), fictitious=st.booleans(), homonym=st.booleans(),
    active=st.booleans(), corrected=st.booleans(), oid=st.sampled_from([NIR, NIA, "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"]),
    matricule=st.one_of(st.none(), st.just(""), st.just("280056322012345")),
    birth_name=_text, given_names=_text, sex=st.sampled_from(["", "M", "F", "I"]),
    birth_date=st.sampled_from(["", "1980-05-17", "1950-00-00"]), birthplace=st.sampled_from(["", "63220", "99100"]),
)
def test_property_the_gate_never_lets_out_an_ins_it_should_keep(status, doubtful, fictitious, homonym, active, corrected, oid,
                                                               matricule, birth_name, given_names, sex, birth_date, birthplace):
    identity = SimpleNamespace(
        status=status, doubtful=doubtful, fictitious=fictitious, homonym=homonym, is_active=active,
        birth_date_corrected=corrected, ins_oid=oid,
        ins_matricule=matricule, birth_name=birth_name, birth_given_names=given_names, sex=sex, birth_date=birth_date,
        birthplace_code=birthplace,
    )

    shared = shareable_ins(identity)

    assert (shared is not None) == _expected(identity)
    if shared is not None:
        assert all(getattr(shared, name) for name in FIVE) and shared.matricule == matricule


# --- The same gate on the screens, for every case the services can produce ---

SCREEN_CASES = ["PROV", "RECUP", "VALI", "QUAL", "QUAL+HOMA", "DOUT", "FICT", "WITHDRAWN", "INACTIVE"]


def _screen_case(case, front_desk, civ_member) -> Identity:
    if case in ("QUAL", "QUAL+HOMA", "DOUT", "WITHDRAWN", "INACTIVE"):
        identity = factories.qualified(front_desk)
    elif case == "RECUP":
        identity = factories.recovered(front_desk)
    else:
        identity = factories.identity(front_desk)
    if case == "VALI":
        factories.check_passport(front_desk, identity)
    attribute = {"QUAL+HOMA": "HOMA", "DOUT": "DOUT", "FICT": "FICT"}.get(case)
    if attribute:
        services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=attribute, value=True, reason="test")
    if case == "WITHDRAWN":
        services.identity_withdraw_document_check(actor=civ_member, check_id=identity.document_checks.get().pk, reason="test")
    if case == "INACTIVE":
        # A merged-away record (the merge service deactivates it); the row keeps its INS for the history.
        Identity.objects.filter(pk=identity.pk).update(is_active=False)
    identity.refresh_from_db()
    return identity


@pytest.mark.parametrize("case", SCREEN_CASES)
def test_the_screens_show_the_matricule_only_when_the_gate_shares_it(case, front_desk, civ_member):
    from django.urls import reverse

    from tests.identities.portal.client import logged_in

    identity = _screen_case(case, front_desk, civ_member)
    from identities.core.matricule import compute_key, display

    thirteen = factories.qualified.__defaults__[0]
    forms = (thirteen, display(thirteen + compute_key(thirteen)))  # as stored, as the screens print it
    client = logged_in(civ_member)
    pages = {
        "list": client.get(reverse("admin:identities_identity_changelist")),
        "identity": client.get(reverse("admin:identities_identity_change", args=[identity.pk])),
        "history": client.get(reverse("admin:identities_identity_history", args=[identity.pk])),
        "worklists": client.get(reverse("admin:identities_worklistitem_changelist")),
        "dashboard": client.get(reverse("admin:dashboard")),
    }

    shown = {name: any(form in page.content.decode() for form in forms) for name, page in pages.items()}
    shared = case in ("QUAL", "QUAL+HOMA")
    assert all(page.status_code == 200 for page in pages.values())
    assert shown == {"list": False, "identity": shared, "history": False, "worklists": False, "dashboard": False}
