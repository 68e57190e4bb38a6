"""The facility's starting configuration of the referential: the identity-document types and the default establishment.

Seeded by the migrations, and put back by ``ensure_defaults`` (after every migrate or flush)
when a table is empty; once the facility has edited a table, it is never touched again.
"""
from __future__ import annotations

from identities.core.models import DocumentType, Establishment

HIGH, COMPANION, SUPPORT, EXCEPTION, NONE = "HIGH", "COMPANION", "SUPPORT", "EXCEPTION", "NONE"
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
# The RNIV 2024 validation exceptions (core/derogations.py): added by migration 0010 where absent.
RNIV_2024_DOCUMENT_TYPES = [
    ("piece-tuteur", "Pièce d'identité du tuteur ou du délégataire de l'autorité parentale (mineur : avec la décision de justice)",
     COMPANION, True),
    ("decision-justice", "Décision de justice désignant le tuteur ou le délégataire (en complément)", SUPPORT, False),
    ("dcem", "Document de circulation pour étranger mineur (avec photo)", EXCEPTION, True),
    ("ordonnance-placement", "Ordonnance ou jugement de placement (aide sociale à l'enfance)", EXCEPTION, False),
]

def seed_document_types(document_type_model) -> None:
    for position, (code, label, trust, requires_expiry) in enumerate(DOCUMENT_TYPES):
        document_type_model.objects.update_or_create(
            code=code, defaults={"label": label, "trust": trust, "requires_expiry": requires_expiry, "position": position}
        )
    add_rniv_2024_document_types(document_type_model)


def add_rniv_2024_document_types(document_type_model) -> None:
    """The exceptions' document types, where the facility has none of that code (its own edits are kept)."""
    for position, (code, label, trust, requires_expiry) in enumerate(RNIV_2024_DOCUMENT_TYPES, start=len(DOCUMENT_TYPES)):
        document_type_model.objects.get_or_create(
            code=code, defaults={"label": label, "trust": trust, "requires_expiry": requires_expiry, "position": position}
        )


# The establishment identities belong to when none is known (migration 0016 creates it with these values).
DEFAULT_ESTABLISHMENT = {"code": "principal", "name": "Établissement principal"}


def ensure_defaults(**_kwargs) -> None:
    """post_migrate: put the document types back into a table left empty (a flush, a new install), and a default
    establishment where there is none."""
    if not DocumentType.objects.exists():
        seed_document_types(DocumentType)
    if not Establishment.objects.filter(is_default=True).exists():
        Establishment.objects.update_or_create(code=DEFAULT_ESTABLISHMENT["code"],
                                               defaults={"name": DEFAULT_ESTABLISHMENT["name"], "is_default": True})
