"""The SOAP headers of every INSi request, in the declared order, built from the loaded WSDL's types."""
from __future__ import annotations

from datetime import datetime

import zeep
from lxml import etree

from insi import protocol
from insi.parsing import MalformedMessage, parse_xml


def soap_headers(
    client: zeep.Client,
    *,
    message_uuid: str,
    action: str,
    sent_at: datetime,
    idam: str,
    lps_name: str,
    lps_version: str,
    instance_id: str,
    emitter: str,
    couverture: dict,
    assertions: tuple[bytes, ...] = (),
) -> list:
    """wsse:Security (card mode only), ContexteLPS, wsa:MessageID, ContexteBAM, wsa:Action."""
    element = client.get_element
    headers = []
    if assertions:
        headers.append(_security(assertions))
    headers.append(
        element(f"{{{protocol.CTXLPS_NS}}}ContexteLPS")(
            Id=message_uuid,
            Temps=sent_at,
            Emetteur=emitter or None,
            LPS={
                "IDAM": {"_value_1": idam, "R": protocol.IDAM_REFERENCE},
                "Version": lps_version,
                "Instance": instance_id,
                "Nom": f"urn:lps:{lps_name}:{lps_version}",
            },
            Version=protocol.CTXLPS_VERSION,
            Nature="CTXLPS",
        )
    )
    # "uuid:" and not "urn:uuid:": the form the service expects.
    headers.append(element(f"{{{protocol.WSA_NS}}}MessageID")(f"uuid:{message_uuid}"))
    headers.append(
        element(f"{{{protocol.CTXBAM_NS}}}ContexteBAM")(
            Id=message_uuid,
            Temps=sent_at,
            Emetteur=emitter or None,
            COUVERTURE=couverture,
            Version=protocol.CTXBAM_VERSION,
        )
    )
    headers.append(element(f"{{{protocol.WSA_NS}}}Action")(action))
    return headers


def _security(assertions: tuple[bytes, ...]) -> etree._Element:
    # The assertions are signed by the card middleware: inserted as parsed, never rebuilt.
    security = etree.Element(f"{{{protocol.WSSE_NS}}}Security", nsmap={"wsse": protocol.WSSE_NS})
    for assertion in assertions:
        try:
            security.append(parse_xml(assertion))
        except MalformedMessage as exc:
            raise ValueError(f"a card assertion is not usable XML: {exc}") from exc
    return security
