"""The forms of the merge screens: the merge itself (survivor, complementary traits, reason), a reason, the other record, the setting."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from identities.merge import rules


class MergeForm(forms.Form):
    """What the CIV decides on the merge screen; the survivor is offered only where the rules allow a choice."""

    survivor = forms.TypedChoiceField(label=_("Identité conservée"), coerce=int, widget=forms.RadioSelect)
    used_name = forms.ChoiceField(label=_("Nom utilisé à garder"), widget=forms.RadioSelect)
    used_given_name = forms.ChoiceField(label=_("Prénom utilisé à garder"), widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Motif"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, choice: rules.SurvivorChoice, **kwargs):
        super().__init__(*args, **kwargs)
        proposed, other = choice.proposed, choice.other
        survivors = [(proposed.pk, _("n° %(pk)s (proposée)") % {"pk": proposed.pk})]
        if choice.switchable:
            survivors.append((other.pk, _("n° %(pk)s") % {"pk": other.pk}))
        self.fields["survivor"].choices = survivors
        self.fields["survivor"].initial = proposed.pk
        for name in rules.COMPLEMENTARY:
            default = rules.kept_traits(proposed, other, None)[name]
            self.fields[name].choices = [
                (rules.SURVIVOR, _("de l'identité conservée : %(value)s") % {"value": getattr(proposed, name) or "—"}),
                (rules.ABSORBED, _("de l'identité absorbée : %(value)s") % {"value": getattr(other, name) or "—"}),
            ]
            self.fields[name].initial = rules.SURVIVOR if default == getattr(proposed, name) else rules.ABSORBED

    def keep(self, survivor_id: int, proposed_id: int) -> dict:
        """The sides chosen, relative to the survivor finally kept (a switch swaps them)."""
        swap = survivor_id != proposed_id
        flip = {rules.SURVIVOR: rules.ABSORBED, rules.ABSORBED: rules.SURVIVOR}
        return {name: flip[self.cleaned_data[name]] if swap else self.cleaned_data[name] for name in rules.COMPLEMENTARY}


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 3}))


class OtherIdentityForm(forms.Form):
    other = forms.IntegerField(label=_("Numéro de l'autre identité"), min_value=1)


class PolicyForm(forms.Form):
    four_eyes = forms.BooleanField(
        label=_("Double validation (quatre yeux)"), required=False,
        help_text=_("Un membre de la CIV propose la fusion ; une autre personne l'approuve avant qu'elle soit faite."),
    )
