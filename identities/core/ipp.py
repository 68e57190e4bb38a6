"""The IPP (identifiant permanent du patient): the short number staff read and other systems receive.

An IPP is the facility's prefix (``settings.IPP_PREFIX``, 1 to 4 capital letters), a sequence
number written on at least ``NUMBER_WIDTH`` digits, then one Luhn check digit (ISO/IEC 7812-1,
computed by python-stdnum over the number's digits): ``IP00004275`` is prefix ``IP``, number
427, check digit 5. The number alone is unique (one counter for the whole base), so a prefix
changed later never makes two identities share a number. An IPP is assigned once, when the
identity is written, and never changes nor comes back; the identity's UUID stays its internal id.

Numbers come from one counter per database, taken in the writing transaction:
- PostgreSQL: the sequence ``SEQUENCE``. ``nextval`` is atomic and never rolls back, so two
  concurrent creations never get the same number and none waits for the other; a creation
  rolled back leaves a gap, never a number handed out twice.
- SQLite (the demo): the one row of ``COUNTER_TABLE``, incremented by the writing transaction.
  SQLite lets one writer at a time hold the database, so the row cannot be read twice.
"""
from __future__ import annotations

import re

from django.conf import settings
from django.db import connections
from stdnum import luhn

from identities.core.errors import RuleViolation

NUMBER_WIDTH = 7
SEQUENCE = "identities_ipp_seq"
COUNTER_TABLE = "identities_ipp_counter"
# Letters, then the number and its check digit; spaces and case are forgiven on input.
_SHAPE = re.compile(r"([A-Z]{1,4})([0-9]{2,})")


def format_ipp(number: int, prefix: str | None = None) -> str:
    digits = f"{number:0{NUMBER_WIDTH}d}"
    return f"{prefix or settings.IPP_PREFIX}{digits}{luhn.calc_check_digit(digits)}"


def normalise(text: str) -> str:
    """An IPP as typed or received, checked: its canonical form, or RuleViolation (field ``ipp``) saying what is wrong."""
    value = re.sub(r"\s+", "", text or "").upper()
    shape = _SHAPE.fullmatch(value)
    if not shape:
        raise RuleViolation(
            f"IPP « {text.strip()} » illisible : attendu le préfixe en lettres, le numéro puis sa clé "
            f"(par exemple {format_ipp(427)})", field="ipp")
    if not luhn.is_valid(shape.group(2)):
        raise RuleViolation(
            f"IPP « {value} » : la clé de contrôle (dernier chiffre) ne correspond pas au numéro ; "
            "vérifiez la saisie", field="ipp")
    return value


def allocate(count: int = 1, *, using: str = "default") -> list[str]:
    """``count`` fresh IPPs, in increasing order, taken from the database's counter."""
    if count <= 0:
        return []
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s) ORDER BY 1", [SEQUENCE, count])
            numbers = [row[0] for row in cursor.fetchall()]
        else:
            cursor.execute(f"UPDATE {COUNTER_TABLE} SET last = last + %s RETURNING last", [count])
            last = cursor.fetchone()[0]
            numbers = range(last - count + 1, last + 1)
    return [format_ipp(number) for number in numbers]


def assign(identities: list, *, using: str = "default") -> list:
    """Give each identity not numbered yet its IPP, in list order (for bulk writers, which skip save())."""
    missing = [identity for identity in identities if not identity.ipp]
    for identity, number in zip(missing, allocate(len(missing), using=using), strict=True):
        identity.ipp = number
    return identities
