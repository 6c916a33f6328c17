"""Log output of the command: text or JSON lines on stderr, and optionally a
file, for log shippers. Every line goes through a filter that masks URLs,
so a database password never reaches a log."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from migrata.config import Settings
from migrata.errors import MigrataError
from migrata.util import mask_url

__all__ = ["configure", "report_error", "setup"]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_MARK = "_migrata_handler"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_ACTIVE: dict[str, Any] = {"format": "text", "file": False}


class _MaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_url(record.getMessage())
        record.args = ()
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _dt.datetime.fromtimestamp(record.created, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            data["exception"] = mask_url(self.formatException(record.exc_info))
        return json.dumps(data, default=str, ensure_ascii=False)


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (tests redirect it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(level: int, fmt: str = "text", log_file: Path | None = None) -> None:
    """(Re)configure the ``migrata`` logger for one command. ``level`` is what
    stderr shows (-q/-v); a log file always gets INFO and up (DEBUG with -v)."""
    _ACTIVE["format"], _ACTIVE["file"] = fmt, log_file is not None
    logger = logging.getLogger("migrata")
    for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(old)
        old.close()
    plain = logging.Formatter("%(message)s")
    handlers: list[logging.Handler] = [_Stderr()]
    handlers[0].setLevel(level)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))  # private before any line
        to_file = logging.FileHandler(log_file, encoding="utf-8")
        to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        to_file.setLevel(min(level, logging.INFO))
        handlers.append(to_file)
    for handler in handlers:
        if fmt == "json":
            handler.setFormatter(_JsonFormatter())
        elif handler.formatter is None:
            handler.setFormatter(plain)
        handler.addFilter(_MaskFilter())
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
    logger.setLevel(min(level, logging.INFO) if log_file is not None else level)
    logger.propagate = False
    if fmt == "text" and level <= logging.INFO:  # a progress bar for backfills and loads on a terminal
        from migrata.cli.progress import install

        install(handlers[:1])


def setup(opts: Mapping[str, Any], settings: Callable[[], Settings]) -> None:
    """Configure logging for a command from its options (-v/-q/--log-level/
    --debug, as collected from the command line) and the settings' log
    format and file, when they load (a bad setting is the command's to report)."""
    if opts.get("debug"):
        level = logging.DEBUG
    elif opts.get("log_level"):
        level = _LEVELS[str(opts["log_level"]).lower()]
    else:
        level = {0: logging.INFO, 1: logging.WARNING}.get(opts.get("quiet", 0), logging.ERROR)
        if opts.get("verbose"):
            level = logging.DEBUG
    fmt, log_file = opts.get("log_format"), opts.get("log_file")
    try:  # the settings resolve a relative --log-file against -C, as every path
        s = settings()
        fmt, log_file = s.log_format, s.log_file
    except MigrataError:
        pass
    configure(level, fmt or "text", Path(log_file) if log_file else None)


def report_error(message: str, hint: str | None, exit_code: int, kind: str) -> bool:
    """Put the command's final error into the logs. With JSON logs it goes to
    stderr as one JSON object (returns True: nothing else is printed); with
    text logs only a log file gets it (returns False: the caller prints the
    usual `error:`/`hint:` lines)."""
    as_json = _ACTIVE["format"] == "json"
    logger = logging.getLogger("migrata")
    extra = {"hint": hint, "exit_code": exit_code, "error": kind}
    if as_json:
        logger.error(message, extra=extra)
    elif _ACTIVE["file"]:
        for handler in logger.handlers:
            if isinstance(handler, logging.FileHandler) and getattr(handler, _MARK, False):
                record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, (), None, extra=extra)
                if handler.filter(record):
                    handler.handle(record)
    return as_json
