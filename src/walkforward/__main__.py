"""``python -m walkforward`` runs the CLI."""

from walkforward.cli import main

if __name__ == "__main__":
    main()
