"""Birthplace search: name keys, successors, La Poste postal codes and validity dates (filled by load_birthplaces)."""

from django.db import migrations, models


def fill_search_keys(apps, schema_editor):
    """Rows loaded before this migration become searchable at once; a new load_birthplaces fills the rest."""
    from identities.core.birthplaces import place_key

    Birthplace = apps.get_model("identities", "Birthplace")
    rows = list(Birthplace.objects.all())
    for row in rows:
        row.name = row.name.removesuffix(" (ancien code)")
        row.search_key = place_key(row.name)[:200]
    Birthplace.objects.bulk_update(rows, ["name", "search_key"], batch_size=2000)


class Migration(migrations.Migration):

    dependencies = [
        ('identities', '0010_intake_rniv2024_and_apcv'),
    ]

    operations = [
        migrations.AddField(
            model_name='birthplace',
            name='postal_codes',
            field=models.CharField(blank=True, help_text='séparés par des espaces', max_length=200, verbose_name='codes postaux (La Poste)'),
        ),
        migrations.AddField(
            model_name='birthplace',
            name='search_key',
            field=models.CharField(blank=True, db_index=True, max_length=200, verbose_name='clé de recherche'),
        ),
        migrations.AddField(
            model_name='birthplace',
            name='successor',
            field=models.CharField(blank=True, max_length=5, verbose_name='commune de rattachement'),
        ),
        migrations.AddField(
            model_name='birthplace',
            name='valid_from',
            field=models.DateField(blank=True, null=True, verbose_name='en vigueur depuis'),
        ),
        migrations.AddField(
            model_name='birthplace',
            name='valid_until',
            field=models.DateField(blank=True, null=True, verbose_name="en vigueur jusqu'au"),
        ),
        migrations.RunPython(fill_search_keys, migrations.RunPython.noop),
    ]
