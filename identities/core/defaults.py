"""The facility's starting configuration of the referential: the identity-document types.

Seeded by the migrations, and put back by ``ensure_defaults`` (after every migrate or flush)
when a table is empty; once the facility has edited a table, it is never touched again.
"""
from __future__ import annotations

from identities.core.models import DocumentType

HIGH, COMPANION, SUPPORT, NONE = "HIGH", "COMPANION", "SUPPORT", "NONE"
DOCUMENT_TYPES = [
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

def seed_document_types(document_type_model) -> None:
    for position, (code, label, trust, requires_expiry) in enumerate(DOCUMENT_TYPES):
        document_type_model.objects.update_or_create(
            code=code, defaults={"label": label, "trust": trust, "requires_expiry": requires_expiry, "position": position}
        )


def ensure_defaults(**_kwargs) -> None:
    """post_migrate: put the document types back into a table left empty (a flush, a new install)."""
    if not DocumentType.objects.exists():
        seed_document_types(DocumentType)
