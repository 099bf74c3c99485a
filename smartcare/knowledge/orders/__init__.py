"""Orders for the doctor's workstation: the catalogue (catalogue.py) and order sets per condition (order_sets.py)."""
