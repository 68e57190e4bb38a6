"""Reading rendered PDFs back as a person or a scanner would: text, images, datamatrix symbols."""
from __future__ import annotations

import io
import re

import pypdfium2
import zxingcpp
from pypdf import PdfReader
from pypdf.generic import StreamObject

from identities.core import matricule

MM_PER_POINT = 25.4 / 72


def text_of(pdf: bytes) -> str:
    """All the text a reader can select, spaces collapsed."""
    reader = PdfReader(io.BytesIO(pdf))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


def page_sizes_mm(pdf: bytes) -> list[tuple[int, int]]:
    reader = PdfReader(io.BytesIO(pdf))
    return [(round(float(page.mediabox.width) * MM_PER_POINT), round(float(page.mediabox.height) * MM_PER_POINT)) for page in reader.pages]


def image_count(pdf: bytes) -> int:
    reader = PdfReader(io.BytesIO(pdf))
    return sum(len(page.images) for page in reader.pages)


def decoded_streams(pdf: bytes) -> bytes:
    """The raw file and every stream decompressed: where metadata, alt text or attachments would hide."""
    reader = PdfReader(io.BytesIO(pdf))
    objects = (reader.get_object(number) for number in range(1, reader.trailer["/Size"]))
    return b"\n".join([pdf, *(obj.get_data() for obj in objects if isinstance(obj, StreamObject))])


def datamatrices_in(pdf: bytes, *, dpi: int = 200) -> list[str]:
    """Every datamatrix zxing-cpp finds on the rasterised pages (text with GS kept)."""
    document = pypdfium2.PdfDocument(pdf)
    found = []
    for page in document:
        image = page.render(scale=dpi / 72).to_pil()
        found += [result.text for result in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.DataMatrix, text_mode=zxingcpp.TextMode.Plain
        )]
    return found


def first_page_png(pdf: bytes, *, dpi: int = 200) -> bytes:
    buffer = io.BytesIO()
    pypdfium2.PdfDocument(pdf)[0].render(scale=dpi / 72).to_pil().save(buffer, format="PNG")
    return buffer.getvalue()


def matricule_forms(value: str) -> list[str]:
    """How a matricule could show on paper: 15 characters, grouped, or its 13 digits."""
    return [value, matricule.display(value), value[:13]]
