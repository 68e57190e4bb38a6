"""Locking of strict traits, attributes, INS invalidation and collisions (domain.md §2)."""
import pytest

from identities.core import services
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import IdentityEvent, IdentityLink, InsMatricule, Status
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")


def _update(actor, ident, reason="", **changes):
    return services.identity_update_traits(actor=actor, identity_id=ident.pk, expected_version=ident.version, reason=reason, **changes)


@pytest.mark.parametrize("builder", [factories.recovered, factories.qualified])
def test_strict_traits_of_an_insi_identity_are_locked_for_the_civ_member(builder, front_desk, civ_member):
    ident = builder(front_desk)
    with pytest.raises(NotAllowed, match="Nom de naissance verrouillé"):
        _update(civ_member, ident, reason="erreur", birth_name="MARTINEZ")
    ident.refresh_from_db()
    assert ident.birth_name == "MARTIN" and ident.ins_matricule is not None


@pytest.mark.parametrize(("builder", "downgraded"), [(factories.recovered, Status.PROV), (factories.qualified, Status.VALI)])
def test_a_habilitated_change_invalidates_the_ins_and_downgrades_one_level(builder, downgraded, front_desk, civ_referent):
    ident = builder(front_desk)
    outcome = _update(civ_referent, ident, reason="Erreur de saisie INSi signalée par le patient", birth_name="MARTINEZ")
    ident.refresh_from_db()
    assert outcome.ins_invalidated
    assert ident.status == downgraded
    assert (ident.ins_matricule, ident.ins_oid) == (None, None)
    register = InsMatricule.objects.get(identity=ident)
    assert register.invalidated_at is not None and "Erreur de saisie" in register.invalidation_reason
    kinds = set(ident.events.values_list("kind", flat=True))
    assert {IdentityEvent.Kind.TRAITS_CHANGED, IdentityEvent.Kind.INS_INVALIDATED, IdentityEvent.Kind.STATUS_CHANGED} <= kinds


def test_a_habilitated_change_needs_a_reason(front_desk, civ_referent):
    ident = factories.qualified(front_desk)
    with pytest.raises(RuleViolation) as error:
        _update(civ_referent, ident, birth_name="MARTINEZ")
    assert error.value.field == "reason"
    ident.refresh_from_db()
    assert ident.status == Status.QUAL


def test_complementary_traits_stay_editable_on_a_qualified_identity(front_desk):
    ident = factories.qualified(front_desk)
    outcome = _update(front_desk, ident, used_name="Dupont")
    ident.refresh_from_db()
    assert outcome.changed == ["used_name"]
    assert ident.used_name == "DUPONT" and ident.status == Status.QUAL


def test_strict_traits_of_a_provisional_identity_are_editable_by_the_front_desk(front_desk):
    ident = factories.identity(front_desk)
    _update(front_desk, ident, birth_given_names="Jeanne-Marie", first_birth_given_name="")
    ident.refresh_from_db()
    assert ident.birth_given_names == "JEANNE-MARIE" and ident.first_birth_given_name == "JEANNE-MARIE"


def test_a_bad_trait_on_update_names_the_field_and_changes_nothing(front_desk):
    ident = factories.identity(front_desk)
    with pytest.raises(RuleViolation) as error:
        _update(front_desk, ident, birth_name="MARTIN2")
    assert error.value.field == "birth_name" and "chiffres" in error.value.message
    ident.refresh_from_db()
    assert ident.birth_name == "MARTIN" and ident.version == 1


def test_an_unknown_birthplace_is_refused_on_manual_entry(front_desk):
    with pytest.raises(RuleViolation) as error:
        services.identity_create(actor=front_desk, birth_name="DURAND", birth_given_names="LEA", birth_date="1990-01-01",
                                 sex="F", birthplace_code="99999")
    assert error.value.field == "birthplace_code" and "inconnu" in error.value.message


def test_a_defunct_cog_code_is_accepted(front_desk):
    ident = factories.identity(front_desk, birth_name="DURAND", birthplace_code="20004")
    assert ident.birthplace_code == "20004"


