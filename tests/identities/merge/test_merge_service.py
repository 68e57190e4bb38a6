"""The merge service: which record survives (RNIV order), every refusal (nothing changed), what is carried over, four eyes."""
import pytest

from identities.core import services
from identities.core.errors import ConflictError, NotAllowed, RuleViolation
from identities.core.models import Attribute, DocumentCheck, Identity, IdentityEvent, IdentityLink, InsMatricule, Status, WorklistItem
from identities.merge import services as merge_services
from identities.merge.models import Merge
from identities.workflows.models import InsiRecovery, InsiRun, InsiRunItem
from tests import factories
from tests.identities.merge.conftest import prove


def merge(actor, first, second, **kwargs) -> Merge:
    return merge_services.merge_request(actor=actor, first_id=first.pk, second_id=second.pk, **kwargs)


def fresh(*identities):
    return [Identity.objects.get(pk=identity.pk) for identity in identities]


def state_of(*identities) -> list[tuple]:
    """What a refused merge must leave untouched: every field, and the dependents' owners."""
    rows = []
    for identity in fresh(*identities):
        rows.append((
            {field.attname: getattr(identity, field.attname) for field in Identity._meta.concrete_fields},
            sorted(IdentityEvent.objects.filter(identity=identity).values_list("pk", flat=True)),
            sorted(DocumentCheck.objects.filter(identity=identity).values_list("pk", "validates")),
        ))
    return rows + [Merge.objects.filter(state=Merge.State.DONE).count()]


# --- Which record survives ---

@pytest.mark.parametrize(
    ("older", "newer", "survivor"),
    [
        ("VALI", "QUAL", "newer"),   # a qualified identity always survives over one that is not
        ("QUAL", "PROV", "older"),
        ("PROV", "VALI", "newer"),   # the higher status survives, whatever the age
        ("PROV", "RECUP", "newer"),
        ("VALI", "RECUP", "newer"),  # RECUP against VALI: the one holding the INS
        ("RECUP", "VALI", "older"),
        ("PROV", "PROV", "older"),   # equal status: the older record
        ("VALI", "VALI", "older"),
    ],
)
def test_the_survivor_follows_the_rniv_order(older, newer, survivor, proven_pair, civ_member):
    first, second = proven_pair(older, newer)
    done = merge(civ_member, first, second)
    expected = first if survivor == "older" else second
    assert done.state == Merge.State.DONE and done.survivor_id == expected.pk
    absorbed = fresh(second if expected == first else first)[0]
    assert (absorbed.is_active, absorbed.merged_into_id) == (False, expected.pk)


