# The given names from the 2nd, 3rd and 4th given name on, kept by the database, and one index per position:
# the FHIR search by a given name in any position reads each position's matches off an index, in order.
#
# SQLite adds a stored generated column by remaking the table; the tally triggers of other tables
# name identities_identity, and SQLite refuses to rename the new table while they do unless the
# legacy rename is on for the time of the remake (the triggers keep naming the table, which is back).

import identities.core.models
from django.conf import settings
from django.db import migrations, models


def _sqlite_legacy_rename(on: bool):
    def switch(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            schema_editor.execute(f"PRAGMA legacy_alter_table = {'ON' if on else 'OFF'}")
    return switch


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0020_dash2_flow_tallies'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_sqlite_legacy_rename(True), _sqlite_legacy_rename(False)),
        migrations.AddField(
            model_name='identity',
            name='given_names_key_from_2',
            field=models.GeneratedField(db_persist=True, expression=identities.core.models.WordsAfterFirst(models.F('given_names_key')), output_field=identities.core.models.BytewiseCharField(max_length=100)),
        ),
        migrations.AddField(
            model_name='identity',
            name='given_names_key_from_3',
            field=models.GeneratedField(db_persist=True, expression=identities.core.models.WordsAfterFirst(identities.core.models.WordsAfterFirst(models.F('given_names_key'))), output_field=identities.core.models.BytewiseCharField(max_length=100)),
        ),
        migrations.AddField(
            model_name='identity',
            name='given_names_key_from_4',
            field=models.GeneratedField(db_persist=True, expression=identities.core.models.WordsAfterFirst(identities.core.models.WordsAfterFirst(identities.core.models.WordsAfterFirst(models.F('given_names_key')))), output_field=identities.core.models.BytewiseCharField(max_length=100)),
        ),
        migrations.AddIndex(
            model_name='identity',
            index=models.Index(condition=models.Q(('is_active', True)), fields=['given_names_key', 'birth_name_key', 'birth_date', 'id'], name='identity_search_given_1'),
        ),
        migrations.AddIndex(
            model_name='identity',
            index=models.Index(condition=models.Q(('is_active', True), models.Q(('given_names_key_from_2', ''), _negated=True)), fields=['given_names_key_from_2', 'birth_name_key', 'birth_date', 'id'], name='identity_search_given_2'),
        ),
        migrations.AddIndex(
            model_name='identity',
            index=models.Index(condition=models.Q(('is_active', True), models.Q(('given_names_key_from_3', ''), _negated=True)), fields=['given_names_key_from_3', 'birth_name_key', 'birth_date', 'id'], name='identity_search_given_3'),
        ),
        migrations.AddIndex(
            model_name='identity',
            index=models.Index(condition=models.Q(('is_active', True), models.Q(('given_names_key_from_4', ''), _negated=True)), fields=['given_names_key_from_4', 'birth_name_key', 'birth_date', 'id'], name='identity_search_given_4'),
        ),
        migrations.RunPython(_sqlite_legacy_rename(False), _sqlite_legacy_rename(True)),
    ]
