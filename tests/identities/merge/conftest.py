"""Fixtures of the merge tests: identities in a given status, proven duplicate pairs, the four-eyes setting."""
from __future__ import annotations

import itertools

import pytest

from identities.core import worklists
from identities.core.models import WorklistItem
from identities.merge import selectors
from tests import factories

_serial = itertools.count(500)


@pytest.fixture
def make_identity(front_desk, birthplaces):
    """``make_identity("QUAL", birth_name=...)``: brought to that status through the services, a fresh matricule each."""

    def make(status: str = "PROV", **overrides):
        if status == "QUAL":
            return factories.qualified(front_desk, matricule13=f"2800563220{next(_serial):03d}", **overrides)
        if status == "RECUP":
            return factories.recovered(front_desk, matricule13=f"2800563220{next(_serial):03d}", **overrides)
        identity = factories.identity(front_desk, **overrides)
        if status == "VALI":
            factories.check_passport(front_desk, identity)
            identity.refresh_from_db()
        return identity

    return make


def prove(civ, first, second) -> WorklistItem:
    """The CIV confirms the pair in the duplicates worklist (« Doublon avéré »): the pair is proven."""
    item = worklists.worklist_add_item(actor=civ, kind=WorklistItem.Kind.DUPLICATE, identity_id=first.pk, other_id=second.pk,
                                       reason="test : doublon potentiel")
    return worklists.worklist_decide(actor=civ, item_id=item.pk, decision=WorklistItem.Decision.CONFIRMED)


@pytest.fixture
def proven_pair(make_identity, civ_member):
    """``proven_pair("VALI", "PROV")``: two records of one person (older first), confirmed as a duplicate."""

    def make(first_status="PROV", second_status="PROV", **second_overrides):
        first = make_identity(first_status)
        second = make_identity(second_status, **({"birth_given_names": "JEANNE"} | second_overrides))
        prove(civ_member, first, second)
        return first, second

    return make


@pytest.fixture
def four_eyes(db):
    policy = selectors.merge_policy()
    policy.four_eyes = True
    policy.save()
    return policy
