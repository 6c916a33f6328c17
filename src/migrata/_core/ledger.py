"""migrata's own tables: the history (one row per version), the event log,
and the checkpoints of backfills (created on the first backfill: projects
that never backfill never see it).

Both are created on first use, in the dialect of the backend. Their schema
carries a version, kept in a row of the history table whose ``kind`` is
``ledger`` (``version = '~migrata'``); later releases read it to upgrade the
tables. Every write is returned as an :class:`Op` (SQL + parameters) so the
runner can execute it with parameters, or render it as SQL text
(:meth:`Ledger.render`, values written by the backend's ``literal``) to send
with a migration in one call or to print for ``--sql``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from migrata._core.model import AppliedMigration
from migrata.backends.base import Backend
from migrata.errors import ConfigError
from migrata.util import backfills_table_name, events_table_name, hostname, mask_url, utcnow

__all__ = ["LEDGER_SCHEMA", "Event", "Ledger", "Op", "Raw", "actor"]

LEDGER_SCHEMA = 1
#: Layout of the checkpoints table, in its ``~migrata`` row (``schema:N``).
BACKFILL_SCHEMA = 1
LEDGER_ROW = "~migrata"
_COLUMNS = (
    "version, name, kind, checksum, status, applied_at, duration_ms, applied_by, error, progress, statements, direction"
)


@lru_cache(maxsize=1)
def actor() -> str:
    """``user@host`` of this process, as recorded in history and events."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"{user}@{hostname()}"


@dataclass(frozen=True)
class Op:
    """One statement of migrata's bookkeeping with its parameters."""

    sql: str
    params: tuple[Any, ...] = ()


class Raw(str):
    """An SQL expression to render as is (never a parameter): a step sent in
    one call computes its own duration on the server."""


