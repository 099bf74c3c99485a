"""Research: de-identified extracts of the region's records for researchers."""
