"""Normalisation and validation of identity traits at the INSi boundary (pure, no Django)."""
from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from anyascii import anyascii

# Apostrophe look-alikes typed by keyboards and word processors.
_APOSTROPHES = {"\u2019", "\u2018", "\u02bc", "\u00b4", "`", "\u2032"}
# Hyphen look-alikes (non-breaking hyphen, en dash, minus sign...).
_HYPHENS = {"\u2010", "\u2011", "\u2012", "\u2013", "\u2212"}
_ALLOWED = re.compile(r"^[A-Z' -]*$")
_SEPARATORS = re.compile(r"[-' ]+")

BIRTH_NAME = "birth_name"
GIVEN_NAMES = "birth_given_names"
FIRST_GIVEN_NAME = "first_birth_given_name"
USED_NAME = "used_name"
USED_GIVEN_NAME = "used_given_name"
BIRTH_DATE = "birth_date"
SEX = "sex"
BIRTHPLACE = "birthplace_code"

FIELD_LABELS = {
    BIRTH_NAME: "Nom de naissance",
    GIVEN_NAMES: "Prénom(s) de naissance",
    FIRST_GIVEN_NAME: "Premier prénom de naissance",
    USED_NAME: "Nom utilisé",
    USED_GIVEN_NAME: "Prénom utilisé",
    BIRTH_DATE: "Date de naissance",
    SEX: "Sexe",
    BIRTHPLACE: "Lieu de naissance",
}

# Names and given names are stored on 100 characters (the identity's columns).
MAX_NAME_LENGTH = 100

SEXES = ("M", "F", "I")
INSI_SEXES = ("M", "F")  # INSi (and a third party's INS identity) never sends the local I


class TraitError(ValueError):
    """A trait breaks a rule: ``field`` names the trait, ``message`` says the rule in French."""

    def __init__(self, field: str, code: str, message: str):
        self.field = field
        self.code = code
        self.message = message
        super().__init__(f"{FIELD_LABELS.get(field, field)} : {message}")


def _transliterate_char(char: str, field: str) -> str:
    if char in _APOSTROPHES:
        return "'"
    if char in _HYPHENS:
        return "-"
    if char.isascii():
        return char.upper()
    # Only Latin letters (accented, ligatures) have a defined transliteration; anything
    # else would be a guess, and a guessed identity is worse than a refused one.
    name = unicodedata.name(char, "")
    if unicodedata.category(char).startswith("L") and "LATIN" in name:
        ascii_form = anyascii(char).upper()
        if ascii_form.isalpha():
            return ascii_form
    raise TraitError(field, "forbidden_character", f"le caractère « {char} » n'est pas autorisé (aucune translittération définie)")


def transliterate(value: str, *, field: str) -> str:
    """Upper-case ASCII form: accents removed, ligatures expanded (Œ→OE), look-alikes unified."""
    return "".join(_transliterate_char(char, field) for char in unicodedata.normalize("NFC", value))


def _check_layout(value: str, *, field: str, allow_double_hyphen: bool, is_given_name: bool) -> None:
    if len(value) > MAX_NAME_LENGTH:
        raise TraitError(field, "too_long", f"{MAX_NAME_LENGTH} caractères au plus ({len(value)} reçus)")
    bad = next((char for char in value if not _ALLOWED.match(char)), None)
    if bad is not None:
        reason = "les chiffres ne sont pas autorisés" if bad.isdigit() else f"le caractère « {bad} » n'est pas autorisé"
        raise TraitError(field, "forbidden_character", f"{reason} (seuls A-Z, espace, apostrophe et tiret)")
    if value[0] in " -":
        raise TraitError(field, "bad_first_character", "ne doit pas commencer par un espace ou un tiret")
    for pair, message in (
        ("  ", "double espace interdit"),
        ("''", "double apostrophe interdite"),
        (" '", "espace et apostrophe accolés interdits"),
        ("' ", "apostrophe et espace accolés interdits"),
    ):
        if pair in value:
            raise TraitError(field, "bad_separator", message)
    if "---" in value or ("--" in value and not allow_double_hyphen):
        message = "le double tiret n'est admis que dans le nom de naissance" if not allow_double_hyphen else "triple tiret interdit"
        raise TraitError(field, "bad_separator", message)
    if is_given_name and value[-1] in "-'":
        raise TraitError(field, "bad_last_character", "un prénom ne se termine pas par un tiret ou une apostrophe")


