"""Identities received from another domain: INS verified before integration, and the CSV import row by row."""
import pytest
from django.core.management import call_command

from identities.core.errors import RuleViolation
from identities.core.models import Identity, InsMatricule, Status, WorklistItem
from identities.workflows import csv_import
from identities.workflows.ins_integration import Reception, reception_verify_ins, verify_received_ins
from insi.models import Exchange
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db


def test_a_received_ins_confirmed_by_insi_is_integrated_with_its_oid(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    result = reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value=people.ADRUN_INS, oid=people.NIR_TEST)

    identity.refresh_from_db()
    assert result.outcome == Reception.INTEGRATED
    assert (identity.status, identity.ins_matricule, identity.ins_oid) == (Status.RECUP, people.ADRUN_INS, people.NIR_TEST)
    assert InsMatricule.objects.get(identity=identity).source == InsMatricule.Source.THIRD_PARTY
    assert Exchange.objects.get(pk=result.exchange_id).identity_id == identity.pk


def test_a_received_ins_not_confirmed_keeps_the_traits_only_and_alerts(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    result = reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value="275126322074923", oid=people.NIR_TEST)

    identity.refresh_from_db()
    assert result.outcome == Reception.TRAITS_ONLY
    assert identity.status == Status.PROV and identity.ins_matricule is None and identity.birth_name == "ADRUN"
    assert WorklistItem.objects.filter(identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION, state="OPEN").exists()


def test_an_identity_qualified_here_is_not_asked_again(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS, validated=True)

    result = reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value=people.ADRUN_INS, oid=people.NIR_TEST)

    assert result.outcome == Reception.ALREADY_QUALIFIED and not Exchange.objects.exists()


def test_a_received_test_ins_is_refused_in_production_before_any_call(insi, front_desk, settings):
    settings.INS_ENVIRONMENT = "production"
    identity = people.desk(front_desk, people.ADRUN)

    with pytest.raises(RuleViolation) as refused:
        reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value=people.ADRUN_INS, oid="1.2.250.1.213.1.4.10")

    assert refused.value.field == "oid" and not Exchange.objects.exists()


def test_the_reception_hook_says_what_insi_thinks_and_writes_only_the_exchange(insi, front_desk):
    class Received:
        matricule, oid = people.ADRUN_INS, people.NIR_TEST
        birth_name, birth_given_names, sex, birth_date, birthplace_code = "ADRUN", "ZOE", "F", "1975-12-31", "63220"

    verdict = verify_received_ins(Received())

    assert verdict.verified is True and Exchange.objects.get(pk=verdict.exchange_id).mode == "AUTO"
    Received.birth_given_names = "ZOE MARIE"
    assert verify_received_ins(Received()).verified is False
    insi.fail("ADRUN")
    assert verify_received_ins(Received()).verified is None


# --- CSV import ---

HEADER = "nom_naissance;prenoms_naissance;date_naissance;sexe;lieu_naissance;matricule_ins;oid;identifiant_externe\n"


def _import(actor, *rows: str):
    return csv_import.identities_import_csv(actor=actor, content=(HEADER + "\n".join(rows) + "\n").encode("utf-8"))


