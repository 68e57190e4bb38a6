"""Identities, their INS matricules, identity-document checks, links, events and reference tables."""
from __future__ import annotations

from uuid import uuid4

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from identities.core import derogations, matricule, roles, traits
from identities.core.ipp import allocate as allocate_ipps


class Status(models.TextChoices):
    PROV = "PROV", _("Identité provisoire")
    RECUP = "RECUP", _("Identité récupérée")
    VALI = "VALI", _("Identité validée")
    QUAL = "QUAL", _("Identité qualifiée")


# Statuses whose traits came from INSi: the matricule is stored and the strict traits locked.
INSI_STATUSES = (Status.RECUP, Status.QUAL)
# One level down when the INS is invalidated (locked trait changed, CIV decision).
DOWNGRADE = {Status.QUAL: Status.VALI, Status.RECUP: Status.PROV}


class Sex(models.TextChoices):
    M = "M", _("Masculin")
    F = "F", _("Féminin")
    I = "I", _("Indéterminé")  # noqa: E741 - the official code


class Channel(models.TextChoices):
    SM = "SM", _("Saisie manuelle")
    CV = "CV", _("Carte Vitale")
    INSI = "INSI", _("Téléservice INSi")
    CB = "CB", _("Code-barres (datamatrix INS)")
    AV = "AV", _("Appli carte Vitale")
    RFID = "RFID", _("Puce RFID")


class Attribute(models.TextChoices):
    DOUT = "DOUT", _("Identité douteuse")
    FICT = "FICT", _("Identité fictive")
    HOMA = "HOMA", _("Identité homonyme")


# Fields that cannot change once the traits come from INSi, unless habilitated.
STRICT_TRAIT_FIELDS = (
    "birth_name",
    "birth_given_names",
    "first_birth_given_name",
    "birth_date",
    "sex",
    "birthplace_code",
)
COMPLEMENTARY_TRAIT_FIELDS = ("used_name", "used_given_name")


class TrigramIndex(GinIndex):
    """A GIN trigram index (PostgreSQL ``pg_trgm``); a plain B-tree index stands in on SQLite."""

    def _plain(self) -> models.Index:
        return models.Index(fields=self.fields, name=self.name)

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return self._plain().create_sql(model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return self._plain().remove_sql(model, schema_editor, **kwargs)
        return super().remove_sql(model, schema_editor, **kwargs)


class BytewiseCharField(models.CharField):
    """Text compared byte by byte: collation "C" on PostgreSQL (SQLite's default already is).

    The search keys and the birth date hold ASCII only, so the order is the one a reader
    expects; what it buys is that one B-tree index serves both a prefix ``LIKE`` and the
    ``ORDER BY`` of a search, so a page is read off the index and stops early (a prefix
    cannot use an index of a linguistic collation such as the database's ``C.UTF-8``).
    """

    def db_parameters(self, connection):
        parameters = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            parameters["collation"] = "C"
        return parameters


class WordsAfterFirst(models.Func):
    """The text after its first space, '' when it has none (``MARIE CLAIRE`` of ``ANNE MARIE CLAIRE``):
    the expression of the given-name position columns, the same on PostgreSQL and SQLite."""

    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="COALESCE(substring(%(expressions)s from '^[^ ]+ (.*)$'), '')", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return (f"CASE WHEN instr({sql}, ' ') > 0 THEN substr({sql}, instr({sql}, ' ') + 1) ELSE '' END", (*params, *params, *params))


def _given_names_from(position: int) -> models.GeneratedField:
    """The given names key from the ``position``-th given name on (kept by the database)."""
    expression = models.F("given_names_key")
    for _ in range(position - 1):
        expression = WordsAfterFirst(expression)
    return models.GeneratedField(expression=expression, output_field=BytewiseCharField(max_length=100), db_persist=True,
                                 editable=False)


class Establishment(models.Model):
    """An establishment of the GHT (a site with its own FINESS): identities and staff belong to one; the dashboard filters on it.

    One establishment is the default: identities created by an account without an establishment,
    by a feed or a load, and every identity that existed before establishments, belong to it.
    """

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("nom"), max_length=120)
    finess = models.CharField(_("FINESS géographique"), max_length=9, blank=True,
                              validators=[RegexValidator(r"^[0-9A-B]{9}$", _("9 caractères : chiffres, ou A/B pour la Corse"))])
    is_default = models.BooleanField(
        _("établissement par défaut"), default=False,
        help_text=_("Reçoit les identités créées sans établissement connu (flux, imports, comptes sans rattachement)."),
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("établissement")
        verbose_name_plural = _("établissements")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="establishment_one_default")]

    def __str__(self) -> str:
        return str(self.name)


