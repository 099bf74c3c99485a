"""Patients' correction requests addressed to a hospital: the Tasks it owns, for its administrators to answer."""
