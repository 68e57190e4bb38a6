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


class CollisionDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Décision"), widget=forms.RadioSelect, choices=[
        ("confirm", _("Collision avérée (COLV) : deux personnes dans ce dossier, à séparer")),
        ("dismiss", _("Écarter : une seule personne")),
    ])
    note = forms.CharField(label=_("Commentaire"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SplitForm(forms.Form):
    """The second person of a confirmed collision: their traits, and what of the record is theirs."""

    birth_name = forms.CharField(label=_("Nom de naissance"), max_length=100)
    birth_given_names = forms.CharField(label=_("Prénom(s) de naissance"), max_length=100)
    birth_date = forms.CharField(label=_("Date de naissance"), max_length=10, help_text=_("AAAA-MM-JJ ou JJ/MM/AAAA"))
    sex = forms.ChoiceField(label=_("Sexe"), choices=[("", "—"), ("F", _("Féminin")), ("M", _("Masculin")), ("I", _("Indéterminé"))])
    birthplace_code = forms.CharField(label=_("Lieu de naissance (code INSEE)"), max_length=5, required=False)
    events = forms.TypedMultipleChoiceField(label=_("Événements de la deuxième personne"), coerce=int, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    checks = forms.TypedMultipleChoiceField(label=_("Contrôles de pièces de la deuxième personne"), coerce=int, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    reason = forms.CharField(label=_("Motif"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, events=(), checks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = [(event.pk, f"{event.at:%d/%m/%Y %H:%M} — {event.get_kind_display()} — {event.actor_name}")
                                         for event in events]
        self.fields["checks"].choices = [(check.pk, str(check)) for check in checks]

    def traits(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("birth_name", "birth_given_names", "birth_date", "sex", "birthplace_code")}
