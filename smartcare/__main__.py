"""Run the smartcare command with `python -m smartcare`."""

from smartcare.cli import main

main()
