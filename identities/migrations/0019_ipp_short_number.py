"""The short IPP: the UUID keeps its role as internal id under the name ``uuid``; ``ipp`` becomes
prefix + sequence number + Luhn check digit (identities/core/ipp.py).

Every existing identity gets its number in creation order (created_at, then id), a batch of
rows per UPDATE; the counter then starts after the last number given.
"""
import uuid

from django.db import migrations, models
from django.db.models import Q

from identities.core import ipp

BATCH = 5_000


def create_counter(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE SEQUENCE {ipp.SEQUENCE} AS bigint MINVALUE 1")
    else:
        schema_editor.execute(f"CREATE TABLE {ipp.COUNTER_TABLE} (last bigint NOT NULL)")
        schema_editor.execute(f"INSERT INTO {ipp.COUNTER_TABLE} (last) VALUES (0)")


def drop_counter(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {ipp.SEQUENCE}")
    else:
        schema_editor.execute(f"DROP TABLE IF EXISTS {ipp.COUNTER_TABLE}")


def number_existing_identities(apps, schema_editor):
    """One UPDATE … FROM (VALUES …) per batch of rows (PostgreSQL and SQLite alike), numbers from the counter."""
    Identity = apps.get_model("identities", "Identity")
    table = schema_editor.connection.ops.quote_name(Identity._meta.db_table)
    ids = list(Identity.objects.order_by("created_at", "id").values_list("id", flat=True))
    with schema_editor.connection.cursor() as cursor:
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            numbers = ipp.allocate(len(batch), using=schema_editor.connection.alias)
            rows = ", ".join(["(%s, %s)"] * len(batch))
            cursor.execute(
                f"UPDATE {table} SET ipp = v.column2 FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1",
                [value for pair in zip(batch, numbers, strict=True) for value in pair],
            )


class Migration(migrations.Migration):

    dependencies = [
        ("identities", "0018_dash_establishments_dashboard"),
    ]

    operations = [
        migrations.RenameField(model_name="identity", old_name="ipp", new_name="uuid"),
        migrations.RenameField(model_name="historicalidentity", old_name="ipp", new_name="uuid"),
        migrations.AlterField(
            model_name="identity", name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name="identifiant interne"),
        ),
        migrations.AlterField(
            model_name="historicalidentity", name="uuid",
            field=models.UUIDField(db_index=True, default=uuid.uuid4, editable=False, verbose_name="identifiant interne"),
        ),
        migrations.AddField(
            model_name="identity", name="ipp", field=models.CharField(editable=False, max_length=16, null=True),
        ),
        migrations.RunPython(create_counter, drop_counter),
        migrations.RunPython(number_existing_identities, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="identity", name="ipp",
            field=models.CharField(
                editable=False, help_text="identifiant permanent du patient : préfixe, numéro et clé de contrôle",
                max_length=16, unique=True, verbose_name="IPP",
            ),
        ),
        migrations.AddConstraint(
            model_name="identity",
            constraint=models.CheckConstraint(
                condition=~Q(ipp=""), name="identity_ipp_assigned", violation_error_message="Toute identité porte un IPP.",
            ),
        ),
    ]
