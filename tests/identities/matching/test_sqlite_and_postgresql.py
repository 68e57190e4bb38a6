"""The embedded default (SQLite) and production (PostgreSQL) find the same pairs: one small labelled base loaded into each
with ``import_identities_csv --bulk``, swept with ``find_duplicates --export``, the two exports compared."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from identities.core.models import Identity
from identities.matching import store
from identities.workflows.bulk_load import sample_csv
from tests.processes import project_env

pytestmark = pytest.mark.django_db


def labelled_base(size: int) -> str:
    people = store.generator(5).generate(size)
    return sample_csv({**asdict(p), "uuid": f"00000000-0000-4000-8000-{i:012d}"} for i, p in enumerate(people))


def exported(path: Path, uuid_of: dict[str, str]) -> set[tuple]:
    """The export's pairs, each identity named by the UUID the CSV gave it: the IPPs are each base's own numbers."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {(tuple(sorted((uuid_of[row["identity_ipp"]], uuid_of[row["other_ipp"]]))), row["kind"], row["band"], row["score"],
                 row["explanation"]) for row in csv.DictReader(handle)}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares PostgreSQL (this test's database) with SQLite")
def test_sqlite_and_postgresql_propose_the_same_pairs(tmp_path):
    base = tmp_path / "base.csv"
    base.write_text(labelled_base(1500), encoding="utf-8")

    call_command("import_identities_csv", str(base), bulk=True, verbosity=0)
    call_command("find_duplicates", export=str(tmp_path / "postgresql.csv"), verbosity=0)

    env = project_env(DATABASE_URL=f"sqlite:///{tmp_path / 'embedded.sqlite3'}")
    for command in (["migrate", "--verbosity", "0"], ["import_identities_csv", str(base), "--bulk"],
                    ["find_duplicates", "--export", str(tmp_path / "sqlite.csv")]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=settings.BASE_DIR, check=True, capture_output=True,
                       timeout=300)

    with sqlite3.connect(tmp_path / "embedded.sqlite3") as embedded:
        on_sqlite = exported(tmp_path / "sqlite.csv", {ipp: uuid.UUID(internal_id).hex for ipp, internal_id in
                                                       embedded.execute("SELECT ipp, uuid FROM identities_identity")})
    on_postgresql = exported(tmp_path / "postgresql.csv", {ipp: internal_id.hex for ipp, internal_id in
                                                           Identity.objects.values_list("ipp", "uuid")})
    assert len(on_postgresql) > 20  # the generator plants duplicates and homonyms
    assert on_sqlite == on_postgresql
