"""generate_identities: realistic synthetic identities, bulk-loaded within every rule, with labelled duplicates."""
import io
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from identities.core import ipp, matricule, selectors, traits
from identities.core.models import DocumentCheck, DocumentType, Identity, InsMatricule, Status
from identities.matching import synthetic
from identities.matching.models import SyntheticLabel


@pytest.fixture
def initial_data(transactional_db):
    """The COPY writer commits from its own thread and connection, so these tests cannot run in a
    rolled-back transaction: each is flushed afterwards, and the flush's post_migrate puts the
    roles, the system account and the default document types back."""


def _generate(count, *args, **options) -> str:
    out = io.StringIO()
    call_command("generate_identities", count, *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def generated(initial_data):
    _generate(2000, seed=11, batch=500)
    return Identity.objects.all()


def test_it_loads_the_requested_number_with_a_realistic_status_mix(generated):
    shares = Counter(generated.values_list("status", flat=True))
    assert sum(shares.values()) == 2000
    assert 0.40 < shares[Status.QUAL] / 2000 < 0.60
    assert all(shares[status] / 2000 > 0.05 for status in Status.values)
    assert generated.filter(doubtful=True).exists() and generated.filter(homonym=True).exists()
    women = generated.filter(sex="F")
    assert 0.2 < women.exclude(used_name="").count() / women.count() < 0.6


def test_insi_statuses_hold_unique_matricules_with_valid_keys_and_their_register_row(generated):
    fed = generated.filter(status__in=[Status.RECUP, Status.QUAL])
    values = list(fed.values_list("ins_matricule", "ins_oid"))
    assert len({value for value, _oid in values}) == len(values) == InsMatricule.objects.count()
    for value, oid in values:
        assert matricule.validate(value) == value and matricule.stdnum_agrees(value)
        assert oid in {matricule.NIR_OID, matricule.NIA_OID}
    nia = sum(oid == matricule.NIA_OID for _value, oid in values)
    assert 0 < nia / len(values) < 0.03
    assert not generated.filter(status__in=[Status.PROV, Status.VALI], ins_matricule__isnull=False).exists()


def test_validated_and_qualified_identities_have_a_high_trust_document_check(generated):
    validated = generated.filter(status__in=[Status.VALI, Status.QUAL])
    checks = DocumentCheck.objects.filter(identity__in=validated, validates=True)
    assert checks.count() == validated.count()
    assert set(checks.values_list("document_type__trust", flat=True)) == {DocumentType.Trust.HIGH}


def test_every_identity_passes_the_manual_entry_rules_and_carries_its_search_keys(generated):
    for identity in generated:
        assert traits.normalise_name(identity.birth_name, field=traits.BIRTH_NAME) == identity.birth_name
        assert traits.normalise_given_names(identity.birth_given_names) == identity.birth_given_names
        assert traits.first_given_name_matches(identity.first_birth_given_name, identity.birth_given_names)
        traits.parse_birth_date(identity.birth_date)
        if identity.birthplace_code:
            traits.normalise_cog(identity.birthplace_code)
        assert identity.birth_name_key == traits.search_key(identity.birth_name)
        assert identity.used_name_key == traits.search_key(identity.used_name)
        assert identity.given_names_key == traits.search_key(identity.birth_given_names)


def test_duplicates_and_homonyms_are_labelled_for_scoring(generated):
    clusters = defaultdict(list)
    for label in SyntheticLabel.objects.select_related("identity"):
        clusters[label.cluster].append(label)
    kinds = Counter(label.kind for members in clusters.values() for label in members)
    assert kinds[SyntheticLabel.Kind.DUPLICATE] >= 30 and kinds[SyntheticLabel.Kind.HOMONYM] >= 10
    for members in clusters.values():
        by_kind = defaultdict(list)
        for label in members:
            by_kind[label.kind].append(label.identity)
        if SyntheticLabel.Kind.HOMONYM in by_kind:
            first, second = by_kind[SyntheticLabel.Kind.HOMONYM]
            assert (first.birth_name, first.first_birth_given_name, first.birth_date, first.sex) == (
                second.birth_name, second.first_birth_given_name, second.birth_date, second.sex)
            assert first.birthplace_code != second.birthplace_code
        else:
            assert len(by_kind[SyntheticLabel.Kind.ORIGINAL]) == 1 and by_kind[SyntheticLabel.Kind.DUPLICATE]
            assert all(d.ins_matricule is None for d in by_kind[SyntheticLabel.Kind.DUPLICATE])
    assert all(label.detail for label in SyntheticLabel.objects.filter(kind=SyntheticLabel.Kind.DUPLICATE))


def test_a_duplicate_missing_only_its_place_or_given_names_shows_up_in_the_anteriority_search(generated):
    found = 0
    duplicates = SyntheticLabel.objects.filter(kind=SyntheticLabel.Kind.DUPLICATE, detail__in=["lieu_absent", "prenoms_partiels"])
    for label in duplicates:
        original = SyntheticLabel.objects.get(cluster=label.cluster, kind=SyntheticLabel.Kind.ORIGINAL).identity
        candidates = selectors.anteriority_search(
            name=original.birth_name, given_name=original.first_birth_given_name, birth_date=original.birth_date
        )
        assert label.identity_id in {c.pk for c in candidates}
        found += 1
    assert found >= 5


def numbered_in_load_order(identities) -> bool:
    """Every identity holds its own IPP, numbered in the order the rows were loaded (normalise refuses a wrong check digit)."""
    numbers = [int(ipp.normalise(value)[2:-1]) for value in identities.order_by("pk").values_list("ipp", flat=True)]
    return numbers == sorted(set(numbers))


def test_the_copy_writer_gives_every_identity_its_ipp(generated):
    assert numbered_in_load_order(generated)


def test_it_can_run_again_with_the_same_seed_without_any_conflict(initial_data):
    _generate(600, seed=3, batch=200)
    _generate(600, seed=3, batch=200)

    assert Identity.objects.count() == 1200
    matricules = list(Identity.objects.exclude(ins_matricule=None).values_list("ins_matricule", flat=True))
    assert len(matricules) == len(set(matricules)) > 400
    clusters = SyntheticLabel.objects.values_list("cluster", flat=True)
    assert max(clusters) > 2 * min(clusters)  # the second run numbered its clusters after the first's


def test_the_bulk_create_writer_gives_the_same_guarantees(initial_data):
    _generate(500, seed=5, batch=200, writer="orm")

    assert Identity.objects.count() == 500 and numbered_in_load_order(Identity.objects)
    fed = Identity.objects.filter(status__in=[Status.RECUP, Status.QUAL])
    assert all(matricule.key_checks(value) for value in fed.values_list("ins_matricule", flat=True))
    assert InsMatricule.objects.count() == fed.count()
    assert SyntheticLabel.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY and index rebuild are PostgreSQL-only")
def test_the_index_rebuild_of_large_loads_puts_back_every_index(initial_data):
    def indexes():
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'identities_%%' ORDER BY 1")
            return cursor.fetchall()

    before = indexes()
    output = _generate(300, seed=2, indexes="rebuild")

    assert "reconstruits" in output and indexes() == before
    assert Identity.objects.count() == 300


def test_it_refuses_to_fill_a_production_referential(initial_data, settings):
    settings.INS_ENVIRONMENT = "production"
    with pytest.raises(CommandError, match="INS_ENVIRONMENT=production"):
        _generate(10)
    assert not Identity.objects.exists()


def test_the_generator_gives_the_same_people_for_the_same_seed():
    def people(seed):
        generator = synthetic.IdentityGenerator(
            seed=seed, communes=["63220", "2A004", "75112"], countries=["99134"], documents=[("cni", True)],
            nir_oid=matricule.NIR_OID, nia_oid=matricule.NIA_OID, taken=set(),
            now=datetime(2026, 1, 1, tzinfo=timezone.utc),
        )
        return [(p.birth_name, p.birth_given_names, p.birth_date, p.status, p.ins_matricule) for p in generator.generate(300)]

    assert people(8) == people(8)
    assert people(8) != people(9)


def test_a_day_and_month_swap_is_only_planted_where_the_swapped_date_exists():
    # A desk cannot type 1987-27-03: the swap is planted only when the day is a month, else
    # another error is drawn; every date stays one the desk form accepts, and the label says the truth.
    generator = synthetic.IdentityGenerator(
        seed=5, communes=["63220", "2A004", "75112"], countries=["99134"], documents=[("cni", True)],
        nir_oid=matricule.NIR_OID, nia_oid=matricule.NIA_OID, taken=set(), now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    people = list(generator.generate(20_000))
    originals = {p.cluster: p for p in people if p.label == synthetic.ORIGINAL}
    swapped = [p for p in people if p.deviations == ["jour_mois_inverses"]]
    for person in people:
        traits.parse_birth_date(person.birth_date)
    assert len(swapped) >= 10
    for copy in swapped:
        year, month, day = originals[copy.cluster].birth_date.split("-")
        assert copy.birth_date == f"{year}-{day}-{month}" and day != month