def test_each_row_is_created_matched_or_rejected_with_its_reason(insi, civ_member, front_desk):
    known = people.desk(front_desk, people.ARTAGNAN)
    report = _import(
        civ_member,
        f"ADRUN;ZOE;31/12/1975;F;63220;{people.ADRUN_INS};{people.NIR_TEST};EXT-1",
        "D'ARTAGNAN DE L'HERAULT;PIERRE-ALAIN;17/06/2001;M;63220;;;EXT-2",
        "MARTIN;JEAN2;01/01/1980;M;;;;EXT-3",
        "DUPONT;JEAN;31/02/1980;M;;;;EXT-4",
        "NESSI;NATHALIE;14/07/1977;F;63220;277076322082910;;EXT-5",
    )

    rows = {row.external_id: row for row in report.rows}
    assert (rows["EXT-1"].result, rows["EXT-1"].ins) == ("created", Reception.INTEGRATED)
    assert Identity.objects.get(pk=rows["EXT-1"].identity_id).status == Status.RECUP
    assert (rows["EXT-2"].result, rows["EXT-2"].identity_id) == ("matched", known.pk)
    assert rows["EXT-3"].result == "rejected" and rows["EXT-3"].reason.startswith("Prénom(s) de naissance : ")
    assert rows["EXT-4"].result == "rejected" and "n'existe pas" in rows["EXT-4"].reason
    assert rows["EXT-5"].result == "rejected" and "renseignez les deux" in rows["EXT-5"].reason
    assert [row.line for row in report.rows] == [2, 3, 4, 5, 6]
    assert (report.count("created"), report.count("matched"), report.count("rejected")) == (1, 1, 3)


def test_a_row_whose_ins_insi_does_not_confirm_is_created_with_its_traits_only(insi, civ_member):
    report = _import(civ_member, f"ADRUN;ZOE;31/12/1975;F;63220;275126322074923;{people.NIR_TEST};X")

    [row] = report.rows
    identity = Identity.objects.get(pk=row.identity_id)
    assert (row.result, row.ins) == ("created", Reception.TRAITS_ONLY)
    assert identity.status == Status.PROV and identity.ins_matricule is None
    assert "non confirmé" in row.ins_label


def test_a_row_insi_cannot_answer_for_leaves_nothing_behind(insi, civ_member):
    insi.fail("ADRUN")

    report = _import(civ_member, f"ADRUN;ZOE;31/12/1975;F;63220;{people.ADRUN_INS};{people.NIR_TEST};X")

    [row] = report.rows
    assert row.result == "rejected" and "INSi n'a pas répondu" in row.reason and row.identity_id is None
    assert not Identity.objects.filter(birth_name="ADRUN").exists()


def test_a_row_close_to_a_known_identity_is_left_to_the_civ(insi, civ_member, front_desk):
    known = people.desk(front_desk, people.ADRUN, birth_name="ADRUNE")

    [row] = _import(civ_member, "ADRUN;ZOE;31/12/1975;F;63220;;;X").rows

    assert row.result == "rejected" and str(known.pk) in row.reason and "rapprochement" in row.reason


def test_a_file_with_missing_or_unknown_columns_is_refused_whole(civ_member):
    with pytest.raises(RuleViolation, match="colonnes obligatoires absentes : sexe.*colonnes inconnues : genre"):
        csv_import.identities_import_csv(actor=civ_member, content=b"nom_naissance,prenoms_naissance,date_naissance,genre\nA,B,C,D\n")


def test_a_file_not_in_utf8_is_refused_with_the_way_out(civ_member):
    with pytest.raises(RuleViolation, match="UTF-8"):
        csv_import.identities_import_csv(actor=civ_member, content=(HEADER + "HÉLÈNE;ZOE;31/12/1975;F;;;;\n").encode("cp1252"))


def test_a_front_desk_agent_may_not_import(front_desk):
    from identities.core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        csv_import.identities_import_csv(actor=front_desk, content=HEADER.encode())


def test_the_command_prints_the_report(insi, civ_member, tmp_path, capsys):
    path = tmp_path / "recus.csv"
    path.write_text(HEADER + "ADRUN;ZOE;31/12/1975;F;63220;;;EXT-9\n", encoding="utf-8")

    call_command("import_identities_csv", str(path), "--user", civ_member.username)

    out = capsys.readouterr().out
    assert "ligne 2" in out and "créée" in out and "EXT-9" in out


