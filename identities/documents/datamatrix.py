"""The INS datamatrix (domain.md §5): build and parse its payload, draw its ECC200 symbol (pure, no Django)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image
from ppf.datamatrix import DataMatrix

from identities.core import matricule, traits
from identities.core.diffusion import SharedIns

HEADER = "IS010000000000000000000000"
GS = "\x1d"
MENTION = "INS à scanner"

# What keyboard-wedge scanners and browsers make of GS, which is not a key: scanners are
# usually configured to send one of these, or send nothing (the tags still delimit fields).
_GS_SUBSTITUTES = ("<GS>", "\u241d", "^]")
# A scanner set to transmit the AIM symbology identifier prefixes "]d" and a digit.
_AIM_PREFIX = re.compile(r"^\]d\d")
# INSi's alphabet for names: upper-case A-Z, space, apostrophe, hyphen.
_INSI_NAME = re.compile(r"^[A-Z][A-Z' -]*$")
_DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
# A variable field ends at GS, or where the next tag starts: names hold no digit and an OID
# no letter, so "S" + digit cannot occur inside a value.
_VARIABLE_END = re.compile(r"\x1d|S[1-9]")


@dataclass(frozen=True)
class Field:
    tag: str
    name: str
    label: str
    length: int  # exact for a fixed field, maximum for a variable one
    variable: bool
    required: bool = True


# The OID has no maximum in the specification we follow; 64 (the stored length) is never
# reached, so the OID is always ended by GS, which every reader accepts.
FIELDS = (
    Field("S1", "matricule", "matricule INS", 15, variable=False),
    Field("S2", "oid", "OID", 64, variable=True),
    Field("S3", "birth_given_names", "liste des prénoms de naissance", 100, variable=True),
    Field("S4", "birth_name", "nom de naissance", 100, variable=True),
    Field("S5", "sex", "sexe", 1, variable=False),
    Field("S6", "birth_date", "date de naissance", 10, variable=False),
    Field("S7", "birthplace_code", "lieu de naissance", 5, variable=False, required=False),
)
_BY_TAG = {field.tag: field for field in FIELDS}


class DatamatrixError(ValueError):
    """A payload that breaks the format; ``message`` says which field and which rule, in French."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class DatamatrixIns:
    """What an INS datamatrix says. Read from paper: it is no INSi verification."""

    matricule: str
    oid: str
    birth_given_names: str
    birth_name: str
    sex: str
    birth_date: str  # AAAA-MM-JJ, as the portal stores it
    birthplace_code: str = ""

    @property
    def first_birth_given_name(self) -> str:
        return traits.first_of(self.birth_given_names)

    @property
    def label(self) -> str:
        """``INS-NIR``, ``INS-NIA``… (the OID was checked by the parser)."""
        return matricule.oid_info(self.oid).label

    @property
    def key_checks(self) -> bool:
        # Kept as a flag, not an error: INSi's values are authoritative even with a wrong key.
        return matricule.key_checks(self.matricule)


def _french_error(field: Field, message: str) -> DatamatrixError:
    return DatamatrixError(field.tag, f"{field.tag} ({field.label}) : {message}")


def _check_name(field: Field, value: str) -> str:
    if not _INSI_NAME.match(value):
        raise _french_error(field, f"« {value} » sort de l'alphabet INSi (A-Z, espace, apostrophe, tiret)")
    return value


def _check(field: Field, value: str) -> str:
    """A field's value in the portal's form, or a DatamatrixError naming the field and the rule."""
    if field.variable and len(value) > field.length:
        raise _french_error(field, f"{len(value)} caractères, {field.length} au plus")
    if not value:
        raise _french_error(field, "valeur vide")
    try:
        if field.name == "matricule":
            return matricule.check_format(value)
        if field.name == "oid":
            matricule.oid_info(value)
            return value
        if field.name == "sex":
            return traits.normalise_sex(value, allowed=traits.INSI_SEXES)
        if field.name == "birth_date":
            found = _DATE.match(value)
            if not found:
                raise _french_error(field, f"« {value} » n'est pas au format JJ-MM-AAAA")
            day, month, year = found.groups()
            return traits.parse_birth_date(f"{day}/{month}/{year}").iso()
        if field.name == "birthplace_code":
            return traits.normalise_cog(value)
    except (matricule.MatriculeError, traits.TraitError) as error:
        raise _french_error(field, error.message) from error
    return _check_name(field, value)


