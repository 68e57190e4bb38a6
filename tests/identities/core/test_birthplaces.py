"""The COG birthplace loader: communes, districts, former codes and countries, from a package or the registry."""
import io
import json
import os
import tarfile

import pytest
from django.core.management import CommandError, call_command

from identities.core import services
from identities.core.models import Birthplace, Status

# The layout of @etalab/decoupage-administratif, reduced to a few real entries.
COMMUNES = [
    {"code": "63220", "nom": "Mazoires", "type": "commune-actuelle", "departement": "63"},
    {"code": "2A004", "nom": "Ajaccio", "type": "commune-actuelle", "departement": "2A", "anciensCodes": ["20004"]},
    {"code": "75056", "nom": "Paris", "type": "commune-actuelle", "departement": "75"},
    {"code": "75112", "nom": "Paris 12e Arrondissement", "type": "arrondissement-municipal", "commune": "75056"},
    # A merged commune: the new one keeps the chef-lieu's code, which is also a delegated commune.
    {"code": "01015", "nom": "Arboys en Bugey", "type": "commune-actuelle", "anciensCodes": ["01340"]},
    {"code": "01015", "nom": "Arbignieu", "type": "commune-deleguee", "chefLieu": "01015"},
    {"code": "01340", "nom": "Saint-Bois", "type": "commune-deleguee", "chefLieu": "01015"},
    {"code": "01120", "nom": "Cordieux", "type": "commune-associee", "chefLieu": "01262"},
]


def _package(folder, communes=COMMUNES, *, version="1.0.0"):
    (folder / "data").mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "@etalab/decoupage-administratif", "version": version}))
    (folder / "data" / "communes.json").write_text(json.dumps(communes), encoding="utf-8")
    return folder


def _tarball(tmp_path, communes=COMMUNES, *, name="cog.tgz"):
    folder = _package(tmp_path / name.replace(".tgz", "") / "package", communes)
    archive = tmp_path / name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="package")
    return archive


def _load(source) -> str:
    out = io.StringIO()
    call_command("load_birthplaces", source=source, stdout=out)
    return out.getvalue()


def test_it_loads_each_kind_of_commune_code_and_the_countries(db, tmp_path):
    output = _load(_package(tmp_path / "package"))

    places = {p.code: p for p in Birthplace.objects.all()}
    assert (places["63220"].name, places["63220"].kind, places["63220"].current) == ("Mazoires", Birthplace.Kind.COMMUNE, True)
    assert places["75112"].kind == Birthplace.Kind.DISTRICT
    assert places["01340"].kind == Birthplace.Kind.DELEGATED
    assert places["01120"].kind == Birthplace.Kind.ASSOCIATED
    # The new commune keeps its code's row; its chef-lieu delegated commune does not replace it.
    assert (places["01015"].name, places["01015"].kind) == ("Arboys en Bugey", Birthplace.Kind.COMMUNE)
    assert (places["99100"].name, places["99100"].kind) == ("FRANCE", Birthplace.Kind.COUNTRY)
    assert places["99134"].name == "ESPAGNE"
    assert "Commune : 4" in output and "Commune déléguée : 1" in output and "Arrondissement municipal : 1" in output


def test_a_defunct_code_is_loaded_as_former_and_accepted_for_a_new_identity(db, tmp_path, front_desk):
    _load(_package(tmp_path / "package"))

    former = Birthplace.objects.get(code="20004")
    assert (former.kind, former.current, former.name) == (Birthplace.Kind.FORMER, False, "Ajaccio (ancien code)")
    outcome = services.identity_create(
        actor=front_desk, birth_name="Santoni", birth_given_names="Marie", birth_date="1950-05-05", sex="F",
        birthplace_code="20004",
    )
    assert outcome.identity.birthplace_code == "20004" and outcome.identity.status == Status.PROV


def test_a_second_load_duplicates_nothing_and_follows_the_new_data(db, tmp_path):
    _load(_tarball(tmp_path))
    first = Birthplace.objects.count()
    _load(_tarball(tmp_path, name="again.tgz"))
    assert Birthplace.objects.count() == first

    renamed = [dict(c, nom="Mazoires-sur-Couze") if c["code"] == "63220" else c for c in COMMUNES if c["code"] != "01120"]
    output = _load(_tarball(tmp_path, renamed, name="next-year.tgz"))

    assert Birthplace.objects.get(code="63220").name == "Mazoires-sur-Couze"
    # A code the new data drops stays (identities may carry it) but is no longer current.
    dropped = Birthplace.objects.get(code="01120")
    assert dropped.current is False and Birthplace.objects.count() == first
    assert "marqués « plus en vigueur » : 1." in output


def test_it_names_what_is_wrong_with_an_unusable_source(db, tmp_path):
    with pytest.raises(CommandError, match="introuvable"):
        _load(tmp_path / "nowhere.tgz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="data/communes.json introuvable"):
        _load(tmp_path / "empty")
    assert not Birthplace.objects.exists()


@pytest.mark.skipif(os.environ.get("INSPORTAL_NETWORK_TESTS") != "1", reason="needs the npm registry (INSPORTAL_NETWORK_TESTS=1)")
def test_it_loads_the_real_package_from_the_npm_registry(db):
    call_command("load_birthplaces", stdout=io.StringIO())

    places = Birthplace.objects.in_bulk(["63220", "2A004", "75056", "20004", "99100", "75112"])
    assert places["63220"].kind == Birthplace.Kind.COMMUNE
    assert places["2A004"].name == "Ajaccio" and places["75056"].name == "Paris"
    assert places["75112"].kind == Birthplace.Kind.DISTRICT
    assert (places["20004"].kind, places["20004"].current) == (Birthplace.Kind.FORMER, False)
    assert places["99100"].kind == Birthplace.Kind.COUNTRY
    assert Birthplace.objects.filter(kind=Birthplace.Kind.COMMUNE).count() > 30_000