def test_with_equal_status_the_civ_may_keep_the_newer_record(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    done = merge(civ_member, first, second, survivor_id=second.pk)
    assert done.survivor_id == second.pk and "la CIV a choisi" in done.survivor_rule


@pytest.mark.parametrize(("older", "newer"), [("VALI", "QUAL"), ("PROV", "VALI"), ("RECUP", "VALI")])
def test_the_other_survivor_is_refused_where_the_rules_decide(older, newer, proven_pair, civ_member):
    first, second = proven_pair(older, newer)
    lower = second if older == "RECUP" else first
    before = state_of(first, second)
    with pytest.raises(RuleViolation, match="Ce choix n'est pas permis par les règles"):
        merge(civ_member, first, second, survivor_id=lower.pk)
    assert state_of(first, second) == before


def test_complementary_traits_are_chosen_strict_traits_come_from_the_survivor(proven_pair, civ_member):
    first, second = proven_pair("VALI", "PROV", used_name="DUPONT", used_given_name="JEANNOT", birthplace_code="75056")
    merge(civ_member, first, second, keep={"used_name": "absorbed", "used_given_name": "survivor"})
    survivor = fresh(first)[0]
    assert (survivor.used_name, survivor.used_given_name) == ("DUPONT", "")
    assert (survivor.birth_given_names, survivor.birthplace_code) == ("JEANNE MARIE", "63220")
    with pytest.raises(RuleViolation, match="seuls les traits complémentaires"):
        third, fourth = proven_pair("PROV", "PROV", birth_name="DURAND")
        merge(civ_member, third, fourth, keep={"birth_name": "absorbed"})


# --- Refusals: a clear reason, nothing changed ---

def test_two_different_matricules_are_a_collision_not_a_duplicate(proven_pair, civ_referent):
    first, second = proven_pair("QUAL", "RECUP")
    before = state_of(first, second)
    with pytest.raises(RuleViolation, match="collision possible.*COLP"):
        merge(civ_referent, first, second)
    assert state_of(first, second) == before


def test_a_fictitious_identity_never_absorbs_or_is_absorbed_by_a_real_one(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    services.identity_set_attribute(actor=civ_member, identity_id=second.pk, attribute=Attribute.FICT, value=True, reason="test")
    before = state_of(first, second)
    with pytest.raises(RuleViolation, match="fictive ne se fusionne jamais avec une identité réelle"):
        merge(civ_member, first, second)
    assert state_of(first, second) == before


def test_an_identity_already_merged_is_refused_and_never_editable_again(proven_pair, make_identity, civ_member, civ_referent):
    first, second = proven_pair("VALI", "PROV")
    merge(civ_member, first, second)
    third = make_identity("PROV", birth_given_names="JEANNE M")
    prove(civ_member, second, third)
    with pytest.raises(ConflictError, match=f"L'identité n° {second.pk} a déjà été fusionnée dans l'identité n° {first.pk}"):
        merge(civ_referent, second, third)
    with pytest.raises(NotAllowed, match="fusionnée dans l'identité n° .* elle n'est plus modifiable"):
        services.identity_update_traits(actor=civ_referent, identity_id=second.pk, expected_version=None, used_name="AUTRE")
    with pytest.raises(NotAllowed, match="n'est plus modifiable"):
        factories.check_passport(civ_member, second)
    with pytest.raises(NotAllowed, match="n'est plus modifiable"):
        services.identity_set_attribute(actor=civ_member, identity_id=second.pk, attribute=Attribute.DOUT, value=True, reason="x")


def test_an_identity_waiting_for_an_insi_recovery_decision_is_refused(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    waiting = InsiRecovery.objects.create(identity=second, method=InsiRecovery.Method.TRAITS, requested_by=civ_member,
                                          identity_version=second.version, code="00", state=InsiRecovery.State.AWAITING)
    before = state_of(first, second)
    with pytest.raises(RuleViolation, match=f"attend la décision sur la récupération INSi n° {waiting.pk}"):
        merge(civ_member, first, second)
    assert state_of(first, second) == before


def test_an_identity_in_a_running_campaign_is_refused_until_the_run_is_over(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    run = InsiRun.objects.create(kind=InsiRun.Kind.VERIFICATION, label="Campagne annuelle", started_by=civ_member, calls_per_second=1)
    InsiRunItem.objects.create(run=run, identity=first)
    with pytest.raises(RuleViolation, match="exécution INSi « Campagne annuelle » en cours"):
        merge(civ_member, first, second)
    run.state = InsiRun.State.CANCELLED
    run.save()
    assert merge(civ_member, first, second).state == Merge.State.DONE


def test_a_civ_member_merges_only_a_proven_pair_a_referent_any_pair(make_identity, civ_member, civ_referent, front_desk, manager):
    first, second = make_identity("PROV"), make_identity("PROV", birth_given_names="JEANNE")
    with pytest.raises(RuleViolation, match="ne sont pas un doublon avéré"):
        merge(civ_member, first, second)
    for nobody in (front_desk, manager):
        with pytest.raises(NotAllowed, match="pas le droit de fusionner"):
            merge(nobody, first, second)
    assert merge(civ_referent, first, second).state == Merge.State.DONE


# --- What the merge carries over ---

def test_everything_of_the_absorbed_record_is_carried_over_in_one_transaction(proven_pair, make_identity, civ_member, front_desk):
    first, second = proven_pair("PROV", "VALI", birth_given_names="JEANNE MARIE")  # same strict traits
    # Second: a passport (validating), an INS retrieved then invalidated (history), a link to a third record, a worklist item.
    third = make_identity("PROV", birth_name="MARTINEZ")
    IdentityLink.objects.create(kind=IdentityLink.Kind.HOMD, identity=second, other=third, created_by=civ_member)
    pair_item = WorklistItem.objects.create(kind=WorklistItem.Kind.HOMONYM, identity=second, other=third, reason="test")
    InsMatricule.objects.create(identity=second, matricule="280056322099952", oid="1.2.250.1.213.1.4.10",
                                kind=InsMatricule.Kind.HISTORICAL, source=InsMatricule.Source.INSI_RECOVERY)
    events_before = set(IdentityEvent.objects.filter(identity=second).values_list("pk", flat=True))
    done = merge(civ_member, second, first)
    survivor, absorbed = fresh(second, first)
    assert done.survivor_id == second.pk  # VALI over PROV
    assert DocumentCheck.objects.filter(identity=survivor).count() == 1
    assert InsMatricule.objects.filter(identity=survivor).count() == 1
    assert events_before <= set(IdentityEvent.objects.filter(identity=survivor).values_list("pk", flat=True))
    # The absorbed record's own events moved too, it keeps only the merge's.
    assert list(IdentityEvent.objects.filter(identity=absorbed).values_list("kind", flat=True)) == [IdentityEvent.Kind.MERGED]
    kinds = IdentityEvent.objects.filter(identity=survivor, kind=IdentityEvent.Kind.MERGED).values_list("details", flat=True)
    assert [d["absorbed_ipp"] for d in kinds] == [str(absorbed.ipp)]
    assert IdentityLink.objects.get(kind=IdentityLink.Kind.HOMD).identity_id == survivor.pk
    pair_item.refresh_from_db()
    assert pair_item.state == WorklistItem.State.OPEN and {pair_item.identity_id, pair_item.other_id} == {survivor.pk, third.pk}
    assert not WorklistItem.objects.filter(state=WorklistItem.State.OPEN).filter(identity=absorbed).exists()
    assert (absorbed.is_active, absorbed.merged_into_id, absorbed.merged_at is not None) == (False, survivor.pk, True)


def test_a_carried_document_check_validates_the_survivor_only_when_the_strict_traits_agree(proven_pair, civ_member, front_desk):
    same_first, same_second = proven_pair("RECUP", "VALI", birth_given_names="JEANNE MARIE")
    merge(civ_member, same_first, same_second)
    survivor = fresh(same_first)[0]
    assert survivor.status == Status.QUAL  # RECUP + the absorbed record's passport, checked against the same traits
    assert DocumentCheck.objects.get(identity=survivor).validates

    other_first, other_second = proven_pair("RECUP", "VALI", birth_name="BERNARD", birth_given_names="JEANNE")
    merge(civ_member, other_first, other_second)
    survivor = fresh(other_first)[0]
    assert survivor.status == Status.RECUP  # the passport was checked against other given names: not evidence for these
    assert not DocumentCheck.objects.get(identity=survivor).validates


# --- Four eyes ---

def test_four_eyes_one_proposes_another_approves_the_same_person_is_refused(four_eyes, proven_pair, civ_member, civ_referent):
    first, second = proven_pair("PROV", "PROV")
    proposal = merge(civ_member, first, second)
    assert proposal.state == Merge.State.PROPOSED and fresh(second)[0].is_active
    with pytest.raises(NotAllowed, match="une autre personne que celle qui a proposé"):
        merge_services.merge_approve(actor=civ_member, merge_id=proposal.pk)
    assert fresh(second)[0].is_active
    with pytest.raises(RuleViolation, match="déjà proposée"):
        merge(civ_referent, first, second)
    approved = merge_services.merge_approve(actor=civ_referent, merge_id=proposal.pk)
    assert approved.state == Merge.State.DONE and approved.decided_by == civ_referent
    with pytest.raises(ConflictError, match="déjà été traitée"):
        merge_services.merge_approve(actor=civ_referent, merge_id=proposal.pk)


def test_four_eyes_a_proposal_can_be_refused_with_a_reason(four_eyes, proven_pair, civ_member, civ_referent):
    first, second = proven_pair("PROV", "PROV")
    proposal = merge(civ_member, first, second)
    with pytest.raises(RuleViolation, match="motif est obligatoire"):
        merge_services.merge_reject(actor=civ_referent, merge_id=proposal.pk, reason=" ")
    merge_services.merge_reject(actor=civ_referent, merge_id=proposal.pk, reason="pas la même mère")
    assert Merge.objects.get(pk=proposal.pk).state == Merge.State.REJECTED and fresh(second)[0].is_active


def test_only_a_referent_switches_four_eyes_on(civ_member, civ_referent):
    with pytest.raises(NotAllowed, match="seul un référent CIV"):
        merge_services.merge_set_policy(actor=civ_member, four_eyes=True)
    assert merge_services.merge_set_policy(actor=civ_referent, four_eyes=True).four_eyes


def test_a_withdrawn_check_travels_withdrawn_and_validates_nothing(proven_pair, civ_member):
    """A withdrawn check travels with the record, withdrawn, and validates nothing."""
    first, second = proven_pair("PROV", "VALI", birth_given_names="JEANNE MARIE")
    check = DocumentCheck.objects.get(identity=second)
    services.identity_withdraw_document_check(actor=civ_member, check_id=check.pk, reason="pièce mal lue")
    merge(civ_member, first, second)
    check.refresh_from_db()
    assert check.identity_id == first.pk and check.withdrawn_at and fresh(first)[0].status == Status.PROV
