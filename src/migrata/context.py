"""What a Python migration's ``up(ctx)`` and ``down(ctx)`` receive."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from migrata.backends.base import Backend

__all__ = ["MigrationContext"]


class MigrationContext:
    """The database a Python migration works on, and a few facts about it.

    ``ctx.execute(sql, params)`` runs one statement, ``ctx.query`` returns
    rows, ``ctx.execute_script(sql)`` runs several; ``ctx.connection`` is the
    DB-API connection, ``ctx.dialect`` the backend name (``sqlite``,
    ``postgresql``, ``mysql``), ``ctx.placeholder`` its parameter marker,
    ``ctx.version``/``ctx.name``/``ctx.direction`` say which migration runs
    which way, ``ctx.log`` is a logger. In a transactional migration
    everything runs in migrata's transaction: do not commit.
    """

    def __init__(self, backend: Backend, version: str, name: str, direction: str) -> None:
        self._backend = backend
        self.connection = backend.connection
        self.dialect = backend.dialect
        self.placeholder = backend.placeholder
        self.version = version
        self.name = name
        self.direction = direction
        self.log = logging.getLogger(f"migrata.migration.{version}")

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A DB-API cursor whose statements are bounded by the migration's timeout."""
        cur = self.connection.cursor()
        try:
            with self._backend.statement_guard():
                yield cur
        finally:
            cur.close()

    def execute(self, sql: str, params: Any = None) -> int:
        """Run one statement; returns the affected row count where known."""
        with self._cursor() as cur:
            cur.execute(sql) if params is None else cur.execute(sql, params)
            return int(cur.rowcount)

    def executemany(self, sql: str, seq: Any) -> None:
        with self._cursor() as cur:
            cur.executemany(sql, seq)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(sql) if params is None else cur.execute(sql, params)
            return [tuple(r) for r in cur.fetchall()]

    def execute_script(self, sql: str) -> int:
        """Run a script of several statements, split as in SQL migrations."""
        statements = self._backend.split(sql)
        for stmt in statements:
            self._backend.run_statement(stmt.sql)
        return len(statements)
