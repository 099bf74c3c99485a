"""The clinical data repository: FHIR R4 store, search, bundles, operations and REST API."""
