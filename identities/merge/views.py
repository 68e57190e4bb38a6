"""The merge screens behind the admin login: the merge of a pair, merges to approve, the merge log with unmerge, the four-eyes setting."""
from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from identities.core.errors import ServiceError
from identities.core.models import Identity
from identities.core.screens import apply_service_error
from identities.merge import collisions, rules, selectors, services
from identities.merge.forms import CollisionDecisionForm, MergeForm, OtherIdentityForm, PolicyForm, ReasonForm, SplitForm
from identities.merge.models import Collision, Merge


def get_urls(site) -> list:
    """Mounted by the portal's admin site (PortalAdminSite.get_urls), names in the ``admin`` namespace."""
    def view(function):
        return site.admin_view(partial(function, site=site))

    return [
        path("fusion/paire/<int:first_id>/<int:second_id>/", view(pair), name="merge_pair"),
        path("fusion/identite/<int:identity_id>/", view(choose_other), name="merge_choose"),
        path("fusion/a-valider/", view(proposals), name="merge_proposals"),
        path("fusion/proposition/<int:pk>/", view(proposal), name="merge_proposal"),
        path("fusion/journal/", view(log), name="merge_log"),
        path("fusion/<int:pk>/defusion/", view(unmerge), name="merge_unmerge"),
        path("fusion/reglage/", view(policy), name="merge_policy"),
        path("collisions/", view(collision_list), name="collision_list"),
        path("collisions/<int:pk>/", view(collision_page), name="collision"),
        path("collisions/identite/<int:identity_id>/signaler/", view(collision_flag), name="collision_flag"),
        path("usurpation/identite/<int:identity_id>/", view(usurpation), name="usurpation"),
    ]


def _render(request, site, template: str, title: str, **context):
    return TemplateResponse(request, f"merge/{template}", {
        **site.each_context(request), "title": title, "opts": Identity._meta, **context,
    })


def _require(request, permission: str) -> None:
    if not request.user.has_perm(f"identities.{permission}"):
        raise PermissionDenied


# --- The merge of one pair ---

