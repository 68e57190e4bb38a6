"""Sign-in through the hospital's directory (LDAP / Active Directory, OpenID Connect): the backends and the role mapping.

Each backend is switched on by settings (insportal/settings.py, "Access" block). A directory
account's roles are those its directory groups map to (``DirectoryGroup``, kept by the
administrator), set again at every sign-in; a local account (demo, break-glass administrator)
of the same user name is never taken over by a directory sign-in.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import Http404
from django.urls import path
from django.utils import timezone
from django_auth_ldap.backend import LDAPBackend
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from identities.core import roles
from identities.portal.models import DirectoryAccount, DirectoryGroup, DirectorySource

logger = logging.getLogger(__name__)


class LocalAccountExists(Exception):
    """Another account (local, or of another directory subject) holds this user name: the directory may not sign in as it."""


def roles_of(source: str, groups) -> list[Group]:
    """The portal roles the directory groups map to (LDAP DNs compare without case, as directories do)."""
    wanted = {str(name).casefold() for name in groups}
    return sorted(
        {row.role for row in DirectoryGroup.objects.filter(source=source).select_related("role") if row.name.casefold() in wanted},
        key=lambda group: group.name,
    )


def directory_account_for(*, source: str, subject: str, username: str):
    """The account of this directory subject: found, or new; None when a local account owns the user name."""
    user_model = get_user_model()
    account = DirectoryAccount.objects.filter(source=source, subject=subject).select_related("user").first()
    if account is not None:
        return account.user
    # A local account, or another directory subject (a re-created directory entry), holds the name: refused.
    if user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).exists():
        raise LocalAccountExists(username)
    return None


def directory_sign_in(*, user, source: str, subject: str, groups) -> list[str]:
    """Record a directory sign-in and set the user's portal roles from its groups; returns the role names."""
    mapped = roles_of(source, groups)
    with transaction.atomic():
        DirectoryAccount.objects.update_or_create(
            user=user, defaults={"source": source, "subject": subject, "last_sign_in_at": timezone.now()},
        )
        kept = list(user.groups.exclude(name__in=roles.ROLES))
        user.groups.set([*kept, *mapped])
    names = [group.name for group in mapped]
    logger.info("directory sign-in user=%s source=%s roles=%s", user.pk, source, ",".join(names) or "none")
    return names


class PortalLDAPBackend(LDAPBackend):
    """django-auth-ldap, with the portal's role mapping and local accounts left alone."""

    def get_or_build_user(self, username, ldap_user):
        try:
            user = directory_account_for(source=DirectorySource.LDAP, subject=ldap_user.dn, username=username)
        except LocalAccountExists:
            logger.warning("LDAP sign-in refused: a local account holds that user name")
            raise ldap_user.AuthenticationFailed("a local account holds that user name") from None
        if user is not None:
            return user, False
        return get_user_model()(**{get_user_model().USERNAME_FIELD: username}), True

    def authenticate_ldap_user(self, ldap_user, password):
        user = super().authenticate_ldap_user(ldap_user, password)
        if user is not None:
            directory_sign_in(user=user, source=DirectorySource.LDAP, subject=ldap_user.dn, groups=ldap_user.group_dns)
        return user


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc: the account is found by the provider's subject ("sub"), named by OIDC_USERNAME_CLAIM."""

    def verify_claims(self, claims):
        return bool(claims.get("sub")) and bool(self._username(claims))

    def _username(self, claims) -> str:
        return str(claims.get(settings.OIDC_USERNAME_CLAIM) or "")[:150]

    def filter_users_by_claims(self, claims):
        return get_user_model().objects.filter(
            directory_account__source=DirectorySource.OIDC, directory_account__subject=claims["sub"],
        )

    def create_user(self, claims):
        try:
            directory_account_for(source=DirectorySource.OIDC, subject=claims["sub"], username=self._username(claims))
        except LocalAccountExists:
            raise SuspiciousOperation("a local account holds that user name") from None
        user = get_user_model().objects.create_user(self._username(claims))
        return self.update_user(user, claims)

    def update_user(self, user, claims):
        user.first_name = str(claims.get("given_name") or "")[:150]
        user.last_name = str(claims.get("family_name") or "")[:150]
        user.email = str(claims.get("email") or "")[:254]
        user.save(update_fields=["first_name", "last_name", "email"])
        groups = claims.get(settings.OIDC_GROUPS_CLAIM) or []
        if isinstance(groups, str):
            groups = [groups]
        directory_sign_in(user=user, source=DirectorySource.OIDC, subject=claims["sub"], groups=groups)
        return user


def _when_enabled(view):
    def wrapped(request, *args, **kwargs):
        if not settings.OIDC_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def oidc_urls():
    """The two OpenID Connect endpoints (start, callback); they answer 404 while OIDC is off."""
    from mozilla_django_oidc.views import (
        OIDCAuthenticationCallbackView,
        OIDCAuthenticationRequestView,
    )

    return [
        path("authenticate/", _when_enabled(OIDCAuthenticationRequestView.as_view()), name="oidc_authentication_init"),
        path("callback/", _when_enabled(OIDCAuthenticationCallbackView.as_view()), name="oidc_authentication_callback"),
    ]
