"""A progress bar for backfills and data loads on a terminal.

The library reports progress as log records of ``migrata.backfill`` and
``migrata.data`` carrying a ``backfill`` attribute (label, rows done, total);
on a terminal this handler draws them as a rich progress bar (rich is
imported with the first such record) and keeps the periodic progress lines
off the screen. Elsewhere those records are not shown and the lines are.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["install"]

_LOGGERS = ("migrata.backfill", "migrata.data")


class _BarHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        info = getattr(record, "backfill", None)
        if info is None:
            return
        if self.progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self.progress.start()
        label = str(info.get("label"))
        task = self.tasks.get(label)
        if task is None:
            task = self.tasks[label] = self.progress.add_task(label, total=info.get("total"))
        self.progress.update(task, completed=info.get("done", 0), total=info.get("total"))
        if info.get("status") == "done":
            self.progress.stop_task(task)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        super().close()


class _NoProgressLines(logging.Filter):
    """On a terminal the bar replaces the periodic progress lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "backfill_line", False)


def install(handlers: list[logging.Handler]) -> logging.Handler | None:
    """When stderr is a terminal: the bar handler on the progress loggers,
    and the text ``handlers`` told to leave the progress lines to it."""
    if not sys.stderr.isatty():
        return None
    bar = _BarHandler()
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if isinstance(h, _BarHandler)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(bar)
        logger.setLevel(logging.DEBUG)
    for handler in handlers:
        handler.addFilter(_NoProgressLines())
    return bar
