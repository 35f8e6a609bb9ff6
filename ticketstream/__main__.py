"""`python -m ticketstream` runs the CLI."""

from ticketstream.cli import main

main()
