"""The INSi client: searches and verification over mutual TLS, with retries and one exchange-log row per attempt.

The workflow layer calls ``get_client()`` then ``search_by_traits``, ``search_with_vitale``
or ``verify`` with a ``CallContext``; it gets typed outcomes back (insi.types) and never
sees zeep, XML or HTTP.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import requests
import zeep
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from zeep.settings import Settings

from insi import protocol, verification
from insi.envelope import soap_headers
from insi.errors import InsiConfigurationError
from insi.exchanges import exchange_create
from insi.parsing import parse_search_body, read_response
from insi.tls import ClientCertificate, SSLContextAdapter, certificate_common_name, client_ssl_context
from insi.transport import CapturingTransport, load_document
from insi.types import (
    CallContext,
    FailureKind,
    Found,
    Mode,
    Outcome,
    SearchOutcome,
    TraitsQuery,
    TransportFailure,
    VerificationOutcome,
    VerificationQuery,
    VitaleQuery,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InsiConfig:
    """Everything the client needs, read once from the INSI_* settings."""

    wsdl: str
    endpoint: str
    idam: str
    lps_name: str
    lps_version: str
    instance_id: str
    emitter: str
    timeout: float
    ca_bundle: str = ""
    certificates: Mapping[Mode, ClientCertificate | None] = field(default_factory=dict)
    retry_attempts: int = 3
    retry_backoff: float = 1.0

    @classmethod
    def from_settings(cls) -> InsiConfig:
        def certificate(mode: str) -> ClientCertificate | None:
            path = getattr(settings, f"INSI_{mode}_CERT")
            if not path:
                return None
            return ClientCertificate(
                path=path,
                key_path=getattr(settings, f"INSI_{mode}_KEY"),
                password=getattr(settings, f"INSI_{mode}_PASSWORD"),
            )

        return cls(
            wsdl=str(settings.INSI_WSDL),
            endpoint=settings.INSI_ENDPOINT,
            idam=settings.INSI_IDAM,
            lps_name=settings.INSI_LPS_NAME,
            lps_version=settings.INSI_LPS_VERSION,
            instance_id=settings.INSI_INSTANCE_ID,
            emitter=settings.INSI_EMITTER,
            timeout=settings.INSI_TIMEOUT,
            ca_bundle=settings.INSI_CA_BUNDLE,
            certificates={mode: certificate(mode) for mode in Mode},
            retry_attempts=settings.INSI_RETRY_ATTEMPTS,
            retry_backoff=settings.INSI_RETRY_BACKOFF,
        )


class InsiClient:
    """A client for one configuration; thread-safe, meant to be shared (see ``get_client``)."""

    def __init__(self, config: InsiConfig, *, extra_http_headers: Mapping[str, str] | None = None):
        if not config.timeout or config.timeout <= 0:
            raise InsiConfigurationError("INSI_TIMEOUT must be a positive number of seconds")
        self.config = config
        self._extra_http_headers = dict(extra_http_headers or {})
        self._services: dict[Mode, tuple[zeep.Client, CapturingTransport, object]] = {}
        self._lock = threading.Lock()

    def search_by_traits(self, query: TraitsQuery, *, context: CallContext) -> SearchOutcome:
        body = {
            "NomNaissance": query.birth_name,
            "Prenom": [query.given_name],
            "Sexe": query.sex,
            "DateNaissance": str(query.birth_date),
            "LieuNaissance": query.birthplace or None,
        }
        return self._call(protocol.SEARCH_TRAITS, body, context, parse_search_body, couverture={})

    def search_with_vitale(self, query: VitaleQuery, *, context: CallContext) -> SearchOutcome:
        body = {
            "MatriculeIndividu": {"NumIdentifiant": query.beneficiary_number, "Cle": query.beneficiary_key},
            "MatriculeOD": (
                {"NumIdentifiant": query.insured_number, "Cle": query.insured_key} if query.insured_number else None
            ),
            "NomNaissance": query.birth_name,
            "DateNaissance": query.birth_date,
            "RangNaissance": query.birth_rank,
        }
        return self._call(protocol.SEARCH_VITALE, body, context, parse_search_body, couverture=_couverture(query))

    def verify(self, query: VerificationQuery, *, context: CallContext) -> VerificationOutcome:
        """PROVISIONAL messages (insi/verification.py); needs a WSDL that declares the operation."""
        return self._call(
            verification.OPERATION, verification.request_body(query), context, verification.parse_body, couverture={}
        )

    def _call(self, operation: str, body: dict, context: CallContext, parse, *, couverture: dict) -> Outcome:
        attempt = 1
        while True:
            outcome = self._attempt(operation, body, context, parse, couverture=couverture, attempt=attempt)
            # Only technical failures are retried: a functional answer would come back the same.
            if not outcome.technical or attempt >= self.config.retry_attempts:
                return outcome
            time.sleep(self.config.retry_backoff * 2 ** (attempt - 1))
            attempt += 1

    def _attempt(self, operation, body, context, parse, *, couverture, attempt) -> Outcome:
        client, transport, service = self._service(context.mode)
        operation_method = getattr(service, operation, None)
        if operation_method is None:
            raise InsiConfigurationError(f"the loaded INSi WSDL has no operation {operation}")
        message_uuid = str(uuid.uuid4())
        started_at = timezone.now()
        headers = soap_headers(
            client,
            message_uuid=message_uuid,
            action=client.wsdl.bindings[protocol.BINDING].get(operation).soapaction,
            sent_at=started_at.replace(microsecond=0),
            idam=self.config.idam,
            lps_name=self.config.lps_name,
            lps_version=self.config.lps_version,
            instance_id=self.config.instance_id,
            emitter=self.config.emitter,
            couverture=couverture,
            assertions=context.assertions,
        )
        clock = time.monotonic()
        with transport.capture() as capture:
            outcome = _post_and_read(lambda: operation_method(_soapheaders=headers, **body), parse)
        duration_ms = round((time.monotonic() - clock) * 1000)
        exchange = exchange_create(
            operation=operation,
            context=context,
            message_id=f"uuid:{message_uuid}",
            attempt=attempt,
            endpoint=self.config.endpoint,
            started_at=started_at,
            duration_ms=duration_ms,
            capture=capture,
            outcome=outcome,
        )
        logger.info(
            "INSi call exchange=%s operation=%s mode=%s attempt=%s code=%s duration_ms=%s",
            exchange.pk, operation, context.mode, attempt, outcome.code, duration_ms,
        )
        if isinstance(outcome, Found):
            _warn_on_bad_keys(outcome, exchange.pk)
        return replace(outcome, exchange_id=exchange.pk, attempts=attempt)

    def _service(self, mode: Mode):
        """The zeep client of one mode (its own TLS identity), built on first use."""
        with self._lock:
            if mode not in self._services:
                self._services[mode] = self._build_service(mode)
            return self._services[mode]

    def _build_service(self, mode: Mode):
        session = requests.Session()
        session.verify = self.config.ca_bundle or True
        context = _ssl_context(self.config.certificates.get(mode), mode, self.config.ca_bundle)
        session.mount("https://", SSLContextAdapter(context))
        transport = CapturingTransport(session=session, operation_timeout=self.config.timeout)
        session.headers["User-Agent"] = f"{self.config.lps_name}/{self.config.lps_version}"
        client = zeep.Client(
            load_document(self.config.wsdl),
            transport=transport,
            # Responses are read by insi.parsing (tolerant of prefixes and order), not by zeep.
            settings=Settings(raw_response=True, extra_http_headers=self._extra_http_headers or None),
        )
        return client, transport, client.create_service(protocol.BINDING, self.config.endpoint)


def _ssl_context(certificate: ClientCertificate | None, mode: Mode, ca_bundle: str):
    """The mode's TLS identity; the service refuses any CN but INSI-MANU/INSI-AUTO, so check it here first."""
    expected = protocol.CERTIFICATE_CNS[mode]
    try:
        if certificate is not None and (common_name := certificate_common_name(certificate)) != expected:
            raise InsiConfigurationError(f"the {mode} certificate has CN {common_name!r}; INSi accepts only {expected!r}")
        return client_ssl_context(certificate, ca_bundle)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise InsiConfigurationError(f"INSi TLS configuration unusable: {exc}") from exc


