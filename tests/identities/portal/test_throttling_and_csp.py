"""Login throttling locks a user name from one address (never a whole workstation or proxy); the client address
behind a reverse proxy; the Content-Security-Policy header."""
import base64
import hashlib
import re

import pytest
from django.urls import NoReverseMatch, reverse

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
    assert directives["style-src"] == "'self'"  # no 'unsafe-inline': no <style> element, no style attribute...
    assert directives["style-src-attr"] == f"'unsafe-hashes' {ALLOWED_STYLE_ATTRIBUTE}"  # ...but the one hashed
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


# The one style attribute the policy lets through (django-simple-history's history list), by its hash.
ALLOWED_STYLE_ATTRIBUTE = "'sha256-" + base64.b64encode(hashlib.sha256(b"border-top: 0").digest()).decode() + "'"
# A script element without src, unless it only holds data (json_script).
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.IGNORECASE)
_STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
_STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle\s*=\s*[\"']([^\"']*)[\"']", re.IGNORECASE)


def _portal_pages(identity) -> list[str]:
    """Every admin list and add form, the identity's pages, the dashboard and the portal's own pages."""
    from django.contrib import admin

    pages = [reverse("admin:index"), reverse("admin:dashboard"), reverse("admin:password_change"),
             reverse("admin:identities_identity_change", args=[identity.pk]),
             reverse("admin:identities_identity_history", args=[identity.pk]),
             reverse("admin:identities_identity_action", args=[identity.pk, "piece"])]
    for model in admin.site._registry:
        info = model._meta.app_label, model._meta.model_name
        pages.append(reverse("admin:%s_%s_changelist" % info))
        try:
            pages.append(reverse("admin:%s_%s_add" % info))
        except NoReverseMatch:
            pass
    return pages


def test_no_page_carries_an_inline_script_or_an_inline_style_the_policy_would_refuse(administrator, front_desk, birthplaces):
    from tests import factories

    identity = factories.qualified(front_desk)
    client = HttpsClient()
    client.force_login(administrator)
    checked = 0
    for page in _portal_pages(identity):
        response = client.get(page)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        checked += 1
        assert not _INLINE_SCRIPT.findall(html), page
        assert not _STYLE_ELEMENT.findall(html), page
        styles = {value for value in _STYLE_ATTRIBUTE.findall(html)}
        assert styles <= {"border-top: 0"}, (page, styles)
    assert checked > 40  # the admin's lists and forms were read, not refused
