"""Label sheets: formats, profiles (the minimum cannot be dropped), copies, selections, and the gate on labels."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from identities.core import services
from identities.core.diffusion import shareable_ins
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import Attribute, IdentityEvent
from identities.documents import selectors
from identities.documents.models import LabelFormat, LabelProfile
from identities.documents import datamatrix
from identities.documents import labels as label_services
from tests import factories
from tests.identities.documents import pdfs

ALL_EXTRAS = list(label_services.EXTRA_TRAITS)


def fmt(code: str) -> LabelFormat:
    return LabelFormat.objects.get(code=code)


def profile(actor, *, extras=ALL_EXTRAS, code="a4-3x8", name="Profil de test") -> LabelProfile:
    return label_services.label_profile_save(actor=actor, name=name, label_format_id=fmt(code).pk, extra_traits=extras)


def print_labels(actor, identities, *, chosen: LabelProfile, copies=1, code=None) -> bytes:
    job = label_services.identities_print_labels(
        actor=actor, identity_ids=[ident.pk for ident in identities], profile_id=chosen.pk,
        label_format_id=fmt(code).pk if code else None, copies=copies,
    )
    return job.pdf


@pytest.mark.parametrize(
    ("code", "page_mm", "per_page"),
    [("a4-3x8", (210, 297), 24), ("a4-2x7", (210, 297), 14), ("thermique-57x32", (57, 32), 1)],
)
def test_each_shipped_format_fills_its_pages_and_overflows_onto_the_next(front_desk, birthplaces, code, page_mm, per_page):
    ident = factories.identity(front_desk)
    chosen = profile(front_desk, code=code)
    pdf = print_labels(front_desk, [ident], chosen=chosen, copies=per_page + 1)
    assert pdfs.page_sizes_mm(pdf) == [page_mm, page_mm]
    assert pdfs.text_of(pdf).count("MARTIN JEANNE") == per_page + 1


def test_a_sheet_of_24_labels_of_a_qualified_identity_carries_24_readable_datamatrices(front_desk, birthplaces):
    ident = factories.qualified(front_desk)
    pdf = print_labels(front_desk, [ident], chosen=profile(front_desk), copies=24)
    expected = datamatrix.build_payload(shareable_ins(ident))
    assert pdfs.datamatrices_in(pdf) == [expected] * 24
    assert pdfs.text_of(pdf).count(f"{pdfs.matricule_forms(ident.ins_matricule)[1]} INS-NIR") == 24


@pytest.mark.parametrize("code", ["a4-2x7", "thermique-57x32"])
def test_the_datamatrix_stays_readable_on_the_other_formats(front_desk, birthplaces, code):
    ident = factories.qualified(front_desk)
    pdf = print_labels(front_desk, [ident], chosen=profile(front_desk, code=code))
    assert pdfs.datamatrices_in(pdf) == [datamatrix.build_payload(shareable_ins(ident))]


def test_a_recovered_identity_prints_no_matricule_and_no_datamatrix_even_when_the_profile_asks(front_desk, birthplaces):
    ident = factories.recovered(front_desk)
    pdf = print_labels(front_desk, [ident], chosen=profile(front_desk), copies=3)
    text, streams = pdfs.text_of(pdf), pdfs.decoded_streams(pdf)
    for form in pdfs.matricule_forms(ident.ins_matricule):
        assert form not in text
        assert form.encode() not in streams
    assert "INS à scanner" not in text
    assert pdfs.datamatrices_in(pdf) == []
    assert pdfs.image_count(pdf) == 0


def test_a_profile_with_no_extra_trait_still_prints_the_minimum_on_every_label(front_desk, civ_member, birthplaces):
    ident = factories.qualified(front_desk, used_name="DUPONT")
    services.identity_set_attribute(actor=civ_member, identity_id=ident.pk, attribute=Attribute.HOMA, value=True,
                                    reason="Homonyme confirmée par la CIV")
    pdf = print_labels(front_desk, [ident], chosen=profile(front_desk, extras=[]), copies=2)
    text = pdfs.text_of(pdf)
    for minimum in ("MARTIN JEANNE", "Né(e) le 17/05/1980", "Sexe F", "Identité qualifiée", "HOMONYME"):
        assert text.count(minimum) == 2, minimum
    for extra in ("DUPONT", "JEANNE MARIE", "63220", ident.ins_matricule[:1] + " " + ident.ins_matricule[1:3]):
        assert extra not in text
    assert pdfs.datamatrices_in(pdf) == []


def test_the_profile_adds_the_traits_it_chooses(front_desk, birthplaces):
    ident = factories.identity(front_desk, used_name="DUPONT", used_given_name="JEANNOT")
    text = pdfs.text_of(print_labels(front_desk, [ident], chosen=profile(front_desk)))
    for extra in ("Nom utilisé : DUPONT", "Prénom utilisé : JEANNOT", "Prénoms : JEANNE MARIE", "Mazoires (63220)",
                  f"IPP {ident.ipp}"):
        assert extra in text


@pytest.mark.parametrize("minimum", list(label_services.MINIMUM_TRAITS))
def test_a_profile_cannot_name_a_minimum_trait_as_optional(front_desk, birthplaces, minimum):
    with pytest.raises(RuleViolation, match="fait partie du minimum imprimé sur toute étiquette"):
        profile(front_desk, extras=["used_name", minimum])


def test_a_profile_refuses_an_unknown_trait(front_desk):
    with pytest.raises(RuleViolation, match="trait « telephone » inconnu"):
        profile(front_desk, extras=["telephone"])


def test_only_a_referent_shares_a_profile_with_the_site(front_desk, civ_referent):
    a4 = fmt("a4-2x7").pk
    with pytest.raises(NotAllowed, match="seul un référent"):
        label_services.label_profile_save(actor=front_desk, name="Urgences", site="Urgences", label_format_id=a4, shared=True)
    site_profile = label_services.label_profile_save(
        actor=civ_referent, name="Urgences", site="Urgences", label_format_id=a4, shared=True, extra_traits=["ipp"]
    )
    assert site_profile.owner is None
    assert site_profile in selectors.label_profiles_for(front_desk)
    with pytest.raises(NotAllowed, match="ne vous appartient pas"):
        label_services.label_profile_save(actor=front_desk, profile_id=site_profile.pk, name="Urgences", label_format_id=a4)


def test_a_label_format_whose_grid_overflows_the_page_is_refused(db):
    too_wide = LabelFormat(code="trop-large", name="Trop large", page_width_mm=210, page_height_mm=297, columns=3, rows=8,
                           label_width_mm=71, label_height_mm=37)
    with pytest.raises(ValidationError, match="dépasse de la page"):
        too_wide.full_clean()


def test_a_selection_prints_each_identity_in_turn_and_records_it(front_desk, birthplaces):
    first = factories.qualified(front_desk)
    second = factories.identity(front_desk, birth_name="BERNARD", birth_given_names="LOUIS", sex="M", birth_date="1990-01-02")
    job = label_services.identities_print_labels(
        actor=front_desk, identity_ids=[second.pk, first.pk], profile_id=profile(front_desk).pk, copies=2
    )
    text = pdfs.text_of(job.pdf)
    assert text.count("BERNARD LOUIS") == 2 and text.count("MARTIN JEANNE") == 2
    assert text.index("BERNARD LOUIS") < text.index("MARTIN JEANNE")
    assert (job.labels, job.skipped) == (4, 0)
    events = {e.identity_id: e.details for e in IdentityEvent.objects.filter(kind=IdentityEvent.Kind.PRINTED)}
    assert events[first.pk]["ins_printed"] is True and events[second.pk]["ins_printed"] is False
    assert events[first.pk]["copies"] == 2


@pytest.mark.parametrize("copies", [0, label_services.MAX_COPIES + 1])
def test_it_refuses_a_number_of_copies_out_of_range(front_desk, birthplaces, copies):
    ident = factories.identity(front_desk)
    with pytest.raises(RuleViolation, match="nombre d'exemplaires"):
        print_labels(front_desk, [ident], chosen=profile(front_desk), copies=copies)


def test_someone_elses_personal_profile_cannot_be_used(front_desk, civ_member, birthplaces):
    ident = factories.identity(front_desk)
    theirs = profile(civ_member, name="Le mien")
    with pytest.raises(RuleViolation, match="réservé à un autre utilisateur"):
        print_labels(front_desk, [ident], chosen=theirs)


def test_the_label_page_prints_the_selection_as_a_pdf_download(client, front_desk, birthplaces):
    ident = factories.identity(front_desk)
    chosen = profile(front_desk)
    client.force_login(front_desk)
    url = reverse("documents:identity_labels")
    form = client.get(url, {"ids": str(ident.pk)}, secure=True)
    assert form.status_code == 200
    assert chosen in form.context["form"].fields["profile"].queryset
    response = client.post(url, {"identities": str(ident.pk), "profile": chosen.pk, "copies": 3}, secure=True)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="etiquettes.pdf"'
    assert pdfs.text_of(response.content).count("MARTIN JEANNE") == 3
    refused = client.post(url, {"identities": str(ident.pk), "profile": chosen.pk, "copies": 0}, secure=True)
    assert refused.status_code == 400
