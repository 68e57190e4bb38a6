"""History rows with user and reason, optimistic concurrency, permissions per role."""
import pytest

from identities.core import services
from identities.core.errors import ConflictError, NotAllowed
from identities.core.models import Identity
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")


def test_every_change_leaves_a_history_row_with_its_user_and_reason(front_desk, civ_referent):
    ident = factories.qualified(front_desk)
    services.identity_update_traits(
        actor=civ_referent, identity_id=ident.pk, expected_version=ident.version, reason="Acte de naissance corrigé", birth_name="MARTINE"
    )
    latest = ident.history.first()
    assert latest.history_user == civ_referent
    assert latest.history_change_reason == "Acte de naissance corrigé"
    assert latest.birth_name == "MARTINE" and latest.status == "VALI"
    previous = latest.prev_record
    assert previous.birth_name == "MARTIN" and previous.status == "QUAL"
    users = {record.history_user for record in ident.history.all()}
    assert users == {front_desk, civ_referent}


def test_the_second_of_two_concurrent_editors_gets_a_conflict_and_loses_nothing(front_desk, civ_member):
    ident = factories.identity(front_desk)
    read_by_both = ident.version
    services.identity_update_traits(actor=front_desk, identity_id=ident.pk, expected_version=read_by_both, used_name="DUPONT")
    with pytest.raises(ConflictError, match="camille.accueil"):
        services.identity_update_traits(actor=civ_member, identity_id=ident.pk, expected_version=read_by_both, used_name="DURAND")
    ident.refresh_from_db()
    assert ident.used_name == "DUPONT" and ident.version == read_by_both + 1


def test_a_write_that_does_not_say_which_version_it_read_is_refused(front_desk):
    ident = factories.identity(front_desk)
    with pytest.raises(ConflictError, match="Version de l'identité absente"):
        services.identity_update_traits(actor=front_desk, identity_id=ident.pk, expected_version=None, used_name="DUPONT")
    ident.refresh_from_db()
    assert ident.used_name == "" and ident.version == 1 and not ident.events.filter(kind="TRAITS").exists()


@pytest.mark.parametrize("persona", ["manager", "outsider"])
def test_read_only_roles_cannot_create_identities(persona, request):
    actor = request.getfixturevalue(persona)
    with pytest.raises(NotAllowed, match="créer"):
        services.identity_create(actor=actor, birth_name="X", birth_given_names="Y", birth_date="2000-01-01", sex="M")
    assert not Identity.objects.exists()


@pytest.mark.parametrize("persona", ["manager", "outsider"])
def test_read_only_roles_cannot_check_documents_or_use_insi(persona, request, front_desk):
    actor = request.getfixturevalue(persona)
    ident = factories.identity(front_desk)
    with pytest.raises(NotAllowed):
        factories.check_passport(actor, ident)
    with pytest.raises(NotAllowed):
        services.identity_apply_insi_result(actor=actor, identity_id=ident.pk, result=factories.insi_result(ident))


def test_the_front_desk_cannot_withdraw_a_document_check_nor_invalidate_an_ins(front_desk):
    ident = factories.qualified(front_desk)
    with pytest.raises(NotAllowed):
        services.identity_withdraw_document_check(actor=front_desk, check_id=ident.document_checks.get().pk, reason="x")
    with pytest.raises(NotAllowed):
        services.identity_invalidate_ins(actor=front_desk, identity_id=ident.pk, reason="x")


def test_anteriority_candidates_must_be_acknowledged_before_creating(front_desk):
    existing = factories.identity(front_desk)
    outcome = services.identity_create(
        actor=front_desk, birth_name="Martin", birth_given_names="Jeanne", birth_date="17/05/1980", sex="F", birthplace_code="63220"
    )
    assert outcome.identity is None and outcome.candidates == [existing]
    assert Identity.objects.count() == 1
    created = services.identity_create(
        actor=front_desk, birth_name="Martin", birth_given_names="Jeanne", birth_date="17/05/1980", sex="F",
        birthplace_code="63220", acknowledged_candidates=[existing.pk],
    )
    assert created.identity is not None and Identity.objects.count() == 2
