"""Chronic-disease follow-up in community health centres: hypertension and type 2 diabetes registries and visits."""
