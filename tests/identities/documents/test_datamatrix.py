"""The INS datamatrix: payload format, ECC200 symbol, parser, and reading one at the desk (channel CB)."""
from __future__ import annotations

import dataclasses
import io

import pytest
import zxingcpp
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from identities.core.diffusion import SharedIns, shareable_ins
from identities.core.models import Channel, Identity, IdentityEvent, Status
from identities.documents.datamatrix import GS, HEADER
from identities.documents import datamatrix
from identities.documents import labels as label_services
from tests import factories
from tests.identities.documents import pdfs

NIR_TEST_OID = "1.2.250.1.213.1.4.10"
NIA_OID = "1.2.250.1.213.1.4.9"


def shared(**overrides) -> SharedIns:
    fields = {
        "matricule": "279035121518989", "oid": NIR_TEST_OID, "nature": "NIR", "hl7_authority": "ASIP-SANTE-INS-NIR",
        "label": "INS-NIR de test", "birth_name": "MARTIN", "birth_given_names": "JEANNE MARIE", "sex": "F",
        "birth_date": "1979-03-05", "birthplace_code": "20004",
    }
    return SharedIns(**(fields | overrides))


def decode_symbol(payload: str) -> list[zxingcpp.Result]:
    """Draw the symbol's modules as pixels (4 per module, quiet zone 4) and let zxing-cpp read it."""
    rows = datamatrix.symbol(payload)
    scale, quiet = 4, 4
    side = (len(rows) + 2 * quiet) * scale
    image = Image.new("L", (side, side), 255)
    for y, row in enumerate(rows):
        for x, module in enumerate(row):
            if module:
                image.paste(0, ((x + quiet) * scale, (y + quiet) * scale, (x + quiet + 1) * scale, (y + quiet + 1) * scale))
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix, text_mode=zxingcpp.TextMode.Plain)


# --- The payload ---

def test_the_payload_is_the_header_then_tagged_fields_with_gs_after_each_short_variable_field():
    payload = datamatrix.build_payload(shared())
    assert payload == (
        "IS010000000000000000000000"
        "S1279035121518989"
        f"S2{NIR_TEST_OID}{GS}"
        f"S3JEANNE MARIE{GS}"
        f"S4MARTIN{GS}"
        "S5F"
        "S605-03-1979"
        "S720004"
    )


def test_a_variable_field_at_its_maximum_length_carries_no_gs():
    name = "A" * 100
    payload = datamatrix.build_payload(shared(birth_name=name))
    assert f"S4{name}S5F" in payload


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"matricule": "253072B07300470", "birthplace_code": "2B020"},
        {"matricule": "253072A07300443", "birthplace_code": "2A004", "oid": NIA_OID, "label": "INS-NIA"},
        {"birth_name": "DE LA FONTAINE--D'ARC", "birth_given_names": "PIERRE-ALAIN GUNTHER", "sex": "M"},
        {"birth_name": "N" * 100, "birth_given_names": "P" * 100},
    ],
    ids=["nir", "corsica-2b", "nia-corsica-2a", "apostrophe-hyphens", "maximum-lengths"],
)
def test_the_parser_reads_back_every_field_of_a_generated_payload(overrides):
    ins = shared(**overrides)
    parsed = datamatrix.parse_payload(datamatrix.build_payload(ins))
    assert dataclasses.asdict(parsed) == {
        "matricule": ins.matricule, "oid": ins.oid, "birth_given_names": ins.birth_given_names,
        "birth_name": ins.birth_name, "sex": ins.sex, "birth_date": ins.birth_date, "birthplace_code": ins.birthplace_code,
    }
    assert parsed.key_checks
    assert parsed.label == ins.label


def test_the_parser_reads_by_tag_whatever_the_order_of_the_fields():
    reordered = f"{HEADER}S5FS4MARTIN{GS}S605-03-1979S3JEANNE MARIE{GS}S1279035121518989S2{NIR_TEST_OID}{GS}"
    parsed = datamatrix.parse_payload(reordered)
    assert (parsed.birth_name, parsed.birth_given_names, parsed.matricule, parsed.birthplace_code) == (
        "MARTIN", "JEANNE MARIE", "279035121518989", "",
    )


def test_a_scanner_that_drops_or_spells_out_gs_still_gives_the_same_identity():
    payload = datamatrix.build_payload(shared())
    expected = datamatrix.parse_payload(payload)
    assert datamatrix.parse_payload(datamatrix.normalise_scanned(payload.replace(GS, ""))) == expected
    assert datamatrix.parse_payload(datamatrix.normalise_scanned(payload.replace(GS, "<GS>") + "\r\n")) == expected
    assert datamatrix.parse_payload(datamatrix.normalise_scanned("]d1" + payload)) == expected


