"""Demo identities for the document examples and benchmarks: in memory, never saved.

Rendering only reads attributes, the birthplace names and the label formats, so the
identities need no database row; the formats and names come from a migrated database.
"""
from __future__ import annotations

import uuid

from identities.core.ipp import format_ipp
from identities.core.matricule import compute_key
from identities.core.models import Identity, Status

TEST_NIR_OID = "1.2.250.1.213.1.4.10"  # test platform: the examples print "INS-NIR de test"


def _matricule(first13: str) -> str:
    return first13 + compute_key(first13)


def qualified(**overrides) -> Identity:
    fields = {
        "birth_name": "MARTIN", "birth_given_names": "JEANNE MARIE", "first_birth_given_name": "JEANNE",
        "birth_date": "1980-05-17", "sex": "F", "birthplace_code": "63220", "used_name": "DUPONT",
        "status": Status.QUAL, "ins_matricule": _matricule("2800563220123"), "ins_oid": TEST_NIR_OID,
        "uuid": uuid.UUID(int=1), "ipp": format_ipp(1),  # fixed, so the examples are byte-identical from one run to the next
    }
    return Identity(**(fields | overrides))


def demo_identities() -> list[Identity]:
    """A qualified homonym, a recovered identity (INS stored, not shareable) and a provisional one."""
    return [
        qualified(homonym=True),
        Identity(birth_name="DE LA FONTAINE", birth_given_names="PIERRE-ALAIN GUNTHER", first_birth_given_name="PIERRE-ALAIN",
                 birth_date="1953-07-00", sex="M", birthplace_code="2B020", status=Status.RECUP,
                 ins_matricule=_matricule("1530799123456"), ins_oid=TEST_NIR_OID, uuid=uuid.UUID(int=2), ipp=format_ipp(2)),
        Identity(birth_name="N'DIAYE", birth_given_names="AWA", first_birth_given_name="AWA", birth_date="2001-11-30",
                 sex="F", birthplace_code="99100", used_given_name="AWA-LUCIE", status=Status.PROV, uuid=uuid.UUID(int=3), ipp=format_ipp(3)),
    ]


def many_qualified(count: int) -> list[Identity]:
    """``count`` distinct qualified identities (distinct matricules, so distinct datamatrices)."""
    return [
        qualified(birth_name=f"PATIENT {chr(65 + n % 26)}{chr(65 + n // 26 % 26)}",
                  ins_matricule=_matricule(f"28005632{n:05d}"))
        for n in range(count)
    ]
