"""Pharmacy: signing prescriptions, the pharmacist's review and labels, and reading the audit's patient facts."""
