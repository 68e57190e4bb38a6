# The daily counts of the dashboard's flows (portal.models.FlowTally, DurationTally): triggers on the INSi exchange log,
# the identity events and the worklist items insert the changes; the rows of what exists are written once here,
# grouped in SQL; and the identity counts per month, kept from the daily ones.

from django.conf import settings
from django.db import migrations, models

_FLOW = "identities_flowtally"
_DURATION = "identities_durationtally"
_IDENTITY = "identities_identity"
# A creation event's outcome: the anteriority hits the agent examined and set aside (the dashboard's "reviewed").
_CREATED = "CREATED"
_OUTCOME_PG = ("CASE WHEN NOT (e.details ? 'anteriority_hits') THEN '' "
               "WHEN (e.details -> 'anteriority_hits') > '0'::jsonb THEN 'reviewed' ELSE 'unreviewed' END")
_OUTCOME_SQLITE = ("CASE WHEN json_type(e.details, '$.anteriority_hits') IS NULL THEN '' "
                   "WHEN json_extract(e.details, '$.anteriority_hits') > 0 THEN 'reviewed' ELSE 'unreviewed' END")


def _pg_day(time_zone: str, value: str) -> str:
    return f"({value} AT TIME ZONE '{time_zone}')::date"


def _pg_counts(time_zone: str, exchanges: str, events: str) -> str:
    """One statement: the changes of the exchanges and creation events named (each a SELECT of rows and a sign ``n``)
    added to both tallies, one row per group; the establishment is the identity's at the time of the write."""
    day = _pg_day(time_zone, "x.started_at")
    return f"""
WITH exchanges AS (
    SELECT {day} AS day, i.establishment_id, x.operation, x.return_code, x.duration_ms, x.n
    FROM ({exchanges}) x LEFT JOIN {_IDENTITY} i ON i.id = x.identity_id
), durations AS (
    INSERT INTO {_DURATION} (day, monthly, establishment_id, duration_ms, count)
    SELECT day, monthly, establishment_id, duration_ms, SUM(n) FROM (
        SELECT day, FALSE AS monthly, establishment_id, duration_ms, n FROM exchanges
        UNION ALL SELECT date_trunc('month', day)::date, TRUE, establishment_id, duration_ms, n FROM exchanges
    ) spans GROUP BY 1, 2, 3, 4 HAVING SUM(n) <> 0
)
INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count)
SELECT day, establishment_id, flow, outcome, SUM(n) FROM (
    SELECT day, establishment_id, operation AS flow, return_code AS outcome, n FROM exchanges
    UNION ALL
    SELECT {_pg_day(time_zone, "e.at")}, i.establishment_id, '{_CREATED}', {_OUTCOME_PG}, e.n
    FROM ({events}) e JOIN {_IDENTITY} i ON i.id = e.identity_id WHERE e.kind = '{_CREATED}'
) changes GROUP BY 1, 2, 3, 4 HAVING SUM(n) <> 0
"""


def _pg_worklist_counts(time_zone: str, items: str) -> str:
    """The worklist items named (a SELECT of rows and a sign ``n``), counted three ways: ``opened:<kind>`` on the day
    of their opening, ``decided:<kind>`` (outcome: the decision) on the day of their decision, ``open:<kind>`` on the
    day of their opening while they are open."""
    def day(value: str) -> str:
        return _pg_day(time_zone, value)

    return f"""
INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count)
SELECT v.day, i.establishment_id, v.flow, v.outcome, SUM(w.n)
FROM ({items}) w JOIN {_IDENTITY} i ON i.id = w.identity_id
CROSS JOIN LATERAL (VALUES
    ({day("w.opened_at")}, 'opened:' || w.kind, ''),
    ({day("COALESCE(w.decided_at, w.opened_at)")}, CASE WHEN w.state = 'DONE' THEN 'decided:' || w.kind END,
     CASE WHEN w.decided_at IS NULL THEN '' ELSE w.decision END),
    ({day("w.opened_at")}, CASE WHEN w.state = 'OPEN' THEN 'open:' || w.kind END, '')
) v (day, flow, outcome)
WHERE v.flow IS NOT NULL GROUP BY 1, 2, 3, 4 HAVING SUM(w.n) <> 0
"""


