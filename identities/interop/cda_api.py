"""The CDA API for document producers: the CI-SIS ``recordTarget`` of a patient, to put in the
CDA R2 documents they write (a bearer token per application, scope ``read``)."""
from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from lxml import etree

from identities.core.diffusion import shareable_ins
from identities.core.selectors import surviving_identity
from identities.interop import cda, clients, selectors
from identities.interop.common import LocalAuthority
from identities.interop.models import ClientApplication

logger = logging.getLogger(__name__)


def _text(message: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8", headers=headers)


@require_GET
def record_target(request, patient_id: str) -> HttpResponse:
    """``recordTarget/patientRole`` of the patient whose internal id (UUID) is ``patient_id``
    (of its survivor when it was merged): the INS only through the diffusion gate (a qualified
    identity), the local IPP always."""
    application = clients.authorise(request.headers.get("Authorization", ""), ClientApplication.Scope.READ)
    if isinstance(application, clients.Denial):
        return _text(application.message, application.status, application.headers)
    identity = selectors.identity_by_uuid(patient_id)
    if identity is None:
        return _text(f"Patient {patient_id} inconnu.", 404)
    # A merged record's documents are written for the identity that absorbed it.
    identity = surviving_identity(identity)
    logger.info("CDA recordTarget of identity %s for application %s", identity.pk, application.pk)
    fragment = cda.record_target(identity, shareable_ins(identity), authority=LocalAuthority.from_settings(settings))
    return HttpResponse(etree.tostring(fragment, xml_declaration=True, encoding="UTF-8"), content_type="application/xml; charset=utf-8")


urlpatterns = [
    path("Patient/<str:patient_id>/recordTarget", record_target, name="cda-record-target"),
]
