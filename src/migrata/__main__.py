"""``python -m migrata`` runs the command line."""

from migrata.cli import main

if __name__ == "__main__":
    main()
