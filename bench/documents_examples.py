"""Render the example PDFs of docs/examples/ from the demo identities (needs a migrated database).

    DATABASE_URL=postgres://… python bench/documents_examples.py
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
os.environ.setdefault("SECRET_KEY", "examples-only")

import django  # noqa: E402

django.setup()

from bench.documents_demo import demo_identities  # noqa: E402
from identities.documents.models import LabelFormat, LabelProfile  # noqa: E402
from identities.documents import render as documents  # noqa: E402

# A fixed print time: the examples change only when the rendering does.
PRINTED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)
OUT = ROOT / "docs" / "examples"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    qualified, recovered, provisional = demo_identities()
    for name, ident in (("fiche-identite-qualifiee", qualified), ("fiche-identite-recuperee", recovered)):
        (OUT / f"{name}.pdf").write_bytes(documents.render_identity_document(ident, printed_by="camille.accueil", printed_at=PRINTED_AT))
    profile = LabelProfile(name="Exemple", label_format=LabelFormat.objects.get(code="a4-3x8"), show_birthplace=True)
    sheet = documents.render_labels([qualified, recovered, provisional], label_format=profile.label_format, profile=profile, copies=8)
    (OUT / "etiquettes-a4-3x8.pdf").write_bytes(sheet)
    thermal = LabelFormat.objects.get(code="thermique-57x32")
    (OUT / "etiquette-thermique-57x32.pdf").write_bytes(
        documents.render_labels([qualified], label_format=thermal, profile=profile, copies=1)
    )
    for path in sorted(OUT.glob("*.pdf")):
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size // 1024} Kio")


if __name__ == "__main__":
    main()