def test_a_wrong_key_is_read_but_flagged_since_insi_values_are_authoritative():
    parsed = datamatrix.parse_payload(datamatrix.build_payload(shared(matricule="279032000418988")))
    assert parsed.key_checks is False


GOOD = datamatrix.build_payload(shared())


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ("", "header", "l'en-tête doit commencer par « IS »"),
        ("01" + GOOD, "header", "l'en-tête doit commencer par « IS »"),
        (GOOD.replace("IS01", "IS02", 1), "header", "version « 02 »"),
        (GOOD.replace("IS0100", "IS0110", 1), "header", "22 zéros"),
        (GOOD.replace("S720004", "S820004"), "tag", "étiquette « S8 » inconnue"),
        (GOOD.replace(f"S4MARTIN{GS}", ""), "S4", "S4 (nom de naissance) : champ obligatoire absent"),
        (GOOD + "S5M", "S5", "S5 (sexe) : champ présent deux fois"),
        (GOOD.replace("S605-03-1979S720004", "S605-03-19"), "S6", "S6 (date de naissance) : tronqué"),
        (GOOD.replace("S605-03-1979", "S61979-03-05"), "S6", "n'est pas au format JJ-MM-AAAA"),
        (GOOD.replace("S605-03-1979", "S631-02-1979"), "S6", "le jour 31 n'existe pas en 02/1979"),
        (GOOD.replace("S5F", "S5I"), "S5", "S5 (sexe) : valeur attendue : M, F"),
        (GOOD.replace("MARTIN", "Martin"), "S4", "sort de l'alphabet INSi"),
        (GOOD.replace("MARTIN", "MARTÍN"), "S4", "sort de l'alphabet INSi"),
        (GOOD.replace("MARTIN", "M" * 101), "S4", "101 caractères, 100 au plus"),
        (GOOD.replace(f"S3JEANNE MARIE{GS}", f"S3{GS}"), "S3", "S3 (liste des prénoms de naissance) : valeur vide"),
        (GOOD.replace("S1279035121518989", "S12790320004189XX"), "S1", "le matricule INS doit compter 15 caractères"),
        (GOOD.replace(NIR_TEST_OID, "1.2.3.4"), "S2", "OID '1.2.3.4' inconnu"),
        (GOOD.replace("S720004", "S75121"), "S7", "tronqué"),
        (GOOD.replace("S720004", "S7ABCDE"), "S7", "code officiel géographique INSEE attendu"),
    ],
    ids=[
        "empty", "no-header", "version", "reserved-zeros", "unknown-tag", "missing-birth-name", "duplicate", "truncated-date",
        "iso-date", "impossible-date", "sex-i", "lower-case", "accent", "too-long", "empty-given-names", "bad-matricule",
        "unknown-oid", "short-birthplace", "bad-birthplace",
    ],
)
def test_the_parser_rejects_a_malformed_payload_naming_the_field_and_the_rule(payload, field, message):
    with pytest.raises(datamatrix.DatamatrixError) as caught:
        datamatrix.parse_payload(payload)
    assert caught.value.field == field
    assert message in caught.value.message


def test_it_refuses_to_build_a_datamatrix_for_a_sex_insi_never_returns():
    with pytest.raises(datamatrix.DatamatrixError, match="S5"):
        datamatrix.build_payload(shared(sex="I"))


# --- The symbol ---

@pytest.mark.parametrize("overrides", [{}, {"birth_name": "N" * 100, "birth_given_names": "P" * 100}], ids=["typical", "largest"])
def test_the_symbol_is_a_square_ecc200_datamatrix_an_independent_decoder_reads_back_exactly(overrides):
    payload = datamatrix.build_payload(shared(**overrides))
    rows = datamatrix.symbol(payload)
    assert len(rows) == len(rows[0])
    results = decode_symbol(payload)
    assert [result.format for result in results] == [zxingcpp.BarcodeFormat.DataMatrix]
    assert results[0].text == payload
    assert results[0].bytes == payload.encode("ascii")  # GS travelled as the raw 0x1D byte


# --- Reading at the desk (channel CB) ---

def scan(client, text: str):
    # secure: production settings redirect plain HTTP to HTTPS.
    return client.post(reverse("documents:datamatrix_read"), {"scan": text, "action": "read"}, secure=True)


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


def test_a_scanned_datamatrix_opens_the_qualified_identity_holding_that_matricule(desk, front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    typed = datamatrix.build_payload(shareable_ins(ident)).replace(GS, "")  # what a wedge scanner types
    response = scan(desk, typed)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row["identity"].pk, row["by_matricule"], row["differences"]) for row in rows] == [(ident.pk, True, [])]
    assert "matricule INS" in response.content.decode()


