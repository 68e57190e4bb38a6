"""Which establishment of the GHT an identity belongs to: its creator's, else the default one."""
from __future__ import annotations

from identities.core.models import Establishment, StaffEstablishment


def default_establishment() -> Establishment:
    """The default establishment (migration 0016 creates it; the constraint allows one at most)."""
    return Establishment.objects.get(is_default=True)


def establishment_of(user) -> Establishment:
    """The establishment an account works in (set by the administrator), else the default one."""
    if user is not None and user.pk is not None:
        staff = StaffEstablishment.objects.select_related("establishment").filter(user=user).first()
        if staff is not None:
            return staff.establishment
    return default_establishment()
