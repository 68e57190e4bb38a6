"""French that reads as French: Django's default admin wording replaced, and the 403, 404 and 500 pages of the portal."""
import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

from identities.core import worklists
from identities.core.models import WorklistItem
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.django_db


def test_the_add_page_and_the_reference_tables_read_as_french(front_desk, civ_referent):
    add = logged_in(front_desk).get(reverse("admin:identities_identity_add") + "?_recherche=1").content.decode()
    assert "<h1>Nouvelle identité</h1>" in add and "Ajout de identité" not in add

    types = logged_in(civ_referent).get(reverse("admin:identities_documenttype_add")).content.decode()
    assert "Ajout : type de pièce d&#x27;identité" in types or "Ajout : type de pièce d'identité" in types
    listing = logged_in(civ_referent).get(reverse("admin:identities_documenttype_changelist")).content.decode()
    assert "Sélectionnez l’objet" not in listing and "Choisir pour modifier : type de pièce" in listing


def test_a_worklist_counts_its_items_not_files(front_desk, civ_member, birthplaces):
    for name in ("ALPHA", "BETA", "GAMMA"):
        identity = factories.identity(front_desk, birth_name=name)
        worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.DOUBTFUL, identity_id=identity.pk, reason="à voir")
    page = logged_in(civ_member).get(reverse("admin:identities_worklistitem_changelist") + "?kind=DOUT").content.decode()

    assert "3 éléments" in page and "3 files de travail" not in page
    assert "<h1>Files de travail de la CIV</h1>" in page and "Sélectionnez l’objet" not in page


def test_a_missing_page_is_explained_in_french_in_the_portal_frame(front_desk):
    response = logged_in(front_desk).get("/nulle-part/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Page introuvable</h1>" in page and "Rechercher une identité" in page and "portal.css" in page
    assert "Not Found" not in page


def test_a_refused_page_says_so_in_french_with_the_reason(front_desk):
    response = logged_in(front_desk).get(reverse("admin:insi_import"))
    page = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Accès refusé</h1>" in page and "habilitation" in page and "Forbidden" not in page


def test_the_server_error_page_is_french_and_needs_no_context():
    request = RequestFactory().get("/")
    response = defaults.server_error(request)
    page = response.content.decode()
    assert response.status_code == 500
    assert "Erreur du portail" in page and "n'a pas été enregistrée" in page and "Server Error" not in page
