"""Names of the INSi protocol shared by the client and the simulator (namespaces, actions, codes)."""

SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
WSA_NS = "http://www.w3.org/2005/08/addressing"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
CTXLPS_NS = "urn:siram:lps:ctxlps"
CTXBAM_NS = "urn:siram:bam:ctxbam"
SIRAM_NS = "urn:siram"
RECSANS_NS = "http://www.cnamts.fr/INSiRecSans"
RECVIT_NS = "http://www.cnamts.fr/INSiRecVit"
RESULTAT_NS = "http://www.cnamts.fr/INSiResultat"

SERVICE_NAMESPACE = "http://www.cnamts.fr/webservice"
BINDING = f"{{{SERVICE_NAMESPACE}}}ICIRServiceBinding"

# WSDL operation names, also the suffix of their wsa:Action.
SEARCH_TRAITS = "rechercherInsAvecTraitsIdentite"
SEARCH_VITALE = "rechercherInsAvecCarteVitale"
ACTION_PREFIX = "urn:ServiceIdentiteCertifiee:1.0.0:"


def action_of(operation: str) -> str:
    return ACTION_PREFIX + operation


def response_action_of(operation: str) -> str:
    return action_of(operation) + "Response"


CTXLPS_VERSION = "01_00"
CTXBAM_VERSION = "01_02"
IDAM_REFERENCE = "4"  # the R attribute of IDAM: "CNDA authorisation number"

CR_FOUND = "00"
CR_NOT_FOUND = "01"
CR_SEVERAL = "02"
CR_LABELS = {
    CR_FOUND: "OK",
    CR_NOT_FOUND: "Aucune identite trouvee",
    CR_SEVERAL: "Plusieurs identites trouvees",
}

# Faults the teleservice documents (insi.md, "Faults").
SUBCODE_UNKNOWN_IDAM = "siram_100"
ERROR_UNKNOWN_IDAM = "desir_550"
SUBCODE_TECHNICAL = "siram_40"
ERROR_TECHNICAL = "insi_102"
ERROR_CERTIFICATE_CN = "DESIR_560"
ERROR_SEX = "insi_24"

CERTIFICATE_CNS = {"MANU": "INSI-MANU", "AUTO": "INSI-AUTO"}
