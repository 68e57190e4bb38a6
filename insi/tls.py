"""TLS for the teleservice: the client-certificate SSL context (PEM or PKCS#12) and its requests adapter."""
from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    pkcs12,
)
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from insi.errors import InsiConfigurationError

_PKCS12_SUFFIXES = {".p12", ".pfx"}


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate: a PKCS#12 file, or a PEM certificate with its key (same file when key_path is empty)."""

    path: str
    key_path: str = ""
    password: str = ""

    @property
    def is_pkcs12(self) -> bool:
        return Path(self.path).suffix.lower() in _PKCS12_SUFFIXES


def certificate_common_name(certificate: ClientCertificate) -> str:
    """The CN of the certificate's subject (INSi accepts only INSI-MANU and INSI-AUTO)."""
    data = _read(certificate.path)
    if certificate.is_pkcs12:
        cert = _load_pkcs12(certificate, data).cert.certificate
    else:
        cert = x509.load_pem_x509_certificate(data)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def client_ssl_context(certificate: ClientCertificate | None, ca_bundle: str) -> ssl.SSLContext:
    """A context that verifies the server against ``ca_bundle`` (system CAs when empty) and presents ``certificate``."""
    context = ssl.create_default_context(cafile=ca_bundle or None)
    if certificate is None:
        return context
    if not certificate.is_pkcs12:
        context.load_cert_chain(certificate.path, certificate.key_path or None, certificate.password or None)
        return context
    # ssl can only load a chain from files: write the PKCS#12 content as PEM, its key
    # encrypted with a throwaway password, to a private temporary file removed at once.
    bundle = _load_pkcs12(certificate, _read(certificate.path))
    throwaway = secrets.token_urlsafe(32)
    pem = bundle.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(throwaway.encode()))
    pem += bundle.cert.certificate.public_bytes(Encoding.PEM)
    pem += b"".join(extra.certificate.public_bytes(Encoding.PEM) for extra in bundle.additional_certs)
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        context.load_cert_chain(path, password=throwaway)
    finally:
        os.unlink(path)
    return context


class SSLContextAdapter(HTTPAdapter):
    """A requests adapter whose connections all use one prepared SSL context."""

    def __init__(self, context: ssl.SSLContext, **kwargs):
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = self._context
        return super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args, **kwargs):
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InsiConfigurationError(f"INSi certificate file unreadable: {path} ({exc.strerror})") from exc


def _load_pkcs12(certificate: ClientCertificate, data: bytes) -> pkcs12.PKCS12KeyAndCertificates:
    try:
        bundle = pkcs12.load_pkcs12(data, certificate.password.encode() or None)
    except ValueError as exc:
        raise InsiConfigurationError(f"INSi PKCS#12 file cannot be opened (wrong password?): {certificate.path}") from exc
    if bundle.key is None or bundle.cert is None:
        raise InsiConfigurationError(f"INSi PKCS#12 file holds no key or no certificate: {certificate.path}")
    return bundle