def normalise_name(value: str, *, field: str) -> str:
    """A birth name or used name in INSi form; raises TraitError naming the broken rule."""
    text = transliterate((value or "").strip(), field=field)
    if not text:
        raise TraitError(field, "required", "ce champ est obligatoire")
    _check_layout(text, field=field, allow_double_hyphen=(field == BIRTH_NAME), is_given_name=False)
    return text


def normalise_given_name(value: str, *, field: str = FIRST_GIVEN_NAME) -> str:
    text = transliterate((value or "").strip(), field=field)
    if not text:
        raise TraitError(field, "required", "ce champ est obligatoire")
    _check_layout(text, field=field, allow_double_hyphen=False, is_given_name=True)
    return text


def normalise_given_names(value: str, *, field: str = GIVEN_NAMES) -> str:
    """The space-separated list of birth given names, each one checked as a given name."""
    text = normalise_given_name(value, field=field)
    for token in text.split(" "):
        if token[-1] in "-'":
            raise TraitError(field, "bad_last_character", f"le prénom « {token} » se termine par un tiret ou une apostrophe")
    return text


def search_key(value: str | None) -> str:
    """Indexed comparison form: accents and case folded, hyphen/apostrophe/space made alike.

    Never raises: it is used on what people type in a search box as well as on stored data.
    """
    if not value:
        return ""
    folded = "".join(
        char for char in unicodedata.normalize("NFKD", value) if not unicodedata.combining(char)
    )
    text = anyascii(folded).upper()
    text = re.sub(r"[^A-Z' -]", " ", text)
    return _SEPARATORS.sub(" ", text).strip()


def first_given_name_matches(first: str, given_names: str) -> bool:
    """True when the first given name opens the list, ending where a list entry ends.

    Hyphen, apostrophe and space are alike (``JEAN-PIERRE`` opens ``JEAN PIERRE MARIE``,
    a composed name written with a space), but ``PIERRE`` does not open ``PIERRE-ALAIN``.
    """
    first_key = search_key(first)
    ends = [i for i, char in enumerate(given_names) if char == " "] + [len(given_names)]
    return bool(first_key) and any(search_key(given_names[:end]) == first_key for end in ends)


def first_of(given_names: str) -> str:
    """The first given name of an INSi list (``PIERRE-ALAIN GUNTHER`` → ``PIERRE-ALAIN``)."""
    return given_names.split(" ", 1)[0] if given_names else ""


# --- Birth dates: INSi may return 00 for day and/or month; stored as returned, as text. ---
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_FR_DATE = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")


@dataclass(frozen=True)
class BirthDate:
    year: int
    month: int  # 0 when unknown
    day: int  # 0 when unknown

    @property
    def is_partial(self) -> bool:
        return self.month == 0 or self.day == 0

    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def french(self) -> str:
        """``JJ/MM/AAAA`` as shown on screens and documents (``00`` kept)."""
        return f"{self.day:02d}/{self.month:02d}/{self.year:04d}"

    def as_date(self) -> date | None:
        return None if self.is_partial else date(self.year, self.month, self.day)


def parse_birth_date(value: str, *, today: date | None = None) -> BirthDate:
    """Parse ``AAAA-MM-JJ`` or ``JJ/MM/AAAA``; ``00`` day and/or month allowed, nothing invented."""
    text = (value or "").strip()
    iso, french = _ISO_DATE.match(text), _FR_DATE.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif french:
        day, month, year = (int(part) for part in french.groups())
    else:
        raise TraitError(BIRTH_DATE, "format", "format attendu JJ/MM/AAAA ou AAAA-MM-JJ (00 admis pour un jour ou un mois inconnu)")
    today = today or date.today()
    if not 1850 <= year <= today.year:
        raise TraitError(BIRTH_DATE, "year", f"année {year} hors de la plage admise (1850 à {today.year})")
    if month > 12:
        raise TraitError(BIRTH_DATE, "month", f"mois {month:02d} invalide (01 à 12, ou 00 si inconnu)")
    if month and day and day > calendar.monthrange(year, month)[1]:
        raise TraitError(BIRTH_DATE, "day", f"le jour {day:02d} n'existe pas en {month:02d}/{year}")
    if day > 31:
        raise TraitError(BIRTH_DATE, "day", f"jour {day:02d} invalide (01 à 31, ou 00 si inconnu)")
    parsed = BirthDate(year, month, day)
    full = parsed.as_date()
    if full and full > today:
        raise TraitError(BIRTH_DATE, "future", "la date de naissance est dans le futur")
    return parsed


