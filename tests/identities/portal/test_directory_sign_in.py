"""Sign-in through the hospital's directory: a real slapd (LDAP) and a real OpenID Connect provider, both started here.

Directory groups give the portal roles the administrator mapped; local accounts (demo,
break-glass administrators) keep working and are never taken over by a directory account.
"""
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from identities.core import roles
from identities.portal.models import DirectoryAccount, DirectoryGroup, DirectorySource
from tests.identities.portal import directory_servers
from tests.identities.portal.client import HttpsClient, logged_in

LOCAL_BACKENDS = ["axes.backends.AxesStandaloneBackend"]
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
LOCAL_PASSWORD = "not-a-real-password-1"  # the personas' password (tests/conftest.py)


def _login(username, password):
    client = HttpsClient()
    response = client.post(reverse("admin:login"), {"username": username, "password": password, "next": "/"})
    return client, response


def _roles(user) -> set[str]:
    return set(user.groups.filter(name__in=roles.ROLES).values_list("name", flat=True))


def _map(source, name, role):
    return DirectoryGroup.objects.create(source=source, name=name, role=Group.objects.get(name=role))


# --- LDAP / Active Directory ---

@pytest.fixture(scope="session")
def directory():
    with directory_servers.slapd() as server:
        yield server


@pytest.fixture
def ldap_on(settings, directory, db):
    import ldap
    from django_auth_ldap.config import GroupOfNamesType, LDAPSearch

    settings.AUTH_LDAP_SERVER_URI = directory.uri
    settings.AUTH_LDAP_BIND_DN = directory_servers.READER_DN
    settings.AUTH_LDAP_BIND_PASSWORD = directory_servers.READER_PASSWORD
    settings.AUTH_LDAP_USER_SEARCH = LDAPSearch(f"ou=people,{directory.base}", ldap.SCOPE_SUBTREE, "(uid=%(user)s)")
    settings.AUTH_LDAP_GROUP_SEARCH = LDAPSearch(f"ou=groups,{directory.base}", ldap.SCOPE_SUBTREE, "(objectClass=groupOfNames)")
    settings.AUTH_LDAP_GROUP_TYPE = GroupOfNamesType()
    settings.AUTH_LDAP_USER_ATTR_MAP = {"first_name": "givenName", "last_name": "sn", "email": "mail"}
    settings.AUTH_LDAP_ALWAYS_UPDATE_USER = True
    settings.AUTHENTICATION_BACKENDS = [*LOCAL_BACKENDS, "identities.portal.directory.PortalLDAPBackend", MODEL_BACKEND]
    _map(DirectorySource.LDAP, directory.group_dn("GG-INS-CIV"), roles.CIV_MEMBER)
    # Typed in another case than the directory writes it: DNs compare without case.
    _map(DirectorySource.LDAP, directory.group_dn("GG-INS-ACCUEIL").upper(), roles.FRONT_DESK)
    return directory


def test_a_directory_user_signs_in_with_the_roles_of_their_groups(ldap_on):
    client, response = _login("claude.civ", "claude-directory-password")

    assert response.status_code == 302
    user = get_user_model().objects.get(username="claude.civ")
    assert _roles(user) == {roles.CIV_MEMBER, roles.FRONT_DESK}
    assert (user.first_name, user.last_name, user.email) == ("Claude", "Martin", "claude.civ@hopital.test")
    assert not user.has_usable_password()  # the password stays in the directory
    account = user.directory_account
    assert (account.source, account.subject) == ("LDAP", ldap_on.user_dn("claude.civ"))
    assert client.get(reverse("admin:identities_worklistitem_changelist")).status_code == 200


def test_a_wrong_directory_password_signs_nobody_in(ldap_on):
    _client, response = _login("claude.civ", "not-the-password")

    assert response.status_code == 200 and "_auth_user_id" not in _client.session
    assert not get_user_model().objects.filter(username="claude.civ").exists()


