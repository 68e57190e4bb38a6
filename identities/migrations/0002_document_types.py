"""Seed the identity-document types of the national framework (the facility may edit them)."""
from django.db import migrations

HIGH, COMPANION, SUPPORT, NONE = "HIGH", "COMPANION", "SUPPORT", "NONE"
TYPES = [
    # code, label, trust, requires_expiry
    ("passeport", "Passeport", HIGH, True),
    ("cni", "Carte nationale d'identité (UE, EEE, Suisse, micro-États listés)", HIGH, True),
    ("titre-sejour", "Titre de séjour", HIGH, True),
    ("eidas", "Identité numérique eIDAS substantiel ou élevé (France Identité, Identité Numérique La Poste)", HIGH, False),
    ("appli-carte-vitale", "Appli carte Vitale", HIGH, False),
    ("extrait-naissance", "Extrait d'acte de naissance (mineur : avec la pièce d'un parent)", COMPANION, False),
    ("livret-famille", "Livret de famille (mineur : avec la pièce d'un parent ; EHPAD : avec carte Vitale avec photo)", COMPANION, False),
    ("carte-vitale-photo", "Carte Vitale avec photo (en complément, admission directe en EHPAD)", SUPPORT, False),
    ("permis-conduire", "Permis de conduire (ne valide pas)", NONE, False),
    ("carte-militaire", "Carte militaire (ne valide pas)", NONE, False),
]


def seed(apps, schema_editor):
    DocumentType = apps.get_model("identities", "DocumentType")
    for position, (code, label, trust, requires_expiry) in enumerate(TYPES):
        DocumentType.objects.update_or_create(
            code=code, defaults={"label": label, "trust": trust, "requires_expiry": requires_expiry, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("identities", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
