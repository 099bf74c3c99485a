"""Supervision: per-facility quality indicators for the health supervision department, computed from the region's records."""
