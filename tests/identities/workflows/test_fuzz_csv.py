"""Fuzzing the CSV import (Hypothesis, deterministic): whatever the rows hold, each one is created, matched or refused
with a reason, and only a broken file as a whole (encoding, header, size) is refused whole, by a RuleViolation."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identities.core.errors import RuleViolation
from identities.workflows import csv_import
from tests.fuzz import fuzzed, nasty_text

pytestmark = pytest.mark.django_db

HEADER = "nom_naissance;prenoms_naissance;date_naissance;sexe;lieu_naissance;nom_utilise;identifiant_externe\n"
cell = nasty_text | st.sampled_from(["DUBOIS", "ANNE", "15/03/1979", "1979-00-00", "F", "M", "63220", "99100", "", '"'])
rows = st.lists(st.lists(cell, min_size=0, max_size=8).map(lambda cells: ";".join(c.replace("\r", " ") for c in cells)),
                min_size=1, max_size=4)


@fuzzed(60)
@given(lines=rows, encoded=st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
def test_no_file_makes_the_import_fail(civ_member, birthplaces, lines, encoded):
    content = (HEADER + "\n".join(lines) + "\n").encode(encoded, errors="replace")
    try:
        report = csv_import.identities_import_csv(actor=civ_member, content=content)
    except RuleViolation as refusal:
        assert refusal.field == "file" and refusal.message
        return
    for row in report.rows:
        assert row.result in (csv_import.CREATED, csv_import.MATCHED, csv_import.REJECTED)
        assert row.result != csv_import.REJECTED or row.reason
    assert report.summary.endswith("rejetée(s).")