def build_payload(ins: SharedIns) -> str:
    """The datamatrix text of an INS cleared by the diffusion gate (and only of such an INS)."""
    birth = traits.parse_birth_date(ins.birth_date)
    values = {
        "matricule": ins.matricule,
        "oid": ins.oid,
        "birth_given_names": ins.birth_given_names,
        "birth_name": ins.birth_name,
        "sex": ins.sex,
        "birth_date": f"{birth.day:02d}-{birth.month:02d}-{birth.year:04d}",
        "birthplace_code": ins.birthplace_code,
    }
    parts = [HEADER]
    for field in FIELDS:
        value = values[field.name]
        if not value and not field.required:
            continue
        _check(field, value)
        if not field.variable and len(value) != field.length:
            raise _french_error(field, f"{len(value)} caractères au lieu de {field.length}")
        parts.append(field.tag + value + (GS if field.variable and len(value) < field.length else ""))
    return "".join(parts)


def normalise_scanned(text: str) -> str:
    """What a keyboard-wedge scanner typed, with GS restored and the line ending dropped."""
    for substitute in _GS_SUBSTITUTES:
        text = text.replace(substitute, GS)
    return _AIM_PREFIX.sub("", text.strip("\r\n "))


def parse_payload(text: str) -> DatamatrixIns:
    """Read an INS datamatrix by tag (not by position); raise DatamatrixError on any malformation."""
    if not text.startswith("IS"):
        raise DatamatrixError("header", "ce n'est pas un datamatrix INS : l'en-tête doit commencer par « IS »")
    if text[2:4] != HEADER[2:4]:
        raise DatamatrixError("header", f"version « {text[2:4]} » du datamatrix INS non prise en charge (version attendue : 01)")
    if text[: len(HEADER)] != HEADER:
        raise DatamatrixError("header", f"en-tête invalide : « IS01 » suivi de 22 zéros attendu, lu « {text[:len(HEADER)]} »")
    values: dict[str, str] = {}
    position = len(HEADER)
    while position < len(text):
        if text[position] == GS:  # tolerated after a fixed field and at the end
            position += 1
            continue
        tag = text[position:position + 2]
        field = _BY_TAG.get(tag)
        if field is None:
            raise DatamatrixError("tag", f"étiquette « {tag} » inconnue à la position {position + 1} (S1 à S7 attendues)")
        if field.name in values:
            raise _french_error(field, "champ présent deux fois")
        start = position + 2
        if field.variable:
            end_mark = _VARIABLE_END.search(text, start)
            end = end_mark.start() if end_mark else len(text)
        else:
            end = start + field.length
            if end > len(text):
                raise _french_error(field, f"tronqué : {len(text) - start} caractère(s) au lieu de {field.length}")
        values[field.name] = _check(field, text[start:end])
        position = end
    missing = [field for field in FIELDS if field.required and field.name not in values]
    if missing:
        raise _french_error(missing[0], "champ obligatoire absent")
    return DatamatrixIns(**values)


def symbol(payload: str) -> list[list[int]]:
    """The ECC200 square symbol, one list of 0/1 modules per row.

    ASCII encodation only (digit pairs packed): every ECC200 reader supports it and, on INS
    payloads, the other encodations gave no smaller symbol.
    """
    return DataMatrix(payload, codecs=["ascii"]).matrix


def png(rows: list[list[int]], *, quiet_modules: int = 2) -> bytes:
    """A symbol (from ``symbol``) as a PNG of one pixel per module, with its quiet zone.

    Printed scaled up without interpolation (CSS ``image-rendering: pixelated``), a module
    stays an exact square at any resolution; a raster is also far cheaper for WeasyPrint
    to place than a vector path, which matters for 1,000-label jobs.
    """
    side = len(rows) + 2 * quiet_modules
    white, pad = b"\xff" * side, b"\xff" * quiet_modules
    pixels = b"".join(pad + bytes(0 if module else 255 for module in row) + pad for row in rows)
    image = Image.frombytes("L", (side, side), white * quiet_modules + pixels + white * quiet_modules).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
