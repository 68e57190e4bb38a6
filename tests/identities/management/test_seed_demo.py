"""seed_demo: demo users per role and demo identities in every status and attribute, through the services."""
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from identities.core import matricule, roles
from identities.core.models import DocumentCheck, Identity, IdentityEvent, IdentityLink, Status, WorklistItem

_PASSWORD_LINE = re.compile(r"^\s+(demo\.[a-z]+) \(.*\) : (\S+)$", re.MULTILINE)


def _seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_it_covers_every_status_and_attribute(db):
    _seed()

    identities = Identity.objects.all()
    assert set(identities.values_list("status", flat=True)) == set(Status.values)
    assert identities.filter(doubtful=True).exists() and identities.filter(fictitious=True).exists()
    assert identities.filter(doubtful=True, homonym=True).exists()
    homonyms = identities.filter(homonym=True, birth_name="MARTIN", first_birth_given_name="JEAN", birth_date="1950-03-15")
    assert homonyms.count() == 2 and len({h.birthplace_code for h in homonyms}) == 2
    # Confirmed by the CIV in its homonym worklist: linked, the decision on record.
    for name in ("MARTIN", "NGUYEN"):
        pair = sorted(identities.filter(homonym=True, birth_name=name).values_list("pk", flat=True))
        assert IdentityLink.objects.filter(kind=IdentityLink.Kind.HOMA, identity_id=pair[0], other_id=pair[1]).exists()
        assert WorklistItem.objects.get(kind=WorklistItem.Kind.HOMONYM, identity_id=pair[0], other_id=pair[1]).decision == "CONFIRMED"
    assert identities.filter(sex="F").exclude(used_name="").count() >= 3
    assert DocumentCheck.objects.filter(validates=True).exists() and DocumentCheck.objects.filter(validates=False).exists()


def test_insi_fed_identities_carry_a_test_matricule_with_a_valid_key(db):
    _seed()

    fed = Identity.objects.filter(status__in=[Status.RECUP, Status.QUAL])
    assert fed.count() >= 5
    for identity in fed:
        assert matricule.validate(identity.ins_matricule) == identity.ins_matricule
        assert identity.ins_oid in {matricule.NIR_OID, matricule.NIA_OID}
    assert fed.filter(ins_oid=matricule.NIA_OID).exists()


def test_the_insi_test_book_identities_wait_as_provisional_entries(db):
    _seed()

    # As typed at the desk from /work/shared/design/insi.md: name, given name, sex, date, place.
    for birth_name, given_names, sex, birth_date, place in [
        ("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", ""),
        ("ADRUN", "ZOE", "F", "1975-12-31", ""),
        ("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN", "M", "2001-06-17", ""),
        ("D'AEION", "COEUR", "M", "1987-01-01", "2B020"),
        ("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", ""),
        ("PROVISOIRE", "MATRICULE", "M", "2009-07-01", ""),
        ("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220"),
        ("TCHITCHI", "CATARINA", "F", "1936-06-21", ""),
        ("HOUILLES", "PIERRE PAUL JACQUES", "M", "1993-01-27", ""),
        ("CORSE", "ANTHONY", "M", "1980-03-02", ""),
        ("HERMANN", "GATIEN", "M", "1981-03-24", ""),
        ("NESSI", "NATHALIE", "F", "1977-07-14", ""),
    ]:
        identity = Identity.objects.get(birth_name=birth_name, birth_given_names=given_names, birth_date=birth_date)
        assert (identity.sex, identity.birthplace_code, identity.status) == (sex, place, Status.PROV)
        assert identity.ins_matricule is None


def test_identities_are_created_by_the_demo_agents_with_their_audit_trail(db):
    _seed()

    qualified = Identity.objects.get(birth_name="LEFEVRE", first_birth_given_name="HELENE")
    kinds = set(qualified.events.values_list("kind", flat=True))
    assert {IdentityEvent.Kind.CREATED, IdentityEvent.Kind.DOCUMENT_CHECKED, IdentityEvent.Kind.INS_SET} <= kinds
    assert qualified.created_by.username == "demo.accueil"
    assert qualified.history.count() >= 3
    doubtful = Identity.objects.get(birth_name="LAMBERT", first_birth_given_name="JULIE")
    assert (doubtful.status, doubtful.ins_matricule) == (Status.PROV, None)
    assert doubtful.events.filter(kind=IdentityEvent.Kind.INS_INVALIDATED, actor__username="demo.civ").exists()


def test_it_creates_one_user_per_role_and_shows_their_passwords_once(db):
    output = _seed()

    passwords = dict(_PASSWORD_LINE.findall(output))
    assert len(passwords) == 5
    users = get_user_model().objects.filter(username__in=passwords)
    assert {group for user in users for group in user.groups.values_list("name", flat=True)} == {
        roles.FRONT_DESK, roles.CIV_MEMBER, roles.CIV_REFERENT, roles.MANAGER, roles.ADMINISTRATOR,
    }
    assert all(user.check_password(passwords[user.username]) and user.is_staff for user in users)


def test_a_second_run_creates_nothing_and_shows_no_password(db):
    first = _seed()
    counts = (Identity.objects.count(), get_user_model().objects.count(), DocumentCheck.objects.count())

    second = _seed()

    assert (Identity.objects.count(), get_user_model().objects.count(), DocumentCheck.objects.count()) == counts
    assert _PASSWORD_LINE.findall(second) == []
    assert not any(password in second for _user, password in _PASSWORD_LINE.findall(first))
    assert "0 créées" in second


def test_reset_passwords_replaces_and_shows_every_password(db):
    old = dict(_PASSWORD_LINE.findall(_seed()))

    new = dict(_PASSWORD_LINE.findall(_seed("--reset-passwords")))

    assert new.keys() == old.keys() and all(new[name] != old[name] for name in new)
    user = get_user_model().objects.get(username="demo.civ")
    assert user.check_password(new["demo.civ"]) and not user.check_password(old["demo.civ"])


def test_it_refuses_to_seed_a_production_referential(db, settings):
    settings.INS_ENVIRONMENT = "production"
    with pytest.raises(CommandError, match="INS_ENVIRONMENT=production"):
        _seed()
    assert not Identity.objects.exists()


def test_a_fresh_demo_shows_its_worklists_filled(db):
    output = _seed()

    open_items = WorklistItem.objects.filter(state=WorklistItem.State.OPEN)
    for kind in (WorklistItem.Kind.PROVISIONAL, WorklistItem.Kind.DOUBTFUL, WorklistItem.Kind.FICTITIOUS, WorklistItem.Kind.DUPLICATE):
        assert open_items.filter(kind=kind).exists(), kind
    duplicate = open_items.get(kind=WorklistItem.Kind.DUPLICATE)
    assert (duplicate.identity.birth_name, duplicate.other.birth_name) == ("DUBOIS", "DUBOIS")
    assert "Files de travail :" in output
