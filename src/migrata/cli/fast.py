"""``status``, ``check`` and ``current`` without click.

The commands readiness probes and CI scripts run most often answer through
the same library calls and printing functions as the click commands
(:mod:`migrata.cli.reports`); only the parsing differs, and anything the small
parser in :mod:`migrata.cli.argv` does not understand goes to click.
"""

from __future__ import annotations

from migrata.cli.argv import load_from_options, parse_reporting

__all__ = ["run"]


def run(args: list[str]) -> int | None:
    """Run a reporting command and return its exit code; None: not one."""
    parsed = parse_reporting(args)
    if parsed is None:
        return None
    command, opts, as_json = parsed
    from migrata import api
    from migrata.cli.logs import setup
    from migrata.cli.reports import show_check, show_current, show_status
    from migrata.config import Settings

    loaded: list[Settings] = []

    def settings() -> Settings:
        if not loaded:
            loaded.append(load_from_options(opts))
        return loaded[0]

    setup(opts, settings)
    if command == "status":
        return show_status(api.status(settings()), as_json)
    if command == "check":
        return show_check(api.check(settings()), as_json)
    return show_current(api.current(settings()), as_json)
