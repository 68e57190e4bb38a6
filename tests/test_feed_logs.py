"""No personal data in any log of a real run of the feeds: the portal served by gunicorn (FHIR import and search,
the anteriority search, the CSV upload) and by runserver, ``manage.py mllp_listen`` over a real socket, the CSV
import command, a Celery worker; every log they write is searched for the names, birth dates and matricules of the
identities involved."""
from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group

from identities.core import roles
from identities.core.models import Identity
from identities.interop import clients
from identities.interop.mllp import MllpClient
from identities.interop.models import ClientApplication, InboundMessage
from tests import processes
from tests.identities.interop.conftest import free_port
from tests.identities.interop.test_reception import a28
from tests.identities.workflows import people

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password-1"
CSV_HEADER = "nom_naissance;prenoms_naissance;date_naissance;sexe;lieu_naissance;matricule_ins;oid;identifiant_externe\n"
# What must never be found in a log: every trait and matricule of the identities the feeds carry.
SECRETS = [
    "ADRUN", "1975-12-31", "19751231", "31/12/1975", people.ADRUN_INS, people.ADRUN_INS[:13],  # FHIR import and searches
    "ECETINSI", "FLORIANT", "2009-07-14", "20090714", people.ECETINSI_INS, people.ECETINSI_INS[:13],  # HL7 A28
    "HOUILLES", "JACQUES", "1993-01-27", "27/01/1993",  # CSV import (command and upload)
    "VINCI", "LEONARDO", "2014-02-01", "01/02/2014",
]


def wait_until(condition, *, what: str, deadline: float = 90.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"still waiting for {what} after {deadline:.0f} s")
        time.sleep(0.3)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=30).status_code < 500
    except requests.ConnectionError:
        return False


class Logs:
    """Each process writes its standard output and error to a file of its own."""

    def __init__(self, folder: Path):
        self.folder, self.running = folder, []

    def start(self, name: str, command: list[str], **env) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("wb")
        process = processes.start(command, stdout=log, stderr=subprocess.STDOUT, **env)
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.running):
            processes.stop(process)

    def text(self) -> dict[str, str]:
        return {path.name: path.read_text(encoding="utf-8", errors="replace") for path in sorted(self.folder.glob("*.log"))}


