"""Interoperability: HL7 v2 PAM-FR, FHIR FR Core, CDA and MLLP (pure builders and parsers), the outbox, identities received from other domains, the FHIR and CDA APIs and their client applications."""
