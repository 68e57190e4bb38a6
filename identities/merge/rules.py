"""The RNIV rules of a merge, pure (no Django): which identity survives, which choice the CIV has, what refuses a merge outright.

Identities are read by attribute (``pk``, ``status``, ``created_at``, ``ins_matricule``,
``fictitious``, ``is_merged``, the complementary traits), so the rules are tested on plain objects.
"""
from __future__ import annotations

from dataclasses import dataclass

# RNIV order of confidence. RECUP and VALI stand on one level: each has one of the two proofs.
LEVELS = {"PROV": 0, "RECUP": 1, "VALI": 1, "QUAL": 2}
STATUS_LABELS = {"PROV": "provisoire", "RECUP": "récupérée", "VALI": "validée", "QUAL": "qualifiée"}
COMPLEMENTARY = ("used_name", "used_given_name")
SURVIVOR, ABSORBED = "survivor", "absorbed"


@dataclass(frozen=True)
class SurvivorChoice:
    """The survivor the rules propose, why, and whether the CIV may keep the other one instead."""

    proposed: object
    other: object
    why: str
    switchable: bool


def _label(identity) -> str:
    return f"n° {identity.pk} ({STATUS_LABELS[identity.status]})"


def survivor_choice(first, second) -> SurvivorChoice:
    """The RNIV order: the higher status survives (a qualified identity always does over one that
    is not); between RECUP and VALI, the one holding the INS (the matricule only fits its own
    traits); with equal status, the older record. The CIV may choose otherwise only when both
    have the same status."""
    a, b = sorted((first, second), key=lambda identity: (identity.created_at, identity.pk))  # a is the older
    level_a, level_b = LEVELS[a.status], LEVELS[b.status]
    if level_a != level_b:
        high, low = (a, b) if level_a > level_b else (b, a)
        if high.status == "QUAL":
            why = f"L'identité {_label(high)} est conservée : une identité qualifiée l'emporte toujours sur une identité qui ne l'est pas."
        else:
            why = f"L'identité {_label(high)} est conservée : son statut est supérieur à celui de l'identité {_label(low)}."
        return SurvivorChoice(proposed=high, other=low, why=why, switchable=False)
    if a.status != b.status:  # RECUP against VALI
        high, low = (a, b) if a.ins_matricule else (b, a)
        why = (
            f"L'identité {_label(high)} est conservée : elle porte le matricule INS, qui ne vaut que pour ses traits ; "
            f"la pièce d'identité contrôlée sur l'identité {_label(low)} est reprise et réévaluée."
        )
        return SurvivorChoice(proposed=high, other=low, why=why, switchable=False)
    why = f"Même statut ({STATUS_LABELS[a.status]}) : l'identité la plus ancienne, n° {a.pk}, est conservée."
    return SurvivorChoice(proposed=a, other=b, why=why, switchable=True)


def refusal(first, second) -> str:
    """Why these two records must not be merged (French, for the user), or "" — the rules that
    need nothing but the two identities. Nothing is changed when one applies."""
    if first.pk == second.pk:
        return "Une fusion réunit deux identités différentes."
    for identity in (first, second):
        if identity.is_merged:
            return (
                f"L'identité n° {identity.pk} a déjà été fusionnée dans l'identité n° {identity.merged_into_id} : "
                "rien n'a été modifié."
            )
        if not identity.is_active:
            return f"L'identité n° {identity.pk} est inactive : elle ne peut pas être fusionnée."
    if first.ins_matricule and second.ins_matricule:
        return (
            "Fusion refusée : les deux identités portent chacune un matricule INS, et ils sont différents. "
            "Ce n'est pas un doublon mais une collision possible : signalez-la comme collision (COLP) à instruire."
        )
    if first.fictitious != second.fictitious:
        return "Fusion refusée : une identité fictive ne se fusionne jamais avec une identité réelle."
    if getattr(first, "usurpation_suspected", False) or getattr(second, "usurpation_suspected", False):
        return "Fusion refusée : une usurpation d'identité (USUR) est signalée ; elle doit être résolue avant toute fusion."
    return ""


def kept_traits(survivor, absorbed, choice: dict | None) -> dict[str, str]:
    """The complementary traits the survivor keeps: per trait, the survivor's or the absorbed's
    (``choice`` maps the trait to ``survivor`` or ``absorbed``); by default the survivor's, or
    the absorbed's when the survivor has none. Strict traits are never taken from the absorbed."""
    choice = choice or {}
    unknown = set(choice) - set(COMPLEMENTARY)
    if unknown:
        raise ValueError(f"seuls les traits complémentaires se choisissent : {', '.join(sorted(unknown))}")
    kept = {}
    for name in COMPLEMENTARY:
        side = choice.get(name) or (SURVIVOR if getattr(survivor, name) or not getattr(absorbed, name) else ABSORBED)
        if side not in (SURVIVOR, ABSORBED):
            raise ValueError(f"{name} : choisir « survivor » ou « absorbed »")
        kept[name] = getattr(survivor if side == SURVIVOR else absorbed, name)
    return kept
