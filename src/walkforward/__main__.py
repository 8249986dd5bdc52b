"""``python -m walkforward`` runs the CLI."""

from walkforward.cli import main

main()
