"""Upkeep of the daily identity counts (``IdentityTally``): the trigger only inserts; each night the rows of the
past days are folded into one row per day and group, so that the dashboard reads a few rows per day of history."""
from __future__ import annotations

from datetime import date

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from identities.portal.models import IdentityTally

_GROUP = ", ".join(IdentityTally.GROUP)


def tally_compact(*, before: date | None = None) -> int:
    """Fold the rows of the days before ``before`` (default: today); returns how many rows remain for them."""
    before = before or timezone.localdate()
    table = IdentityTally._meta.db_table
    if connection.vendor == "postgresql":
        # One statement: exactly the rows deleted are summed back, whatever the trigger inserts meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH folded AS (DELETE FROM {table} WHERE day < %s RETURNING {_GROUP}, active, created) "
                f"INSERT INTO {table} ({_GROUP}, active, created) SELECT {_GROUP}, SUM(active), SUM(created) FROM folded "
                f"GROUP BY {_GROUP} HAVING SUM(active) <> 0 OR SUM(created) <> 0",
                [before],
            )
            return cursor.rowcount
    with transaction.atomic():  # SQLite (the demo): one writer at a time
        past = IdentityTally.objects.filter(day__lt=before)
        groups = list(past.values(*IdentityTally.GROUP).order_by().annotate(active_sum=Sum("active"), created_sum=Sum("created")))
        past.delete()
        IdentityTally.objects.bulk_create([
            IdentityTally(**{key: group[key] for key in IdentityTally.GROUP}, active=group["active_sum"], created=group["created_sum"])
            for group in groups if group["active_sum"] or group["created_sum"]
        ])
        return len(groups)
