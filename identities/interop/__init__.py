"""Interoperability formats (datamatrix, HL7 v2, FHIR, CDA): pure serializers and parsers behind the diffusion gate."""
