"""The FHIR R4 API for other applications: read and search FR Core Patients, import a Patient from another domain (JSON only, a bearer token per application)."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from identities.core import selectors, traits
from identities.core.diffusion import shareable_ins
from identities.interop import clients, fhir, mllp, reception
from identities.interop import selectors as channel_selectors
from identities.interop.common import Evidence, LocalAuthority
from identities.interop.models import ClientApplication

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
_JSON_TYPES = ("json", "application/*", "*/*")  # what an Accept header or _format may ask for
SEARCH_PARAMETERS = {"identifier": "token", "family": "string", "given": "string", "birthdate": "date"}  # name → FHIR type
PAGING_PARAMETERS = ("_count", "_offset")
MAX_CRITERION = 200  # characters of one search value (a name is 100 at most)
MAX_IMPORT_BYTES = 1_000_000  # a posted Patient is a few kilobytes, like an HL7 message (mllp.MAX_MESSAGE_BYTES)


def _response(body: dict, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _problem(status: int, code: str, text: str, *, expression: str = "", **headers) -> HttpResponse:
    return _response(fhir.operation_outcome("error", code, text, expression=expression), status, **headers)


def _format_refusal(request) -> HttpResponse | None:
    wanted = request.GET.get("_format") or request.headers.get("Accept") or "*/*"
    if not any(kind in wanted for kind in _JSON_TYPES):
        return _problem(406, "not-supported", "Seul le format JSON (application/fhir+json) est proposé.")
    return None


def _refusal(request, scope: str) -> HttpResponse | None:
    """None when the request may go on: JSON wanted, a known application holding the scope."""
    refusal = _format_refusal(request)
    if refusal:
        return refusal
    application = clients.authorise(request.headers.get("Authorization", ""), scope)
    if isinstance(application, clients.Denial):
        return _problem(application.status, application.code, application.message, **application.headers)
    request.fhir_client = application
    return None


def _resources(identities) -> list[dict]:
    """FR Core Patients through the diffusion gate, evidence read in one query for the page."""
    checks = selectors.validating_checks([identity.pk for identity in identities])
    links = selectors.merge_links(identities)
    zone, authority = timezone.get_current_timezone(), LocalAuthority.from_settings(settings)
    return [
        fhir.patient_resource(identity, shareable_ins(identity), authority=authority, zone=zone, evidence=Evidence.of(checks.get(identity.pk)),
                              replaced_by=links[identity.pk][0], replaces=links[identity.pk][1])
        for identity in identities
    ]


@csrf_exempt
@require_GET
def patient_read(request, patient_id: str) -> HttpResponse:
    refusal = _refusal(request, ClientApplication.Scope.READ)
    if refusal:
        return refusal
    identity = channel_selectors.identity_by_uuid(patient_id)
    if identity is None:
        return _problem(404, "not-found", f"Patient/{patient_id} inconnu.")
    logger.info("FHIR read of identity %s by application %s", identity.pk, request.fhir_client.pk)
    return _response(_resources([identity])[0])


def _identifier_criteria(value: str) -> dict:
    """``system|value`` of the IPP authority or an INS authority, or a bare value (either)."""
    system, bar, code = value.partition("|")
    if not bar:
        return {"ipp": value, "matricule": value}
    if system == LocalAuthority.from_settings(settings).system:
        return {"ipp": code}
    oid = system.removeprefix("urn:oid:")
    if system.startswith("urn:oid:") and oid in fhir.INS_SLICES:
        return {"matricule": code, "ins_oid": oid}
    return {}


def _page_numbers(request) -> tuple[int, int]:
    count = int(request.GET.get("_count") or settings.FHIR_PAGE_SIZE)
    offset = int(request.GET.get("_offset") or 0)
    if count < 1 or not 0 <= offset <= settings.FHIR_MAX_OFFSET:
        raise ValueError
    return min(count, settings.FHIR_MAX_PAGE_SIZE), offset


def _criterion_refusal(request) -> HttpResponse | None:
    """A search value the database cannot compare (a NUL, another control character) or longer than any trait."""
    for name, value in request.GET.items():
        if len(value) > MAX_CRITERION:
            return _problem(400, "value", f"{name} : {MAX_CRITERION} caractères au plus.", expression=name)
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            return _problem(400, "value", f"{name} : caractère de contrôle interdit.", expression=name)
    return None


@csrf_exempt
@require_GET
def patient_search(request) -> HttpResponse:
    refusal = _refusal(request, ClientApplication.Scope.READ)
    if refusal:
        return refusal
    accepted = (*SEARCH_PARAMETERS, *PAGING_PARAMETERS)
    unknown = sorted(set(request.GET) - set(accepted) - {"_format"})
    if unknown:
        return _problem(400, "not-supported", f"Paramètre(s) non pris en charge : {', '.join(unknown)} "
                        f"(proposés : {', '.join(accepted)}).")
    refusal = _criterion_refusal(request)
    if refusal:
        return refusal
    try:
        count, offset = _page_numbers(request)
    except ValueError:
        return _problem(400, "value", f"_count doit être un entier positif et _offset un entier de 0 à {settings.FHIR_MAX_OFFSET} "
                        "(au-delà, précisez la recherche).")
    criteria = {"family": request.GET.get("family", ""), "given": request.GET.get("given", "")}
    birthdate = request.GET.get("birthdate", "").removeprefix("eq")
    if birthdate:
        try:
            criteria["birth_date"] = fhir.stored_date(birthdate)
        except traits.TraitError as error:
            return _problem(400, "value", f"birthdate : {error.message} (préfixe eq seul admis)", expression="birthdate")
    if "identifier" in request.GET:
        found = _identifier_criteria(request.GET["identifier"])
        if not found:
            return _response(fhir.search_bundle([], base_url=_base(request), self_url=request.build_absolute_uri()))
        criteria |= found
    if not any(criteria.values()):
        return _problem(400, "required", "Au moins un critère est exigé : identifier, family, given ou birthdate.")
    identities = channel_selectors.patient_search(**criteria, offset=offset, limit=count + 1)
    next_url, outcome = "", None
    if len(identities) > count:
        identities = identities[:count]
        if offset + count <= settings.FHIR_MAX_OFFSET:
            following = request.GET.copy()
            following["_offset"] = str(offset + count)
            next_url = request.build_absolute_uri(f"{request.path}?{following.urlencode()}")
        else:
            outcome = fhir.operation_outcome("warning", "too-costly", f"Résultats suivants non paginés au-delà de _offset={settings.FHIR_MAX_OFFSET} : "
                                             "précisez la recherche (prénom, date de naissance).")
    logger.info("FHIR search by application %s: %s result(s)", request.fhir_client.pk, len(identities))
    return _response(fhir.search_bundle(_resources(identities), base_url=_base(request),
                                        self_url=request.build_absolute_uri(), next_url=next_url, outcome=outcome))


def _base(request) -> str:
    """The service base URL, ``…/fhir/``."""
    return request.build_absolute_uri(reverse("fhir-patient-search").removesuffix("Patient"))


@csrf_exempt
@require_POST
def patient_import(request) -> HttpResponse:
    refusal = _refusal(request, ClientApplication.Scope.IMPORT)
    if refusal:
        return refusal
    declared = request.META.get("CONTENT_LENGTH", "")
    size = int(declared) if declared.isdigit() else 0
    if size > MAX_IMPORT_BYTES:
        # Read no further than what is kept of it (the same share as of an oversize HL7 message);
        # Django would refuse request.body past DATA_UPLOAD_MAX_MEMORY_SIZE with a page of its own.
        answer = reception.refuse_oversize_fhir(request.read(mllp.KEPT_BYTES), size, client_name=request.fhir_client.name,
                                                limit=MAX_IMPORT_BYTES)
    else:
        answer = reception.receive_fhir_patient(request.body, client_name=request.fhir_client.name,
                                                verify=reception.configured_verifier())
    headers = {"Location": _base(request) + answer.location} if answer.location else {}
    if answer.retry_after:
        headers["Retry-After"] = answer.retry_after
    return _response(answer.body, answer.status, **headers)


@require_GET
def capabilities(request) -> HttpResponse:
    """The CapabilityStatement, open to any caller (it holds no personal data): what a client may ask."""
    refusal = _format_refusal(request)
    if refusal:
        return refusal
    return _response(fhir.capability_statement(base_url=_base(request),
                                               published=timezone.localdate().isoformat(), search_parameters=SEARCH_PARAMETERS,
                                               max_count=settings.FHIR_MAX_PAGE_SIZE, max_offset=settings.FHIR_MAX_OFFSET))


urlpatterns = [
    path("metadata", capabilities, name="fhir-metadata"),
    path("Patient", patient_search, name="fhir-patient-search"),
    path("Patient/$import", patient_import, name="fhir-patient-import"),
    path("Patient/<str:patient_id>", patient_read, name="fhir-patient-read"),
]