def test_the_desk_search_also_finds_by_traits_and_shows_what_differs(desk, front_desk, birthplaces):
    homonym = factories.identity(front_desk, birth_name="MARTIN", birth_given_names="JEANNE", birth_date="1979-03-05",
                                 birthplace_code="75056")
    response = scan(desk, datamatrix.build_payload(shared()))
    rows = response.context["rows"]
    assert [(row["identity"].pk, row["by_matricule"]) for row in rows] == [(homonym.pk, False)]
    assert rows[0]["differences"] == ["Prénom(s) de naissance", "Lieu de naissance"]


def test_creating_from_a_datamatrix_gives_a_provisional_identity_with_channel_cb_and_no_ins(desk, front_desk, birthplaces):
    payload = datamatrix.build_payload(shared())
    result = scan(desk, payload)
    assert result.context["rows"] == []
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "create", "payload": result.context["payload"], "acknowledged": result.context["acknowledged"],
    }, secure=True)
    assert response.status_code == 302
    created = Identity.objects.get(birth_name="MARTIN")
    assert (created.status, created.channel, created.ins_matricule, created.ins_oid) == (Status.PROV, Channel.CB, None, None)
    assert (created.birth_given_names, created.birth_date, created.sex, created.birthplace_code) == (
        "JEANNE MARIE", "1979-03-05", "F", "20004",
    )
    assert created.events.get(kind=IdentityEvent.Kind.CREATED).channel == Channel.CB


def test_creation_waits_when_a_close_identity_appeared_since_the_reading(desk, front_desk, birthplaces):
    result = scan(desk, datamatrix.build_payload(shared()))
    factories.identity(front_desk, birth_name="MARTIN", birth_given_names="JEANNE MARIE", birth_date="1979-03-05")
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "create", "payload": result.context["payload"], "acknowledged": result.context["acknowledged"],
    }, secure=True)
    assert response.status_code == 409
    assert Identity.objects.filter(birth_name="MARTIN").count() == 1


def test_a_photo_of_a_printed_document_is_decoded_at_the_desk(desk, front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    pdf = label_services.identity_print_document(actor=front_desk, identity_id=ident.pk)
    photo = pdfs.first_page_png(pdf)
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "read", "image": SimpleUploadedFile("photo.png", photo, content_type="image/png"),
    }, secure=True)
    assert response.status_code == 200
    assert [row["identity"].pk for row in response.context["rows"]] == [ident.pk]


@pytest.mark.parametrize(
    ("text", "environment", "message"),
    [
        ("bonjour", "test", "Datamatrix INS refusé : ce n&#x27;est pas un datamatrix INS"),
        (datamatrix.build_payload(shared()), "production", "OID 1.2.250.1.213.1.4.10 (INS-NIR de test) refusé en production"),
    ],
    ids=["not-a-datamatrix", "test-oid-in-production"],
)
def test_the_desk_refuses_an_unreadable_or_foreign_datamatrix_with_a_clear_message(desk, settings, text, environment, message):
    settings.INS_ENVIRONMENT = environment
    response = scan(desk, text)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_upload_that_is_no_image_is_refused(desk):
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "read", "image": SimpleUploadedFile("scan.png", b"not an image", content_type="image/png"),
    }, secure=True)
    assert response.status_code == 400
    assert "n&#x27;est pas une image lisible" in response.content.decode()


def test_an_account_without_a_role_cannot_read_datamatrices(client, outsider):
    client.force_login(outsider)
    assert scan(client, GOOD).status_code == 403



def test_the_desk_page_offers_a_focused_field_for_the_scanner_and_an_image_upload(desk):
    page = desk.get(reverse("documents:datamatrix_read"), secure=True).content.decode()
    assert 'name="scan"' in page and "autofocus" in page
    assert 'name="image"' in page and 'enctype="multipart/form-data"' in page


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("image", "message"), [
    (Image.new("1", (16000, 16000), 1), "Image trop grande : 50 millions de pixels au plus."),
    (Image.new("L", (50_001, 1000), 255), "Image trop grande : 50 millions de pixels au plus."),
], ids=["decompression-bomb", "over-50-megapixels"])
def test_an_image_declaring_too_many_pixels_is_refused_before_it_is_decoded(desk, image, message):
    photo = _png(image)
    assert len(photo) < 100_000  # small on the wire, huge once decoded
    response = desk.post(reverse("documents:datamatrix_read"), {
        "action": "read", "image": SimpleUploadedFile("photo.png", photo, content_type="image/png"),
    }, secure=True)
    assert response.status_code == 400
    assert message in response.content.decode()

