"""Public medicine information in the patient app: search, a page per medicine and the together-checker."""