_WORKLIST_COLUMNS = "identity_id, kind, opened_at, state, decision, decided_at"


def _pg_triggers(time_zone: str) -> str:
    """Statement-level triggers with transition tables: a bulk insert or update is counted in one grouped statement."""
    none = "SELECT NULL::bigint AS identity_id, NULL::timestamptz AS started_at, '' AS operation, '' AS return_code, 0 AS duration_ms, 0 AS n WHERE FALSE"
    no_event = "SELECT NULL::bigint AS identity_id, '' AS kind, NULL::timestamptz AS at, NULL::jsonb AS details, 0 AS n WHERE FALSE"

    def exchanges(table: str, sign: int) -> str:
        return f"SELECT identity_id, started_at, operation, return_code, duration_ms, {sign} AS n FROM {table}"

    def events(table: str, sign: int) -> str:
        return f"SELECT identity_id, kind, at, details, {sign} AS n FROM {table}"

    def function(name: str, inserted: str, deleted: str, updated: str) -> str:
        return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {inserted};
    ELSIF TG_OP = 'DELETE' THEN {deleted};
    ELSE {updated};
    END IF;
    RETURN NULL;
END $$;"""

    def triggers(table: str, name: str) -> str:
        return "".join(f"""
CREATE TRIGGER {name}_{op.lower()} AFTER {op} ON {table} REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION {name}();"""
                       for op, refs in (("INSERT", "NEW TABLE AS new_rows"), ("DELETE", "OLD TABLE AS old_rows"),
                                        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows")))

    def items(table: str, sign: int) -> str:
        return f"SELECT {_WORKLIST_COLUMNS}, {sign} AS n FROM {table}"

    both_exchanges = f"{exchanges('old_rows', -1)} UNION ALL {exchanges('new_rows', 1)}"
    both_events = f"{events('old_rows', -1)} UNION ALL {events('new_rows', 1)}"
    return (
        function("insi_exchange_tally", _pg_counts(time_zone, exchanges("new_rows", 1), no_event),
                 _pg_counts(time_zone, exchanges("old_rows", -1), no_event), _pg_counts(time_zone, both_exchanges, no_event))
        + triggers("insi_exchange", "insi_exchange_tally")
        + function("identities_event_tally", _pg_counts(time_zone, none, events("new_rows", 1)),
                   _pg_counts(time_zone, none, events("old_rows", -1)), _pg_counts(time_zone, none, both_events))
        + triggers("identities_identityevent", "identities_event_tally")
        + function("identities_worklist_tally", _pg_worklist_counts(time_zone, items("new_rows", 1)),
                   _pg_worklist_counts(time_zone, items("old_rows", -1)),
                   _pg_worklist_counts(time_zone, f"{items('old_rows', -1)} UNION ALL {items('new_rows', 1)}"))
        + triggers("identities_worklistitem", "identities_worklist_tally")
    )


def _sqlite_triggers() -> list[str]:
    # Django sets the process time zone (TZ) to TIME_ZONE: 'localtime' is the portal's time zone.
    def establishment(row: str) -> str:
        return f"(SELECT establishment_id FROM {_IDENTITY} WHERE id = {row}.identity_id)"

    def exchange(row: str, sign: int) -> str:
        day = f"date({row}.started_at, 'localtime')"
        return (f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) VALUES "
                f"({day}, {establishment(row)}, {row}.operation, {row}.return_code, {sign}); "
                f"INSERT INTO {_DURATION} (day, monthly, establishment_id, duration_ms, count) VALUES "
                f"({day}, 0, {establishment(row)}, {row}.duration_ms, {sign}), "
                f"(date({row}.started_at, 'localtime', 'start of month'), 1, {establishment(row)}, {row}.duration_ms, {sign}); ")

    def event(row: str, sign: int) -> str:
        return (f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) SELECT date(e.at, 'localtime'), "
                f"{establishment('e')}, '{_CREATED}', {_OUTCOME_SQLITE}, {sign} FROM (SELECT {row}.identity_id AS identity_id, "
                f"{row}.at AS at, {row}.details AS details) e WHERE {row}.kind = '{_CREATED}'; ")

    def item(row: str, sign: int) -> str:
        establishment_of = establishment(row)
        opened = f"date({row}.opened_at, 'localtime')"
        return (f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) VALUES "
                f"({opened}, {establishment_of}, 'opened:' || {row}.kind, '', {sign}); "
                f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) SELECT "
                f"date(COALESCE({row}.decided_at, {row}.opened_at), 'localtime'), {establishment_of}, 'decided:' || {row}.kind, "
                f"CASE WHEN {row}.decided_at IS NULL THEN '' ELSE {row}.decision END, {sign} WHERE {row}.state = 'DONE'; "
                f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) SELECT "
                f"{opened}, {establishment_of}, 'open:' || {row}.kind, '', {sign} WHERE {row}.state = 'OPEN'; ")

    item_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _WORKLIST_COLUMNS.split(", "))
    exchange_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ("identity_id", "started_at", "operation", "return_code", "duration_ms"))
    event_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in ("identity_id", "kind", "at", "details"))
    return [
        f"CREATE TRIGGER insi_exchange_tally_insert AFTER INSERT ON insi_exchange BEGIN {exchange('NEW', 1)}END",
        f"CREATE TRIGGER insi_exchange_tally_delete AFTER DELETE ON insi_exchange BEGIN {exchange('OLD', -1)}END",
        f"CREATE TRIGGER insi_exchange_tally_update AFTER UPDATE ON insi_exchange WHEN {exchange_changed} "
        f"BEGIN {exchange('OLD', -1)}{exchange('NEW', 1)}END",
        f"CREATE TRIGGER identities_event_tally_insert AFTER INSERT ON identities_identityevent BEGIN {event('NEW', 1)}END",
        f"CREATE TRIGGER identities_event_tally_delete AFTER DELETE ON identities_identityevent BEGIN {event('OLD', -1)}END",
        f"CREATE TRIGGER identities_event_tally_update AFTER UPDATE ON identities_identityevent WHEN {event_changed} "
        f"BEGIN {event('OLD', -1)}{event('NEW', 1)}END",
        f"CREATE TRIGGER identities_worklist_tally_insert AFTER INSERT ON identities_worklistitem BEGIN {item('NEW', 1)}END",
        f"CREATE TRIGGER identities_worklist_tally_delete AFTER DELETE ON identities_worklistitem BEGIN {item('OLD', -1)}END",
        f"CREATE TRIGGER identities_worklist_tally_update AFTER UPDATE ON identities_worklistitem WHEN {item_changed} "
        f"BEGIN {item('OLD', -1)}{item('NEW', 1)}END",
    ]


def install_flow_tallies(apps, schema_editor):
    # The triggers first: creating them locks both tables against writes until the migration commits, so the rows
    # counted below are exactly those that exist (nothing written in between is lost or counted twice).
    if schema_editor.connection.vendor == "postgresql":
        time_zone = settings.TIME_ZONE
        schema_editor.execute(_pg_triggers(time_zone))
        schema_editor.execute(_pg_counts(
            time_zone, "SELECT identity_id, started_at, operation, return_code, duration_ms, 1 AS n FROM insi_exchange",
            f"SELECT identity_id, kind, at, details, 1 AS n FROM identities_identityevent WHERE kind = '{_CREATED}'"))
        schema_editor.execute(_pg_worklist_counts(time_zone, f"SELECT {_WORKLIST_COLUMNS}, 1 AS n FROM identities_worklistitem"))
        return
    for statement in _sqlite_triggers():
        schema_editor.execute(statement)
    # SQLite (the demo): the same grouped counts.
    day, month = "date(x.started_at, 'localtime')", "date(x.started_at, 'localtime', 'start of month')"
    exchanges = f"FROM insi_exchange x LEFT JOIN {_IDENTITY} i ON i.id = x.identity_id"
    schema_editor.execute(f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) "
                          f"SELECT {day}, i.establishment_id, x.operation, x.return_code, COUNT(*) {exchanges} GROUP BY 1, 2, 3, 4")
    for span, monthly in ((day, 0), (month, 1)):
        schema_editor.execute(f"INSERT INTO {_DURATION} (day, monthly, establishment_id, duration_ms, count) "
                              f"SELECT {span}, {monthly}, i.establishment_id, x.duration_ms, COUNT(*) {exchanges} GROUP BY 1, 2, 3, 4")
    schema_editor.execute(f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) "
                          f"SELECT date(e.at, 'localtime'), i.establishment_id, '{_CREATED}', {_OUTCOME_SQLITE}, COUNT(*) "
                          f"FROM identities_identityevent e JOIN {_IDENTITY} i ON i.id = e.identity_id "
                          f"WHERE e.kind = '{_CREATED}' GROUP BY 1, 2, 3, 4")
    items = f"FROM identities_worklistitem w JOIN {_IDENTITY} i ON i.id = w.identity_id"
    for day, flow, outcome, where in (
        ("w.opened_at", "'opened:' || w.kind", "''", "TRUE"),
        ("COALESCE(w.decided_at, w.opened_at)", "'decided:' || w.kind",
         "CASE WHEN w.decided_at IS NULL THEN '' ELSE w.decision END", "w.state = 'DONE'"),
        ("w.opened_at", "'open:' || w.kind", "''", "w.state = 'OPEN'"),
    ):
        schema_editor.execute(f"INSERT INTO {_FLOW} (day, establishment_id, flow, outcome, count) "
                              f"SELECT date({day}, 'localtime'), i.establishment_id, {flow}, {outcome}, COUNT(*) {items} "
                              f"WHERE {where} GROUP BY 1, 2, 3, 4")


# The monthly identity counts (portal.models.IdentityMonthTally): the daily rows summed per month, kept by triggers on
# the daily counts (whose rows are only inserted, by the identity trigger and the folding, and deleted, by the folding).
_TALLY, _MONTHS = "identities_identitytally", "identities_identitymonthtally"
_GROUP = "establishment_id, status, channel, nia, doubtful, fictitious, homonym"


def _pg_months(rows: str, sign: str) -> str:
    return (f"INSERT INTO {_MONTHS} (day, {_GROUP}, active, created) "
            f"SELECT date_trunc('month', day)::date, {_GROUP}, {sign}SUM(active), {sign}SUM(created) FROM {rows} "
            f"GROUP BY date_trunc('month', day), {_GROUP} HAVING SUM(active) <> 0 OR SUM(created) <> 0")


def install_month_tally(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"""
CREATE FUNCTION identities_tally_months() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {_pg_months("new_rows", "")};
    ELSE {_pg_months("old_rows", "-")};
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER identities_tally_months_insert AFTER INSERT ON {_TALLY} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION identities_tally_months();
CREATE TRIGGER identities_tally_months_delete AFTER DELETE ON {_TALLY} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION identities_tally_months();
""")
    else:
        def month(row: str, sign: str) -> str:
            values = ", ".join(f"{row}.{column}" for column in _GROUP.split(", "))
            return (f"INSERT INTO {_MONTHS} (day, {_GROUP}, active, created) VALUES "
                    f"(date({row}.day, 'start of month'), {values}, {sign}{row}.active, {sign}{row}.created); ")

        schema_editor.execute(f"CREATE TRIGGER identities_tally_months_insert AFTER INSERT ON {_TALLY} BEGIN {month('NEW', '')}END")
        schema_editor.execute(f"CREATE TRIGGER identities_tally_months_delete AFTER DELETE ON {_TALLY} BEGIN {month('OLD', '-')}END")
    start = "date_trunc('month', day)::date" if schema_editor.connection.vendor == "postgresql" else "date(day, 'start of month')"
    schema_editor.execute(f"INSERT INTO {_MONTHS} (day, {_GROUP}, active, created) SELECT {start}, {_GROUP}, SUM(active), SUM(created) "
                          f"FROM {_TALLY} GROUP BY 1, {_GROUP}")


def remove_month_tally(apps, schema_editor):
    for op in ("insert", "delete"):
        schema_editor.execute(f"DROP TRIGGER identities_tally_months_{op}" + (f" ON {_TALLY}" if schema_editor.connection.vendor == "postgresql" else ""))
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION identities_tally_months()")


def remove_flow_tallies(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "".join(f"DROP TRIGGER {name}_{op} ON {table}; " for name, table in (
                ("insi_exchange_tally", "insi_exchange"), ("identities_event_tally", "identities_identityevent"),
                ("identities_worklist_tally", "identities_worklistitem"))
                for op in ("insert", "delete", "update"))
            + "DROP FUNCTION insi_exchange_tally(); DROP FUNCTION identities_event_tally(); DROP FUNCTION identities_worklist_tally();")
    else:
        for name in ("insi_exchange_tally", "identities_event_tally", "identities_worklist_tally"):
            for op in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER {name}_{op}")


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0019_ipp_short_number'),
        ('insi', '0002_exchange_body_permission'),
    ]

    operations = [
        migrations.CreateModel(
            name='DurationTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='jour')),
                ('monthly', models.BooleanField(verbose_name='mois entier')),
                ('establishment_id', models.BigIntegerField(null=True, verbose_name='établissement')),
                ('duration_ms', models.IntegerField(verbose_name='durée (ms)')),
                ('count', models.IntegerField(verbose_name='nombre')),
            ],
            options={
                'verbose_name': 'histogramme des temps de réponse INSi',
                'verbose_name_plural': 'histogrammes des temps de réponse INSi',
                'default_permissions': (),
                'indexes': [models.Index(fields=['monthly', 'day', 'establishment_id'], name='durationtally_span')],
            },
        ),
        migrations.CreateModel(
            name='FlowTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='jour')),
                ('establishment_id', models.BigIntegerField(null=True, verbose_name='établissement')),
                ('flow', models.CharField(max_length=64, verbose_name='flux')),
                ('outcome', models.CharField(max_length=32, verbose_name='résultat')),
                ('count', models.IntegerField(verbose_name='nombre')),
            ],
            options={
                'verbose_name': 'décompte quotidien des flux',
                'verbose_name_plural': 'décomptes quotidiens des flux',
                'default_permissions': (),
                'indexes': [models.Index(fields=['flow', 'day', 'establishment_id'], name='flowtally_flow_day')],
            },
        ),
        migrations.RunPython(install_flow_tallies, remove_flow_tallies),
        migrations.CreateModel(
            name='IdentityMonthTally',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='jour')),
                ('establishment_id', models.BigIntegerField(verbose_name='établissement')),
                ('status', models.CharField(max_length=5, verbose_name='statut')),
                ('channel', models.CharField(max_length=4, verbose_name='modalité de recueil')),
                ('nia', models.BooleanField(verbose_name='NIA')),
                ('doubtful', models.BooleanField(verbose_name='douteuse')),
                ('fictitious', models.BooleanField(verbose_name='fictive')),
                ('homonym', models.BooleanField(verbose_name='homonyme')),
                ('active', models.IntegerField(verbose_name='variation des identités actives')),
                ('created', models.IntegerField(verbose_name='identités créées')),
            ],
            options={
                'verbose_name': 'décompte mensuel des identités',
                'verbose_name_plural': 'décomptes mensuels des identités',
                'default_permissions': (),
                'indexes': [models.Index(fields=['establishment_id', 'day'], name='identitymonthtally_est_day')],
            },
        ),
        migrations.RunPython(install_month_tally, remove_month_tally),
    ]
