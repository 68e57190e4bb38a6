"""The IPP: prefix + sequence number + Luhn check digit, assigned at creation, unique under concurrent creations,
never reused nor changed; the check digit refused when wrong; every identity numbered by the migration."""
from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings
from stdnum import luhn

from identities.core import ipp, services
from identities.core.errors import RuleViolation
from identities.core.models import Identity
from identities.workflows.bulk_load import sample_csv
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")


def number_of(value: str, prefix: str = "IP") -> int:
    assert value.startswith(prefix) and luhn.is_valid(value[len(prefix):]), value
    return int(value[len(prefix):-1])


def test_an_ipp_is_the_prefix_the_number_on_seven_digits_and_its_luhn_check_digit():
    assert ipp.format_ipp(427) == "IP00004275"
    assert ipp.format_ipp(12_345_678, prefix="HDJ") == "HDJ123456782"  # more than seven digits: the number grows


@pytest.mark.parametrize("typed", ["IP00004275", "ip 0000427 5", " Ip00004275 "])
def test_an_ipp_is_read_whatever_its_case_and_spaces(typed):
    assert ipp.normalise(typed) == "IP00004275"


@pytest.mark.parametrize("typed", ["IP00004276", "IP00004725", "IP00000427"])
def test_a_mistyped_digit_or_two_swapped_digits_break_the_check_digit(typed):
    with pytest.raises(RuleViolation) as refused:
        ipp.normalise(typed)
    assert refused.value.field == "ipp" and "clé de contrôle" in refused.value.message


@pytest.mark.parametrize("typed", ["00004275", "IP", "IP-0000427-5", "IPPPP00004275", "3f2a9c1e-5b7d"])
def test_what_is_no_ipp_at_all_is_refused_with_the_expected_shape(typed):
    with pytest.raises(RuleViolation, match="illisible : attendu le préfixe en lettres, le numéro puis sa clé"):
        ipp.normalise(typed)


def test_creation_gives_the_next_number_with_the_prefix_and_a_valid_check_digit(front_desk):
    first = factories.identity(front_desk)
    second = factories.identity(front_desk, birth_name="DURAND")
    assert number_of(second.ipp) == number_of(first.ipp) + 1
    first.refresh_from_db()
    assert Identity.objects.get(ipp=first.ipp).uuid == first.uuid  # the UUID stays, beside it


def test_a_rolled_back_creation_leaves_a_gap_and_its_number_is_never_given_again(front_desk):
    before = factories.identity(front_desk)
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = factories.identity(front_desk, birth_name="DURAND")
        raise RuntimeError("the creating transaction fails after the number was taken")
    after = factories.identity(front_desk, birth_name="DUBOIS")
    assert number_of(after.ipp) > number_of(lost.ipp) > number_of(before.ipp)
    assert not Identity.objects.filter(ipp=lost.ipp).exists()


def test_a_new_prefix_applies_to_new_identities_and_never_renumbers_the_others(front_desk, civ_referent):
    old = factories.identity(front_desk)
    with override_settings(IPP_PREFIX="HDJ"):
        new = factories.identity(front_desk, birth_name="DURAND")
    assert number_of(new.ipp, prefix="HDJ") == number_of(old.ipp) + 1
    services.identity_update_traits(actor=civ_referent, identity_id=old.pk, expected_version=old.version, used_name="DUPONT")
    old_ipp = old.ipp
    old.refresh_from_db()
    assert old.ipp == old_ipp and old.used_name == "DUPONT"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_each_get_their_own_number_none_waiting_for_the_others(front_desk):
    """Every creation holds its transaction open until all of them have taken their number: with a
    counter that serialised creations the barrier would never fill (and break), with one that did not
    lock the numbers two creations would share one."""
    writers = 6
    everyone_numbered = threading.Barrier(writers, timeout=60)
    created, failures = [], []

    def create(n: int) -> None:
        try:
            with transaction.atomic():
                identity = factories.identity(front_desk, birth_name=f"CONCURRENT {chr(65 + n)}")
                everyone_numbered.wait()
            created.append(identity.ipp)
        except Exception as error:  # reported below, with the others
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(Identity.objects.values_list("ipp", flat=True)) == sorted(created)
    assert len(set(created)) == writers and all(number_of(value) for value in created)


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_every_existing_identity_in_creation_order_and_keeps_its_uuid():
    executor = MigrationExecutor(connection)
    before, latest = [("identities", "0018_dash_establishments_dashboard")], executor.loader.graph.leaf_nodes("identities")
    executor.migrate(before)
    try:
        old_apps = MigrationExecutor(connection).loader.project_state(before).apps
        old = old_apps.get_model("identities", "Identity")
        establishment = old_apps.get_model("identities", "Establishment").objects.get(is_default=True)
        traits = {"birth_given_names": "ANNE", "first_birth_given_name": "ANNE", "birth_date": "1979-03-15", "sex": "F",
                  "establishment": establishment}
        rows = [old.objects.create(birth_name=name, **traits) for name in ("DUBOIS", "MARTIN", "DURAND")]
        # Created in the order DURAND, DUBOIS, MARTIN (ids say otherwise): the numbers follow creation.
        for row, day in zip(rows, ("2020-01-02", "2020-01-03", "2020-01-01"), strict=True):
            old.objects.filter(pk=row.pk).update(created_at=f"{day}T10:00:00Z")
        uuids = {row.pk: row.ipp for row in rows}
    finally:
        MigrationExecutor(connection).migrate(latest)

    numbered = list(Identity.objects.order_by("created_at"))
    assert [identity.birth_name for identity in numbered] == ["DURAND", "DUBOIS", "MARTIN"]
    numbers = [number_of(identity.ipp) for identity in numbered]
    assert numbers == sorted(set(numbers)) and numbers[2] - numbers[0] == 2
    assert {identity.pk: identity.uuid for identity in numbered} == uuids
    assert number_of(ipp.allocate()[0]) > numbers[-1]  # the counter starts after the last number given


def test_the_bulk_csv_load_numbers_every_row_in_file_order_and_keeps_the_uuids_it_is_given(tmp_path, db):
    people = [{"birth_name": name, "birth_given_names": "ANNE", "birth_date": "1979-03-15", "sex": "F",
               "uuid": f"00000000-0000-4000-8000-{n:012d}"} for n, name in enumerate(("DUBOIS", "MARTIN", "DURAND"))]
    path = tmp_path / "base.csv"
    path.write_text(sample_csv(people), encoding="utf-8")
    call_command("import_identities_csv", str(path), bulk=True, verbosity=0)
    loaded = list(Identity.objects.order_by("pk"))
    assert [str(identity.uuid) for identity in loaded] == [person["uuid"] for person in people]
    numbers = [number_of(identity.ipp) for identity in loaded]
    assert numbers == sorted(set(numbers)) and numbers[-1] - numbers[0] == 2
