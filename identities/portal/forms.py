"""The portal's forms: anteriority search, identity entry, the actions on an identity, worklist decisions."""
from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from identities.core import derogations, traits
from identities.core.errors import ServiceError
from identities.core.services import CREATION_CHANNELS
from identities.core.models import (
    DOWNGRADE, STRICT_TRAIT_FIELDS, Channel, DocumentType, Establishment, Identity, Status, WorklistItem,
)
from identities.core.screens import apply_service_error
from identities.core.worklists import decisions_for, worklist_civ_members


class PortalAuthenticationForm(AuthenticationForm):
    """The login form: any active account holding a role may enter (not only Django "staff")."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not (user.is_staff or user.get_all_permissions()):
            raise forms.ValidationError(
                _("Ce compte n'a aucun rôle dans le portail : adressez-vous à l'administrateur."), code="no_role"
            )


class AnteriorityForm(forms.Form):
    """The three separate fields of the anteriority search, and the IPP when the person brings it
    (query-string names in French, as users see them)."""

    nom = forms.CharField(label=_("Nom"), required=False, help_text=_("de naissance ou utilisé"))
    prenom = forms.CharField(label=_("Prénom"), required=False)
    naissance = forms.CharField(
        label=_("Date de naissance"), required=False, help_text=_("JJ/MM/AAAA, AAAA-MM-JJ (00 admis) ou une année")
    )

    ipp = forms.CharField(label=_("IPP"), required=False, help_text=_("préfixe, numéro et clé"))

    PARAMS = ("nom", "prenom", "naissance", "ipp")
    TRAIT_PARAMS = ("nom", "prenom", "naissance")

    @classmethod
    def terms(cls, data) -> dict[str, str]:
        return {name: (data.get(name) or "").strip() for name in cls.PARAMS}


def field_label(name: str) -> str:
    return str(capfirst(Identity._meta.get_field(name).verbose_name))


def locked_change_consequences(identity: Identity, changed: list[str]) -> str:
    """What saving a change of locked traits will do, said before it is done."""
    labels = ", ".join(field_label(name) for name in changed)
    target = DOWNGRADE.get(Status(identity.status))
    return str(_(
        "Trait(s) verrouillé(s) modifié(s) : %(labels)s. À l'enregistrement, le matricule INS et l'OID seront invalidés "
        "et l'identité passera de « %(source)s » à « %(target)s ». Indiquez le motif et cochez la confirmation."
    ) % {"labels": labels, "source": identity.get_status_display(), "target": target.label if target else "?"})


def birthplace_widget_attrs() -> dict:
    """What static/identities/birthplace.js needs: the JSON endpoint and its few words, translated here."""
    return {
        "autocomplete": "off", "size": 6, "data-lookup-url": reverse("admin:birthplace_search"),
        "data-search-label": _("Rechercher par nom de commune ou de pays"),
        "data-search-placeholder": _("ex. Boulogne-Billancourt, Saint-Étienne, Allemagne"),
        "data-use-label": _("Utiliser %(code)s"), "data-none-label": _("Aucun lieu trouvé"),
    }


class IdListField(forms.Field):
    """Identity ids ticked in a list of candidates (the checkboxes are drawn by the template)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        try:
            return sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("liste d'identités illisible")) from None


