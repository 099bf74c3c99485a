"""In-patient care: wards, rooms and beds, admission, transfer, nursing vitals with NEWS2, and discharge."""
