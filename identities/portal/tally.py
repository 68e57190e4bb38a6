"""Upkeep of the daily identity counts (``IdentityTally``): the trigger only inserts, a row per change; every quarter
of an hour (beat) the rows are folded into one per day and group, so that the dashboard reads a few rows per day of
history even after a day of mass changes."""
from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum

from identities.portal.models import IdentityTally

_GROUP = ", ".join(IdentityTally.GROUP)


def tally_compact() -> int:
    """Fold the rows into one per day and group (the sums unchanged); returns how many rows there are now."""
    table = IdentityTally._meta.db_table
    if connection.vendor == "postgresql":
        # One statement: exactly the rows deleted are summed back, whatever the trigger inserts meanwhile.
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH folded AS (DELETE FROM {table} RETURNING {_GROUP}, active, created) "
                f"INSERT INTO {table} ({_GROUP}, active, created) SELECT {_GROUP}, SUM(active), SUM(created) FROM folded "
                f"GROUP BY {_GROUP} HAVING SUM(active) <> 0 OR SUM(created) <> 0"
            )
            return cursor.rowcount
    with transaction.atomic():  # SQLite (the demo): one writer at a time
        groups = list(IdentityTally.objects.values(*IdentityTally.GROUP).order_by()
                      .annotate(active_sum=Sum("active"), created_sum=Sum("created")))
        IdentityTally.objects.all().delete()
        IdentityTally.objects.bulk_create([
            IdentityTally(**{key: group[key] for key in IdentityTally.GROUP}, active=group["active_sum"], created=group["created_sum"])
            for group in groups if group["active_sum"] or group["created_sum"]
        ])
        return IdentityTally.objects.count()
