"""Writes around paper: label profiles, and printing documents and labels with its audit trail."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from identities.core import selectors
from identities.core.diffusion import shareable_ins
from identities.core.errors import NotAllowed, RuleViolation, require_permission
from identities.core.models import Identity, IdentityEvent
from identities.documents import selectors as printing
from identities.documents.models import LabelFormat, LabelProfile
from identities.documents import render as documents

# Traits a profile may add; the minimum (birth name, first birth given name, birth date,
# sex, status, homonym warning) has no switch at all, so no profile can drop it.
EXTRA_TRAITS = {
    "birth_given_names": "show_birth_given_names",
    "used_name": "show_used_name",
    "used_given_name": "show_used_given_name",
    "birthplace": "show_birthplace",
    "ipp": "show_ipp",
    "ins": "show_ins",
    "datamatrix": "show_datamatrix",
}
MINIMUM_TRAITS = {
    "birth_name": "nom de naissance",
    "first_birth_given_name": "premier prénom de naissance",
    "birth_date": "date de naissance",
    "sex": "sexe",
    "status": "statut",
}
MAX_COPIES = 100
# One job is one WeasyPrint render held in memory (about 200 KiB a label): past this, split it.
MAX_LABELS_PER_JOB = 2000


def _owner(actor, existing: LabelProfile | None, *, shared: bool):
    """Shared profiles have no owner; a personal one keeps its owner when a referent edits it."""
    if shared:
        return None
    return existing.owner if existing and existing.owner_id else actor


def label_profile_check(
    *, actor, name: str, label_format_id: int, extra_traits=(), site: str = "", shared: bool = False, profile_id: int | None = None
) -> LabelFormat:
    """Every rule of a label profile, without writing (the admin form shows the message on the field).

    ``extra_traits`` lists what is added to the minimum; naming a minimum trait is refused,
    because it is always printed and cannot be switched off.
    """
    require_permission(actor, "identities.change_labelprofile" if profile_id else "identities.add_labelprofile",
             "Refusé : vous n'avez pas le droit de modifier les profils d'étiquettes.")
    if shared and not actor.has_perm("identities.manage_label_settings"):
        raise NotAllowed("Refusé : seul un référent peut créer ou modifier un profil partagé par le site.")
    if not name.strip():
        raise RuleViolation("le nom du profil est obligatoire", field="name")
    for code in extra_traits:
        if code in MINIMUM_TRAITS:
            raise RuleViolation(
                f"« {MINIMUM_TRAITS[code]} » fait partie du minimum imprimé sur toute étiquette : il ne se choisit pas et ne peut pas être retiré",
                field="extra_traits",
            )
        if code not in EXTRA_TRAITS:
            raise RuleViolation(f"trait « {code} » inconnu (choix possibles : {', '.join(EXTRA_TRAITS)})", field="extra_traits")
    label_format = printing.label_formats().filter(pk=label_format_id).first()
    if label_format is None:
        raise RuleViolation("format d'étiquettes inconnu ou désactivé", field="label_format")
    existing = LabelProfile.objects.filter(pk=profile_id).first() if profile_id else None
    if profile_id and existing is None:
        raise RuleViolation("profil d'étiquettes introuvable")
    if existing and existing.owner_id != actor.pk and not actor.has_perm("identities.manage_label_settings"):
        raise NotAllowed("Refusé : ce profil ne vous appartient pas.")
    owner = _owner(actor, existing, shared=shared)
    if LabelProfile.objects.filter(owner=owner, site=site.strip(), name=name.strip()).exclude(pk=profile_id).exists():
        raise RuleViolation(f"un profil « {name.strip()} » existe déjà pour ce site ou cet utilisateur", field="name")
    return label_format


def label_profile_save(
    *,
    actor,
    name: str,
    label_format_id: int,
    extra_traits: list[str] | tuple[str, ...] = (),
    site: str = "",
    shared: bool = False,
    profile_id: int | None = None,
) -> LabelProfile:
    """Create or change a label profile: personal (the actor's own) or shared by a site."""
    with transaction.atomic():
        if profile_id:
            # Locked first, so two editors of one profile are checked one after the other.
            LabelProfile.objects.select_for_update().filter(pk=profile_id).first()
        label_format = label_profile_check(actor=actor, name=name, label_format_id=label_format_id, extra_traits=extra_traits,
                                           site=site, shared=shared, profile_id=profile_id)
        profile = LabelProfile.objects.get(pk=profile_id) if profile_id else LabelProfile()
        profile.name, profile.site, profile.label_format = name.strip(), site.strip(), label_format
        profile.owner = _owner(actor, profile if profile_id else None, shared=shared)
        for code, attribute in EXTRA_TRAITS.items():
            setattr(profile, attribute, code in extra_traits)
        profile.updated_by = actor
        profile._history_user = actor
        profile._change_reason = "Profil d'étiquettes enregistré"
        profile.save()
    return profile


def _record_printing(actor, identities: list[Identity], **details) -> None:
    """One audit event per identity: a print carrying a matricule is a share of the INS."""
    IdentityEvent.objects.bulk_create(
        IdentityEvent(
            identity=identity, kind=IdentityEvent.Kind.PRINTED, actor=actor, actor_name=actor.get_username(),
            details={**details, "ins_printed": details["ins_allowed"] and shareable_ins(identity) is not None},
        )
        for identity in identities
    )


def identity_print_document(*, actor, identity_id: int) -> bytes:
    """The A4 identity document of one identity, recorded in its audit trail."""
    require_permission(actor, "identities.print_identity", "Refusé : vous n'avez pas le droit d'imprimer des documents d'identité.")
    found = selectors.identities_for_printing([identity_id])
    if not found:
        raise RuleViolation(f"identité {identity_id} introuvable ou désactivée")
    pdf = documents.render_identity_document(found[0], printed_by=actor.get_username())
    with transaction.atomic():
        _record_printing(actor, found, document="fiche", ins_allowed=True)
    return pdf


@dataclass(frozen=True)
class LabelJob:
    pdf: bytes
    labels: int
    skipped: int  # selected identities not printed (merged away or deleted meanwhile)


def identities_print_labels(
    *, actor, identity_ids: list[int], profile_id: int, label_format_id: int | None = None, copies: int = 1
) -> LabelJob:
    """A sheet (or roll) of labels for one identity or a selection, ``copies`` of each."""
    require_permission(actor, "identities.print_identity", "Refusé : vous n'avez pas le droit d'imprimer des étiquettes.")
    if not 1 <= copies <= MAX_COPIES:
        raise RuleViolation(f"nombre d'exemplaires entre 1 et {MAX_COPIES}", field="copies")
    profile = printing.label_profiles_for(actor).filter(pk=profile_id).first()
    if profile is None:
        raise RuleViolation("profil d'étiquettes inconnu ou réservé à un autre utilisateur", field="profile")
    label_format = (
        printing.label_formats().filter(pk=label_format_id).first() if label_format_id else profile.label_format
    )
    if label_format is None or not label_format.active:
        raise RuleViolation("format d'étiquettes inconnu ou désactivé", field="label_format")
    identities = selectors.identities_for_printing(list(identity_ids))
    if not identities:
        raise RuleViolation("aucune identité active à imprimer", field="identities")
    if len(identities) * copies > MAX_LABELS_PER_JOB:
        raise RuleViolation(
            f"{len(identities) * copies} étiquettes demandées : {MAX_LABELS_PER_JOB} au plus par impression, scindez la sélection",
            field="copies",
        )
    pdf = documents.render_labels(identities, label_format=label_format, profile=profile, copies=copies)
    with transaction.atomic():
        _record_printing(actor, identities, document="etiquettes", label_format=label_format.code, profile=profile.pk,
                         copies=copies, ins_allowed=profile.show_ins or profile.show_datamatrix)
    return LabelJob(pdf=pdf, labels=len(identities) * copies, skipped=len(set(identity_ids)) - len(identities))
