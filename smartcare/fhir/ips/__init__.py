"""International Patient Summary: build, check and import IPS documents (HL7 FHIR IPS IG, R4)."""
