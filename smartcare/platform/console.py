"""The Rich console the command line prints with."""

import sys

from rich.console import Console

# Piped or captured output gets a wide page, so tables of ids and references never wrap mid-value.
PIPE_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    """A console sized to the terminal, or PIPE_WIDTH columns when output is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)
