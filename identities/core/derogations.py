"""The RNIV 2024 validation exceptions: which combinations of documents validate an identity, for whom (pure, no Django).

Outside these, only a high-trust document validates on its own. Each exception names the
document types (by their code, ``DocumentType.code``), the companion it needs, and whether
the person must be a minor on the day of the check:

- ``EHPAD`` — direct admission to a nursing home: livret de famille or birth extract, plus a
  carte Vitale with photo;
- ``MINEUR_PARENT`` — a minor without papers: birth extract or livret de famille, plus a
  parent's high-trust document;
- ``MINEUR_TUTEUR`` — a minor: the high-trust document of the tutor or of the delegate of
  parental authority, plus the court decision that appoints them;
- ``MINEUR_DCEM`` — a minor: the *document de circulation pour étranger mineur* (with photo), alone;
- ``ASE`` — a child in the care of child welfare: the placement order, alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from identities.core import traits

HIGH_TRUST = "*high*"  # any document type flagged high-trust (a parent's passport, identity card, residence permit...)

EHPAD = "EHPAD"
MINOR_PARENT = "MINEUR_PARENT"
MINOR_GUARDIAN = "MINEUR_TUTEUR"
MINOR_DCEM = "MINEUR_DCEM"
CHILD_WELFARE = "ASE"


@dataclass(frozen=True)
class Derogation:
    code: str
    label: str
    documents: frozenset[str]
    companions: frozenset[str]  # empty: the document alone (a companion is refused)
    minor_only: bool

    def describe(self) -> str:
        documents = " ou ".join(sorted(self.documents))
        if not self.companions:
            return f"{documents}, seul"
        companions = "une pièce à haut niveau de confiance" if self.companions == {HIGH_TRUST} else " ou ".join(sorted(self.companions))
        return f"{documents} avec {companions}"


EXCEPTIONS = {
    rule.code: rule
    for rule in (
        Derogation(EHPAD, "Admission directe en EHPAD", frozenset({"livret-famille", "extrait-naissance"}),
                   frozenset({"carte-vitale-photo"}), minor_only=False),
        Derogation(MINOR_PARENT, "Mineur sans pièce : acte de naissance ou livret de famille et pièce d'un parent",
                   frozenset({"extrait-naissance", "livret-famille"}), frozenset({HIGH_TRUST}), minor_only=True),
        Derogation(MINOR_GUARDIAN, "Mineur : pièce du tuteur ou du délégataire et décision de justice",
                   frozenset({"piece-tuteur"}), frozenset({"decision-justice"}), minor_only=True),
        Derogation(MINOR_DCEM, "Mineur étranger : document de circulation pour étranger mineur (avec photo)",
                   frozenset({"dcem"}), frozenset(), minor_only=True),
        Derogation(CHILD_WELFARE, "Aide sociale à l'enfance : ordonnance de placement",
                   frozenset({"ordonnance-placement"}), frozenset(), minor_only=True),
    )
}
CHOICES = [(rule.code, rule.label) for rule in EXCEPTIONS.values()]


@dataclass(frozen=True)
class Presented:
    """What was shown: the document's and the companion's type codes and whether each is high-trust."""

    document: str
    document_high_trust: bool
    companion: str = ""
    companion_high_trust: bool = False


def is_minor_on(birth_date: str, day: date) -> bool:
    """Under 18 on ``day`` for certain: an unknown day or month (00) counts from its earliest possible date."""
    parsed = traits.parse_birth_date(birth_date, today=day)
    earliest = date(parsed.year, parsed.month or 1, parsed.day or 1)
    try:
        majority = earliest.replace(year=earliest.year + 18)
    except ValueError:  # born on 29 February
        majority = date(earliest.year + 18, 3, 1)
    return day < majority


def refusal(code: str, presented: Presented, *, birth_date: str, day: date) -> tuple[str, str] | None:
    """Why this exception does not apply to what was presented: (field, message in French), or None when it does."""
    rule = EXCEPTIONS.get(code)
    if rule is None:
        return "derogation", f"dérogation inconnue : {code}"
    if presented.document not in rule.documents:
        return "document_type", f"« {rule.label} » : la pièce présentée doit être {rule.describe()}"
    if rule.companions and not _companion_fits(rule, presented):
        return "companion_type", f"« {rule.label} » : pièce complémentaire exigée — {rule.describe()}"
    if not rule.companions and presented.companion:
        return "companion_type", f"« {rule.label} » : {rule.describe()}, sans pièce complémentaire"
    if rule.minor_only and not is_minor_on(birth_date, day):
        return "derogation", f"« {rule.label} » : réservée aux mineurs, or la personne a 18 ans ou plus le jour du contrôle"
    return None


def _companion_fits(rule: Derogation, presented: Presented) -> bool:
    if not presented.companion:
        return False
    return presented.companion in rule.companions or (HIGH_TRUST in rule.companions and presented.companion_high_trust)


def applicable(presented: Presented, *, birth_date: str, day: date) -> str:
    """The one exception that what was presented fulfils (the agent named none), or ""."""
    fitting = [code for code in EXCEPTIONS if refusal(code, presented, birth_date=birth_date, day=day) is None]
    return fitting[0] if len(fitting) == 1 else ""