def _post_and_read(post: Callable[[], requests.Response], parse) -> Outcome:
    try:
        response = post()
    except requests.Timeout as exc:
        return TransportFailure(kind=FailureKind.TIMEOUT, message=_reason(exc))
    except requests.exceptions.SSLError as exc:
        return TransportFailure(kind=FailureKind.TLS, message=_reason(exc))
    except requests.ConnectionError as exc:
        return TransportFailure(kind=FailureKind.CONNECTION, message=_reason(exc))
    return read_response(response.status_code, response.content, parse)


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def _couverture(query: VitaleQuery) -> dict:
    couverture = {
        "GrandRegime": query.regime or None,
        "Organisme": query.fund or None,
        "CodeCentre": query.centre or None,
        "BENEFICIAIRE": {
            "Nir": {"Num": query.beneficiary_number, "Cle": query.beneficiary_key},
            "DateNai": query.birth_date,
            "Rang": int(query.birth_rank) if query.birth_rank.isdigit() else None,
        },
    }
    if query.insured_number:
        couverture["ASSURE"] = {"Id": {"Num": query.insured_number, "Cle": query.insured_key}}
    return couverture


def _warn_on_bad_keys(found: Found, exchange_id: int) -> None:
    # INSi is authoritative: the number is kept as returned, the anomaly only logged (without the number).
    for position, number in [("active", found.active), *((f"history[{i}]", n) for i, n in enumerate(found.history))]:
        if not number.key_checks:
            logger.warning("INSi returned a matricule whose key does not check exchange=%s entry=%s", exchange_id, position)


@functools.cache
def get_client() -> InsiClient:
    """The process-wide client built from settings (rebuilt when an INSI_* setting changes)."""
    return InsiClient(InsiConfig.from_settings())


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs) -> None:
    if setting.startswith("INSI_"):
        get_client.cache_clear()
