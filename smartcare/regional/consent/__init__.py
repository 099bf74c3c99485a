"""Residents' choices about sharing their records across the region (FHIR Consent), and their app page."""
