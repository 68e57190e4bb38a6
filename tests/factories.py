"""Builders of test data that go through the services, as a user would."""
from __future__ import annotations

from datetime import date, timedelta

from identities.core import reference_data, services
from identities.core.models import Birthplace, DocumentType, Identity, Status
from identities.core.reference_data import Place

_UNTIL_1968 = date(1967, 12, 31)
TEST_BIRTHPLACES = (
    Place("63220", "Mazoires", Birthplace.Kind.COMMUNE, True, postal_codes="63420"),
    Place("63113", "Clermont-Ferrand", Birthplace.Kind.COMMUNE, True, postal_codes="63000 63100"),
    Place("2A004", "Ajaccio", Birthplace.Kind.COMMUNE, True, postal_codes="20000 20090 20167"),
    Place("75056", "Paris", Birthplace.Kind.COMMUNE, True, postal_codes="75001 75012 75020"),
    Place("75112", "Paris 12e Arrondissement", Birthplace.Kind.DISTRICT, True, successor="75056", postal_codes="75012"),
    Place("20004", "Ajaccio", Birthplace.Kind.FORMER, False, successor="2A004"),
    # The 1968 reorganisation of the Paris region: Boulogne was 75012 (Seine), is 92012 since.
    Place("92012", "Boulogne-Billancourt", Birthplace.Kind.COMMUNE, True, postal_codes="92100", valid_from=date(1968, 1, 1)),
    Place("75012", "Boulogne-Billancourt", Birthplace.Kind.FORMER, False, successor="92012", valid_until=_UNTIL_1968),
    Place("97411", "Saint-Denis", Birthplace.Kind.COMMUNE, True, postal_codes="97400 97417 97490"),
    Place("93066", "Saint-Denis", Birthplace.Kind.COMMUNE, True, postal_codes="93200 93210", valid_from=date(1968, 1, 1)),
    Place("99100", "FRANCE", Birthplace.Kind.COUNTRY, True),
    Place("99109", "ALLEMAGNE", Birthplace.Kind.COUNTRY, True),
)

# The test identities of the INSi test book, as INSi returns them (its qualification platform too: .4.8).
INSI_TEST_NIR_OID = "1.2.250.1.213.1.4.8"


def make_birthplaces() -> list[Birthplace]:
    reference_data.upsert_places(TEST_BIRTHPLACES)
    return list(Birthplace.objects.filter(code__in=[place.code for place in TEST_BIRTHPLACES]))


def identity(actor, **overrides) -> Identity:
    """A provisional identity created through the service (anteriority candidates acknowledged)."""
    fields = {
        "birth_name": "MARTIN",
        "birth_given_names": "JEANNE MARIE",
        "birth_date": "1980-05-17",
        "sex": "F",
        "birthplace_code": "63220",
    } | overrides
    outcome = services.identity_create(actor=actor, acknowledged_candidates=_everyone(), **fields)
    assert outcome.identity is not None
    return outcome.identity


def _everyone() -> list[int]:
    return list(Identity.objects.values_list("pk", flat=True))


def insi_result(identity_or_traits, *, matricule="2800563220123", key=None, oid=INSI_TEST_NIR_OID, history=()):
    """What INSi would return for these traits (code 00)."""
    from identities.core.matricule import compute_key

    source = identity_or_traits
    get = source.get if isinstance(source, dict) else lambda name: getattr(source, name)
    return services.InsiIdentity(
        active=services.InsiMatricule(matricule=matricule + (key or compute_key(matricule)), oid=oid),
        birth_name=get("birth_name"),
        birth_given_names=get("birth_given_names"),
        sex=get("sex"),
        birth_date=get("birth_date"),
        birthplace_code=get("birthplace_code"),
        history=tuple(history),
    )


def passport() -> DocumentType:
    return DocumentType.objects.get(code="passeport")


def check_passport(actor, ident: Identity):
    return services.identity_record_document_check(
        actor=actor, identity_id=ident.pk, document_type_id=passport().pk, expiry_date=date.today() + timedelta(days=365)
    )


def qualified(front_desk, matricule13: str = "2800563220123", **overrides) -> Identity:
    """A QUAL identity: document checked, then INSi result accepted."""
    ident = identity(front_desk, **overrides)
    check_passport(front_desk, ident)
    services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=insi_result(ident, matricule=matricule13))
    ident.refresh_from_db()
    assert ident.status == Status.QUAL
    return ident


def recovered(front_desk, matricule13: str = "2800563220123", **overrides) -> Identity:
    ident = identity(front_desk, **overrides)
    services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=insi_result(ident, matricule=matricule13))
    ident.refresh_from_db()
    assert ident.status == Status.RECUP
    return ident