def test_the_roles_follow_the_mapping_at_every_sign_in(ldap_on):
    _login("claude.civ", "claude-directory-password")
    DirectoryGroup.objects.filter(role__name=roles.CIV_MEMBER).update(role=Group.objects.get(name=roles.CIV_REFERENT))

    _login("claude.civ", "claude-directory-password")

    assert _roles(get_user_model().objects.get(username="claude.civ")) == {roles.CIV_REFERENT, roles.FRONT_DESK}


def test_a_directory_user_whose_groups_map_to_no_role_is_refused_with_a_reason(ldap_on):
    client, response = _login("intrus", "intrus-directory-password")

    assert response.status_code == 200 and "aucun rôle dans le portail" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_local_break_glass_account_is_never_taken_over_by_the_directory(ldap_on, administrator):
    # alex.admin exists locally (break-glass) and in the directory (another person, other password).
    _client, refused = _login("alex.admin", "alex-directory-password")
    client, local = _login("alex.admin", LOCAL_PASSWORD)

    assert refused.status_code == 200
    assert local.status_code == 302 and client.get(reverse("admin:auth_user_changelist")).status_code == 200
    administrator.refresh_from_db()
    assert _roles(administrator) == {roles.ADMINISTRATOR} and not DirectoryAccount.objects.filter(user=administrator).exists()


def test_local_accounts_still_sign_in_while_the_directory_is_on(ldap_on, front_desk):
    _client, response = _login(front_desk.username, LOCAL_PASSWORD)

    assert response.status_code == 302


def test_the_administrator_maps_a_directory_group_to_a_role_in_the_admin(ldap_on, administrator, civ_member):
    client = logged_in(administrator)
    form = client.get(reverse("admin:identities_directorygroup_add")).content.decode()
    referent = Group.objects.get(name=roles.CIV_REFERENT)

    response = client.post(reverse("admin:identities_directorygroup_add"), {
        "source": "LDAP", "name": ldap_on.group_dn("GG-COMPTA"), "role": referent.pk,
    })

    assert response.status_code == 302
    # Only the five roles are offered.
    assert f'value="{referent.pk}"' in form and form.count("<option value=") - form.count('<option value=""') == 2 + 5
    _login("intrus", "intrus-directory-password")
    assert _roles(get_user_model().objects.get(username="intrus")) == {roles.CIV_REFERENT}
    # Nobody else changes the mapping.
    assert logged_in(civ_member).get(reverse("admin:identities_directorygroup_add")).status_code == 403


# --- OpenID Connect ---

@pytest.fixture(scope="session")
def provider():
    with directory_servers.oidc_provider() as url:
        yield url


@pytest.fixture
def oidc_on(settings, provider, db):
    settings.OIDC_ENABLED = True
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "insportal", "client-secret-for-tests-only"
    settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider}/oauth2/authorize"
    settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider}/oauth2/token"
    settings.OIDC_OP_USER_ENDPOINT = f"{provider}/userinfo"
    settings.OIDC_OP_JWKS_ENDPOINT = f"{provider}/jwks"
    # The test provider publishes a single signing key without a "kid"; the signature is still checked against it.
    settings.OIDC_VERIFY_KID = False
    settings.AUTHENTICATION_BACKENDS = [*LOCAL_BACKENDS, "identities.portal.directory.PortalOIDCBackend", MODEL_BACKEND]
    _map(DirectorySource.OIDC, "GG-INS-ACCUEIL", roles.FRONT_DESK)
    _map(DirectorySource.OIDC, "GG-INS-DIRECTION", roles.MANAGER)
    return provider


def _provider_user(provider, sub, **claims):
    requests.put(f"{provider}/users/{sub}", json=claims, timeout=10).raise_for_status()


