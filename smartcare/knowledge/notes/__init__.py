"""Clinical note templates (SOAP) per department (see templates.py)."""
