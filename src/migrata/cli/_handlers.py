"""The logging side of :mod:`migrata.cli.logs`: handlers, filters and
formatters, loaded only when something is logged (or a log file or JSON
logs are configured)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from migrata.backends.base import mask_url

__all__ = ["install", "record_error"]

_MARK = "_migrata_handler"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


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


def install(level: int, fmt: str, log_file: Path | None) -> None:
    """(Re)configure the ``migrata`` logger for one command (see logs.configure)."""
    logger = logging.getLogger("migrata")
    for handler in [h for h in logger.handlers if getattr(h, _MARK, False)]:
        logger.removeHandler(handler)
        if isinstance(handler, logging.FileHandler):
            handler.close()
    formatter: logging.Formatter = _JsonFormatter() if fmt == "json" else logging.Formatter("%(message)s")
    handlers: list[logging.Handler] = [_Stderr()]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            _JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
        )
        handlers.append(file_handler)
    handlers[0].setLevel(level)
    for handler in handlers[1:]:
        handler.setLevel(min(level, logging.INFO))
    for handler in handlers:
        if handler.formatter is None:
            handler.setFormatter(formatter)
        handler.addFilter(_MaskFilter())
        setattr(handler, _MARK, True)
        logger.addHandler(handler)
    logger.setLevel(min(level, logging.INFO) if log_file is not None else level)
    logger.propagate = False


def record_error(message: str, hint: str | None, exit_code: int, kind: str, *, as_json: bool) -> None:
    """The final error as a log record: on every handler with JSON logs, else
    on the log file only."""
    logger = logging.getLogger("migrata")
    extra = {"hint": hint, "exit_code": exit_code, "error": kind}
    if as_json:
        logger.error(message, extra=extra)
        return
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and getattr(handler, _MARK, False):
            record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, (), None, extra=extra)
            if handler.filter(record):
                handler.handle(record)
