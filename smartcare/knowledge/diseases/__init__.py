"""Diseases: the ICD-10 classification with English and Chinese titles (see icd10.py)."""
