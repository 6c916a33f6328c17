"""How the SQLite backend reads an ``sqlite3`` error: the database file's
fault (read-only, not a database), a statement's, or Ctrl-C."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from migrata.backends.base import StatementError, StatementInterrupted
from migrata.errors import DatabaseError

__all__ = ["database_error", "statement_error"]

_READONLY = 8
_INTERRUPT = 9
_NOTADB = 26


def _code(exc: sqlite3.Error) -> int:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF


def database_error(path: str, exc: sqlite3.Error) -> DatabaseError | None:
    """The database file, not the statement, is at fault: read-only, or not
    an SQLite database at all (None for any other error)."""
    if _code(exc) == _READONLY:
        return DatabaseError(
            f"SQLite database {path} is read-only: {exc}",
            hint="let migrata write it: the file's and its folder's permissions, no mode=ro in the URL",
        )
    if _code(exc) == _NOTADB:
        return DatabaseError(f"{path} is not an SQLite database ({exc})", hint="check the path in the database URL")
    return None


def statement_error(
    exc: sqlite3.Error, *, timed_out: bool = False, script: str = "", traced: Sequence[str] = ()
) -> StatementError | StatementInterrupted:
    """The error of a migration statement. An interrupt that is not the
    statement timeout's (``timed_out``) is Ctrl-C: the progress handler
    turned the KeyboardInterrupt into SQLITE_INTERRUPT. ``traced``: the
    statements of ``script`` that started, in order (set_trace_callback)."""
    if _code(exc) == _INTERRUPT and not timed_out:
        return StatementInterrupted(position=_running(script, traced))
    return StatementError(str(exc), exists=str(exc).endswith("already exists"))


def _running(script: str, traced: Sequence[str]) -> int | None:
    """1-based offset in ``script`` of the last statement that started (a
    trigger's statements trace their statement's text again: skipped)."""
    pos, start = 0, None
    for text in traced:
        found = script.find(text.strip(), pos)
        if found >= 0:
            start, pos = found, found + len(text.strip())
    return start + 1 if start is not None else None