class IdentityForm(forms.ModelForm):
    """Entry and change of the traits; the services decide, this form only carries the input.

    The admin gives the class, for one request, the refusal of the service to show
    (``service_error``) or the candidates found by the anteriority search (``candidates``).
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    acknowledged = IdListField(required=False)
    reason = forms.CharField(label=_("Motif de la modification"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    confirm_locked_change = forms.BooleanField(
        label=_("Je confirme : l'INS sera invalidé et le statut abaissé d'un niveau"), required=False
    )

    class Media:
        js = ("identities/birthplace.js",)

    service_error: ServiceError | None = None
    candidates: tuple = ()
    # The fields the admin lays out; the optional ones it does not show are dropped, so that an
    # error is never attached to a field nobody can see.
    shown_fields: frozenset | None = None

    class Meta:
        model = Identity
        fields = [*STRICT_TRAIT_FIELDS, "birth_date_corrected", "used_name", "used_given_name", "channel"]
        widgets = {"birth_date": forms.TextInput(attrs={"placeholder": "JJ/MM/AAAA"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.shown_fields is not None:
            for name in ("reason", "confirm_locked_change"):
                if name not in self.shown_fields:
                    del self.fields[name]
        if "channel" in self.fields and not self.instance.pk:
            self.fields["channel"].choices = [(value, label) for value, label in Channel.choices if value in CREATION_CHANNELS]
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version
            # Shown as people write dates (JJ/MM/AAAA, 00 kept); the service stores the AAAA-MM-JJ form.
            self.initial["birth_date"] = traits.parse_birth_date(self.instance.birth_date).french()
        if "birth_date" in self.fields:
            self.fields["birth_date"].help_text = _("JJ/MM/AAAA ou AAAA-MM-JJ ; 00 pour un jour ou un mois inconnu")
        if "birthplace_code" in self.fields:
            self.fields["birthplace_code"].widget.attrs.update(birthplace_widget_attrs())
            self.fields["birthplace_code"].help_text = _(
                "code INSEE (COG) de la commune ou du pays de naissance, pas le code postal ; ou cherchez par nom ci-dessous")
        if "first_birth_given_name" in self.fields:
            self.fields["first_birth_given_name"].required = False
            self.fields["first_birth_given_name"].help_text = _("vide : le premier prénom de la liste")

    def _post_clean(self):
        # No model validation on the instance: the services validate (and the page keeps showing
        # the identity as stored, not half-typed input).
        pass

    def locked_changes(self) -> list[str]:
        if not (self.instance.pk and self.instance.is_locked):
            return []
        return [name for name in STRICT_TRAIT_FIELDS if name in self.changed_data]

    def clean(self):
        cleaned = super().clean()
        locked = self.locked_changes()
        if locked and "confirm_locked_change" in self.fields and not cleaned.get("confirm_locked_change"):
            self.add_error("confirm_locked_change", locked_change_consequences(self.instance, locked))
        if self.service_error is not None:
            apply_service_error(self, self.service_error)
        if self.candidates:
            self.add_error(None, _(
                "%(count)d identité(s) proche(s) existent déjà. Vérifiez qu'aucune n'est cette personne, cochez-les puis "
                "enregistrez à nouveau pour créer l'identité."
            ) % {"count": len(self.candidates)})
        return cleaned

    def service_values(self) -> dict:
        """The traits typed in, as the services take them (read-only fields are absent)."""
        names = [*STRICT_TRAIT_FIELDS, "birth_date_corrected", "used_name", "used_given_name"]
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}


class ReasonForm(forms.Form):
    """The reason every decision on an identity carries (the service requires it)."""

    reason = forms.CharField(label=_("Motif"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class DocumentCheckForm(forms.Form):
    """An identity document checked at the desk; no type is pre-selected (national framework)."""

    document_type = forms.ModelChoiceField(
        label=_("Pièce présentée"), queryset=DocumentType.objects.none(), empty_label=_("— choisir la pièce —")
    )
    companion_type = forms.ModelChoiceField(
        label=_("Pièce complémentaire"), queryset=DocumentType.objects.none(), required=False,
        empty_label=_("— aucune —"), help_text=_("mineur : pièce d'un parent ; EHPAD : carte Vitale avec photo"),
    )
    expiry_date = forms.DateField(label=_("Date d'expiration"), required=False, widget=AdminDateWidget)
    derogation = forms.ChoiceField(
        label=_("Dérogation RNIV 2024"), required=False, choices=[("", _("— aucune —")), *derogations.CHOICES],
        help_text=_("La situation qui permet de valider par exception (EHPAD, mineur, aide sociale à l'enfance) ; "
                    "vide : déduite des pièces lorsqu'une seule convient."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = DocumentType.objects.filter(active=True)
        self.fields["document_type"].queryset = active.exclude(trust=DocumentType.Trust.COMPANION_ONLY)
        self.fields["companion_type"].queryset = active


class WorklistDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Décision"), widget=forms.RadioSelect)
    note = forms.CharField(label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, item: WorklistItem, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = decisions_for(item.kind)


class WorklistAssignForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Responsable"), queryset=None, required=False, empty_label=_("— personne —"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = worklist_civ_members()


class DashboardFilterForm(forms.Form):
    """The dashboard's filters: a period (from, to: both days included) and one establishment or all of them."""

    MAX_DAYS = 5 * 366  # the longest period offered (five years)

    du = forms.DateField(label=_("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    au = forms.DateField(label=_("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    etablissement = forms.ModelChoiceField(
        label=_("Établissement"), queryset=Establishment.objects.all(), required=False, empty_label=_("Tous les établissements"),
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("du"), cleaned.get("au")
        if start and end:
            if end < start:
                self.add_error("au", _("La fin de la période doit suivre son début."))
            elif (end - start).days + 1 > self.MAX_DAYS:
                self.add_error("au", _("La période ne peut pas dépasser cinq ans."))
        return cleaned
