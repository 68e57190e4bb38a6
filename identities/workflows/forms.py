"""Forms of the INSi workflow screens: refusal reason, retry traits, carte Vitale data, batch source, CSV file."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from identities.core import traits
from identities.core.models import Status, WorklistItem
from identities.workflows.models import VerificationCampaign
from identities.workflows.vitale import FIELD_LABELS as CARD_LABELS


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Motif du refus"), widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Pourquoi l'identité retournée n'est pas cette personne (tracé)."),
    )


class RetryForm(forms.Form):
    """The traits sent on a retry; the identity itself is changed only if the result is accepted."""

    birth_name = forms.CharField(label=traits.FIELD_LABELS[traits.BIRTH_NAME], max_length=100)
    birth_given_names = forms.CharField(
        label=traits.FIELD_LABELS[traits.GIVEN_NAMES], max_length=100,
        help_text=_("Tous les prénoms de naissance, dans l'ordre de l'état civil, séparés par une espace."),
    )
    birthplace_code = forms.CharField(
        label=traits.FIELD_LABELS[traits.BIRTHPLACE], max_length=5, required=False,
        help_text=_("Code INSEE de la commune, ou 99 + code pays (naissance à l'étranger)."),
    )


class VitaleForm(forms.Form):
    """What a card reader would return, typed from the card (or its paper certificate)."""

    beneficiary_nir = forms.CharField(label=CARD_LABELS["beneficiary_nir"], max_length=21,
                                      help_text=_("15 caractères, clé comprise (espaces admis)."))
    insured_nir = forms.CharField(label=CARD_LABELS["insured_nir"], max_length=21, required=False,
                                  help_text=_("Si le bénéficiaire n'est pas l'assuré (enfant, ayant droit)."))
    birth_name = forms.CharField(label=CARD_LABELS["birth_name"], max_length=100)
    birth_date = forms.CharField(label=CARD_LABELS["birth_date"], max_length=10,
                                 help_text=_("JJ/MM/AAAA telle qu'inscrite sur la carte ; 00 admis (date lunaire)."))
    birth_rank = forms.CharField(label=CARD_LABELS["birth_rank"], max_length=1, initial="1",
                                 help_text=_("1 en général ; 2, 3… pour des jumeaux de même sexe."))


class BatchForm(forms.Form):
    worklist_kind = forms.ChoiceField(
        label=_("File de travail"), choices=[("", "—")] + [(k, label) for k, label in WorklistItem.Kind.choices if k != "DPOT"],
        help_text=_("Les identités des éléments ouverts de cette file (celles que vous voyez)."),
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Fichier CSV (UTF-8)"), help_text=_("Colonnes : voir la documentation (docs/workflows.md)."))


class CampaignForm(forms.ModelForm):
    """The campaign in the admin: statuses and worklist as choices, not raw JSON or codes."""

    statuses = forms.MultipleChoiceField(
        label=_("statuts concernés"), choices=[(Status.RECUP, Status.RECUP.label), (Status.QUAL, Status.QUAL.label)],
        widget=forms.CheckboxSelectMultiple,
    )
    worklist_kind = forms.ChoiceField(
        label=_("file de travail"), required=False, choices=[("", "—"), *WorklistItem.Kind.choices],
        help_text=VerificationCampaign._meta.get_field("worklist_kind").help_text,
    )

    class Meta:
        model = VerificationCampaign
        fields = [
            "name", "description", "active", "statuses", "nature", "last_verified_before", "not_verified_for_days",
            "worklist_kind", "cycle_days", "calls_per_second", "schedule", "email_alerts",
        ]
