"""Fuzzing the desk's datamatrix reader (Hypothesis, deterministic): any scanned text and any uploaded file,
image or not, gets the page back (200, or 400 with a French message), never a 500."""
from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from identities.documents import datamatrix
from tests.fuzz import fuzzed, nasty_text
from tests.identities.documents.test_datamatrix import desk, shared  # noqa: F401  (the signed-in desk client)

FORMATS = ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"]


@st.composite
def uploads(draw) -> bytes:
    """A real image of any mode and size (some of them cut short), or bytes."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=2000))
    mode, kind = draw(st.sampled_from(["1", "L", "P", "RGB", "RGBA", "CMYK", "I;16"])), draw(st.sampled_from(FORMATS))
    size = (draw(st.integers(1, 300)), draw(st.integers(1, 300)))
    image = Image.new(mode, size)
    buffer = io.BytesIO()
    try:
        image.save(buffer, kind)
    except (OSError, ValueError, KeyError):
        image.convert("RGB").save(buffer, kind)
    data = buffer.getvalue()
    kept = draw(st.sampled_from([1.0, 1.0, 0.9, 0.5, 0.2]))  # what a broken upload keeps of the file
    return data[:int(len(data) * kept)]


def assert_answered(response) -> None:
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 400:
        assert 'class="errorlist' in response.content.decode()


@fuzzed(60)
@given(photo=uploads())
def test_no_uploaded_file_makes_the_reader_fail(desk, photo):  # noqa: F811
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "read", "image": SimpleUploadedFile("photo.png", photo, content_type="image/png")}, secure=True)
    assert_answered(response)


@fuzzed(80)
@given(data=st.data())
def test_no_scanned_text_makes_the_reader_fail(desk, data):  # noqa: F811
    payload = datamatrix.build_payload(shared())
    cut = data.draw(st.integers(0, len(payload)))
    text = data.draw(st.one_of(nasty_text, st.just(payload[:cut] + data.draw(nasty_text) + payload[cut:])))
    for action in ("read", "create"):
        field = "scan" if action == "read" else "payload"
        response = desk.post(reverse("documents:datamatrix_read"), {"action": action, field: text}, secure=True)
        assert response.status_code in (200, 302, 400, 409), response.status_code
