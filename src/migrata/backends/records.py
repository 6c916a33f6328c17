"""The records a backend hands to the engine: a migration statement, the
error of one, an interrupted one, and who holds the migration lock. Part of
the backend contract (:mod:`migrata.backends.base` re-exports them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["LockHolder", "Statement", "StatementError", "StatementInterrupted"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a migration script and where it starts."""

    sql: str
    line: int  # 1-based line in the script where the statement starts
    index: int = 0  # 0-based position in the script

    @property
    def first_line(self) -> str:
        for text in self.sql.strip().splitlines():
            if text.strip():
                return text.strip()
        return ""


class StatementError(Exception):
    """A migration statement failed in the database."""

    def __init__(
        self,
        db_message: str,
        *,
        position: int | None = None,
        line: int | None = None,
        index: int | None = None,
        lock_timeout: bool = False,
        exists: bool = False,
        hint: str | None = None,
        dependents: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(db_message)
        self.db_message = db_message
        self.position = position  # 1-based character offset the server reported, if any
        self.line = line  # 1-based line within the statement the server reported, if any
        self.index = index  # which statement of a batch failed (run_batch)
        self.lock_timeout = lock_timeout  # it gave up waiting for a lock: it did not run
        self.exists = exists  # the object the statement creates exists already
        self.hint = hint  # the way out, where the server's error tells it
        # the objects that block the statement (a DROP): (name, "view v depends on table t")
        self.dependents = list(dependents)


class StatementInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a migration statement; the server's side of it
    was cancelled. ``position``/``index`` as in StatementError, where known;
    ``verbs``: the command tags of the statements of the batch that had
    completed (PostgreSQL), to check ``index`` against the script."""

    def __init__(
        self, *, position: int | None = None, index: int | None = None, verbs: list[str] | None = None
    ) -> None:
        super().__init__()
        self.position = position
        self.index = index
        self.verbs = verbs


@dataclass(frozen=True)
class LockHolder:
    """Who holds the migration lock, as far as the database can tell."""

    pid: int | None = None  # the migrating client's OS process id
    host: str | None = None  # the client's host
    since: str | None = None  # ISO-8601 UTC, measuring what ``since_what`` says
    detail: str | None = None
    session: int | None = None  # the server session/connection holding it (PostgreSQL, MySQL/MariaDB)
    since_what: str | None = None  # e.g. "lock taken"

    def describe(self) -> str:
        bits = []
        if self.pid is not None:
            bits.append(f"pid {self.pid}")
        if self.host:
            bits.append(f"on {self.host}")
        if self.session is not None:
            bits.append(f"(server session {self.session})")
        if self.since:
            bits.append(f"since {self.since}" + (f" ({self.since_what})" if self.since_what else ""))
        if self.detail:
            bits.append(f"({self.detail})")
        return " ".join(bits) or "an unknown holder"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "host": self.host,
            "since": self.since,
            "since_what": self.since_what,
            "session": self.session,
            "detail": self.detail,
        }
