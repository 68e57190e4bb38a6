"""A real directory for the sign-in tests: Debian's slapd on a free loopback port, and an OpenID Connect provider.

Both are started by the tests and stopped by them (SIGTERM, then SIGKILL if slapd lingers).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.processes import free_port

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
LDAPADD = shutil.which("ldapadd") or "/usr/bin/ldapadd"
SUFFIX = "dc=hopital,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-password-for-tests-only"
READER_DN = f"cn=lecteur,ou=services,{SUFFIX}"
READER_PASSWORD = "reader-password-for-tests-only"


def _wait_for_port(port: int, process: subprocess.Popen, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"slapd stopped at start (exit {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"slapd does not listen on {port} after {seconds} s")


@dataclass
class Directory:
    uri: str
    base: str = SUFFIX

    def user_dn(self, uid: str) -> str:
        return f"uid={uid},ou=people,{self.base}"

    def group_dn(self, cn: str) -> str:
        return f"cn={cn},ou=groups,{self.base}"


_CONFIG = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {run}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {run}/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by dn.exact="{reader_dn}" read by self read by * none
"""

# Three people and three groups of the hospital's directory; "intrus" is in no group the portal knows.
_ENTRIES = """\
dn: {suffix}
objectClass: dcObject
objectClass: organization
o: Hopital de test
dc: hopital

dn: ou=people,{suffix}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{suffix}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{suffix}
objectClass: organizationalUnit
ou: services

dn: {reader_dn}
objectClass: person
objectClass: simpleSecurityObject
cn: lecteur
sn: lecteur
userPassword: {reader_password}

dn: uid=claude.civ,ou=people,{suffix}
objectClass: inetOrgPerson
uid: claude.civ
cn: Claude Martin
givenName: Claude
sn: Martin
mail: claude.civ@hopital.test
userPassword: claude-directory-password

dn: uid=lou.accueil,ou=people,{suffix}
objectClass: inetOrgPerson
uid: lou.accueil
cn: Lou Bernard
givenName: Lou
sn: Bernard
userPassword: lou-directory-password

dn: uid=alex.admin,ou=people,{suffix}
objectClass: inetOrgPerson
uid: alex.admin
cn: Alex Homonyme
sn: Homonyme
userPassword: alex-directory-password

dn: uid=intrus,ou=people,{suffix}
objectClass: inetOrgPerson
uid: intrus
cn: Intrus
sn: Intrus
userPassword: intrus-directory-password

dn: cn=GG-INS-CIV,ou=groups,{suffix}
objectClass: groupOfNames
cn: GG-INS-CIV
member: uid=claude.civ,ou=people,{suffix}

dn: cn=GG-INS-ACCUEIL,ou=groups,{suffix}
objectClass: groupOfNames
cn: GG-INS-ACCUEIL
member: uid=lou.accueil,ou=people,{suffix}
member: uid=claude.civ,ou=people,{suffix}
member: uid=alex.admin,ou=people,{suffix}

dn: cn=GG-COMPTA,ou=groups,{suffix}
objectClass: groupOfNames
cn: GG-COMPTA
member: uid=intrus,ou=people,{suffix}
"""


@contextmanager
def slapd():
    """A fresh directory for the session: its own config and database in a temporary folder."""
    values = {"suffix": SUFFIX, "root_dn": ROOT_DN, "root_password": ROOT_PASSWORD, "reader_dn": READER_DN,
              "reader_password": READER_PASSWORD}
    with tempfile.TemporaryDirectory(prefix="insportal-slapd-") as folder:
        run = Path(folder)
        (run / "data").mkdir()
        (run / "slapd.conf").write_text(_CONFIG.format(run=run, **values), encoding="utf-8")
        port = free_port()
        uri = f"ldap://127.0.0.1:{port}"
        # -d 0: stay in the foreground (the test owns the process), log nothing.
        process = subprocess.Popen(
            [SLAPD, "-f", str(run / "slapd.conf"), "-h", uri + "/", "-d", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            _wait_for_port(port, process)
            subprocess.run(
                [LDAPADD, "-x", "-H", uri, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
                input=_ENTRIES.format(**values), text=True, check=True, capture_output=True, timeout=30,
            )
            yield Directory(uri=uri)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@contextmanager
def oidc_provider():
    """oidc-provider-mock (Authlib) on a free loopback port, in a thread; yields its base URL."""
    import oidc_provider_mock
    import werkzeug.serving

    app = oidc_provider_mock.app(require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
