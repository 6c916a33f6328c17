"""What a Python migration's ``up(ctx)`` and ``down(ctx)`` receive."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from migrata.backends.base import Backend
from migrata.errors import UsageError

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

    ``ctx.backfill(...)`` updates a table in keyed, checkpointed batches (a
    migration that calls it sets ``transactional = False``). With
    ``ctx.dry_run`` (``migrata up --dry-run``) ``up`` is called to count what
    its backfills would touch: ``execute``/``executemany``/``execute_script``
    then run nothing, ``query`` reads.
    """

    def __init__(
        self, backend: Backend, version: str, name: str, direction: str, *, services: Any = None, dry_run: bool = False
    ) -> None:
        self._backend = backend
        self.connection = backend.connection
        self.dialect = backend.dialect
        self.placeholder = backend.placeholder
        self.version = version
        self.name = name
        self.direction = direction
        self.log = logging.getLogger(f"migrata.migration.{version}")
        self.transactional = False  # the migration runs in migrata's transaction
        self.dry_run = dry_run
        self._services = services

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
        if self._skipped(sql):
            return 0
        with self._cursor() as cur:
            cur.execute(sql) if params is None else cur.execute(sql, params)
            return int(cur.rowcount)

    def executemany(self, sql: str, seq: Any) -> None:
        if self._skipped(sql):
            return
        with self._cursor() as cur:
            cur.executemany(sql, seq)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self._cursor() as cur:
            cur.execute(sql) if params is None else cur.execute(sql, params)
            return [tuple(r) for r in cur.fetchall()]

    def execute_script(self, sql: str) -> int:
        """Run a script of several statements, split as in SQL migrations."""
        statements = self._backend.split(sql)
        if self._skipped(f"{len(statements)} statement(s)"):
            return len(statements)
        for stmt in statements:
            self._backend.run_statement(stmt.sql)
        return len(statements)

    def _skipped(self, what: str) -> bool:
        if self.dry_run:
            self.log.info("dry run: not running %s", " ".join(what.split())[:120])
        return self.dry_run

    @property
    def crypto(self) -> Any:
        """Fernet with the project's ``[crypto]`` keys (a
        :class:`~migrata.data.crypto.Crypto`): ``encrypt(text)`` under the
        newest key, ``decrypt(token)`` with any, ``rotate(token)``, and the
        row functions ``encrypt_row(column)``/``rotate_row(column)`` for
        ``ctx.backfill(fn=...)``. Needs the ``migrata[crypto]`` extra."""
        factory = getattr(self._services, "crypto", None)
        if factory is None:
            raise UsageError("ctx.crypto works only in a migration run by migrata (`migrata up`)")
        return factory()

    def backfill(
        self,
        table: str,
        *,
        key: str | list[str] | tuple[str, ...] | None = None,
        set: str | None = None,  # noqa: A002 - the SQL word users write
        fn: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        where: str | None = None,
        batch_size: int = 1000,
        max_rows_per_s: float | None = None,
        name: str | None = None,
        replica_lag: Callable[[], float | None] | None = None,
    ) -> Any:
        """Update every row of ``table`` (matching ``where``) in batches of
        ``batch_size`` rows, in the order of ``key`` (default: the primary
        key), each batch its own transaction that also records how far it
        got, so an interrupted run resumes after its last committed batch.

        ``set`` is the SQL of an UPDATE's SET clause (``"total = price * qty"``);
        ``fn`` instead receives each row as a dict and returns the columns to
        change (a dict), None to skip the row, or raises
        :class:`~migrata.data.backfill.RowError` to count it failed. At most
        ``max_rows_per_s`` rows a second; with the ``replica_url`` setting it
        pauses while the replica lags more than ``replica_max_lag``
        (``replica_lag``: a function returning the lag in seconds instead).
        ``name`` tells several backfills of one table in one migration apart.
        Returns a :class:`~migrata.BackfillReport`.
        """
        if self._services is None:
            raise UsageError("ctx.backfill works only in a migration run by migrata (`migrata up`)")
        if self.transactional and not self.dry_run:
            raise UsageError(
                "ctx.backfill needs its own transactions: add `transactional = False` to the migration module"
            )
        return self._services.backfill(
            self,
            table,
            key=key,
            set_sql=set,
            fn=fn,
            where=where,
            batch_size=batch_size,
            max_rows_per_s=max_rows_per_s,
            name=name,
            replica_lag=replica_lag,
        )
