"""The A4 identity document: real PDFs read back as text and scanned as images."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from django.urls import reverse

from identities.core import services
from identities.core.diffusion import shareable_ins
from identities.core.errors import NotAllowed
from identities.core.matricule import compute_key
from identities.core.models import Attribute, IdentityEvent, Status
from identities.documents import datamatrix
from identities.documents import labels as label_services
from identities.documents import render as documents
from tests import factories
from tests.identities.documents import pdfs

PRINTED_AT = datetime(2026, 1, 15, 9, 30, tzinfo=timezone.utc)
# The matricule INSi gives the factories' identities (the one a leak would print).
FACTORY_MATRICULE = "2800563220123" + compute_key("2800563220123")


def document(ident) -> bytes:
    return documents.render_identity_document(ident, printed_by="camille.accueil", printed_at=PRINTED_AT)


def test_a_document_shows_the_minimum_traits_the_status_and_the_used_name(front_desk, birthplaces):
    ident = factories.identity(front_desk, used_name="DUPONT", used_given_name="JEANNOT")
    text = pdfs.text_of(document(ident))
    for shown in ("MARTIN", "JEANNE", "17/05/1980", "Féminin (F)", "Identité provisoire", "DUPONT", "JEANNOT",
                  "JEANNE MARIE", "Mazoires (63220)"):
        assert shown in text


def test_a_birth_date_with_unknown_day_and_month_is_printed_with_its_zeros(front_desk, birthplaces):
    ident = factories.identity(front_desk, birth_date="1950-00-00")
    assert "00/00/1950" in pdfs.text_of(document(ident))


def test_a_qualified_identity_carries_its_matricule_nature_and_a_datamatrix_matching_it_field_by_field(front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    pdf = document(ident)
    text = pdfs.text_of(pdf)
    assert "Identité qualifiée" in text
    assert f"{pdfs.matricule_forms(ident.ins_matricule)[1]} INS-NIR" in text
    assert "INS à scanner" in text

    assert pdfs.image_count(pdf) == 1
    assert b"/Interpolate false" in pdfs.decoded_streams(pdf)  # modules printed as sharp squares
    [scanned] = pdfs.datamatrices_in(pdf)
    assert scanned == datamatrix.build_payload(shareable_ins(ident))
    read = datamatrix.parse_payload(scanned)
    assert (read.matricule, read.oid, read.birth_given_names, read.birth_name, read.sex, read.birth_date, read.birthplace_code) == (
        ident.ins_matricule, ident.ins_oid, ident.birth_given_names, ident.birth_name, ident.sex, ident.birth_date,
        ident.birthplace_code,
    )


def _recovered(front_desk, civ_member):
    return factories.recovered(front_desk)


def _validated(front_desk, civ_member):
    ident = factories.identity(front_desk)
    factories.check_passport(front_desk, ident)
    ident.refresh_from_db()
    assert ident.status == Status.VALI
    return ident


def _provisional(front_desk, civ_member):
    return factories.identity(front_desk)


def _doubtful_after_qualification(front_desk, civ_member):
    ident = factories.qualified(front_desk)
    return services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=Attribute.DOUT, value=True,
                                           reason="Pièce présentée douteuse")


def _fictitious_after_recovery(front_desk, civ_member):
    ident = factories.recovered(front_desk)
    return services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=Attribute.FICT, value=True,
                                           reason="Identité d'emprunt (prise en charge anonyme)")


def _document_withdrawn_from_qualified(front_desk, civ_member):
    ident = factories.qualified(front_desk)
    check = ident.document_checks.get()
    return services.identity_withdraw_document_check(actor=civ_member, check_id=check.pk, reason="Pièce d'un tiers")


@pytest.mark.parametrize(
    "build",
    [_provisional, _recovered, _validated, _doubtful_after_qualification, _fictitious_after_recovery,
     _document_withdrawn_from_qualified],
    ids=["PROV", "RECUP", "VALI", "DOUT", "FICT", "QUAL-then-RECUP"],
)
def test_an_identity_that_is_not_qualified_shows_no_matricule_and_no_datamatrix_anywhere(build, front_desk, civ_member, birthplaces):
    ident = build(front_desk, civ_member)
    assert ident.status != Status.QUAL
    pdf = document(ident)
    text, streams = pdfs.text_of(pdf), pdfs.decoded_streams(pdf)
    for form in pdfs.matricule_forms(FACTORY_MATRICULE):
        assert form not in text
        assert form.encode() not in streams
    assert "INS à scanner" not in text
    assert "n'est imprimé que pour une identité qualifiée" in text
    assert pdfs.datamatrices_in(pdf) == []
    assert pdfs.image_count(pdf) == 0


def test_a_homonym_carries_a_visible_warning(front_desk, civ_member, birthplaces):
    ident = factories.qualified(front_desk)
    services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=Attribute.HOMA, value=True,
                                    reason="Deux patientes homonymes nées le même jour")
    ident.refresh_from_db()
    text = pdfs.text_of(document(ident))
    assert "ATTENTION : IDENTITÉ HOMONYME" in text
    assert "ATTENTION : IDENTITÉ HOMONYME" not in pdfs.text_of(document(factories.identity(front_desk, birth_name="AUTRE")))


def test_the_same_identity_printed_at_the_same_time_gives_the_same_bytes(front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    assert document(ident) == document(ident)


def test_printing_a_document_is_recorded_in_the_identity_trail_with_whether_the_ins_left(front_desk, birthplaces):
    qualified = factories.qualified(front_desk)
    recovered = factories.recovered(front_desk, matricule13="1800563220456", birth_name="DURAND")
    for ident in (qualified, recovered):
        label_services.identity_print_document(actor=front_desk, identity_id=ident.pk)
    events = {event.identity_id: event for event in IdentityEvent.objects.filter(kind=IdentityEvent.Kind.PRINTED)}
    assert events[qualified.pk].details["ins_printed"] is True
    assert events[recovered.pk].details["ins_printed"] is False
    assert events[qualified.pk].actor == front_desk


def test_a_manager_or_an_outsider_cannot_print(manager, outsider, front_desk, birthplaces):
    ident = factories.identity(front_desk)
    for user in (manager, outsider):
        with pytest.raises(NotAllowed):
            label_services.identity_print_document(actor=user, identity_id=ident.pk)


def test_the_document_page_serves_a_pdf_to_the_front_desk_and_refuses_others(client, front_desk, manager, birthplaces):
    ident = factories.qualified(front_desk)
    url = reverse("documents:identity_document", args=[ident.pk])
    client.force_login(front_desk)
    response = client.get(url, secure=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "MARTIN" in pdfs.text_of(response.content)
    client.force_login(manager)
    assert client.get(url, secure=True).status_code == 403


def test_the_identity_page_links_to_its_document_and_labels_for_those_who_may_print(front_desk, manager, birthplaces):
    from django.urls import reverse

    from tests.identities.portal.client import logged_in

    ident = factories.identity(front_desk)
    page = reverse("admin:identities_identity_change", args=[ident.pk])
    printable = logged_in(front_desk).get(page).content.decode()
    assert reverse("documents:identity_document", args=[ident.pk]) in printable
    assert f'{reverse("documents:identity_labels")}?ids={ident.pk}' in printable
    assert reverse("documents:datamatrix_read") in printable
    read_only = logged_in(manager).get(page).content.decode()
    assert reverse("documents:identity_document", args=[ident.pk]) not in read_only