def _oidc_sign_in(provider, sub):
    """The browser's round trip: the portal sends it to the provider, the person signs in there, the provider sends it back."""
    client = HttpsClient()
    start = client.get(reverse("oidc_authentication_init"))
    assert start.status_code == 302 and start["Location"].startswith(f"{provider}/oauth2/authorize")
    consent = requests.post(start["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
    back = urlsplit(consent.headers["Location"])
    assert back.path == reverse("oidc_authentication_callback")
    return client, client.get(back.path, parse_qs(back.query))


def test_an_oidc_user_signs_in_with_the_roles_of_their_groups(oidc_on):
    _provider_user(oidc_on, "5c1e-lou", preferred_username="lou.bernard", given_name="Lou", family_name="Bernard",
                   email="lou@hopital.test", groups=["GG-INS-ACCUEIL", "GG-AUTRE"])

    client, response = _oidc_sign_in(oidc_on, "5c1e-lou")

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(username="lou.bernard")
    assert _roles(user) == {roles.FRONT_DESK} and (user.first_name, user.last_name) == ("Lou", "Bernard")
    assert (user.directory_account.source, user.directory_account.subject) == ("OIDC", "5c1e-lou")
    assert client.get(reverse("admin:identities_identity_changelist")).status_code == 200


def test_an_oidc_sign_in_finds_the_account_by_its_subject_and_resets_its_roles(oidc_on):
    _provider_user(oidc_on, "5c1e-sam", preferred_username="sam.durand", groups=["GG-INS-ACCUEIL"])
    _oidc_sign_in(oidc_on, "5c1e-sam")
    _provider_user(oidc_on, "5c1e-sam", preferred_username="sam.durand", groups=["GG-INS-DIRECTION"])

    _oidc_sign_in(oidc_on, "5c1e-sam")

    assert get_user_model().objects.filter(username="sam.durand").count() == 1
    assert _roles(get_user_model().objects.get(username="sam.durand")) == {roles.MANAGER}


def test_an_oidc_user_named_like_a_local_account_is_refused(oidc_on, administrator):
    _provider_user(oidc_on, "5c1e-other", preferred_username="alex.admin", groups=["GG-INS-DIRECTION"])

    client, response = _oidc_sign_in(oidc_on, "5c1e-other")

    assert response.status_code == 302 and "annuaire=refuse" in response["Location"]
    assert "_auth_user_id" not in client.session
    assert _roles(administrator) == {roles.ADMINISTRATOR}
    assert "La connexion par l'annuaire de l'hôpital a échoué" in client.get(response["Location"]).content.decode()


def test_the_login_page_offers_oidc_only_when_it_is_on(oidc_on, settings):
    assert "OpenID Connect" in HttpsClient().get(reverse("admin:login")).content.decode()

    settings.OIDC_ENABLED = False

    assert "OpenID Connect" not in HttpsClient().get(reverse("admin:login")).content.decode()
    assert HttpsClient().get(reverse("oidc_authentication_init")).status_code == 404


# --- Switched on by the environment ---

def _settings_in(**environ):
    import os
    import subprocess
    import sys

    from django.conf import settings

    code = ("from insportal import settings as s; "
            "print(' '.join(b.rsplit('.', 1)[1] for b in s.AUTHENTICATION_BACKENDS)); "
            "print(getattr(s, 'AUTH_LDAP_USER_SEARCH', None) and s.AUTH_LDAP_USER_SEARCH.base_dn)")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("LDAP_", "OIDC_"))}
    return subprocess.run([sys.executable, "-c", code], env={**env, **environ}, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=60)


def test_local_accounts_only_unless_the_environment_names_a_directory():
    assert _settings_in().stdout.split("\n")[0] == "AxesStandaloneBackend ModelBackend"


def test_the_environment_switches_ldap_and_oidc_on_before_the_local_accounts():
    endpoints = {f"OIDC_OP_{name}_ENDPOINT": f"https://idp.hopital.test/{name.lower()}"
                 for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS")}
    result = _settings_in(LDAP_SERVER_URI="ldaps://annuaire.hopital.test", LDAP_USER_BASE_DN="ou=people,dc=hopital,dc=test",
                          OIDC_RP_CLIENT_ID="insportal", **endpoints)

    backends, base = result.stdout.split("\n")[:2]
    assert backends == "AxesStandaloneBackend PortalLDAPBackend PortalOIDCBackend ModelBackend"
    assert base == "ou=people,dc=hopital,dc=test"


def test_oidc_without_the_provider_endpoints_refuses_to_start():
    result = _settings_in(OIDC_RP_CLIENT_ID="insportal")

    assert result.returncode != 0 and "needs the four OIDC_OP_*_ENDPOINT settings" in result.stderr