@pytest.mark.parametrize("attribute", ["DOUT", "FICT"])
def test_doubtful_or_fictitious_forces_provisional_and_invalidates_the_ins(attribute, front_desk, civ_member):
    ident = factories.qualified(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=attribute, value=True, reason="Usurpation suspectée")
    ident.refresh_from_db()
    assert ident.status == Status.PROV
    assert ident.ins_matricule is None and ident.ins_oid is None
    assert InsMatricule.objects.get(identity=ident).invalidated_at is not None


@pytest.mark.parametrize("attribute", ["DOUT", "FICT"])
def test_insi_calls_are_blocked_for_doubtful_and_fictitious_identities(attribute, front_desk, civ_member):
    ident = factories.identity(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=attribute, value=True, reason="test")
    with pytest.raises(NotAllowed, match="bloqués"):
        services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=factories.insi_result(ident))


def test_a_document_check_on_a_doubtful_identity_keeps_it_provisional(front_desk):
    ident = factories.identity(front_desk)
    services.identity_set_attribute(actor=front_desk, identity_id=ident.pk, attribute="DOUT", value=True, reason="Doute à l'accueil")
    outcome = factories.check_passport(front_desk, ident)
    ident.refresh_from_db()
    assert not outcome.status_changed and ident.status == Status.PROV


def test_doubtful_and_homonym_combine(front_desk, civ_member):
    ident = factories.identity(front_desk)
    for attribute in ("HOMA", "DOUT"):
        services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=attribute, value=True, reason="test")
    ident.refresh_from_db()
    assert ident.attributes == ["DOUT", "HOMA"]


@pytest.mark.parametrize(("first", "second"), [("FICT", "DOUT"), ("FICT", "HOMA"), ("DOUT", "FICT"), ("HOMA", "FICT")])
def test_fictitious_combines_with_nothing(first, second, front_desk, civ_member):
    ident = factories.identity(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=first, value=True, reason="test")
    with pytest.raises(RuleViolation, match="fictive"):
        services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=second, value=True, reason="test")
    ident.refresh_from_db()
    assert ident.attributes == [first]


def test_the_front_desk_may_flag_a_doubt_but_not_lift_it_nor_set_fictitious(front_desk):
    ident = factories.identity(front_desk)
    services.identity_set_attribute(actor=front_desk, identity_id=ident.pk, attribute="DOUT", value=True, reason="Pièce douteuse")
    with pytest.raises(NotAllowed, match="seule la CIV"):
        services.identity_set_attribute(actor=front_desk, identity_id=ident.pk, attribute="DOUT", value=False, reason="x")
    with pytest.raises(NotAllowed, match="seule la CIV"):
        services.identity_set_attribute(actor=front_desk, identity_id=ident.pk, attribute="FICT", value=True, reason="x")


def test_an_attribute_change_needs_a_reason(front_desk, civ_member):
    ident = factories.identity(front_desk)
    with pytest.raises(RuleViolation) as error:
        services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute="HOMA", value=True, reason=" ")
    assert error.value.field == "reason"


def test_the_civ_invalidates_an_ins_after_a_ko_verification(front_desk, civ_member):
    ident = factories.qualified(front_desk)
    services.identity_invalidate_ins(actor=civ_member, identity_id=ident.pk, reason="Vérification INSi KO")
    ident.refresh_from_db()
    assert ident.status == Status.VALI and ident.ins_matricule is None


def test_the_same_matricule_on_two_identities_is_refused_and_flagged_as_a_collision(front_desk):
    first = factories.recovered(front_desk)
    second = factories.identity(front_desk, birth_name="MARTINEZ", birth_given_names="JEANNE")
    outcome = services.identity_apply_insi_result(
        actor=front_desk, identity_id=second.pk, result=factories.insi_result(second)
    )
    second.refresh_from_db()
    assert not outcome.applied and outcome.collision_with == first
    assert "Collision" in outcome.message
    assert second.status == Status.PROV and second.ins_matricule is None
    assert IdentityLink.objects.filter(kind=IdentityLink.Kind.COLP, identity=second, other=first).exists()
    assert first.events.filter(kind=IdentityEvent.Kind.COLLISION).exists()
