"""Bulk load of provisional identities from a large CSV (a migration of another base): every row checked first, then COPY.

Unlike the row-by-row import of identities received from another domain (``csv_import``),
no INS is taken (it would need an INSi verification per row) and no anteriority search
is run: the loaded base is swept for duplicates afterwards. Every row is validated by the
trait rules before anything is written; one bad row refuses the whole file, each error
named by line and field. Writes bypass the services (a million audit events would say
nothing), so the caller rebuilds the matching keys.
"""
from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterable, Iterator

from django.db import connection, transaction
from psycopg import sql

from identities.core import establishments, ipp, roles, traits
from identities.core.models import Channel, Identity, Status

REQUIRED = ("birth_name", "birth_given_names", "birth_date", "sex")
# ``uuid``: the record's internal id in the base migrated from, kept when given (a fresh one otherwise);
# the IPP is always this base's own (identities/core/ipp.py), numbered in file order.
OPTIONAL = ("first_birth_given_name", "birthplace_code", "used_name", "used_given_name", "uuid")
MAX_ERRORS = 50


@dataclass
class BulkReport:
    loaded: int = 0
    errors: list[str] = field(default_factory=list)


def _rows(handle: Iterable[str]) -> Iterator[tuple[int, dict]]:
    reader = csv.DictReader(handle)
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"colonnes obligatoires absentes : {', '.join(missing)} (attendu : {', '.join(REQUIRED + OPTIONAL)})")
    for line, row in enumerate(reader, start=2):
        yield line, row


def _identity(row: dict, actor_id: int, establishment_id: int) -> Identity:
    strict = traits.normalise_strict_traits(
        birth_name=row["birth_name"], birth_given_names=row["birth_given_names"],
        first_birth_given_name=row.get("first_birth_given_name") or "", birth_date=row["birth_date"], sex=row["sex"],
        birthplace_code=row.get("birthplace_code") or "",
    )
    used = (row.get("used_name") or "").strip()
    used_given = (row.get("used_given_name") or "").strip()
    identity = Identity(
        **vars(strict), used_name=traits.normalise_name(used, field=traits.USED_NAME) if used else "",
        used_given_name=traits.normalise_given_name(used_given, field=traits.USED_GIVEN_NAME) if used_given else "",
        status=Status.PROV, channel=Channel.SM, establishment_id=establishment_id, created_by_id=actor_id, updated_by_id=actor_id,
        uuid=uuid.UUID(row["uuid"]) if row.get("uuid") else uuid.uuid4(),
    )
    identity.refresh_search_keys()  # bulk writes skip save(), which keeps them
    return identity


def identities_bulk_load(path, *, batch: int = 20_000) -> BulkReport:
    """Check every row, then load them all (COPY on PostgreSQL, bulk_create elsewhere) in one transaction."""
    report = BulkReport()
    actor = roles.system_user()
    actor_id, establishment_id = actor.pk, establishments.establishment_of(actor).pk
    with open(path, newline="", encoding="utf-8") as handle:
        for line, row in _rows(handle):
            try:
                _identity(row, actor_id, establishment_id)
            except traits.TraitError as error:
                report.errors.append(f"ligne {line} : {traits.FIELD_LABELS.get(error.field, error.field)} : {error.message}")
            except ValueError:
                report.errors.append(f"ligne {line} : uuid : identifiant illisible (UUID attendu)")
            if len(report.errors) >= MAX_ERRORS:
                break
    if report.errors:
        return report
    with open(path, newline="", encoding="utf-8") as handle, transaction.atomic():
        rows = (_identity(row, actor_id, establishment_id) for _line, row in _rows(handle))
        while chunk := list(islice(rows, batch)):
            _write(chunk)
            report.loaded += len(chunk)
    return report


def _write(identities: list[Identity]) -> None:
    ipp.assign(identities)
    if connection.vendor != "postgresql":
        Identity.objects.bulk_create(identities)
        return
    columns = [f for f in Identity._meta.concrete_fields if not f.primary_key and not f.generated]  # the database computes those
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(Identity._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in columns)
    )
    with connection.cursor() as wrapper, wrapper.cursor.copy(statement) as copy:
        for identity in identities:
            copy.write_row([f.get_db_prep_save(f.pre_save(identity, add=True), connection) for f in columns])


def sample_csv(rows: Iterable[dict]) -> str:
    """The CSV this loader reads, from dicts of its columns (the benchmarks and tests write their bases with it)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*REQUIRED, *OPTIONAL], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
