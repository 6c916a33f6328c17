"""Keyed, checkpointed batches over a table: the core of ``ctx.backfill``.

A backfill walks ``table`` in the order of its key columns (keyset
pagination: each batch is ``WHERE key > last ORDER BY key LIMIT n``, so a
batch costs the same at the end of a table as at its start). Each batch is
one short transaction that updates the rows and, with a ledger, records in
migrata's checkpoints table the key it ended at; the two commit together, so
after a crash at any instant the checkpoint names exactly the rows done, and
the next run continues after them: every row is updated once.

Rows change either by SQL (``set_sql``: an UPDATE's SET clause, the whole
batch in one statement) or by a Python function per row (``fn``: returns the
columns to change, None to skip the row, or raises :class:`RowError` to count
it failed — its key is reported, never its values). :func:`run_backfill` is
usable outside migrations (key rotation builds on it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from migrata._core.model import BackfillReport
from migrata.data import RowError
from migrata.errors import DatabaseError, UsageError

if TYPE_CHECKING:
    from migrata._core.ledger import Ledger
    from migrata.backends.base import Backend

__all__ = ["Backfill", "LagGate", "RowError", "count_rows", "run_backfill"]

log = logging.getLogger("migrata.backfill")

RowFn = Callable[[dict[str, Any]], "dict[str, Any] | None"]
FAILED_KEYS_KEPT = 100


@dataclass
class Backfill:
    """What to backfill."""

    table: str
    key: list[str]
    set_sql: str | None = None
    fn: RowFn | None = None
    where: str | None = None
    batch_size: int = 1000
    max_rows_per_s: float | None = None
    name: str = ""

    def check(self) -> None:
        if (self.set_sql is None) == (self.fn is None):
            raise UsageError("a backfill needs exactly one of set= (SQL) and fn= (a function per row)")
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.max_rows_per_s is not None and self.max_rows_per_s <= 0:
            raise UsageError(f"max_rows_per_s must be positive, not {self.max_rows_per_s}")
        if not self.key:
            raise UsageError(f"{self.table} has no primary key: pass key= (unique, not null columns)")


class LagGate:
    """Waits while a replica lags more than ``max_lag`` seconds. ``measure``
    returns the lag (None: unknown, never waits); it is asked at most once
    per ``interval`` seconds while the replica keeps up."""

    def __init__(
        self,
        measure: Callable[[], float | None],
        max_lag: float,
        *,
        interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.measure, self.max_lag, self.interval = measure, max_lag, interval
        self.sleep, self.clock = sleep, clock
        self.last: float | None = None
        self.pauses = 0

    def wait(self) -> float:
        """Block until the lag is within bounds; returns the seconds waited."""
        now = self.clock()
        if self.last is not None and now - self.last < self.interval:
            return 0.0
        t0, paused = now, False
        while True:
            lag = self.measure()
            self.last = self.clock()
            if lag is None or lag <= self.max_lag:
                if paused:
                    log.info("replica caught up (lag %.1fs): resuming", lag or 0.0)
                return self.clock() - t0 if paused else 0.0
            if not paused:
                self.pauses += 1
                log.warning("pausing: the replica lags %.1fs (more than %gs)", lag, self.max_lag)
            paused = True
            self.sleep(max(self.interval, 0.05))


def quote_name(backend: Backend, name: str) -> str:
    """A table name as SQL: each dotted part quoted."""
    return ".".join(backend.quote_ident(part) for part in name.split("."))


def _literal(backend: Backend, value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return backend.literal(value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat())
    if value is None or isinstance(value, (bool, int, float, str)):
        return backend.literal(value)
    raise UsageError(f"a backfill key of type {type(value).__name__} is not supported: pass key= of other columns")


def _compare(backend: Backend, keys: list[str], op: str, values: list[Any]) -> str:
    cols = [backend.quote_ident(k) for k in keys]
    lits = [_literal(backend, v) for v in values]
    if len(cols) == 1:
        return f"{cols[0]} {op} {lits[0]}"
    return f"({', '.join(cols)}) {op} ({', '.join(lits)})"


def _conditions(backend: Backend, spec: Backfill, after: list[Any] | None, upto: list[Any] | None = None) -> str:
    parts = []
    if after is not None:
        parts.append(_compare(backend, spec.key, ">", after))
    if upto is not None:
        parts.append(_compare(backend, spec.key, "<=", upto))
    if spec.where:
        parts.append(f"({spec.where})")
    return " WHERE " + " AND ".join(parts) if parts else ""


def count_rows(backend: Backend, spec: Backfill, after: list[Any] | None = None) -> int:
    """How many rows the backfill has left to touch (after key ``after``)."""
    sql = f"SELECT COUNT(*) FROM {quote_name(backend, spec.table)}{_conditions(backend, spec, after)}"
    return int(_query(backend, sql)[0][0])


def _query(backend: Backend, sql: str) -> list[tuple[Any, ...]]:
    try:
        return backend.query(sql)
    except DatabaseError as exc:
        raise DatabaseError(f"backfill query failed: {exc.message} [{sql[:200]}]") from None


class _Run:
    """One backfill's state while it runs."""

    def __init__(self, backend: Backend, spec: Backfill, ledger: Ledger | None, owner: str) -> None:
        self.backend, self.spec, self.ledger, self.owner = backend, spec, ledger, owner
        self.report = BackfillReport(spec.table, spec.name, status="running")
        self.after: list[Any] | None = None
        self.order = ", ".join(backend.quote_ident(k) for k in spec.key)
        self.table = quote_name(backend, spec.table)

    def resume(self) -> bool:
        """Read (or create) the checkpoint; False when the backfill is complete."""
        if self.ledger is None:
            return True
        self.ledger.ensure_backfills()
        saved = self.ledger.checkpoint(self.owner, self.spec.name)
        r = self.report
        if saved is None:
            self.ledger.run(
                self.ledger.save_checkpoint(self.owner, self.spec.name, self.spec.table, None, (0, 0, 0), "running")
            )
            return True
        last, r.done, r.skipped, r.failed, status = saved
        r.resumed_after = r.done
        self.after = json.loads(last) if last else None
        return status != "done"

    def batch(self) -> bool:
        """One batch in one transaction; False when no rows were left."""
        b, spec = self.backend, self.spec
        cols = "*" if spec.fn is not None else self.order
        where = _conditions(b, spec, self.after)
        sql = f"SELECT {cols} FROM {self.table}{where} ORDER BY {self.order} LIMIT {spec.batch_size}"
        b.begin()
        try:
            cur = b.connection.cursor()
            try:
                cur.execute(sql)
                rows = cur.fetchall()
                names = [str(d[0]) for d in cur.description or []]
                if not rows:
                    self._checkpoint("done")
                    b.commit()
                    return False
                if spec.fn is None:
                    upto = list(rows[-1])
                    cur.execute(f"UPDATE {self.table} SET {spec.set_sql}{_conditions(b, spec, self.after, upto)}")
                    self.report.done += len(rows)
                else:
                    upto = self._apply_fn(cur, names, rows)
            finally:
                cur.close()
            self.after = upto
            self.report.batches += 1
            self._checkpoint("running")
            b.commit()
        except BaseException:
            b.rollback()
            raise
        return True

    def _apply_fn(self, cur: Any, names: list[str], rows: list[Any]) -> list[Any]:
        """Call the row function on each row; the changes go in one executemany per set of columns."""
        spec, r = self.spec, self.report
        assert spec.fn is not None
        changes: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        upto: list[Any] = []
        for raw in rows:
            row = dict(zip(names, raw, strict=False))
            upto = [row[k] for k in spec.key]
            try:
                new = spec.fn(row)
            except RowError:
                r.failed += 1
                if len(r.failed_keys) < FAILED_KEYS_KEPT:
                    r.failed_keys.append(upto[0] if len(upto) == 1 else list(upto))
                continue
            if not new:
                r.skipped += 1
                continue
            columns = tuple(sorted(new))
            changes.setdefault(columns, []).append((*(new[c] for c in columns), *upto))
            r.done += 1
        ph, q = self.backend.placeholder, self.backend.quote_ident
        where = " AND ".join(f"{q(k)} = {ph}" for k in spec.key)
        for columns, params in changes.items():
            sets = ", ".join(f"{q(c)} = {ph}" for c in columns)
            cur.executemany(f"UPDATE {self.table} SET {sets} WHERE {where}", params)
        return upto

    def _checkpoint(self, status: str) -> None:
        if self.ledger is None:
            return
        r = self.report
        last = json.dumps(self.after, default=str) if self.after is not None else None
        counts = (r.done, r.skipped, r.failed)
        self.ledger.run(self.ledger.advance_checkpoint(self.owner, self.spec.name, last, counts, status))


