"""The facility's starting label settings: label formats and a shared label profile.

Seeded by the migrations, and put back by ``ensure_defaults`` (after every migrate or flush)
when a table is empty; once the facility has edited a table, it is never touched again.
"""
from __future__ import annotations

from identities.documents.models import LabelFormat, LabelProfile

# code, name, page w×h, columns×rows, label w×h, top/left margins, column/row gaps, padding,
# font size, datamatrix module (millimetres and points).
LABEL_FORMATS = [
    ("a4-3x8", "Planche A4, 3 × 8 étiquettes de 70 × 37 mm", (210, 297), (3, 8), (70, 37), (0.5, 0), (0, 0), 2, 7.5, 0.4),
    ("a4-2x7", "Planche A4, 2 × 7 étiquettes de 99,1 × 38,1 mm", (210, 297), (2, 7), (99.1, 38.1), (15.15, 4.65), (2.5, 0), 2, 8.5, 0.45),
    ("thermique-57x32", "Étiquette thermique 57 × 32 mm (rouleau)", (57, 32), (1, 1), (57, 32), (0, 0), (0, 0), 1.5, 7, 0.375),
]



def seed_label_settings(label_format_model, label_profile_model) -> None:
    for position, (code, name, page, grid, label, margins, gaps, padding, font, module) in enumerate(LABEL_FORMATS):
        label_format_model.objects.update_or_create(code=code, defaults={
            "name": name, "page_width_mm": page[0], "page_height_mm": page[1], "columns": grid[0], "rows": grid[1],
            "label_width_mm": label[0], "label_height_mm": label[1], "margin_top_mm": margins[0],
            "margin_left_mm": margins[1], "column_gap_mm": gaps[0], "row_gap_mm": gaps[1], "padding_mm": padding,
            "font_size_pt": font, "datamatrix_module_mm": module, "position": position,
        })
    if not label_profile_model.objects.exists():
        label_profile_model.objects.create(name="Profil standard", label_format=label_format_model.objects.get(code="a4-3x8"))


def ensure_defaults(**_kwargs) -> None:
    """post_migrate: put the label settings back into tables left empty (a flush, a new install)."""
    if not LabelFormat.objects.exists():
        seed_label_settings(LabelFormat, LabelProfile)
