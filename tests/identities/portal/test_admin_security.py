"""Security of the portal: login throttling, session expiry, production settings, role boundaries."""
import pytest
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.core import checks
from django.urls import reverse
from django.utils import timezone

from tests import factories
from tests.identities.portal.client import HttpsClient, logged_in

PASSWORD = "not-a-real-password-1"  # the personas' password (tests/conftest.py)
LOGIN = "admin:login"


def _login(client, username, password):
    return client.post(reverse(LOGIN), {"username": username, "password": password, "next": "/"})


def test_five_failed_logins_lock_the_account_even_with_the_right_password(front_desk, settings):
    client = HttpsClient()
    for _attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, front_desk.username, "wrong password").status_code == 200
    assert _login(client, front_desk.username, "wrong password").status_code == 429
    locked = _login(client, front_desk.username, PASSWORD)
    assert locked.status_code == 429
    assert "Connexion bloquée" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_right_password_logs_in_an_account_with_a_role(front_desk):
    client = HttpsClient()
    assert _login(client, front_desk.username, PASSWORD).status_code == 302
    assert client.get(reverse("admin:identities_identity_changelist")).status_code == 200


def test_an_account_without_a_role_is_refused_at_login_with_a_reason(outsider):
    response = _login(HttpsClient(), outsider.username, PASSWORD)
    assert response.status_code == 200
    assert "aucun rôle dans le portail" in response.content.decode()


def test_a_session_ends_with_the_browser_and_expires_on_the_server(front_desk, settings):
    client = HttpsClient()
    response = _login(client, front_desk.username, PASSWORD)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # a browser-session cookie
    assert cookie["secure"] and cookie["httponly"]
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE <= 8 * 3600
    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    expired = client.get(reverse("admin:identities_identity_changelist"))
    assert expired.status_code == 302 and reverse(LOGIN) in expired["Location"]


def test_the_production_security_settings_are_on():
    found = {message.id for message in checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])}
    # HSTS, HTTPS redirect, secure session and CSRF cookies, frame denial, nosniff.
    assert not found & {"security.W004", "security.W008", "security.W012", "security.W016", "security.W019", "security.W006"}


def test_pages_cannot_be_framed(front_desk):
    response = logged_in(front_desk).get(reverse("admin:index"))
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(("persona", "sees_log"), [("front_desk", False), ("manager", False), ("civ_member", True)])
def test_only_holders_of_the_permission_see_the_insi_exchange_log(db, request, persona, sees_log):
    user = request.getfixturevalue(persona)
    if sees_log:
        # Granted directly: the roles are filled before the insi app's permissions exist on a fresh database.
        user.user_permissions.add(Permission.objects.get(content_type__app_label="insi", codename="view_exchange"))
    client = logged_in(user)
    url = reverse("admin:insi_exchange_changelist")
    assert (client.get(url).status_code == 200) is sees_log
    assert (url in client.get(reverse("admin:index")).content.decode()) is sees_log


def test_the_front_desk_cannot_set_attributes_beyond_its_role_from_the_screens(front_desk, birthplaces):
    identity = factories.identity(front_desk)
    client = logged_in(front_desk)
    for action in ("attribut/FICT/poser", "attribut/HOMA/poser", "invalider-ins"):
        client.post(reverse("admin:identities_identity_action", args=[identity.pk, action]), {"reason": "essai"})
    identity.refresh_from_db()
    assert not (identity.fictitious or identity.homonym)


def test_the_manager_changes_nothing_from_the_screens(manager, front_desk, birthplaces):
    identity = factories.identity(front_desk)
    client = logged_in(manager)
    offers = client.get(reverse("admin:identities_identity_change", args=[identity.pk])).context["offers"]
    assert not any(offer.allowed for offer in offers)
    client.post(reverse("admin:identities_identity_action", args=[identity.pk, "attribut/DOUT/poser"]), {"reason": "essai"})
    identity.refresh_from_db()
    assert not identity.doubtful
