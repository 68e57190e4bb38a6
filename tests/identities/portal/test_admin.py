"""Smoke tests of every ModelAdmin, and which role reaches which screen."""
import pytest
from django.contrib import admin
from django.urls import reverse

from identities.core.models import Birthplace, DocumentType, IdentityEvent, IdentityLink, WorklistItem
from identities.core.worklists import worklist_add_item
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def populated(front_desk, civ_member, birthplaces):
    """One row of every registered model, so that lists and change pages have something to show."""
    first = factories.qualified(front_desk)
    second = factories.identity(front_desk, birth_name="DURAND", birth_given_names="PAUL")
    worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.DUPLICATE, identity_id=first.pk, other_id=second.pk, reason="test")
    IdentityLink.objects.create(kind=IdentityLink.Kind.DOUA, identity=first, other=second, created_by=civ_member)
    return first


def _registered():
    return [model for model in admin.site._registry if model._meta.app_label == "identities"]


def test_every_model_of_the_domain_has_an_admin_screen():
    names = {model.__name__ for model in _registered()}
    assert {"Identity", "WorklistItem", "DocumentType", "Birthplace", "IdentityLink", "IdentityEvent"} <= names


@pytest.mark.parametrize("model", _registered(), ids=lambda model: model.__name__)
def test_the_administrator_opens_the_list_the_search_and_a_record_of_every_admin(client, administrator, populated, model):
    client = logged_in(administrator)
    info = model._meta.app_label, model._meta.model_name
    model_admin = admin.site._registry[model]
    changelist = client.get(reverse("admin:%s_%s_changelist" % info))
    assert changelist.status_code == 200
    if model_admin.search_fields:
        assert client.get(reverse("admin:%s_%s_changelist" % info), {"q": "MARTIN"}).status_code == 200
    record = model._default_manager.first()
    if record is not None:
        assert client.get(reverse("admin:%s_%s_change" % info, args=[record.pk])).status_code == 200
    if model_admin.has_add_permission(type("R", (), {"user": administrator})()):
        add = client.get(reverse("admin:%s_%s_add" % info), {"_recherche": "1"})
        assert add.status_code == 200


def test_the_home_page_shows_the_search_the_queues_and_the_dashboard_link_to_the_cell(client, civ_member, populated):
    client = logged_in(civ_member)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'name="naissance"' in page
    assert "Doublons potentiels" in page
    assert reverse("admin:dashboard") in page


@pytest.mark.parametrize(
    ("persona", "url_name", "expected"),
    [
        ("front_desk", "admin:identities_identity_changelist", 200),
        ("civ_member", "admin:identities_identity_changelist", 200),
        ("manager", "admin:identities_identity_changelist", 200),
        ("outsider", "admin:identities_identity_changelist", 302),
        ("front_desk", "admin:identities_worklistitem_changelist", 200),
        ("civ_member", "admin:identities_worklistitem_changelist", 200),
        ("manager", "admin:identities_worklistitem_changelist", 403),
        ("outsider", "admin:identities_worklistitem_changelist", 302),
        ("front_desk", "admin:dashboard", 403),
        ("civ_member", "admin:dashboard", 200),
        ("manager", "admin:dashboard", 200),
        ("outsider", "admin:dashboard", 302),
        ("front_desk", "admin:identities_identityevent_changelist", 403),
        ("civ_member", "admin:identities_identityevent_changelist", 200),
        ("civ_referent", "admin:identities_documenttype_add", 200),
        ("civ_member", "admin:identities_documenttype_add", 403),
    ],
)
def test_each_role_reaches_its_screens_and_only_those(client, request, persona, url_name, expected, birthplaces):
    client = logged_in(request.getfixturevalue(persona))
    assert client.get(reverse(url_name)).status_code == expected


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get(reverse("admin:identities_identity_changelist"), secure=True)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_nobody_deletes_an_identity_or_a_document_type_from_the_admin(client, administrator, populated):
    client = logged_in(administrator)
    assert client.get(reverse("admin:identities_identity_delete", args=[populated.pk])).status_code == 403
    passport = DocumentType.objects.get(code="passeport")
    assert client.get(reverse("admin:identities_documenttype_delete", args=[passport.pk])).status_code == 403


def test_the_audit_logs_are_read_only(client, administrator, populated):
    client = logged_in(administrator)
    event = IdentityEvent.objects.first()
    page = client.get(reverse("admin:identities_identityevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:identities_identityevent_add")).status_code == 403


def test_the_birthplace_table_is_searched_by_code_or_name(client, front_desk, birthplaces):
    client = logged_in(front_desk)
    page = client.get(reverse("admin:identities_birthplace_changelist"), {"q": "ajaccio"}).content.decode()
    assert "2A004" in page
    assert Birthplace.objects.count() > 1
    assert "63220" not in page


def test_the_portal_is_french_first_and_speaks_english_on_request(front_desk):
    client = logged_in(front_desk)
    assert "Recherche d'antériorité</legend>" in client.get(reverse("admin:identities_identity_changelist")).content.decode()
    english = client.get(reverse("admin:identities_identity_changelist"), headers={"accept-language": "en"}).content.decode()
    assert "Anteriority search</legend>" in english
