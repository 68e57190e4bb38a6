"""The CIV worklists: how items arrive, how they are decided and closed, who may act on them."""
import pytest

from identities.core import services, worklists
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import IdentityLink, WorklistItem
from identities.matching import pairs
from identities.matching import tasks as matching_tasks
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")

Kind, State, Decision = WorklistItem.Kind, WorklistItem.State, WorklistItem.Decision


def open_items(kind):
    return WorklistItem.objects.filter(kind=kind, state=State.OPEN)


def test_a_provisional_identity_waits_in_its_agents_queue_aged_from_its_creation(front_desk, civ_member):
    identity = factories.identity(front_desk)
    outcome = worklists.worklists_sync(actor=civ_member)
    item = open_items(Kind.PROVISIONAL).get()
    assert outcome.opened == 1
    assert (item.identity, item.owner, item.opened_at) == (identity, front_desk, identity.created_at)
    assert "pièce d'identité" in item.reason
    assert worklists.worklists_sync(actor=civ_member).opened == 0


def test_a_qualified_identity_leaves_the_provisional_queue_as_no_longer_relevant(front_desk, civ_member):
    identity = factories.identity(front_desk)
    worklists.worklists_sync(actor=civ_member)
    factories.check_passport(front_desk, identity)
    outcome = worklists.worklists_sync(actor=civ_member)
    item = WorklistItem.objects.get(kind=Kind.PROVISIONAL)
    assert outcome.closed == 1
    assert (item.state, item.decision, item.decided_by) == (State.DONE, Decision.OBSOLETE, civ_member)


def test_doubtful_and_fictitious_identities_have_their_own_queues(front_desk, civ_member):
    doubtful = factories.identity(front_desk, birth_name="DOUTE")
    fictitious = factories.identity(front_desk, birth_name="FICTION")
    services.identity_set_attribute(actor=front_desk, identity_id=doubtful.pk, attribute="DOUT", value=True, reason="deux patients")
    services.identity_set_attribute(actor=civ_member, identity_id=fictitious.pk, attribute="FICT", value=True, reason="VIP")
    worklists.worklists_sync(actor=civ_member)
    assert open_items(Kind.DOUBTFUL).get().identity == doubtful
    assert open_items(Kind.FICTITIOUS).get().identity == fictitious
    assert not open_items(Kind.PROVISIONAL).filter(identity__in=[doubtful, fictitious]).exists()
    services.identity_set_attribute(actor=civ_member, identity_id=doubtful.pk, attribute="DOUT", value=False, reason="levé")
    worklists.worklists_sync(actor=civ_member)
    assert not open_items(Kind.DOUBTFUL).exists()
    assert open_items(Kind.PROVISIONAL).filter(identity=doubtful).exists()


def test_only_the_civ_refreshes_the_whole_base(front_desk):
    with pytest.raises(NotAllowed):
        worklists.worklists_sync(actor=front_desk)


def test_confirming_homonyms_flags_both_identities_and_records_who_decided(front_desk, civ_member):
    first = factories.identity(front_desk, birth_given_names="CLAUDE", sex="F")
    second = factories.identity(front_desk, birth_given_names="CLAUDE", sex="M")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.HOMONYM).get()
    worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.CONFIRMED, note="frère et sœur")
    item.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.homonym and second.homonym
    assert IdentityLink.objects.filter(kind=IdentityLink.Kind.HOMA, identity=first, other=second).exists()
    assert (item.state, item.decision, item.decided_by, item.decision_note) == (State.DONE, Decision.CONFIRMED, civ_member, "frère et sœur")
    assert item.decided_at is not None


def test_confirming_a_duplicate_links_the_records_for_the_merge(front_desk, civ_member):
    first, second = factories.identity(front_desk), factories.identity(front_desk)
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.DUPLICATE).get()
    worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.CONFIRMED)
    assert IdentityLink.objects.filter(kind=IdentityLink.Kind.DOUA, identity=first, other=second).exists()


def test_an_item_is_decided_once(front_desk, civ_member, civ_referent):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="KO")
    worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.HANDLED)
    with pytest.raises(RuleViolation, match="déjà été traité par dominique.civ"):
        worklists.worklist_decide(actor=civ_referent, item_id=item.pk, decision=Decision.HANDLED)


def test_a_decision_must_fit_the_queue(front_desk, civ_member):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="KO")
    with pytest.raises(RuleViolation) as error:
        worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.CONFIRMED)
    assert error.value.field == "decision"


def test_the_front_desk_neither_decides_nor_assigns(front_desk, civ_member):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=front_desk, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="KO")
    with pytest.raises(NotAllowed):
        worklists.worklist_decide(actor=front_desk, item_id=item.pk, decision=Decision.HANDLED)
    with pytest.raises(NotAllowed):
        worklists.worklist_assign(actor=front_desk, item_id=item.pk, owner_id=front_desk.pk)


def test_an_item_is_given_only_to_a_member_of_the_cell(front_desk, civ_member, civ_referent):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="KO")
    with pytest.raises(RuleViolation) as error:
        worklists.worklist_assign(actor=civ_member, item_id=item.pk, owner_id=front_desk.pk)
    assert error.value.field == "owner"
    assert worklists.worklist_assign(actor=civ_member, item_id=item.pk, owner_id=civ_referent.pk).owner == civ_referent


def test_an_insi_verification_failure_is_queued_once_while_open(front_desk):
    identity = factories.qualified(front_desk)
    first = worklists.worklist_add_item(actor=front_desk, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="Vérification KO")
    again = worklists.worklist_add_item(actor=front_desk, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason="Vérification KO")
    assert first == again and open_items(Kind.INSI_VERIFICATION).count() == 1


def test_a_queued_item_needs_a_known_queue_and_a_reason(front_desk):
    identity = factories.identity(front_desk)
    with pytest.raises(RuleViolation):
        worklists.worklist_add_item(actor=front_desk, kind="NOPE", identity_id=identity.pk, reason="x")
    with pytest.raises(RuleViolation) as error:
        worklists.worklist_add_item(actor=front_desk, kind=Kind.INSI_VERIFICATION, identity_id=identity.pk, reason=" ")
    assert error.value.field == "reason"


def test_the_nightly_command_fills_the_queues_as_the_system_account(front_desk):
    from io import StringIO

    from django.core.management import call_command

    from identities.core import roles

    factories.identity(front_desk)
    factories.identity(front_desk)
    call_command("refresh_worklists", stdout=StringIO())
    assert open_items(Kind.PROVISIONAL).count() == 2
    assert open_items(Kind.DUPLICATE).get().created_by == roles.system_user()


def test_the_nightly_task_opens_the_queue_item_of_a_provisional_identity(front_desk, birthplaces):
    from identities.core.models import WorklistItem

    ident = factories.identity(front_desk, birth_name="NUITEUX")
    WorklistItem.objects.filter(identity=ident).delete()
    matching_tasks.refresh_worklists()
    assert WorklistItem.objects.filter(identity=ident, kind=WorklistItem.Kind.PROVISIONAL, state=WorklistItem.State.OPEN).exists()
