"""Log output of the command: text or JSON lines on stderr, and optionally a
file, for log shippers. Every line goes through a filter that masks URLs,
so a database password never reaches a log.

Plain text on stderr is configured when the first line is logged (most
reporting commands log nothing, and never load :mod:`logging`); a log file or
JSON logs are configured at once. The handlers live in
:mod:`migrata.cli._handlers`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from migrata import _lazy
from migrata.errors import MigrataError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from migrata.config import Settings

__all__ = ["configure", "report_error", "setup"]

# logging's levels, without importing logging
DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR}

_ACTIVE: dict[str, Any] = {"format": "text", "file": False}


def configure(level: int, fmt: str = "text", log_file: Path | None = None) -> None:
    """(Re)configure the ``migrata`` logger for one command. ``level`` is what
    stderr shows (-q/-v); a log file always gets INFO and up (DEBUG with -v)."""
    from migrata.cli._handlers import install

    _ACTIVE["format"], _ACTIVE["file"] = fmt, log_file is not None
    install(level, fmt, log_file)


def setup(opts: Mapping[str, Any], settings: Callable[[], Settings]) -> None:
    """Configure logging for a command from its options (-v/-q/--log-level/
    --debug; ``opts`` as collected from the command line) and the settings'
    log format and file, when they load (a bad setting is the command's to
    report)."""
    if opts.get("debug"):
        level = DEBUG
    elif opts.get("log_level"):
        level = _LEVELS[str(opts["log_level"]).lower()]
    else:
        level = {0: INFO, 1: WARNING}.get(opts.get("quiet", 0), ERROR)
        if opts.get("verbose"):
            level = DEBUG
    fmt, log_file = opts.get("log_format"), opts.get("log_file")
    try:  # the settings resolve a relative --log-file against -C, as every path
        s = settings()
        fmt, log_file = s.log_format, s.log_file
    except MigrataError:
        pass
    fmt = fmt or "text"
    path = Path(log_file) if log_file else None
    if fmt == "text" and path is None:
        _ACTIVE["format"], _ACTIVE["file"] = fmt, False
        _lazy.on_first_use(lambda: configure(level, fmt, None), level)
    else:
        configure(level, fmt, path)


def report_error(message: str, hint: str | None, exit_code: int, kind: str) -> bool:
    """Put the command's final error into the logs. With JSON logs it goes to
    stderr as one JSON object (returns True: nothing else is printed); with
    text logs only a log file gets it (returns False: the caller prints the
    usual `error:`/`hint:` lines)."""
    as_json = _ACTIVE["format"] == "json"
    if as_json or _ACTIVE["file"]:
        from migrata.cli._handlers import record_error

        _lazy.get("migrata")  # any pending configuration first
        record_error(message, hint, exit_code, kind, as_json=as_json)
    return as_json