def portal_session(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(f"{base}/login/", data={"username": "dominique.civ", "password": PASSWORD, "csrfmiddlewaretoken": token,
                                                "next": "/"}, headers={"Referer": f"{base}/login/"}, timeout=30)
    assert done.status_code == 200 and "sessionid" in session.cookies
    return session


def csrf_of(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


@pytest.fixture
def served(tmp_path, birthplaces, celery_queue, django_user_model, administrator):
    # Hashed as the served processes check it (the tests' own fast hasher is not theirs).
    civ = django_user_model.objects.create(username="dominique.civ", password=PBKDF2PasswordHasher().encode(PASSWORD, "feedlogs"))
    civ.groups.add(Group.objects.get(name=roles.CIV_MEMBER))
    token = clients.client_application_save(actor=administrator, application=ClientApplication(name="DPI", scopes="read import"))
    port, runserver_port, mllp_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"LOG_LEVEL": "INFO", "CELERY_TASK_DEFAULT_QUEUE": celery_queue, "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0",
           "INSI_ENDPOINT": f"{base}/insi-simulator/lps", "INSI_SIMULATOR_ENABLED": "1", "INSI_IDAM": "INSPORTAL-TEST",
           "INSI_RETRY_BACKOFF": "0"}
    logs = Logs(tmp_path)
    try:
        # Three workers: an import calls INSi, which the same server simulates.
        logs.start("gunicorn", ["-m", "gunicorn", "-c", "insportal/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
                   **env)
        logs.start("runserver", ["manage.py", "runserver", f"127.0.0.1:{runserver_port}", "--noreload"], **env)
        logs.start("mllp_listen", ["manage.py", "mllp_listen", "--host", "127.0.0.1", "--port", str(mllp_port)], **env)
        logs.start("worker", ["-m", "celery", "-A", "insportal", "worker", "-Q", celery_queue, "-c", "1", "-P", "prefork",
                              "--without-mingle", "--without-gossip", "--without-heartbeat"], **env)
        wait_until(lambda: answers(f"{base}/fhir/metadata"), what="gunicorn")
        wait_until(lambda: answers(f"http://127.0.0.1:{runserver_port}/fhir/metadata"), what="runserver")
        wait_until(lambda: "Écoute MLLP" in (tmp_path / "mllp_listen.log").read_text(errors="replace"), what="the MLLP listener")
        yield {"base": base, "runserver": f"http://127.0.0.1:{runserver_port}", "mllp": mllp_port, "token": token, "logs": logs,
               "env": env}
    finally:
        logs.stop_all()


def test_no_name_birth_date_or_matricule_reaches_any_log(served, tmp_path):
    base, fhir = served["base"], {"Authorization": f"Bearer {served['token']}", "Content-Type": "application/fhir+json"}
    # FHIR import: a Patient qualified by its sender (VALI + INS, FR Core 2.2.0), its INS verified with INSi; then a refused one.
    adrun = {"resourceType": "Patient", "identifier": [{"system": f"urn:oid:{people.NIR_TEST}", "value": people.ADRUN_INS}],
             "extension": [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
                            "extension": [{"url": "identityStatus", "valueCoding": {"code": "VALI"}}]}],
             "name": [{"use": "official", "family": "ADRUN", "given": ["ZOE"]}], "gender": "female", "birthDate": "1975-12-31"}
    assert requests.post(f"{base}/fhir/Patient/$import", data=json.dumps(adrun), headers=fhir, timeout=60).status_code == 201
    broken = adrun | {"birthDate": "31/12/1975", "name": [{"use": "official", "family": "ADRUN\u0000", "given": ["ZOE"]}]}
    assert requests.post(f"{base}/fhir/Patient/$import", data=json.dumps(broken), headers=fhir, timeout=60).status_code == 400
    # FHIR searches: every criterion travels in the query string.
    for query in ({"family": "ADRUN", "given": "ZOE", "birthdate": "1975-12-31"},
                  {"identifier": f"urn:oid:{people.NIR_TEST}|{people.ADRUN_INS}"}, {"family": "ADRUN\u0000"}):
        assert requests.get(f"{base}/fhir/Patient?{urllib.parse.urlencode(query)}", headers=fhir, timeout=60).status_code in (200, 400)
    # HL7 over MLLP to the listener process: one accepted, one refused.
    raw = a28(names="ECETINSI^PIERRE-ALAIN^PIERRE-ALAIN MURIEL FLORIANT^^^^L", birth="20090714", ins=people.ECETINSI_INS,
              patient="P-ECETINSI")
    with MllpClient("127.0.0.1", served["mllp"], timeout=60) as client:
        assert b"MSA|AA" in client.exchange(raw.replace(b"|F|||", b"|M|||"))
        assert b"MSA|AE" in client.exchange(raw.replace(b"20090714", b"20091314").replace(b"|M1|", b"|M2|"))
    # The anteriority search through both servers, signed in as the CIV.
    search = urllib.parse.urlencode({"nom": "ADRUN", "prenom": "ZOE", "naissance": "31/12/1975"})
    for server in (base, served["runserver"]):
        session = portal_session(server)
        assert session.get(f"{server}/identities/identity/?{search}", timeout=60).status_code == 200
    # CSV: uploaded through the portal, and by the command.
    page = session.get(f"{served['runserver']}/insi/import/", timeout=60)
    assert page.status_code == 200, page.url
    upload = session.post(f"{served['runserver']}/insi/import/", data={"csrfmiddlewaretoken": csrf_of(page.text)},
                          files={"file": ("recus.csv", (CSV_HEADER + "VINCI;LEONARDO;01/02/2014;M;;;;EXT-1\n").encode())},
                          headers={"Referer": page.url}, timeout=60)
    assert upload.status_code == 200 and "1 créée(s)" in upload.text
    csv_file = tmp_path / "recus.csv"
    csv_file.write_text(CSV_HEADER + "HOUILLES;PIERRE PAUL JACQUES;27/01/1993;M;;;;EXT-2\nHOUILLES;JACQUES;27/01/1993;X;;;;EXT-3\n")
    command = processes.start(["manage.py", "import_identities_csv", str(csv_file), "--user", "dominique.civ"],
                              stdout=subprocess.DEVNULL, **served["env"])
    assert command.wait(timeout=120) == 0
    command_log = command.stderr.read().decode()
    # Everything the feeds carried arrived (the run is real), then every process is stopped.
    wait_until(lambda: Identity.objects.filter(birth_name__in=["ADRUN", "ECETINSI", "VINCI", "HOUILLES"]).count() == 4,
               what="the four identities")
    assert InboundMessage.objects.filter(state="REJECTED").count() == 2
    served["logs"].stop_all()

    logs = served["logs"].text() | {"import_identities_csv.log": command_log}
    written = "".join(logs.values())
    assert '"GET /fhir/Patient HTTP/1.1" 200' in logs["gunicorn.log"]  # the access lines are there, without their query
    assert "GET /identities/identity/?… HTTP/1.1" in logs["runserver.log"]
    assert "HL7 message refused at PID-7" in logs["mllp_listen.log"]
    leaks = {(name, secret) for name, text in logs.items() for secret in SECRETS if secret in text}
    assert not leaks, f"personal data in the logs: {sorted(leaks)}"
    assert "Traceback" not in written or "(message withheld" in written
