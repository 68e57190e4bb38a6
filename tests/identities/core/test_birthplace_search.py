"""Finding a birthplace: by name (accents and hyphens ignored), by code valid at the birth date, postal codes named."""
import json

import pytest

from identities.core import birthplaces as cog
from identities.core import reference_data, services
from identities.core.errors import RuleViolation
from identities.core.models import Birthplace
from tests.identities.portal.client import logged_in

# The layout of @etalab/decoupage-administratif (codesPostaux from La Poste), a few real entries.
COMMUNES = [
    {"code": "75056", "nom": "Paris", "type": "commune-actuelle", "codesPostaux": ["75001", "75012", "75020"]},
    {"code": "75112", "nom": "Paris 12e Arrondissement", "type": "arrondissement-municipal", "commune": "75056",
     "codesPostaux": ["75012"]},
    {"code": "92012", "nom": "Boulogne-Billancourt", "type": "commune-actuelle", "anciensCodes": ["75012"],
     "codesPostaux": ["92100"]},
    {"code": "2A004", "nom": "Ajaccio", "type": "commune-actuelle", "anciensCodes": ["20004"], "codesPostaux": ["20000"]},
    {"code": "01015", "nom": "Arboys en Bugey", "type": "commune-actuelle", "anciensCodes": ["01340"]},
    {"code": "01340", "nom": "Saint-Bois", "type": "commune-deleguee", "chefLieu": "01015"},
]


def _load(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "package.json").write_text(json.dumps({"name": "@etalab/decoupage-administratif", "version": "6.0.0"}))
    (tmp_path / "data" / "communes.json").write_text(json.dumps(COMMUNES), encoding="utf-8")
    reference_data.load_birthplaces(tmp_path)


def test_the_loader_keeps_successors_postal_codes_and_the_1968_dates(db, tmp_path):
    _load(tmp_path)
    places = Birthplace.objects.in_bulk(["75012", "92012", "75112", "20004", "01340", "2A004"])

    assert (places["75012"].kind, places["75012"].successor, str(places["75012"].valid_until)) == (
        Birthplace.Kind.FORMER, "92012", "1967-12-31")
    assert str(places["92012"].valid_from) == "1968-01-01" and places["92012"].postal_codes == "92100"
    assert (places["75112"].successor, places["75112"].postal_codes) == ("75056", "75012")
    assert places["01340"].successor == "01015"
    # Corsica's 2A/2B codes are given by INSi for any birth date: no dates there.
    assert places["20004"].valid_until is None and places["2A004"].valid_from is None


def test_a_name_is_found_whatever_its_accents_hyphens_and_abbreviations(db, birthplaces):
    def codes(query, birth_date=""):
        return [place["code"] for place in cog.birthplaces_search(query=query, birth_date=birth_date)]

    assert codes("boulogne billancourt", "15/03/1990") == ["92012", "75012"]
    assert codes("BOULOGNE-BILLANCOURT", "15/03/1960") == ["75012", "92012"]
    assert set(codes("st-denis")) == {"93066", "97411"}
    assert codes("clermont ferrand") == ["63113"]
    assert codes("allemagne") == ["99109"]
    assert codes("paris 12") == ["75112"]
    assert codes("7511") == ["75112"]


def test_a_former_code_is_named_with_its_successor_and_refused_after_its_end(db, birthplaces):
    late = cog.birthplace_lookup(code="75012", birth_date="15/03/1990")
    assert late["place"]["valid"] is False
    assert "Boulogne-Billancourt — ancien code (Seine), aujourd'hui 92012" in late["message"]
    assert "jusqu'au 31/12/1967" in late["message"]
    # The postal code of Paris 12e: the arrondissement is proposed, not the whole city.
    assert [place["code"] for place in late["postal"]] == ["75112"]
    assert "code INSEE 75112" in late["postal_message"]

    early = cog.birthplace_lookup(code="75012", birth_date="1960-00-00")
    assert early["place"]["valid"] is True


def test_paris_itself_asks_for_the_arrondissement(db, birthplaces):
    answer = cog.birthplace_lookup(code="75056", birth_date="01/01/1980")
    assert "choisissez l'arrondissement" in answer["message"]


def test_the_service_refuses_a_postal_code_and_proposes_the_insee_code(db, birthplaces, front_desk):
    fields = {"birth_name": "Lemaire", "birth_given_names": "Anne", "sex": "F"}
    with pytest.raises(RuleViolation) as refused:
        services.identity_create(actor=front_desk, birth_date="1990-03-15", birthplace_code="75012", **fields)
    assert refused.value.field == "birthplace_code"
    assert "en vigueur jusqu'au 31/12/1967" in refused.value.message
    assert "75012 est le code postal de Paris 12e Arrondissement (code INSEE 75112)" in refused.value.message

    with pytest.raises(RuleViolation, match=r"63000 inconnu .* code postal de Clermont-Ferrand \(code INSEE 63113\)"):
        services.identity_create(actor=front_desk, birth_date="1990-03-15", birthplace_code="63000", **fields)

    born_in_the_seine = services.identity_create(actor=front_desk, birth_date="1960-03-15", birthplace_code="75012", **fields)
    assert born_in_the_seine.identity.birthplace_code == "75012"


def test_the_json_endpoint_is_behind_the_login_and_the_role(db, birthplaces, front_desk, outsider, client):
    url = "/lieux-de-naissance/?q=boulogne&naissance=15/03/1990"
    anonymous = client.get(url, secure=True)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert logged_in(outsider).get(url).status_code in (302, 403)

    answer = logged_in(front_desk).get(url).json()
    assert [place["code"] for place in answer["results"]] == ["92012", "75012"]
    assert logged_in(front_desk).get("/lieux-de-naissance/?code=75012&naissance=15/03/1990").json()["postal"][0]["code"] == "75112"
