"""The portal's tables: sign-in through the hospital's directory (which directory group gives which role, which accounts
come from it), and the daily counts the dashboard reads (identities, flows, INSi response times)."""
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


class IdentityCounts(models.Model):
    """The columns of the identity counts: a group of identities (establishment, status, channel, NIA, attributes) and
    how its active identities changed (``active``) and how many of them were created (``created``)."""

    day = models.DateField(_("jour"))
    establishment_id = models.BigIntegerField(_("établissement"))  # written by the trigger: no foreign key to check
    status = models.CharField(_("statut"), max_length=5)
    channel = models.CharField(_("modalité de recueil"), max_length=4)
    nia = models.BooleanField(_("NIA"))
    doubtful = models.BooleanField(_("douteuse"))
    fictitious = models.BooleanField(_("fictive"))
    homonym = models.BooleanField(_("homonyme"))
    active = models.IntegerField(_("variation des identités actives"))
    created = models.IntegerField(_("identités créées"))

    GROUP = ("day", "establishment_id", "status", "channel", "nia", "doubtful", "fictitious", "homonym")
    SUMS = ("active", "created")

    class Meta:
        abstract = True


class IdentityTally(IdentityCounts):
    """What the dashboard counts identities from: net daily changes, written by a database trigger on the identity table.

    Each row says: on ``day`` (local date), the active identities of this establishment with
    these properties changed by ``active``, and ``created`` of them were created. The stock on
    any day is the sum of the rows up to that day. The trigger (migration 0016) sees every
    write — services, bulk loads, COPY, ``QuerySet.update`` — so the counts stay exact; it only
    inserts (no row is updated by two writers), and ``tally.tally_compact`` folds the rows into one
    per day and group every quarter of an hour. Dating: a creation at its ``created_at``, a change at the ``updated_at``
    it writes (else the time of the write).
    """

    class Meta:
        verbose_name = _("décompte quotidien des identités")
        verbose_name_plural = _("décomptes quotidiens des identités")
        default_permissions = ()
        indexes = [models.Index(fields=["establishment_id", "day"], name="identitytally_est_day")]


class IdentityMonthTally(IdentityCounts):
    """The same counts per month (``day``: the first of the month), kept by triggers on ``IdentityTally`` (its rows
    added when inserted, taken off when deleted, migration 0020): a stock reads the months before the period here,
    one row per month and group, and only the days of the period's own months from the daily counts."""

    class Meta:
        verbose_name = _("décompte mensuel des identités")
        verbose_name_plural = _("décomptes mensuels des identités")
        default_permissions = ()
        indexes = [models.Index(fields=["establishment_id", "day"], name="identitymonthtally_est_day")]


class FlowTally(models.Model):
    """What the dashboard counts the flows from: daily counts of INSi exchanges and creations, written by database
    triggers on their tables (migration 0020), so that a period reads a few rows per day whatever the traffic.

    ``flow`` is the exchange's operation, or ``CREATED`` for a creation event; ``outcome`` the exchange's return code,
    or for a creation ``reviewed`` (anteriority hits examined and set aside), ``unreviewed`` (none) or empty (no
    anteriority search recorded). ``establishment_id`` is the establishment of the identity when the row was written
    (None: an exchange made before its identity existed). Triggers see every write, including ``QuerySet.update``;
    ``tally.tally_compact`` folds the rows with the identity counts.
    """

    CREATED = "CREATED"
    REVIEWED, UNREVIEWED = "reviewed", "unreviewed"

    day = models.DateField(_("jour"))
    establishment_id = models.BigIntegerField(_("établissement"), null=True)
    flow = models.CharField(_("flux"), max_length=64)
    outcome = models.CharField(_("résultat"), max_length=32)
    count = models.IntegerField(_("nombre"))

    GROUP = ("day", "establishment_id", "flow", "outcome")
    SUMS = ("count",)

    class Meta:
        verbose_name = _("décompte quotidien des flux")
        verbose_name_plural = _("décomptes quotidiens des flux")
        default_permissions = ()
        indexes = [models.Index(fields=["flow", "day", "establishment_id"], name="flowtally_flow_day")]


class DurationTally(models.Model):
    """The INSi response times as histograms (exchanges per duration in ms), per day and per month, written by the
    exchange trigger with ``FlowTally``: exact nearest-rank percentiles over a period read its whole months from the
    month rows (``monthly``, ``day`` the first of the month) and its other days from the day rows."""

    day = models.DateField(_("jour"))
    monthly = models.BooleanField(_("mois entier"))
    establishment_id = models.BigIntegerField(_("établissement"), null=True)
    duration_ms = models.IntegerField(_("durée (ms)"))
    count = models.IntegerField(_("nombre"))

    GROUP = ("day", "monthly", "establishment_id", "duration_ms")
    SUMS = ("count",)

    class Meta:
        verbose_name = _("histogramme des temps de réponse INSi")
        verbose_name_plural = _("histogrammes des temps de réponse INSi")
        default_permissions = ()
        indexes = [models.Index(fields=["monthly", "day", "establishment_id"], name="durationtally_span")]