def test_oversized_cells_refuse_their_row_naming_line_and_column_and_the_import_goes_on(insi, civ_member, tmp_path, capsys):
    path = tmp_path / "recus.csv"
    path.write_text(HEADER + "\n".join([
        "ADRUN;ZOE;31/12/1975;F;63220;;;EXT-1",
        f"{'D' * 101};ZOE;31/12/1975;F;63220;;;EXT-2",
        f"DUBOIS;ANNE;15/03/1979;F;63220;;;{'X' * 1_000_000}",
        "MARTIN;JEAN;01/01/1980;M;;;;EXT-4",
        "NESSI;NATHA\x00LIE;14/07/1977;F;63220;;;EXT-5",
        f"LEROY;PAUL;02/02/1982;M;;;;{'Y' * 120}",
    ]) + "\n", encoding="utf-8")

    call_command("import_identities_csv", str(path), "--user", civ_member.username)

    out = capsys.readouterr().out.splitlines()
    refused = {line: reason for line, reason in (row.split(" — ", 1) for row in out[:-1]) if "rejetée" in reason}
    assert set(refused) == {"ligne 3", "ligne 4", "ligne 6", "ligne 7"}
    assert "colonne nom_naissance" in refused["ligne 3"] and "100 caractères au plus" in refused["ligne 3"]
    assert "colonne identifiant_externe" in refused["ligne 4"] and "illisible" in refused["ligne 4"]
    assert "colonne prenoms_naissance" in refused["ligne 6"] and "0x00" in refused["ligne 6"]
    assert "colonne identifiant_externe" in refused["ligne 7"] and "120 reçus" in refused["ligne 7"]
    assert out[-1] == "2 créée(s), 0 rapprochée(s), 4 rejetée(s)."
    assert sorted(Identity.objects.values_list("birth_name", flat=True)) == ["ADRUN", "MARTIN"]


def test_a_file_over_the_size_limit_is_refused_whole(civ_member):
    with pytest.raises(RuleViolation, match="Mo au plus"):
        csv_import.identities_import_csv(actor=civ_member, content=HEADER.encode() + b"x" * csv_import.MAX_FILE_BYTES)


# --- The identity is not held during the INSi call (call first, then lock, re-check and write) ---

@pytest.mark.django_db(transaction=True)
def test_the_identity_is_not_locked_while_insi_checks_a_received_ins(insi, front_desk):
    from django.db import transaction

    identity = people.desk(front_desk, people.ADRUN)

    def lock_without_waiting_and_save():
        with transaction.atomic():
            locked = Identity.objects.select_for_update(nowait=True).get(pk=identity.pk)
            locked.used_name = "DURAND"
            locked.save(update_fields=["used_name"])  # version unchanged: a write, not a new state of the traits
        return locked.pk

    seen = insi.meanwhile("ADRUN", lock_without_waiting_and_save)
    result = reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value=people.ADRUN_INS, oid=people.NIR_TEST)

    identity.refresh_from_db()
    assert seen == {"result": identity.pk}
    assert result.outcome == Reception.INTEGRATED and identity.status == Status.RECUP and identity.used_name == "DURAND"


@pytest.mark.django_db(transaction=True)
def test_a_trait_changed_during_the_call_makes_the_reception_refuse_and_write_nothing(insi, front_desk, civ_referent):
    from identities.core.errors import ConflictError
    from identities.core.models import IdentityEvent
    from identities.core.services import identity_update_traits

    identity = people.desk(front_desk, people.ADRUN)
    seen = insi.meanwhile("ADRUN", lambda: identity_update_traits(
        actor=front_desk, identity_id=identity.pk, expected_version=identity.version, birth_given_names="ZOE MARIE"))

    with pytest.raises(ConflictError, match="modifiée pendant l'appel INSi"):
        reception_verify_ins(actor=front_desk, identity_id=identity.pk, matricule_value=people.ADRUN_INS, oid=people.NIR_TEST)

    identity.refresh_from_db()
    assert "error" not in seen and identity.birth_given_names == "ZOE MARIE"
    assert (identity.status, identity.ins_matricule) == (Status.PROV, None)
    assert not IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.INSI_VERIFICATION).exists()
    assert not InsMatricule.objects.filter(identity=identity).exists()
    assert Exchange.objects.filter(identity_id=identity.pk).exists()  # the call itself stays traced
