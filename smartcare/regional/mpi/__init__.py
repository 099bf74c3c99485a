"""Master patient index: normalise, compare and link records of the same person across institutions."""

# The match probability from which batch linkage reports a pair (the CLI's --threshold default).
DEFAULT_THRESHOLD = 0.9