def pair(request, first_id: int, second_id: int, *, site):
    """Both records side by side, the proposed survivor and why; the CIV confirms (or proposes, four eyes on)."""
    _require(request, "merge_identities")
    first, second = get_object_or_404(Identity, pk=first_id), get_object_or_404(Identity, pk=second_id)
    refusal = rules.refusal(first, second) or services.merge_refusal(request.user, first, second)
    choice = rules.survivor_choice(first, second) if first.pk != second.pk else None
    form = MergeForm(request.POST or None, choice=choice) if choice else None
    if request.method == "POST" and form is not None and not refusal and form.is_valid():
        survivor_id = form.cleaned_data["survivor"]
        try:
            done = services.merge_request(
                actor=request.user, first_id=first.pk, second_id=second.pk, survivor_id=survivor_id,
                keep=form.keep(survivor_id, choice.proposed.pk), reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            if done.state == Merge.State.PROPOSED:
                messages.success(request, _("Fusion proposée : elle attend la validation d'une autre personne (« Fusions à valider »)."))
                return HttpResponseRedirect(reverse("admin:merge_proposals"))
            messages.success(request, _("Identités fusionnées : l'identité n° %(absorbed)s est absorbée par l'identité n° %(survivor)s.")
                             % {"absorbed": done.absorbed_id, "survivor": done.survivor_id})
            return HttpResponseRedirect(reverse("admin:identities_identity_change", args=[done.survivor_id]))
    return _render(
        request, site, "pair.html", _("Fusion de deux identités"), refusal=refusal, choice=choice, form=form,
        rows=selectors.pair_comparison(choice.proposed, choice.other) if choice else [],
        four_eyes=selectors.merge_policy().four_eyes,
    )


def choose_other(request, identity_id: int, *, site):
    """From the identity page, a referent names the other record of a duplicate found by hand."""
    _require(request, "merge_any_pair")
    identity = get_object_or_404(Identity, pk=identity_id)
    form = OtherIdentityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        other = Identity.objects.filter(pk=form.cleaned_data["other"]).first()
        if other is None:
            form.add_error("other", _("aucune identité ne porte ce numéro"))
        else:
            return HttpResponseRedirect(reverse("admin:merge_pair", args=[identity.pk, other.pk]))
    return _render(request, site, "reason.html", _("Fusionner avec une autre identité"), identity=identity, form=form)


# --- Four eyes: the proposals waiting ---

def proposals(request, *, site):
    _require(request, "view_merge")
    return _render(request, site, "proposals.html", _("Fusions à valider"), proposals=selectors.proposals(),
                   can_approve=request.user.has_perm("identities.approve_merge"))


def proposal(request, pk: int, *, site):
    """One proposal: the pair as it is now, approve (another person) or refuse with a reason."""
    _require(request, "view_merge")
    merge = get_object_or_404(Merge.objects.select_related("survivor", "absorbed", "proposed_by"), pk=pk)
    reject_form = ReasonForm(request.POST if request.POST.get("action") == "reject" else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "approve":
                services.merge_approve(actor=request.user, merge_id=merge.pk)
                messages.success(request, _("Fusion approuvée et faite."))
                return HttpResponseRedirect(reverse("admin:identities_identity_change", args=[merge.survivor_id]))
            if reject_form.is_valid():
                services.merge_reject(actor=request.user, merge_id=merge.pk, reason=reject_form.cleaned_data["reason"])
                messages.success(request, _("Proposition de fusion refusée."))
                return HttpResponseRedirect(reverse("admin:merge_proposals"))
        except ServiceError as error:
            messages.error(request, error.message)
    return _render(
        request, site, "proposal.html", _("Fusion proposée n° %(pk)s") % {"pk": merge.pk}, merge=merge, reject_form=reject_form,
        rows=selectors.pair_comparison(merge.survivor, merge.absorbed),
        can_approve=request.user.has_perm("identities.approve_merge") and merge.state == Merge.State.PROPOSED,
    )


# --- The merge log and the unmerge ---

def log(request, *, site):
    _require(request, "view_merge")
    return _render(request, site, "log.html", _("Fusions des 30 derniers jours"), merges=selectors.recent_merges()[:200],
                   can_unmerge=request.user.has_perm("identities.unmerge_identities"), days=selectors.RECENT_DAYS)


def unmerge(request, pk: int, *, site):
    _require(request, "unmerge_identities")
    merge = get_object_or_404(Merge.objects.select_related("survivor", "absorbed", "decided_by"), pk=pk)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            done = services.unmerge(actor=request.user, merge_id=merge.pk, reason=form.cleaned_data["reason"])
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Défusion faite : les deux identités sont rétablies telles qu'à la fusion."))
            if done.to_review:
                messages.warning(request, _("%(count)d modification(s) faite(s) depuis la fusion sur l'identité conservée y restent : à revoir.")
                                 % {"count": len(done.to_review)})
            return HttpResponseRedirect(reverse("admin:merge_unmerge", args=[done.pk]))
    return _render(request, site, "unmerge.html", _("Défusion de la fusion n° %(pk)s") % {"pk": merge.pk}, merge=merge, form=form)


def policy(request, *, site):
    _require(request, "configure_merge")
    current = selectors.merge_policy()
    form = PolicyForm(request.POST or None, initial={"four_eyes": current.four_eyes})
    if request.method == "POST" and form.is_valid():
        try:
            services.merge_set_policy(actor=request.user, four_eyes=form.cleaned_data["four_eyes"])
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Réglage de la fusion enregistré."))
            return HttpResponseRedirect(reverse("admin:merge_policy"))
    return _render(request, site, "policy.html", _("Réglage de la fusion"), form=form)


# --- Collisions and usurpation ---

def collision_list(request, *, site):
    """Collisions to investigate (COLP) and to split (COLV), oldest first."""
    _require(request, "view_collision")
    return _render(request, site, "collisions.html", _("Collisions à instruire et à séparer"), collisions=selectors.open_collisions())


def collision_flag(request, identity_id: int, *, site):
    _require(request, "manage_collisions")
    identity = get_object_or_404(Identity, pk=identity_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            flagged = collisions.collision_flag(actor=request.user, identity_id=identity.pk, reason=form.cleaned_data["reason"])
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Collision potentielle (COLP) signalée : elle attend l'instruction de la CIV."))
            return HttpResponseRedirect(reverse("admin:collision", args=[flagged.pk]))
    return _render(request, site, "reason.html", _("Signaler une collision (un dossier, deux personnes)"), identity=identity, form=form)


def collision_page(request, pk: int, *, site):
    """A collision: the decision (COLP), the split (COLV, referent), or what was decided."""
    _require(request, "view_collision")
    collision = get_object_or_404(Collision.objects.select_related("identity", "second_identity", "flagged_by", "decided_by"), pk=pk)
    record = collision.identity
    action = request.POST.get("action")
    decide_form = CollisionDecisionForm(request.POST if action == "decide" else None)
    split_form = SplitForm(request.POST if action == "split" else None, events=selectors.events_of(record),
                           checks=selectors.checks_of(record))
    if request.method == "POST":
        try:
            if action == "decide" and decide_form.is_valid():
                collisions.collision_decide(actor=request.user, collision_id=collision.pk,
                                            confirmed=decide_form.cleaned_data["decision"] == "confirm", note=decide_form.cleaned_data["note"])
                messages.success(request, _("Décision enregistrée."))
                return HttpResponseRedirect(reverse("admin:collision", args=[collision.pk]))
            if action == "split" and split_form.is_valid():
                split = collisions.collision_split(
                    actor=request.user, collision_id=collision.pk, traits=split_form.traits(), event_ids=split_form.cleaned_data["events"],
                    check_ids=split_form.cleaned_data["checks"], reason=split_form.cleaned_data["reason"],
                )
                messages.success(request, _("Collision séparée : identité n° %(pk)s créée pour la deuxième personne.")
                                 % {"pk": split.second_identity_id})
                return HttpResponseRedirect(reverse("admin:collision", args=[collision.pk]))
        except ServiceError as error:
            apply_service_error(split_form if action == "split" else decide_form, error)
    user = request.user
    return _render(
        request, site, "collision.html", _("Collision n° %(pk)s — %(state)s") % {"pk": collision.pk, "state": collision.get_state_display()},
        collision=collision, identity=record, decide_form=decide_form, split_form=split_form,
        can_decide=user.has_perm("identities.manage_collisions") and collision.state == Collision.State.SUSPECTED,
        can_split=user.has_perm("identities.split_collision") and collision.state == Collision.State.CONFIRMED,
    )


def usurpation(request, identity_id: int, *, site):
    """Set or lift USUR on an identity (the INS is held back while it is set)."""
    _require(request, "manage_collisions")
    identity = get_object_or_404(Identity, pk=identity_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            collisions.usurpation_set(actor=request.user, identity_id=identity.pk, suspected=not identity.usurpation_suspected,
                                      reason=form.cleaned_data["reason"])
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, _("Usurpation levée.") if identity.usurpation_suspected else
                             _("Usurpation signalée : l'INS n'est plus diffusé tant qu'elle n'est pas levée."))
            return HttpResponseRedirect(reverse("admin:identities_identity_change", args=[identity.pk]))
    title = _("Lever l'usurpation (USUR)") if identity.usurpation_suspected else _("Signaler une usurpation d'identité (USUR)")
    return _render(request, site, "reason.html", title, identity=identity, form=form)
