"""Things made on first use: loggers and regular expressions.

**Loggers** import :mod:`logging` when first used.

Reporting commands (``status``, ``check``) usually log nothing; importing
and configuring :mod:`logging` would be most of their fixed cost. Modules
take a :class:`LazyLogger` instead of ``logging.getLogger``; the command line
registers its configuration with :func:`on_first_use`, which runs it just
before the first logger is made (and at once when one already was).

**Patterns** (:func:`pattern`) compile on their first match: a command pays
only for the expressions its input needs (SQL dialects, file forms).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    import re
    from collections.abc import Callable
    from typing import Any

__all__ = ["LazyLogger", "get", "on_first_use", "pattern", "uses"]

_pending: list[Callable[[], None]] = []
_used = [False]
_uses = [0]
_threshold: list[int | None] = [None]
_BELOW = {"debug": 10, "info": 20}  # logger methods that may be dropped unseen


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


def on_first_use(setup: Callable[[], None], level: int | None = None) -> None:
    """Run ``setup`` before any logger is used: later, or now when one already
    is. ``level``: the level ``setup`` gives the loggers; until then, debug and
    info calls below it are dropped without loading :mod:`logging`."""
    if _used[0]:
        setup()
    else:
        _pending[:] = [setup]  # the newest configuration replaces an unused one
        _threshold[0] = level


def uses() -> int:
    """How many times a lazy logger was called in this process: a command that
    compares it before and after knows whether it logged anything."""
    return _uses[0]


def get(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, after any pending configuration."""
    import logging

    _used[0] = True
    while _pending:
        _pending.pop(0)()
    return logging.getLogger(name)


class LazyLogger:
    """Stands for ``logging.getLogger(name)``; the logging module loads on the
    first call of any of its methods."""

    __slots__ = ("_logger", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: logging.Logger | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._logger is None:
            threshold, level = _threshold[0], _BELOW.get(attr)
            if threshold is not None and level is not None and level < threshold and not _used[0]:
                return _ignore  # it would be filtered out: logging need not load for it
            self._logger = get(self._name)
        _uses[0] += 1
        return getattr(self._logger, attr)


class _Pattern:
    __slots__ = ("_compiled", "_flags", "_text")

    def __init__(self, text: str, flags: int) -> None:
        self._text, self._flags = text, flags
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._compiled is None:
            import re

            self._compiled = re.compile(self._text, self._flags)
        return getattr(self._compiled, attr)


def pattern(text: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile(text, flags)``, done when the pattern is first used."""
    return _Pattern(text, flags)  # type: ignore[return-value]
