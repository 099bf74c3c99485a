"""Regional data exchange: member institutions, their submissions (FHIR bundles, NDJSON, HL7 v2) and pulls."""
