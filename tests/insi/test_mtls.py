"""Mutual TLS with throwaway certificates: the mode picks INSI-MANU or INSI-AUTO, PEM or PKCS#12, CA verified."""
import datetime
import ipaddress
import ssl
from pathlib import Path
from unittest import mock

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from insi.client import get_client
from insi.errors import InsiConfigurationError
from insi.models import Exchange
from insi.simulator import views
from insi.simulator.server import serve
from insi.types import CallContext, FailureKind, Found, TraitsQuery, TransportFailure

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass"
QUERY = TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31")


class Pki:
    """A throwaway CA and the certificates signed by it, written under ``folder``."""

    def __init__(self, folder: Path, name: str):
        self.folder = folder
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_cert = self._certificate(name, self.ca_key.public_key(), ca=True)
        self.ca_path = self._write(f"{name}.pem", self._pem(self.ca_cert))

    def _certificate(self, common_name, public_key, *, ca=False, san=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "STRUCTURE-TEST"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        issuer = subject if ca else self.ca_cert.subject
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def issue(self, common_name, *, san=None):
        key = ec.generate_private_key(ec.SECP256R1())
        return key, self._certificate(common_name, key.public_key(), san=san)

    def pem_pair(self, common_name, *, password=None):
        """Certificate and key in two files, the key encrypted when a password is given."""
        key, cert = self.issue(common_name)
        encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
        key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        return self._write(f"{common_name}.crt", self._pem(cert)), self._write(f"{common_name}.key", key_bytes)

    def pem_combined(self, common_name):
        key, cert = self.issue(common_name)
        key_bytes = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return self._write(f"{common_name}-combined.pem", self._pem(cert) + key_bytes)

    def pkcs12(self, common_name, password):
        key, cert = self.issue(common_name)
        data = pkcs12.serialize_key_and_certificates(
            common_name.encode(), key, cert, [self.ca_cert], serialization.BestAvailableEncryption(password.encode())
        )
        return self._write(f"{common_name}.p12", data)

    @staticmethod
    def _pem(cert):
        return cert.public_bytes(serialization.Encoding.PEM)

    def _write(self, name, data):
        path = self.folder / name
        path.write_bytes(data)
        return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"), "CA-TEST-INSI")


@pytest.fixture(scope="module")
def tls_simulator_url(pki):
    """The simulator behind a loopback TLS server that requires a client certificate from the test CA."""
    key, cert = pki.issue("localhost", san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    server_cert = pki._write("server.crt", pki._pem(cert))
    server_key = pki._write(
        "server.key",
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.ca_path)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    with serve(ssl_context=context) as url:
        yield url


@pytest.fixture
def on_tls_simulator(tls_simulator_url, insi_settings, pki):
    insi_settings.INSI_ENDPOINT = tls_simulator_url
    insi_settings.INSI_CA_BUNDLE = pki.ca_path
    insi_settings.INSI_MANU_CERT, insi_settings.INSI_MANU_KEY = pki.pem_pair("INSI-MANU", password=PASSWORD)
    insi_settings.INSI_MANU_PASSWORD = PASSWORD
    insi_settings.INSI_AUTO_CERT = pki.pkcs12("INSI-AUTO", PASSWORD)
    insi_settings.INSI_AUTO_KEY = ""
    insi_settings.INSI_AUTO_PASSWORD = PASSWORD
    return insi_settings


@pytest.fixture
def presented_cns():
    """The client CN the simulator saw on each request."""
    with mock.patch.object(views, "_check_caller", wraps=views._check_caller) as spy:
        yield lambda: [call.args[0].META.get("SSL_CLIENT_S_DN_CN") for call in spy.call_args_list]


def test_a_user_triggered_call_presents_the_insi_manu_pem_certificate(on_tls_simulator, front_desk, presented_cns):
    outcome = get_client().search_by_traits(QUERY, context=CallContext.manual(front_desk))

    assert isinstance(outcome, Found)
    assert presented_cns() == ["INSI-MANU"]


def test_an_automatic_call_presents_the_insi_auto_pkcs12_certificate(on_tls_simulator, automatic, presented_cns):
    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, Found)
    assert presented_cns() == ["INSI-AUTO"]


def test_a_pem_file_holding_certificate_and_key_works(on_tls_simulator, automatic, pki, presented_cns):
    on_tls_simulator.INSI_AUTO_CERT = pki.pem_combined("INSI-AUTO")
    on_tls_simulator.INSI_AUTO_PASSWORD = ""

    assert isinstance(get_client().search_by_traits(QUERY, context=automatic), Found)
    assert presented_cns() == ["INSI-AUTO"]


def test_a_certificate_with_another_cn_is_refused_before_any_call(on_tls_simulator, automatic, pki):
    on_tls_simulator.INSI_AUTO_CERT = pki.pkcs12("INSI-MANU", PASSWORD)

    with pytest.raises(InsiConfigurationError, match="INSI-AUTO"):
        get_client().search_by_traits(QUERY, context=automatic)
    assert not Exchange.objects.exists()


def test_a_wrong_pkcs12_password_is_a_configuration_error(on_tls_simulator, automatic):
    on_tls_simulator.INSI_AUTO_PASSWORD = "wrong"

    with pytest.raises(InsiConfigurationError, match="password"):
        get_client().search_by_traits(QUERY, context=automatic)


def test_the_simulator_answers_desir_560_to_a_certificate_with_another_cn(on_tls_simulator, automatic, pki):
    sent = get_client().search_by_traits(QUERY, context=automatic)
    cert, key = pki.pem_pair("CABINET-DUPONT")
    # The same request by hand: the portal's own client refuses to load such a certificate.
    answer = requests.post(
        on_tls_simulator.INSI_ENDPOINT,
        data=bytes(Exchange.objects.get(pk=sent.exchange_id).request_body),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
        cert=(cert, key),
        verify=pki.ca_path,
        timeout=5,
    )

    assert answer.status_code == 500
    assert b'code="DESIR_560"' in answer.content


def test_without_a_client_certificate_the_call_fails_and_is_not_retried(on_tls_simulator, automatic):
    on_tls_simulator.INSI_AUTO_CERT = ""

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == FailureKind.TLS
    assert outcome.attempts == 1


def test_a_server_certificate_from_another_ca_is_refused(on_tls_simulator, automatic, tmp_path):
    on_tls_simulator.INSI_CA_BUNDLE = Pki(tmp_path, "OTHER-CA").ca_path

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == FailureKind.TLS
    assert outcome.attempts == 1