class StaffEstablishment(models.Model):
    """The establishment an account works in: the identities it creates belong to it (the administrator sets it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_establishment",
                                verbose_name=_("compte"))
    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="+", verbose_name=_("établissement"))

    class Meta:
        verbose_name = _("établissement de rattachement")
        verbose_name_plural = _("établissements de rattachement")

    def __str__(self) -> str:
        return str(self.establishment)


def _not_unreliable(identity: Identity) -> bool:
    return not (identity.doubtful or identity.fictitious)


def _birthplace_allows(target):
    """A condition: the identity's birthplace may be carried in the status the transition leads to (99999)."""
    def condition(identity: Identity) -> bool:
        return traits.unknown_birthplace_refusal(identity.birthplace_code, status=target(identity)) is None
    return condition


class Identity(ConcurrentTransitionMixin, models.Model):
    """A person as the facility knows them: traits, status, attributes and the active INS."""

    # The internal id other systems may keep for good (FHIR Patient.id, the CDA endpoint); never shown.
    uuid = models.UUIDField(_("identifiant interne"), default=uuid4, unique=True, editable=False)
    # The short number staff read, print and send (HL7 PID-3, FHIR and CDA identifier): see core/ipp.py.
    # Assigned by save() (bulk writers take theirs from ipp.allocate), never changed.
    ipp = models.CharField(_("IPP"), max_length=16, unique=True, editable=False,
                           help_text=_("identifiant permanent du patient : préfixe, numéro et clé de contrôle"))

    # Strict traits, in INSi form (upper case, no accents).
    birth_name = models.CharField(_("nom de naissance"), max_length=100)
    birth_given_names = models.CharField(_("prénom(s) de naissance"), max_length=100)
    first_birth_given_name = models.CharField(_("premier prénom de naissance"), max_length=100)
    # Text, not a date: INSi may return 00 for an unknown day or month.
    birth_date = BytewiseCharField(_("date de naissance"), max_length=10, help_text=_("AAAA-MM-JJ, 00 admis"))
    birth_date_corrected = models.BooleanField(_("date corrigée ou complétée"), default=False)
    sex = models.CharField(_("sexe"), max_length=1, choices=Sex.choices)
    birthplace_code = models.CharField(_("lieu de naissance (code INSEE)"), max_length=5, blank=True)

    # Complementary traits.
    used_name = models.CharField(_("nom utilisé"), max_length=100, blank=True)
    used_given_name = models.CharField(_("prénom utilisé"), max_length=100, blank=True)

    status = FSMField(_("statut"), max_length=5, choices=Status.choices, default=Status.PROV, protected=True)
    doubtful = models.BooleanField(_("identité douteuse"), default=False)
    fictitious = models.BooleanField(_("identité fictive"), default=False)
    homonym = models.BooleanField(_("identité homonyme"), default=False)

    # The active INS (the register of every matricule held is InsMatricule).
    ins_matricule = models.CharField(_("matricule INS"), max_length=15, null=True, blank=True, unique=True)
    ins_oid = models.CharField(_("OID"), max_length=64, null=True, blank=True)

    channel = models.CharField(_("modalité de recueil"), max_length=4, choices=Channel.choices, default=Channel.SM)
    establishment = models.ForeignKey(
        Establishment, on_delete=models.PROTECT, related_name="+", verbose_name=_("établissement"),
    )  # set by every creation path from its actor (core/establishments.py)
    is_active = models.BooleanField(_("active"), default=True, help_text=_("Désactivée après fusion de doublons"))
    # Set by a merge: the identity that absorbed this one. A merged identity is inactive and
    # never changes again (lock_identity refuses it) until an unmerge restores it.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="absorbed", verbose_name=_("fusionnée dans"),
    )
    merged_at = models.DateTimeField(_("fusionnée le"), null=True, blank=True)
    # USUR: somebody used this person's identity. The INS does not leave the system until it is resolved.
    usurpation_suspected = models.BooleanField(_("usurpation d'identité signalée (USUR)"), default=False)
    last_insi_call_at = models.DateTimeField(_("dernier appel INSi"), null=True, blank=True)
    last_verified_at = models.DateTimeField(_("dernière vérification INSi"), null=True, blank=True)
    validated_at = models.DateTimeField(_("date de validation"), null=True, blank=True)

    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("créée par")
    )
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("modifiée par")
    )
    # Optimistic concurrency: a form carries the version it was read at.
    version = models.PositiveIntegerField(_("version"), default=1)

    # Search keys, kept by refresh_search_keys(): accents/case folded, - ' and space alike.
    birth_name_key = BytewiseCharField(max_length=100, editable=False)
    used_name_key = BytewiseCharField(max_length=100, editable=False, blank=True)
    given_names_key = BytewiseCharField(max_length=100, editable=False)
    # The FHIR search by a given name in any position reads each position off an index, in order
    # (interop.selectors.patient_search); the fourth holds the fourth and the following ones.
    given_names_key_from_2 = _given_names_from(2)
    given_names_key_from_3 = _given_names_from(3)
    given_names_key_from_4 = _given_names_from(4)

    history = HistoricalRecords(excluded_fields=["ipp", "birth_name_key", "used_name_key", "given_names_key", "given_names_key_from_2",
                                                 "given_names_key_from_3", "given_names_key_from_4", "updated_at"])

    class Meta:
        verbose_name = _("identité")
        verbose_name_plural = _("identités")
        ordering = ["birth_name_key", "given_names_key", "birth_date"]
        permissions = [
            ("modify_locked_traits", _("Modifier les traits verrouillés d'une identité récupérée ou qualifiée (habilitation)")),
            ("record_document_check", _("Enregistrer un contrôle de pièce d'identité")),
            ("withdraw_document_check", _("Retirer un contrôle de pièce d'identité")),
            ("flag_doubtful", _("Signaler une identité douteuse")),
            ("manage_attributes", _("Poser et lever les attributs (douteuse, fictive, homonyme)")),
            ("invalidate_ins", _("Invalider l'INS d'une identité")),
            ("use_insi", _("Interroger le téléservice INSi")),
            ("view_dashboard", _("Consulter les tableaux de bord")),
        ]
        indexes = [
            models.Index(fields=["birth_date"], name="identity_birth_date"),
            models.Index(fields=["status", "birth_name_key"], name="identity_status_name"),
            models.Index(fields=["channel"], name="identity_channel"),
            models.Index(fields=["created_at"], name="identity_created_at"),
            models.Index(fields=["last_verified_at"], name="identity_last_verified"),
            models.Index(fields=["ins_oid"], name="identity_ins_oid"),
            models.Index(fields=["doubtful"], name="identity_doubtful", condition=Q(doubtful=True)),
            models.Index(fields=["fictitious"], name="identity_fictitious", condition=Q(fictitious=True)),
            models.Index(fields=["homonym"], name="identity_homonym", condition=Q(homonym=True)),
            TrigramIndex(fields=["birth_name_key"], name="identity_birth_name_trgm", opclasses=["gin_trgm_ops"]),
            TrigramIndex(fields=["used_name_key"], name="identity_used_name_trgm", opclasses=["gin_trgm_ops"]),
            # The admin list's default order (plus its "-pk" tie-break): pages come straight off the index.
            models.Index(fields=["birth_name_key", "given_names_key", "birth_date", "-id"], name="identity_list_order"),
            # Anteriority search: a year alone is a prefix match on the date; a given name without a
            # date is matched through its trigrams (both combine with the name's index).
            models.Index(fields=["birth_date"], name="identity_birth_date_prefix", opclasses=["varchar_pattern_ops"]),
            TrigramIndex(fields=["given_names_key"], name="identity_given_names_trgm", opclasses=["gin_trgm_ops"]),
            # The FHIR search (interop.selectors.patient_search): each index is in the order of the
            # page it serves, so a prefix or a date range reads its first rows and stops.
            models.Index(fields=["birth_name_key", "given_names_key", "birth_date", "id"], name="identity_search_birth_name",
                         condition=Q(is_active=True)),
            # (birth_name_key last: the used-name scan skips the birth-name matches from the index alone)
            models.Index(fields=["used_name_key", "given_names_key", "birth_date", "id", "birth_name_key"],
                         name="identity_search_used_name", condition=Q(is_active=True) & ~Q(used_name_key="")),
            models.Index(fields=["birth_date", "birth_name_key", "given_names_key", "id"], name="identity_search_birth_date",
                         condition=Q(is_active=True)),
            # A given name alone: one index per position (the first, the second, the third, the fourth and on).
            models.Index(fields=["given_names_key", "birth_name_key", "birth_date", "id"], name="identity_search_given_1",
                         condition=Q(is_active=True)),
            *(models.Index(fields=[f"given_names_key_from_{n}", "birth_name_key", "birth_date", "id"], name=f"identity_search_given_{n}",
                           condition=Q(is_active=True) & ~Q(**{f"given_names_key_from_{n}": ""})) for n in (2, 3, 4)),
            # Dashboard: counts by status and channel, and creations per month, read from indexes alone.
            models.Index(fields=["status", "channel", "is_active"], name="identity_status_channel"),
            models.Index(fields=["created_at", "status", "is_active"], name="identity_created_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(doubtful=False, fictitious=False) | Q(status=Status.PROV),
                name="identity_unreliable_is_prov",
                violation_error_message=_("Une identité douteuse ou fictive est obligatoirement provisoire."),
            ),
            models.CheckConstraint(
                condition=Q(fictitious=False) | Q(doubtful=False, homonym=False),
                name="identity_fictitious_combines_with_nothing",
                violation_error_message=_("L'attribut « fictive » ne se combine avec aucun autre."),
            ),
            models.CheckConstraint(
                condition=~Q(ipp=""), name="identity_ipp_assigned",
                violation_error_message=_("Toute identité porte un IPP."),
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(is_active=False),
                name="identity_merged_is_inactive",
                violation_error_message=_("Une identité fusionnée est obligatoirement inactive."),
            ),
            models.CheckConstraint(
                condition=(
                    Q(status__in=INSI_STATUSES, ins_matricule__isnull=False, ins_oid__isnull=False)
                    | Q(status__in=[Status.PROV, Status.VALI], ins_matricule__isnull=True, ins_oid__isnull=True)
                ),
                name="identity_ins_only_when_from_insi",
                violation_error_message=_("Seules les identités récupérées ou qualifiées portent un matricule INS."),
            ),
        ]

    def __str__(self) -> str:
        # How every screen names an identity (lists, worklists, pairs, merges): traits, then the IPP once assigned.
        ipp = f", IPP {self.ipp}" if self.ipp else ""
        return f"{self.birth_name} {self.first_birth_given_name} ({self.birth_date_display}{ipp})"

    def refresh_search_keys(self) -> None:
        self.birth_name_key = traits.search_key(self.birth_name)
        self.used_name_key = traits.search_key(self.used_name)
        self.given_names_key = traits.search_key(self.birth_given_names)

    def save(self, *args, **kwargs):
        if not self.ipp:
            self.ipp = allocate_ipps(using=kwargs.get("using") or "default")[0]
        self.refresh_search_keys()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "birth_name_key", "used_name_key", "given_names_key"}
        super().save(*args, **kwargs)

    @property
    def birth_date_display(self) -> str:
        year, month, day = self.birth_date.split("-")
        return f"{day}/{month}/{year}"

    @property
    def ins_nature(self) -> str:
        return matricule.nature_of(self.ins_oid) if self.ins_oid else ""

    @property
    def attributes(self) -> list[str]:
        flags = ((self.doubtful, Attribute.DOUT), (self.fictitious, Attribute.FICT), (self.homonym, Attribute.HOMA))
        return [code for on, code in flags if on]

    @property
    def is_locked(self) -> bool:
        return self.status in INSI_STATUSES

    # --- The status machine: domain.md §2, one method per event. Services call these. ---

    @transition(
        field=status,
        source=[Status.PROV, Status.RECUP],
        target=RETURN_VALUE(Status.VALI, Status.QUAL),
        conditions=[_not_unreliable, _birthplace_allows(lambda identity: Status.VALI)],
        permission="identities.record_document_check",
    )
    def document_validated(self):
        """A high-trust identity document was checked."""
        return Status.VALI if self.status == Status.PROV else Status.QUAL

    @transition(
        field=status,
        source=[Status.PROV, Status.VALI],
        target=RETURN_VALUE(Status.RECUP, Status.QUAL),
        conditions=[_not_unreliable, _birthplace_allows(lambda identity: Status.RECUP if identity.status == Status.PROV else Status.QUAL)],
        permission="identities.use_insi",
    )
    def insi_identity_accepted(self):
        """INSi returned (code 00) or confirmed the identity and the result was accepted."""
        return Status.RECUP if self.status == Status.PROV else Status.QUAL

    @transition(
        field=status,
        source=[Status.PROV, Status.VALI, Status.RECUP],
        target=Status.QUAL,
        conditions=[_not_unreliable, _birthplace_allows(lambda identity: Status.QUAL)],
        permission="identities.record_document_check",
    )
    def apcv_identity_accepted(self):
        """The Appli carte Vitale transmitted the identity: national traits and a high-trust document at once."""

    @transition(
        field=status,
        source=[Status.VALI, Status.QUAL],
        target=RETURN_VALUE(Status.PROV, Status.RECUP),
        permission="identities.withdraw_document_check",
    )
    def document_withdrawn(self):
        """The only high-trust document check was withdrawn; a QUAL INS stays stored, unshared."""
        return Status.PROV if self.status == Status.VALI else Status.RECUP

    @transition(
        field=status,
        source=list(INSI_STATUSES),
        target=RETURN_VALUE(Status.PROV, Status.VALI),
        conditions=[_birthplace_allows(lambda identity: DOWNGRADE[Status(identity.status)])],
        permission="identities.invalidate_ins",
    )
    def ins_invalidated(self):
        """The INS was invalidated (locked trait modified, CIV decision): one level down."""
        return DOWNGRADE[Status(self.status)]

    @transition(field=status, source="*", target=Status.PROV)
    def marked_unreliable(self):
        """Doubtful or fictitious: forced back to provisional (permission checked per attribute)."""

    @transition(field=status, source="*", target=RETURN_VALUE(*Status.values))
    def restored(self, status: str):
        """An unmerge puts the status back as it was at the merge (the merge log holds it)."""
        return status

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None