def run_backfill(
    backend: Backend,
    spec: Backfill,
    *,
    ledger: Ledger | None = None,
    owner: str = "",
    gate: LagGate | None = None,
    progress: Callable[[BackfillReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BackfillReport:
    """Run ``spec`` on ``backend`` (autocommit, not in a transaction): with a
    ``ledger`` its checkpoint (``owner``, ``spec.name``) makes it resume after
    the last committed batch and skip when complete. ``gate`` pauses for
    replica lag; ``progress`` is called after every batch."""
    spec.check()
    run = _Run(backend, spec, ledger, owner)
    report = run.report
    if not run.resume():
        report.status = "done"
        return report
    report.total = report.done + report.skipped + report.failed + count_rows(backend, spec, run.after)
    t0 = clock()
    paused = 0.0
    before = report.done + report.skipped + report.failed
    while True:
        if gate is not None:
            paused += gate.wait()
        if not run.batch():
            break
        report.seconds, report.paused_s = clock() - t0, paused
        if progress is not None:
            progress(report)
        _throttle(spec, report.done + report.skipped + report.failed - before, clock() - t0, sleep)
    report.seconds, report.paused_s, report.status = clock() - t0, paused, "done"
    if progress is not None:
        progress(report)
    return report


def _throttle(spec: Backfill, rows: int, elapsed: float, sleep: Callable[[float], None]) -> None:
    """Hold the pace at ``max_rows_per_s``: ``rows`` done in ``elapsed`` seconds of this run."""
    if not spec.max_rows_per_s:
        return
    ahead = rows / spec.max_rows_per_s - elapsed
    if ahead > 0:
        sleep(ahead)
