"""FHIR R4 structural validation of resources before they are stored."""

from smartcare.fhir.validation.validator import ValidationIssue, known_resource_types, validate_resource

__all__ = ["ValidationIssue", "known_resource_types", "validate_resource"]
