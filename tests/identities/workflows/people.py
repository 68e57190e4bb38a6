"""People of the INSi test book (insi.md) as the desk records them, and identities already fed by INSi."""
from __future__ import annotations

from identities.core import services
from identities.core.matricule import NIA_OID
from identities.core.models import Identity
from tests import factories

NIR_TEST = factories.INSI_TEST_NIR_OID

ADRUN = {"birth_name": "ADRUN", "birth_given_names": "ZOE", "birth_date": "1975-12-31", "sex": "F", "birthplace_code": "63220"}
ARTAGNAN = {
    "birth_name": "D'ARTAGNAN DE L'HERAULT", "birth_given_names": "PIERRE-ALAIN", "birth_date": "2001-06-17", "sex": "M",
    "birthplace_code": "63220",
}
ECETINSI = {
    "birth_name": "ECETINSI", "birth_given_names": "PIERRE-ALAIN MURIEL FLORIANT", "birth_date": "2009-07-14", "sex": "M",
    "birthplace_code": "63220",
}
PROVISOIRE = {"birth_name": "PROVISOIRE", "birth_given_names": "MATRICULE", "birth_date": "2009-07-01", "sex": "M", "birthplace_code": "63220"}
DE_VINCI = {"birth_name": "DE VINCI", "birth_given_names": "LEONARDO", "birth_date": "2014-02-01", "sex": "M", "birthplace_code": ""}
HOUILLES = {"birth_name": "HOUILLES", "birth_given_names": "PIERRE PAUL JACQUES", "birth_date": "1993-01-27", "sex": "M", "birthplace_code": ""}

# Matricules as INSi returns them (13 characters + key).
ADRUN_INS = "275126322074974"
ECETINSI_INS, ECETINSI_OLD = "109076322083489", "209076322083439"
PROVISOIRE_NIA = "109076322088835"


def desk(actor, person: dict, **changes) -> Identity:
    """A provisional identity typed at the desk."""
    return factories.identity(actor, **(person | changes))


def fed(actor, person: dict, ins: str, *, oid: str = NIR_TEST, validated: bool = False) -> Identity:
    """An identity already fed by INSi with this matricule (RECUP, or QUAL when a document was checked first)."""
    identity = desk(actor, person)
    if validated:
        factories.check_passport(actor, identity)
    services.identity_apply_insi_result(
        actor=actor, identity_id=identity.pk, result=factories.insi_result(identity, matricule=ins[:13], key=ins[13:], oid=oid)
    )
    identity.refresh_from_db()
    return identity


__all__ = ["NIA_OID", "NIR_TEST", "desk", "fed"]
