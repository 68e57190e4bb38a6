"""The diffusion gate: the one place that decides whether an INS may leave the system.

Every output (screens, exports, documents, labels, datamatrix, HL7, FHIR, CDA, API) asks
``shareable_ins`` and prints a matricule only from what it returns. The one exception is
``withdrawn_ins``: telling a receiver that held an INS to delete it (HL7 A47, MRG-1) names it.
"""
from __future__ import annotations

from dataclasses import dataclass

from identities.core import matricule

QUALIFIED = "QUAL"


@dataclass(frozen=True)
class SharedIns:
    """An INS cleared for diffusion: the matricule never travels without the five traits."""

    matricule: str
    oid: str
    nature: str
    hl7_authority: str
    label: str  # "INS-NIR", "INS-NIA"...
    birth_name: str
    birth_given_names: str
    sex: str
    birth_date: str
    birthplace_code: str


def shareable_ins(identity) -> SharedIns | None:
    """The INS of a qualified identity with its five traits, or None when it must not leave."""
    if identity.status != QUALIFIED or identity.doubtful or identity.fictitious or not identity.is_active:
        return None
    if identity.birth_date_corrected:
        # IHE PAM France 2.11.2 §6.6.4 (INS guide rules 9 and 10): with a birth date corrected or
        # completed here "l'identité ne peut pas être au statut récupéré et qualifié, et le matricule
        # INS ne peut pas être véhiculé". Receivers are told PROV or VALI only: without the INS, a
        # VALI never reads as qualified (interop.common.RECEIVER_STATUS).
        return None
    if getattr(identity, "usurpation_suspected", False):  # USUR: held back until the CIV resolves it
        return None
    five = (identity.birth_name, identity.birth_given_names, identity.sex, identity.birth_date, identity.birthplace_code)
    if not (identity.ins_matricule and identity.ins_oid and all(five)):
        return None
    info = matricule.oid_info(identity.ins_oid)
    return SharedIns(
        matricule=identity.ins_matricule,
        oid=identity.ins_oid,
        nature=info.nature.value,
        hl7_authority=info.hl7_authority,
        label=info.label,
        birth_name=identity.birth_name,
        birth_given_names=identity.birth_given_names,
        sex=identity.sex,
        birth_date=identity.birth_date,
        birthplace_code=identity.birthplace_code,
    )


@dataclass(frozen=True)
class WithdrawnIns:
    """An INS a receiver was given and must now delete: it travels only as the lookup key of
    the withdrawal (PAM France §4.4.2-4.4.4: MRG-1 of the A47), never as a current identifier."""

    matricule: str
    oid: str
    hl7_authority: str


def withdrawn_ins(identity, *, held_matricule: str, held_oid: str) -> WithdrawnIns | None:
    """The INS a receiver holds (it was sent to it, the outbox knows) when the identity no longer
    shares that one: withdrawn (downgrade, doubt, invalidation) or replaced by another. None
    when the receiver holds nothing, or holds what is still shared."""
    if not held_matricule:
        return None
    shared = shareable_ins(identity)
    if shared is not None and (shared.matricule, shared.oid) == (held_matricule, held_oid):
        return None
    return WithdrawnIns(matricule=held_matricule, oid=held_oid, hl7_authority=matricule.oid_info(held_oid).hl7_authority)
