"""Pharmacy: the prescription audit (合理用药审方) and what it reads about the patient."""
