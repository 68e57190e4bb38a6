"""Sign-in through the hospital's directory: which directory group gives which portal role, and which accounts come from it."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from identities.core import roles


class DirectorySource(models.TextChoices):
    LDAP = "LDAP", _("Annuaire LDAP / Active Directory")
    OIDC = "OIDC", _("OpenID Connect")


class DirectoryGroup(models.Model):
    """A group of the directory and the portal role its members get; the administrator keeps the table."""

    source = models.CharField(_("annuaire"), max_length=4, choices=DirectorySource.choices)
    name = models.CharField(
        _("groupe de l'annuaire"), max_length=500,
        help_text=_("LDAP / Active Directory : le DN complet du groupe (cn=…,ou=…,dc=…), sans distinction de casse. "
                    "OpenID Connect : la valeur telle que la donne la revendication des groupes."),
    )
    role = models.ForeignKey(
        Group, on_delete=models.PROTECT, related_name="+", verbose_name=_("rôle dans le portail"),
        limit_choices_to={"name__in": roles.ROLES},
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("groupe de l'annuaire")
        verbose_name_plural = _("groupes de l'annuaire (rôles)")
        constraints = [models.UniqueConstraint(fields=["source", "name", "role"], name="directory_group_unique")]

    def __str__(self):
        return f"{self.name} → {self.role.name}"


class DirectoryAccount(models.Model):
    """An account created by a directory sign-in; a local account (demo, break-glass) has none and is never taken over."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory_account")
    source = models.CharField(_("annuaire"), max_length=4, choices=DirectorySource.choices)
    subject = models.CharField(_("identifiant dans l'annuaire"), max_length=500)  # the LDAP DN or the OIDC "sub"
    last_sign_in_at = models.DateTimeField(_("dernière connexion par l'annuaire"))

    class Meta:
        verbose_name = _("compte de l'annuaire")
        verbose_name_plural = _("comptes de l'annuaire")
        default_permissions = ("view",)
        constraints = [models.UniqueConstraint(fields=["source", "subject"], name="directory_account_subject_unique")]

    def __str__(self):
        return f"{self.user.get_username()} ({self.get_source_display()})"
