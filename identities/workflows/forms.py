"""Forms of the INSi workflow screens: refusal reason, retry traits, carte Vitale data, ApCV scan, batch source, CSV file."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils.translation import gettext_lazy as _

from identities.core import traits
from identities.core.models import Status, WorklistItem
from identities.workflows.models import VerificationCampaign
from identities.workflows.vitale import FIELD_LABELS as CARD_LABELS
from insi.simulator import cards as simulated_cards


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
    # Set by a one-click guided retry (guided_retry.Variant), traced with the search; empty when typed.
    variant = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)


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


class ApcvForm(forms.Form):
    scanned = forms.CharField(label=_("QR code de l'Appli carte Vitale"), max_length=500,
                              help_text=_("Lu par la douchette (le curseur dans ce champ), ou collé."))


class CardForm(forms.Form):
    """The card inserted: with no SESAM-Vitale reader here, one of the simulator's cards (tests, demo)."""

    card = forms.ChoiceField(label=_("Carte Vitale insérée (simulateur)"), choices=[
        ("", "—"), *((card_id, label) for card_id, (label, _beneficiaries) in simulated_cards.CARDS.items())])


class BatchForm(forms.Form):
    worklist_kind = forms.ChoiceField(
        label=_("File de travail"), choices=[("", "—")] + [(k, label) for k, label in WorklistItem.Kind.choices if k != "DPOT"],
        help_text=_("Les identités des éléments ouverts de cette file (celles que vous voyez)."),
    )
    count = forms.IntegerField(
        label=_("Nombre d'identités"), min_value=1,
        help_text=_("Les plus anciennes de la file, interrogées une par une ; au plus %(max)d par lot."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bound = settings.INSI_RECOVERY_BATCH_MAX
        field = self.fields["count"]
        field.max_value, field.initial = bound, bound
        field.validators.append(MaxValueValidator(bound))
        field.widget.attrs["max"] = bound
        field.help_text = field.help_text % {"max": bound}


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