class InsMatricule(models.Model):
    """Every matricule INS an identity has held or INSi reported (INSACTIF and INSHISTO)."""

    class Kind(models.TextChoices):
        ACTIVE = "INSACTIF", _("Actif (retourné par INSi)")
        HISTORICAL = "INSHISTO", _("Historique (retourné par INSi)")

    class Source(models.TextChoices):
        INSI_RECOVERY = "INSI_RECUP", _("Récupération INSi")
        INSI_VERIFICATION = "INSI_VERIF", _("Vérification INSi")
        THIRD_PARTY = "TIERS", _("Tiers (autre domaine), vérifié par INSi")
        APCV = "APCV", _("Appli carte Vitale")

    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="matricules", verbose_name=_("identité"))
    matricule = models.CharField(_("matricule INS"), max_length=15)
    oid = models.CharField(_("OID"), max_length=64)
    kind = models.CharField(_("nature du retour"), max_length=8, choices=Kind.choices)
    start_date = models.CharField(_("date de début"), max_length=10, blank=True)
    end_date = models.CharField(_("date de fin"), max_length=10, blank=True)
    source = models.CharField(_("origine"), max_length=10, choices=Source.choices)
    insi_exchange_id = models.BigIntegerField(_("échange INSi"), null=True, blank=True)
    recorded_at = models.DateTimeField(_("enregistré le"), auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    invalidated_at = models.DateTimeField(_("invalidé le"), null=True, blank=True)
    invalidation_reason = models.TextField(_("motif d'invalidation"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("matricule INS")
        verbose_name_plural = _("matricules INS")
        ordering = ["identity", "-recorded_at"]
        indexes = [models.Index(fields=["matricule"], name="insmatricule_matricule")]

    def __str__(self) -> str:
        return f"{self.matricule} ({self.nature})"

    @property
    def nature(self) -> str:
        return matricule.nature_of(self.oid)


class DocumentType(models.Model):
    """A type of identity document, as the facility configures it."""

    class Trust(models.TextChoices):
        HIGH = "HIGH", _("Haut niveau de confiance (valide seule)")
        WITH_COMPANION = "COMPANION", _("Valide avec une pièce complémentaire (parent, carte Vitale avec photo)")
        COMPANION_ONLY = "SUPPORT", _("Uniquement en complément")
        EXCEPTION = "EXCEPTION", _("Valide seulement dans une dérogation RNIV 2024 (mineur, aide sociale à l'enfance)")
        NONE = "NONE", _("Ne permet pas de valider")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("libellé"), max_length=120)
    trust = models.CharField(_("niveau de confiance"), max_length=9, choices=Trust.choices)
    requires_expiry = models.BooleanField(
        _("date d'expiration exigée"), default=True, help_text=_("La pièce doit être en cours de validité le jour du contrôle.")
    )
    active = models.BooleanField(_("proposée"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("type de pièce d'identité")
        verbose_name_plural = _("types de pièces d'identité")
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return str(self.label)


class DocumentCheck(models.Model):
    """An identity document that somebody checked against the person."""

    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="document_checks", verbose_name=_("identité"))
    document_type = models.ForeignKey(DocumentType, on_delete=models.PROTECT, related_name="+", verbose_name=_("type de pièce"))
    companion_type = models.ForeignKey(
        DocumentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("pièce complémentaire")
    )
    expiry_date = models.DateField(_("date d'expiration"), null=True, blank=True)
    validates = models.BooleanField(_("permet la validation"), default=False, editable=False)
    derogation = models.CharField(
        _("dérogation RNIV utilisée"), max_length=16, choices=derogations.CHOICES, blank=True, default="", editable=False,
        help_text=_("La combinaison de pièces admise par exception (EHPAD, mineur, aide sociale à l'enfance)."),
    )
    checked_at = models.DateTimeField(_("contrôlée le"))
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("contrôlée par"))
    withdrawn_at = models.DateTimeField(_("retirée le"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    withdrawal_reason = models.TextField(_("motif du retrait"), blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("contrôle de pièce d'identité")
        verbose_name_plural = _("contrôles de pièces d'identité")
        ordering = ["-checked_at"]

    def __str__(self) -> str:
        return f"{self.document_type} ({self.checked_at:%d/%m/%Y})"


class IdentityLink(models.Model):
    """Two identity records related by a vigilance finding: duplicate, collision, homonym."""

    class Kind(models.TextChoices):
        DPOT = "DPOT", _("Doublon potentiel")
        DOUA = "DOUA", _("Doublon avéré")
        COLP = "COLP", _("Collision potentielle")
        COLV = "COLV", _("Collision avérée")
        HOMD = "HOMD", _("Homonymes détectés")
        HOMA = "HOMA", _("Homonymes avérés")

    kind = models.CharField(_("type"), max_length=4, choices=Kind.choices)
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="+", verbose_name=_("identité"))
    other = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="+", verbose_name=_("autre identité"))
    reason = models.TextField(_("motif"), blank=True)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("lien entre identités")
        verbose_name_plural = _("liens entre identités")
        constraints = [
            models.UniqueConstraint(fields=["kind", "identity", "other"], name="identitylink_unique"),
            models.CheckConstraint(condition=~Q(identity=models.F("other")), name="identitylink_two_records"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.identity_id} / {self.other_id}"


class IdentityEvent(models.Model):
    """The audit trail of every action on an identity, and what the diffusion layer propagates."""

    class Kind(models.TextChoices):
        CREATED = "CREATED", _("Création")
        TRAITS_CHANGED = "TRAITS", _("Modification des traits")
        STATUS_CHANGED = "STATUS", _("Changement de statut")
        ATTRIBUTE_CHANGED = "ATTRIBUTE", _("Changement d'attribut")
        DOCUMENT_CHECKED = "DOC_CHECK", _("Contrôle de pièce")
        DOCUMENT_WITHDRAWN = "DOC_WITHDRAW", _("Retrait d'un contrôle de pièce")
        INS_SET = "INS_SET", _("INS enregistré")
        INS_INVALIDATED = "INS_INVALID", _("INS invalidé")
        COLLISION = "COLLISION", _("Collision détectée")
        PRINTED = "PRINTED", _("Impression (fiche, étiquettes)")
        INSI_RECOVERY = "INSI_RECUP", _("Récupération INSi")
        INSI_VERIFICATION = "INSI_VERIF", _("Vérification INSi")
        MERGED = "MERGED", _("Fusion de doublons")
        UNMERGED = "UNMERGED", _("Défusion")
        USURPATION = "USURPATION", _("Usurpation d'identité (USUR)")
        MOVED = "MOVED", _("Élément déplacé (séparation d'une collision)")

    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="events", verbose_name=_("identité"))
    kind = models.CharField(_("événement"), max_length=12, choices=Kind.choices)
    at = models.DateTimeField(_("le"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("par"))
    actor_name = models.CharField(_("auteur"), max_length=150)
    channel = models.CharField(_("modalité"), max_length=4, choices=Channel.choices, blank=True)
    from_status = models.CharField(_("statut avant"), max_length=5, choices=Status.choices, blank=True)
    to_status = models.CharField(_("statut après"), max_length=5, choices=Status.choices, blank=True)
    reason = models.TextField(_("motif"), blank=True)
    details = models.JSONField(_("détails"), default=dict, blank=True)

    class Meta:
        verbose_name = _("événement d'identité")
        verbose_name_plural = _("événements d'identité")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["identity", "at"], name="identityevent_identity_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.at:%d/%m/%Y %H:%M})"


class Birthplace(models.Model):
    """INSEE COG codes: communes (current and former) and countries (99xxx)."""

    class Kind(models.TextChoices):
        COMMUNE = "COM", _("Commune")
        DELEGATED = "COMD", _("Commune déléguée")
        ASSOCIATED = "COMA", _("Commune associée")
        DISTRICT = "ARM", _("Arrondissement municipal")
        FORMER = "OLD", _("Ancien code (commune fusionnée ou disparue)")
        COUNTRY = "PAYS", _("Pays ou territoire (né à l'étranger)")

    code = models.CharField(_("code INSEE"), max_length=5, primary_key=True)
    name = models.CharField(_("libellé"), max_length=200)
    kind = models.CharField(_("type"), max_length=4, choices=Kind.choices)
    current = models.BooleanField(_("en vigueur"), default=True)
    # The commune a former code, a delegated or associated commune or an arrondissement belongs to today.
    successor = models.CharField(_("commune de rattachement"), max_length=5, blank=True)
    search_key = models.CharField(_("clé de recherche"), max_length=200, blank=True, db_index=True)
    postal_codes = models.CharField(_("codes postaux (La Poste)"), max_length=200, blank=True, help_text=_("séparés par des espaces"))
    valid_from = models.DateField(_("en vigueur depuis"), null=True, blank=True)
    valid_until = models.DateField(_("en vigueur jusqu'au"), null=True, blank=True)

    class Meta:
        verbose_name = _("lieu de naissance (COG)")
        verbose_name_plural = _("lieux de naissance (COG)")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


# --- Worklists of the identity-vigilance cell (the portal's queues) ---

class WorklistItem(models.Model):
    """One entry of a CIV work queue: which identity (or pair), why, who holds it, what was decided."""

    class Kind(models.TextChoices):
        PROVISIONAL = "PROV", _("Identités provisoires à qualifier")
        DOUBTFUL = "DOUT", _("Identités douteuses")
        FICTITIOUS = "FICT", _("Identités fictives")
        HOMONYM = "HOMD", _("Homonymes détectés à confirmer")
        DUPLICATE = "DPOT", _("Doublons potentiels")
        INSI_VERIFICATION = "INSI_KO", _("Échecs de vérification INSi")
        APCV_MISMATCH = "APCV", _("Écarts avec l'Appli carte Vitale")

    class State(models.TextChoices):
        OPEN = "OPEN", _("À traiter")
        DONE = "DONE", _("Traité")

    class Decision(models.TextChoices):
        CONFIRMED = "CONFIRMED", _("Confirmé")
        DISMISSED = "DISMISSED", _("Écarté")
        HANDLED = "HANDLED", _("Traité")
        OBSOLETE = "OBSOLETE", _("Sans objet (situation résolue entre-temps)")

    kind = models.CharField(_("file"), max_length=8, choices=Kind.choices)
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="worklist_items", verbose_name=_("identité"))
    # The second record of a pair (homonyms, duplicates); always the higher id, so a pair is stored once.
    other = models.ForeignKey(
        Identity, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("autre identité")
    )
    reason = models.TextField(_("motif"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("responsable")
    )
    opened_at = models.DateTimeField(_("ouvert le"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("signalé par")
    )
    state = models.CharField(_("état"), max_length=4, choices=State.choices, default=State.OPEN)
    decision = models.CharField(_("décision"), max_length=9, choices=Decision.choices, blank=True)
    decision_note = models.TextField(_("commentaire de la décision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("décidé par")
    )
    decided_at = models.DateTimeField(_("décidé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("élément de file de travail")
        verbose_name_plural = _("files de travail")
        ordering = ["opened_at", "id"]
        permissions = [
            ("manage_worklists", _("Traiter les files de travail de la CIV (toutes les files, attribution, décisions)")),
        ]
        indexes = [
            models.Index(fields=["state", "kind", "opened_at"], name="worklistitem_queue"),
            models.Index(fields=["owner", "state"], name="worklistitem_owner"),
            models.Index(fields=["state", "opened_at", "id"], name="worklistitem_oldest_first"),
            # Dashboard: items decided in a period (and those open at its end, decided since).
            models.Index(fields=["state", "decided_at"], name="worklistitem_decided"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "identity"], condition=Q(other__isnull=True, state="OPEN"), name="worklistitem_one_open_per_identity"
            ),
            # A pair once dismissed stays dismissed: detection does not bring it back.
            models.UniqueConstraint(fields=["kind", "identity", "other"], condition=Q(other__isnull=False), name="worklistitem_one_per_pair"),
            models.CheckConstraint(
                condition=Q(other__isnull=True) | Q(identity__lt=models.F("other")), name="worklistitem_pair_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} : {self.identity_id}" + (f" / {self.other_id}" if self.other_id else "")

    @property
    def is_pair(self) -> bool:
        return self.other_id is not None


_WORKLIST_VIEW = ["view_worklistitem"]
_WORKLIST_MANAGE = ["view_worklistitem", "manage_worklists"]
# Front-desk agents see their own items only (the admin filters on the owner); the CIV sees and decides all.
roles.register_role_permissions(roles.FRONT_DESK, "identities", _WORKLIST_VIEW)
roles.register_role_permissions(roles.CIV_MEMBER, "identities", _WORKLIST_MANAGE)
roles.register_role_permissions(roles.CIV_REFERENT, "identities", _WORKLIST_MANAGE)
