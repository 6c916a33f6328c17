"""``python -m migrata`` runs the command line."""

from migrata.cli import run

if __name__ == "__main__":
    run()
