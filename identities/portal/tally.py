"""Upkeep of the dashboard's counts (``IdentityTally``, ``FlowTally``, ``DurationTally``): the triggers only insert, a
row per change; every quarter of an hour (beat) the rows are folded into one per group (day, establishment, …), so
that the dashboard reads a few rows per day of history even after a day of mass changes."""
from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Q, Sum

from identities.portal.models import DurationTally, FlowTally, IdentityMonthTally, IdentityTally

TALLIES = (IdentityTally, IdentityMonthTally, FlowTally, DurationTally)


def _fold(model) -> int:
    table, group, sums = model._meta.db_table, ", ".join(model.GROUP), model.SUMS
    if connection.vendor == "postgresql":
        # One statement: exactly the rows deleted are summed back, whatever the triggers insert meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH folded AS (DELETE FROM {table} RETURNING {group}, {', '.join(sums)}) "
                f"INSERT INTO {table} ({group}, {', '.join(sums)}) "
                f"SELECT {group}, {', '.join(f'SUM({column})' for column in sums)} FROM folded "
                f"GROUP BY {group} HAVING {' OR '.join(f'SUM({column}) <> 0' for column in sums)}"
            )
            return cursor.rowcount
    with transaction.atomic():  # SQLite (the demo): one writer at a time
        totals = {f"{column}_sum": Sum(column) for column in sums}
        groups = list(model.objects.values(*model.GROUP).order_by().annotate(**totals)
                      .exclude(Q.create([(f"{column}_sum", 0) for column in sums])))
        model.objects.all().delete()
        model.objects.bulk_create([
            model(**{key: group[key] for key in model.GROUP}, **{column: group[f"{column}_sum"] for column in sums})
            for group in groups
        ])
        return len(groups)


def tally_compact() -> dict[str, int]:
    """Fold each table's rows into one per group (the sums unchanged); returns how many rows each holds now."""
    return {model.__name__: _fold(model) for model in TALLIES}
