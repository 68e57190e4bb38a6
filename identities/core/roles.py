"""The roles of the portal as Django groups, and the system account used by scheduled tasks."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

FRONT_DESK = "Agent d'accueil"
CIV_MEMBER = "Membre de la CIV"
CIV_REFERENT = "Référent CIV"
MANAGER = "Responsable (lecture et indicateurs)"
ADMINISTRATOR = "Administrateur"
SYSTEM_USERNAME = "insportal-auto"
ROLES = (FRONT_DESK, CIV_MEMBER, CIV_REFERENT, MANAGER, ADMINISTRATOR)

_FRONT_DESK = {
    "identities": [
        "view_identity", "add_identity", "change_identity", "record_document_check", "flag_doubtful", "use_insi",
        "view_documentcheck", "add_documentcheck", "view_insmatricule", "view_documenttype", "view_birthplace",
    ],
}
_CIV_MEMBER = {
    "identities": _FRONT_DESK["identities"] + [
        "withdraw_document_check", "manage_attributes", "invalidate_ins", "view_dashboard",
        "view_identitylink", "add_identitylink", "view_identityevent",
    ],
    # The raw INSi answers carry the INS whatever the status: the CIV's alone (docs/decisions.md).
    "insi": ["view_exchange", "view_exchange_body"],
}
_CIV_REFERENT = {
    "identities": _CIV_MEMBER["identities"] + ["modify_locked_traits", "change_documenttype", "add_documenttype"],
    "insi": _CIV_MEMBER["insi"],
}
_MANAGER = {
    "identities": ["view_identity", "view_dashboard"],
}

# Apps whose permissions make up the administrator role (everything the portal defines)...
_ADMIN_APPS = ("identities", "insi", "django_celery_beat", "auth")
# ...but the raw INSi answers: the technical administrator does not read the INS of unqualified identities.
_CIV_ONLY = [("insi", "view_exchange_body")]

ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    FRONT_DESK: _FRONT_DESK,
    CIV_MEMBER: _CIV_MEMBER,
    CIV_REFERENT: _CIV_REFERENT,
    MANAGER: _MANAGER,
}


def _permissions(spec: dict[str, list[str]]) -> list[Permission]:
    query = Q(pk__in=[])
    for app_label, codenames in spec.items():
        query |= Q(content_type__app_label=app_label, codename__in=codenames)
    return list(Permission.objects.filter(query))


def register_role_permissions(role: str, app_label: str, codenames: list[str]) -> None:
    """Let another app (insi, the portal's worklists...) add its permissions to a role."""
    ROLE_PERMISSIONS[role].setdefault(app_label, [])
    ROLE_PERMISSIONS[role][app_label] += [c for c in codenames if c not in ROLE_PERMISSIONS[role][app_label]]


def ensure_roles(**_kwargs) -> None:
    """Create or refresh the groups and the system account; safe to run after every migrate."""
    for role, spec in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(spec))
    admin_group, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    civ_only = Q(pk__in=[])
    for app_label, codename in _CIV_ONLY:
        civ_only |= Q(content_type__app_label=app_label, codename=codename)
    admin_group.permissions.set(Permission.objects.filter(content_type__app_label__in=_ADMIN_APPS).exclude(civ_only))
    system_user()


def system_user():
    """The account scheduled tasks act as: every identity permission, no password, no login."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"first_name": "Tâches", "last_name": "automatiques", "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=CIV_MEMBER))
    return user
