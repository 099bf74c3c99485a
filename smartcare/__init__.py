"""SmartCare: the open smart medical care platform for a region."""

__version__ = "0.1.0"
