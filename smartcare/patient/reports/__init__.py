"""The patient's lab reports, explained in plain language."""
