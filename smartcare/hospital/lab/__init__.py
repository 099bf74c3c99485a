"""The laboratory: specimens and accession labels, result entry, review, release, corrections and critical values."""
