"""Identity documents and label sheets as PDF (WeasyPrint); the INS on them comes only from the diffusion gate."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Callable

from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML, URLFetcher

from identities.core import matricule, selectors
from identities.core.diffusion import SharedIns, shareable_ins
from identities.core.models import Identity
from identities.documents.models import LabelFormat, LabelProfile
from identities.documents import datamatrix

# Module of the datamatrix on the A4 document: 0.5 mm reads well on any office printer.
DOCUMENT_MODULE_MM = 0.5
# Quiet zone around a symbol, in modules (ISO/IEC 16022 asks for at least one).
QUIET_MODULES = 2
# Everything a document shows is in the HTML (datamatrices as data: URIs): no file, no network.
_NO_FETCH = URLFetcher(allowed_protocols=("data",))


@dataclass(frozen=True)
class Symbol:
    """A datamatrix ready for the template: a PNG data URI and its printed side."""

    uri: str
    side_mm: str


@dataclass(frozen=True)
class PrintedIdentity:
    """What paper may show of an identity: the minimum, the rest, and the INS only if shareable."""

    identity: Identity
    birthplace_name: str
    ins: SharedIns | None
    datamatrix: Symbol | None

    @property
    def matricule_display(self) -> str:
        return matricule.display(self.ins.matricule) if self.ins else ""


def _symbol(ins: SharedIns, module_mm: float) -> Symbol:
    rows = datamatrix.symbol(datamatrix.build_payload(ins))
    image = datamatrix.png(rows, quiet_modules=QUIET_MODULES)
    side_mm = (len(rows) + 2 * QUIET_MODULES) * module_mm
    return Symbol(uri="data:image/png;base64," + base64.b64encode(image).decode("ascii"), side_mm=f"{side_mm:.3f}")


def _printed(identity: Identity, birthplace_names: dict[str, str], *, module_mm: float | None) -> PrintedIdentity:
    ins = shareable_ins(identity)
    return PrintedIdentity(
        identity=identity, birthplace_name=birthplace_names.get(identity.birthplace_code, ""), ins=ins,
        datamatrix=_symbol(ins, module_mm) if ins and module_mm else None,
    )


def _pdf(template: str, context: dict) -> bytes:
    return HTML(string=render_to_string(template, context), url_fetcher=_NO_FETCH).write_pdf()


def render_identity_document(identity: Identity, *, printed_by: str, printed_at: datetime | None = None) -> bytes:
    """The A4 identity document. ``printed_at`` is an input so the same data gives the same bytes."""
    printed = _printed(identity, selectors.birthplace_names([identity.birthplace_code]), module_mm=DOCUMENT_MODULE_MM)
    return _pdf(
        "documents/identity.html",
        {"p": printed, "printed_by": printed_by, "printed_at": timezone.localtime(printed_at or timezone.now()),
         "mention": datamatrix.MENTION},
    )


@dataclass(frozen=True)
class PlacedLabel:
    printed: PrintedIdentity
    left_mm: Decimal
    top_mm: Decimal


def _pages(labels: list[PrintedIdentity], fmt: LabelFormat) -> list[list[PlacedLabel]]:
    """Labels laid on the format's grid, row by row, as many pages as needed."""
    slots = [
        (fmt.margin_left_mm + column * (fmt.label_width_mm + fmt.column_gap_mm),
         fmt.margin_top_mm + row * (fmt.label_height_mm + fmt.row_gap_mm))
        for row in range(fmt.rows)
        for column in range(fmt.columns)
    ]
    stream = iter(labels)
    pages = []
    while chunk := list(islice(stream, fmt.per_page)):
        pages.append([PlacedLabel(label, left, top) for label, (left, top) in zip(chunk, slots)])
    return pages


def render_labels(
    identities: list[Identity], *, label_format: LabelFormat, profile: LabelProfile, copies: int = 1,
    chunk_pages: int | None = None, on_progress: Callable[[int], None] | None = None,
) -> bytes:
    """A label job: ``copies`` labels of each identity in turn, on as many sheets as needed.

    The minimum (birth name, first birth given name, birth date, sex, status) and the
    homonym warning are printed on every label whatever the profile; the profile adds traits.
    The sheets are laid out ``chunk_pages`` at a time (all at once by default) and
    ``on_progress`` is told how many are done after each chunk: a worker shows it on the
    job's progress page. The pages are then written as one PDF.
    """
    names = selectors.birthplace_names(ident.birthplace_code for ident in identities)
    module_mm = float(label_format.datamatrix_module_mm) if profile.show_datamatrix else None
    printed = [_printed(ident, names, module_mm=module_mm) for ident in identities]
    pages = _pages([label for label in printed for _ in range(copies)], label_format)
    size = chunk_pages or len(pages) or 1
    laid_out = []
    for start in range(0, max(len(pages), 1), size):
        html = render_to_string("documents/labels.html", {
            "pages": pages[start:start + size], "format": label_format, "profile": profile, "mention": datamatrix.MENTION,
        })
        laid_out.append(HTML(string=html, url_fetcher=_NO_FETCH).render())
        if on_progress is not None:
            on_progress(min(start + size, len(pages)))
    return laid_out[0].copy([page for document in laid_out for page in document.pages]).write_pdf()


def sheets_for(labels: int, label_format: LabelFormat) -> int:
    """How many sheets (or roll labels) a job of ``labels`` labels fills."""
    return -(-labels // label_format.per_page)