def normalise_sex(value: str, *, allowed: tuple[str, ...] = SEXES) -> str:
    text = (value or "").strip().upper()
    if text not in allowed:
        raise TraitError(SEX, "choice", f"valeur attendue : {', '.join(allowed)}")
    return text


# --- Birthplace: INSEE COG code (commune, or 99 + country for people born abroad). ---
_COG = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
BORN_ABROAD_PREFIX = "99"
# RNIV 2024: the birthplace is not known (neither commune nor country). Not a COG code: only a
# provisional (or recovered, then downgraded) identity may carry it, never a validated or qualified one.
UNKNOWN_BIRTHPLACE = "99999"
_STATUSES_REFUSING_UNKNOWN_BIRTHPLACE = ("VALI", "QUAL")


def normalise_cog(value: str) -> str:
    text = (value or "").strip().upper()
    if not _COG.match(text):
        raise TraitError(BIRTHPLACE, "format", "code officiel géographique INSEE attendu sur 5 caractères (ex. 63220, 2A004, 99100)")
    return text


def unknown_birthplace_refusal(code: str, *, status: str) -> str | None:
    """Why an identity of this status may not carry this birthplace code (``99999``, unknown), or None."""
    if code == UNKNOWN_BIRTHPLACE and status in _STATUSES_REFUSING_UNKNOWN_BIRTHPLACE:
        return (f"lieu de naissance inconnu ({UNKNOWN_BIRTHPLACE}) : admis pour une identité provisoire seulement ; "
                "une identité validée ou qualifiée a un lieu de naissance connu (commune, ou 99 + code pays)")
    return None


@dataclass(frozen=True)
class StrictTraits:
    """The five INS traits plus the first given name, in INSi form."""

    birth_name: str
    birth_given_names: str
    first_birth_given_name: str
    birth_date: str
    sex: str
    birthplace_code: str


def normalise_strict_traits(
    *,
    birth_name: str,
    birth_given_names: str,
    first_birth_given_name: str = "",
    birth_date: str,
    sex: str,
    birthplace_code: str,
) -> StrictTraits:
    """Manual entry of the strict traits; the first given name defaults to the list's first token."""
    names = normalise_given_names(birth_given_names)
    first = normalise_given_name(first_birth_given_name) if first_birth_given_name.strip() else first_of(names)
    if not first_given_name_matches(first, names):
        raise TraitError(FIRST_GIVEN_NAME, "mismatch", f"« {first} » n'est pas le premier prénom de la liste « {names} »")
    return StrictTraits(
        birth_name=normalise_name(birth_name, field=BIRTH_NAME),
        birth_given_names=names,
        first_birth_given_name=first,
        birth_date=parse_birth_date(birth_date).iso(),
        sex=normalise_sex(sex),
        # An unknown birthplace is allowed at entry (PROV); INSi fills it on recovery.
        birthplace_code=normalise_cog(birthplace_code) if (birthplace_code or "").strip() else "",
    )


def insi_result_rejection(*, birth_name: str, birth_given_names: str, sex: str, birth_date: str) -> str | None:
    """Why an identity returned by INSi must not be integrated (domain rule 5), or None."""
    if not (birth_name or "").strip():
        return "le nom de naissance retourné par INSi est vide"
    if not (birth_given_names or "").strip():
        return "la liste des prénoms retournée par INSi est vide"
    if not (sex or "").strip():
        return "le sexe retourné par INSi est vide"
    if sex not in INSI_SEXES:
        return f"le sexe retourné par INSi ({sex}) n'est ni M ni F"
    parts = (birth_date or "").split("-")
    if len(parts) != 3 or "00" in parts[1:]:
        return f"la date de naissance retournée par INSi ({birth_date}) contient 00 : jour ou mois inconnu"
    return None