@dataclass
class Event:
    """One row of the event log."""

    id: int
    at: str
    action: str
    version: str | None
    name: str | None
    outcome: str
    duration_ms: int | None
    actor: str | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    """Reads and writes migrata's tables through a backend."""

    def __init__(self, backend: Backend, table: str, *, ordering: str = "number") -> None:
        self.backend = backend
        self.table = table
        self.ordering = ordering  # how history's version text orders (the set's `ordering`)
        self.events_table = events_table_name(table)
        self.backfills_table = backfills_table_name(table)
        self.ph = backend.placeholder

    # --- schema -----------------------------------------------------------------
    def create_ops(self) -> list[Op]:
        """The event log first, then the history, then its schema row: the
        history table's presence (what ``ensure`` checks) implies the rest."""
        b = self.backend
        return [
            Op(
                f"CREATE TABLE IF NOT EXISTS {self.events_table} ("
                f"{b.id_column}, "
                "at VARCHAR(32) NOT NULL, "
                "action VARCHAR(32) NOT NULL, "
                f"version {b.key_type}, "
                f"name {b.key_type}, "
                "outcome VARCHAR(16) NOT NULL, "
                "duration_ms INTEGER, "
                f"actor {b.key_type}, "
                f"detail {b.text_type})"
            ),
            Op(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                f"version {b.key_type} NOT NULL PRIMARY KEY, "
                f"name {b.key_type} NOT NULL, "
                "kind VARCHAR(16) NOT NULL, "
                "checksum VARCHAR(64) NOT NULL, "
                "status VARCHAR(16) NOT NULL, "
                "applied_at VARCHAR(32) NOT NULL, "
                "duration_ms INTEGER, "
                f"applied_by {b.key_type}, "
                f"error {b.text_type}, "
                "progress INTEGER, "
                "statements INTEGER, "
                "direction VARCHAR(8))"
            ),
            self._insert(LEDGER_ROW, "migrata ledger", "ledger", f"schema:{LEDGER_SCHEMA}", "applied", None, None),
        ]

    def exists(self) -> bool:
        return bool(self.backend.tables_present([self.table]))

    def ensure(self) -> bool:
        """Create whichever of the tables is missing (one query when none is).
        Returns True when something was created."""
        names = self.backend.tables_present([self.table, self.events_table])
        if self.table in names and self.events_table in names:
            return False
        ops = self.create_ops()
        if self.table in names:  # only the event log is missing: keep the history's rows
            self.check_ours()
            ops = ops[:1]
        b = self.backend
        b.ensure_namespace()
        if b.transactional_ddl:
            b.begin()
        try:
            self.run(*ops)
            if b.transactional_ddl:
                b.commit()
        except BaseException:
            if b.transactional_ddl:
                b.rollback()
            raise
        return True

    # --- history ------------------------------------------------------------------
    def read(self) -> list[AppliedMigration]:
        """Every history row (one query). Missing tables read as empty history."""
        sql = f"SELECT {_COLUMNS} FROM {self.table} WHERE kind <> 'ledger'"
        try:
            raw = self.backend.query(sql)
        except Exception:  # noqa: BLE001 - the table may not exist (yet)
            if not self.exists():
                return []
            self.check_ours()
            raw = self.backend.query(sql)  # another migrator created the table just now
        if self.ordering != "number":
            return [AppliedMigration(*r).order_by(self.ordering) for r in raw]
        return [AppliedMigration(*r) for r in raw]

    def check_ours(self) -> None:
        """Raise ConfigError when the table named like the history table is
        not migrata's (the application's own table of that name)."""
        try:
            cur = self.backend.connection.cursor()
            try:
                cur.execute(f"SELECT * FROM {self.table} WHERE 1 = 0")
                columns = {str(d[0]).lower() for d in cur.description or ()}
            finally:
                cur.close()
        except Exception:  # noqa: BLE001 - unreadable: the query that failed says why
            return
        missing = [c for c in ("version", "kind", "checksum", "status") if c not in columns]
        if missing:
            raise ConfigError(
                f"table {self.table} is not migrata's history table (it has no column {missing[0]}): "
                "it belongs to the application, and migrata leaves it alone",
                hint=f'choose another name for migrata\'s table with --table NAME (or table = "NAME" in '
                f"migrata.toml); {self.table} stays as it is",
            )

    def _insert(
        self,
        version: str,
        name: str,
        kind: str,
        checksum: str,
        status: str,
        duration_ms: int | None,
        statements: int | None,
        *,
        progress: int | None = None,
        direction: str | None = None,
        error: str | None = None,
    ) -> Op:
        p = self.ph
        return Op(
            f"INSERT INTO {self.table} ({_COLUMNS}) VALUES "
            f"({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (
                version,
                name,
                kind,
                checksum,
                status,
                utcnow(),
                duration_ms,
                actor(),
                mask_url(error) if error else error,
                progress,
                statements,
                direction,
            ),
        )

    def record_applied(
        self, version: str, name: str, kind: str, checksum: str, duration_ms: int | None, statements: int | None
    ) -> Op:
        return self._insert(
            version, name, kind, checksum, "applied", duration_ms, statements, progress=statements, direction="up"
        )

    def delete(self, version: str) -> Op:
        return Op(f"DELETE FROM {self.table} WHERE version = {self.ph}", (version,))

    def start_run(
        self, version: str, name: str, kind: str, checksum: str, statements: int | None, direction: str, *, exists: bool
    ) -> Op:
        """The ``running`` row a journaled (non-transactional) run commits first."""
        if exists:
            return Op(
                f"UPDATE {self.table} SET status = 'running', progress = 0, statements = {self.ph}, "
                f"direction = {self.ph}, error = NULL WHERE version = {self.ph}",
                (statements, direction, version),
            )
        return self._insert(version, name, kind, checksum, "running", None, statements, progress=0, direction=direction)

    def progress(self, version: str, done: int) -> Op:
        """Journal: ``done`` statements completed, statement ``done + 1`` starts now."""
        return Op(f"UPDATE {self.table} SET progress = {self.ph} WHERE version = {self.ph}", (done, version))

    def fail_run(self, version: str, done: int | None, error: str) -> Op:
        """The run failed: ``failed``, unless a backfill made it ``resumable``
        (then ``up`` resumes it after its last committed batch)."""
        return Op(
            f"UPDATE {self.table} SET status = CASE WHEN status = 'resumable' THEN status ELSE 'failed' END, "
            f"progress = {self.ph}, error = {self.ph} WHERE version = {self.ph}",
            (done, mask_url(error), version),
        )

    def finish_run(self, version: str, checksum: str, duration_ms: int, statements: int | None) -> Op:
        return Op(
            f"UPDATE {self.table} SET status = 'applied', checksum = {self.ph}, applied_at = {self.ph}, "
            f"duration_ms = {self.ph}, applied_by = {self.ph}, error = NULL, progress = {self.ph}, "
            f"statements = {self.ph}, direction = 'up' WHERE version = {self.ph}",
            (checksum, utcnow(), duration_ms, actor(), statements, statements, version),
        )

    def set_status(self, version: str, status: str) -> Op:
        return Op(
            f"UPDATE {self.table} SET status = {self.ph}, error = NULL, direction = 'up', "
            f"progress = statements WHERE version = {self.ph}",
            (status, version),
        )

    def restore_applied(self, row: AppliedMigration) -> Op:
        """Put back an applied row that a run opened (``start_run``) but never started."""
        p = self.ph
        return Op(
            f"UPDATE {self.table} SET status = 'applied', progress = {p}, statements = {p}, direction = {p}, "
            f"error = NULL WHERE version = {p}",
            (row.progress, row.statements, row.direction, row.version),
        )

    def mark_resumable(self, version: str) -> Op:
        """A backfill of ``version`` started: an interrupted run resumes."""
        return Op(f"UPDATE {self.table} SET status = 'resumable' WHERE version = {self.ph}", (version,))

    def set_checksum(self, version: str, checksum: str) -> Op:
        return Op(f"UPDATE {self.table} SET checksum = {self.ph} WHERE version = {self.ph}", (checksum, version))

    # --- events ------------------------------------------------------------------
    def event(
        self,
        action: str,
        *,
        version: str | None = None,
        name: str | None = None,
        outcome: str = "ok",
        duration_ms: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Op:
        p = self.ph
        return Op(
            f"INSERT INTO {self.events_table} (at, action, version, name, outcome, duration_ms, actor, detail) "
            f"VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (
                utcnow(),
                action,
                version,
                name,
                outcome,
                duration_ms,
                actor(),
                mask_url(json.dumps(detail, sort_keys=True, default=str)) if detail else None,
            ),
        )

    def events(self, *, limit: int | None = None, version: str | None = None) -> list[Event]:
        p = self.ph
        sql = f"SELECT id, at, action, version, name, outcome, duration_ms, actor, detail FROM {self.events_table}"
        params: tuple[Any, ...] = ()
        if version is not None:
            sql += f" WHERE version = {p}"
            params = (version,)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            raw = self.backend.query(sql, params)
        except Exception:  # noqa: BLE001
            if not self.backend.tables_present([self.events_table]):
                return []
            raise
        return [Event(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8]) if r[8] else {}) for r in raw]

    def trim_events(self, before: str) -> Op:
        return Op(f"DELETE FROM {self.events_table} WHERE at < {self.ph}", (before,))

    def count_events(self, before: str) -> int:
        rows = self.backend.query(f"SELECT COUNT(*) FROM {self.events_table} WHERE at < {self.ph}", (before,))
        return int(rows[0][0])

    # --- backfill checkpoints ------------------------------------------------------------
    def ensure_backfills(self) -> None:
        """Create the checkpoints table (idempotent; its layout version in
        its ``~migrata`` row)."""
        b, p = self.backend, self.ph
        if self.backfills_table in b.tables_present([self.backfills_table]):
            return
        b.ensure_namespace()
        self.run(
            Op(
                f"CREATE TABLE IF NOT EXISTS {self.backfills_table} ("
                f"version {b.key_type} NOT NULL, "
                f"name {b.key_type} NOT NULL, "
                f"table_name {b.key_type}, "
                f"last_key {b.text_type}, "
                "done BIGINT NOT NULL, skipped BIGINT NOT NULL, failed BIGINT NOT NULL, "
                "status VARCHAR(16) NOT NULL, "
                "started_at VARCHAR(32), updated_at VARCHAR(32), "
                "PRIMARY KEY (version, name))"
            )
        )
        if not self.backend.query(f"SELECT 1 FROM {self.backfills_table} WHERE version = {p}", (LEDGER_ROW,)):
            self.run(self.save_checkpoint(LEDGER_ROW, "layout", None, f"schema:{BACKFILL_SCHEMA}", (0, 0, 0), "done"))

    def checkpoint(self, version: str, name: str) -> tuple[str | None, int, int, int, str] | None:
        """(last key as JSON, done, skipped, failed, status) of a backfill, or None."""
        p = self.ph
        rows = self.backend.query(
            f"SELECT last_key, done, skipped, failed, status FROM {self.backfills_table} "
            f"WHERE version = {p} AND name = {p}",
            (version, name),
        )
        return (rows[0][0], int(rows[0][1]), int(rows[0][2]), int(rows[0][3]), rows[0][4]) if rows else None

    def save_checkpoint(
        self,
        version: str,
        name: str,
        table: str | None,
        last_key: str | None,
        counts: tuple[int, int, int],
        status: str,
    ) -> Op:
        """Insert the checkpoint of a backfill that starts."""
        p = self.ph
        now = utcnow()
        return Op(
            f"INSERT INTO {self.backfills_table} (version, name, table_name, last_key, done, skipped, failed, "
            f"status, started_at, updated_at) VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            (version, name, table, last_key, *counts, status, now, now),
        )

    def advance_checkpoint(
        self, version: str, name: str, last_key: str | None, counts: tuple[int, int, int], status: str
    ) -> Op:
        """A batch committed: the key it ended at and the counts so far."""
        p = self.ph
        return Op(
            f"UPDATE {self.backfills_table} SET last_key = {p}, done = {p}, skipped = {p}, failed = {p}, "
            f"status = {p}, updated_at = {p} WHERE version = {p} AND name = {p}",
            (last_key, *counts, status, utcnow(), version, name),
        )

    def forget_checkpoints(self, version: str) -> Op:
        """Drop the checkpoints of ``version`` (a fresh run starts from the first row)."""
        return Op(f"DELETE FROM {self.backfills_table} WHERE version = {self.ph}", (version,))

    # --- running ops ------------------------------------------------------------------
    def run(self, *ops: Op) -> list[int]:
        """Run the ops in order; the row count of each, as the driver reports it."""
        return [self.backend.execute(op.sql, op.params) for op in ops]

    def render(self, *ops: Op) -> list[str]:
        """The ops as SQL text, each value written by the backend's ``literal``
        (a :class:`Raw` value as it is)."""
        return [self._render(op) for op in ops]

    def _render(self, op: Op) -> str:
        parts = op.sql.split(self.ph)
        if len(parts) != len(op.params) + 1:
            raise ValueError(f"{len(op.params)} parameter(s) for {len(parts) - 1} placeholder(s): {op.sql}")
        out = [parts[0]]
        for value, part in zip(op.params, parts[1:], strict=True):
            out.append(str(value) if isinstance(value, Raw) else self.backend.literal(value))
            out.append(part)
        return "".join(out)
