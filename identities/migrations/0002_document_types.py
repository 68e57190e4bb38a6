"""Seed the identity-document types of the national framework (the facility may edit them)."""
from django.db import migrations

from identities.core.defaults import seed_document_types


def seed(apps, schema_editor):
    seed_document_types(apps.get_model("identities", "DocumentType"))


class Migration(migrations.Migration):
    dependencies = [("identities", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
