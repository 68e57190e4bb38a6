"""Login throttling locks a user name from one address (never a whole workstation or proxy); the client address
behind a reverse proxy; the Content-Security-Policy header."""
import pytest
from django.urls import reverse

from tests.identities.portal.client import HttpsClient

PASSWORD = "not-a-real-password-1"  # the personas' password (tests/conftest.py)


def _login(username, password, **meta):
    return HttpsClient().post(reverse("admin:login"), {"username": username, "password": password, "next": "/"}, **meta)


def _lock(username, settings, **meta):
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        _login(username, "wrong password", **meta)
    assert _login(username, PASSWORD, **meta).status_code == 429


def test_a_locked_user_name_does_not_lock_the_other_accounts_of_the_workstation(front_desk, civ_member, settings):
    _lock(front_desk.username, settings, REMOTE_ADDR="192.0.2.10")

    assert _login(civ_member.username, PASSWORD, REMOTE_ADDR="192.0.2.10").status_code == 302


def test_a_locked_user_name_can_still_sign_in_from_another_workstation(front_desk, settings):
    _lock(front_desk.username, settings, REMOTE_ADDR="192.0.2.10")

    assert _login(front_desk.username, PASSWORD, REMOTE_ADDR="192.0.2.11").status_code == 302


def test_behind_a_trusted_proxy_the_lock_is_on_the_forwarded_client_address(front_desk, civ_member, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    _lock(front_desk.username, settings, **proxy, HTTP_X_FORWARDED_FOR="192.0.2.10")

    # The same proxy forwards the other workstations of the hospital, and other users.
    assert _login(front_desk.username, PASSWORD, **proxy, HTTP_X_FORWARDED_FOR="192.0.2.11").status_code == 302
    assert _login(civ_member.username, PASSWORD, **proxy, HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 302
    # A client cannot escape the lock by writing its own X-Forwarded-For: the right-most hop counts.
    forged = "198.51.100.7, 192.0.2.10"
    assert _login(front_desk.username, PASSWORD, **proxy, HTTP_X_FORWARDED_FOR=forged).status_code == 429


def test_without_trusted_proxies_a_forwarded_header_is_ignored(front_desk, settings):
    settings.TRUSTED_PROXIES = []
    _lock(front_desk.username, settings, REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.1")

    assert _login(front_desk.username, PASSWORD, REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


@pytest.mark.parametrize("url", ["admin:login", "admin:index"])
def test_every_page_carries_a_content_security_policy_without_inline_scripts(url, front_desk):
    client = HttpsClient()
    client.force_login(front_desk)

    policy = client.get(reverse(url))["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
