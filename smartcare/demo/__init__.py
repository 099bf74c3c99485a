"""Deterministic, seedable generator of a fictional demo region as FHIR R4 transaction bundles."""

from smartcare.demo.generator import DEFAULT_AS_OF, count_region, generate_region

__all__ = ["DEFAULT_AS_OF", "count_region", "generate_region"]
