"""Fuzzing the identity forms (Hypothesis, deterministic): the creation form and the anteriority search answer any
input with the page (and its errors) or a redirection, never a 500."""
from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import fuzzed, nasty_text
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.django_db

FIELDS = ["birth_name", "birth_given_names", "first_birth_given_name", "birth_date", "sex", "birthplace_code", "used_name",
          "used_given_name", "channel", "acknowledged", "expected_version"]
VALID = {"birth_name": "LEFEVRE", "birth_given_names": "ANNE", "first_birth_given_name": "", "birth_date": "02/03/1991",
         "sex": "F", "birthplace_code": "75056", "used_name": "", "used_given_name": "", "channel": "SM"}


@fuzzed(80)
@given(changes=st.dictionaries(st.sampled_from(FIELDS), nasty_text | st.integers(-2**70, 2**70).map(str), min_size=1, max_size=4))
def test_no_input_makes_the_creation_form_fail(front_desk, birthplaces, changes):
    response = logged_in(front_desk).post(reverse("admin:identities_identity_add"), VALID | changes)
    assert response.status_code in (200, 302), response.status_code


@fuzzed(80)
@given(query=st.dictionaries(st.sampled_from(["nom", "prenom", "naissance", "q", "p", "o"]), nasty_text, min_size=1, max_size=3))
def test_no_search_makes_the_identity_list_fail(front_desk, birthplaces, query):
    response = logged_in(front_desk).get(reverse("admin:identities_identity_changelist"), query)
    assert response.status_code in (200, 302, 400), response.status_code
