"""What ``ctx.backfill`` works through during ``migrata up``: the run's
ledger (checkpoints), the replica to watch, and the progress it reports.

:mod:`migrata.session` gives every runner one :class:`BackfillService`; the
runner tells it when a Python migration starts and ends. A migration whose
history row is ``resumable`` (a backfill of an earlier run was interrupted)
keeps its checkpoints, so its backfills continue; any other run of a
migration starts its backfills from the first row. Progress goes to the
``migrata.backfill`` logger: a record per batch at DEBUG (with a
``backfill`` attribute the CLI's progress bar reads) and a line at INFO
every ``LOG_EVERY`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from migrata._core.model import RESUMABLE, BackfillReport
from migrata.data.backfill import Backfill, LagGate, count_rows, run_backfill

if TYPE_CHECKING:
    from migrata._core.ledger import Ledger
    from migrata.backends.base import Backend
    from migrata.context import MigrationContext

__all__ = ["BackfillService", "DryRunService", "ProgressLog"]

log = logging.getLogger("migrata.backfill")
LOG_EVERY = 10.0


class ProgressLog:
    """Reports a backfill's progress through logging."""

    def __init__(self, label: str, every: float = LOG_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.every, self.clock = label, every, clock
        self.last: float | None = None

    def __call__(self, r: BackfillReport) -> None:
        processed = r.done + r.skipped + r.failed
        info = {"label": self.label, "done": processed, "total": r.total, "status": r.status}
        log.debug("backfill %s: %d rows", self.label, processed, extra={"backfill": info})
        now = self.clock()
        if r.status != "done" and self.last is not None and now - self.last < self.every:
            return
        self.last = now
        share = f" of {r.total} ({100 * processed / r.total:.0f}%)" if r.total else ""
        extra = f", {r.skipped} skipped, {r.failed} failed" if r.skipped or r.failed else ""
        verb = "done" if r.status == "done" else "so far"
        log.info(
            "backfill %s: %d rows%s %s%s, %.0f rows/s",
            self.label,
            processed,
            share,
            verb,
            extra,
            r.rows_per_s,
            extra={"backfill_line": True},
        )


def key_of(backend: Backend, table: str, key: Any) -> list[str]:
    if key is None:
        return backend.primary_key(table.split(".")[-1])
    return [key] if isinstance(key, str) else list(key)


class BackfillService:
    """Backfills of one ``up`` run (one backend, its ledger)."""

    def __init__(
        self,
        backend: Backend,
        ledger: Ledger,
        *,
        replica: Callable[[], Backend] | None = None,
        max_lag: float = 10.0,
        crypto: Callable[[], Any] | None = None,
    ) -> None:
        self.backend, self.ledger, self.replica_factory, self.max_lag = backend, ledger, replica, max_lag
        self.crypto = crypto  # ctx.crypto: the project's keys, read on first use
        self._replica: Backend | None = None
        self.version = ""
        self.reports: list[BackfillReport] = []
        self.names: dict[str, int] = {}
        self.marked = False

    def start_step(self, version: str, direction: str) -> None:
        """A Python migration starts, in either direction: unless its row is
        resumable (a backfill of this run to finish), its old checkpoints go
        (a rollback's backfill must not find its up's, done, under the same name)."""
        self.version, self.reports, self.names, self.marked = version, [], {}, False
        row = next((r for r in self.ledger.read() if r.version == version), None)
        if row is None or row.status != RESUMABLE:
            if self.ledger.backfills_table in self.backend.tables_present([self.ledger.backfills_table]):
                self.ledger.run(self.ledger.forget_checkpoints(version))

    def finish_step(self) -> list[BackfillReport]:
        reports, self.reports = self.reports, []
        return reports

    def spec(self, ctx: MigrationContext, table: str, **kw: Any) -> Backfill:
        name = kw.pop("name") or table
        self.names[name] = self.names.get(name, 0) + 1
        if self.names[name] > 1:
            name = f"{name}#{self.names[name]}"
        key = key_of(ctx._backend, table, kw.pop("key"))
        kw.pop("replica_lag", None)
        return Backfill(table, key, name=name, **kw)

    def backfill(self, ctx: MigrationContext, table: str, **kw: Any) -> BackfillReport:
        measure = kw.get("replica_lag")
        spec = self.spec(ctx, table, **kw)
        if not self.marked:  # from now on an interrupted run resumes
            self.backend.begin()
            self.ledger.run(self.ledger.mark_resumable(self.version))
            self.backend.commit()
            self.marked = True
        report = run_backfill(
            self.backend,
            spec,
            ledger=self.ledger,
            owner=self.version,
            gate=self._gate(measure),
            progress=ProgressLog(f"{self.version} {spec.name}"),
        )
        self.reports.append(report)
        return report

    def _gate(self, measure: Callable[[], float | None] | None) -> LagGate | None:
        if measure is not None:
            return LagGate(measure, self.max_lag)
        if self.replica_factory is None:
            return None
        if self._replica is None:
            self._replica = self.replica_factory()
            self._replica.connect()
            if self._replica.replica_lag() is None:
                log.warning("the %s replica cannot report its lag: backfills do not wait for it", self._replica.dialect)
        return LagGate(self._replica.replica_lag, self.max_lag)

    def close(self) -> None:
        if self._replica is not None:
            self._replica.close()
            self._replica = None


class DryRunService:
    """``up --dry-run``: each backfill counts the rows it would touch."""

    def __init__(self, ledger: Ledger | None, crypto: Callable[[], Any] | None = None) -> None:
        self.ledger, self.crypto = ledger, crypto
        self.reports: list[BackfillReport] = []
        self.names: dict[str, int] = {}
        self.version = ""

    def backfill(self, ctx: MigrationContext, table: str, **kw: Any) -> BackfillReport:
        spec = BackfillService.spec(self, ctx, table, **kw)  # type: ignore[arg-type]
        report = BackfillReport(spec.table, spec.name, status="dry-run")
        report.total = count_rows(ctx._backend, spec)
        self.reports.append(report)
        return report


def count_backfills(session: Any, prepared: list[Any]) -> list[BackfillReport]:
    """``up --dry-run``: call ``up(ctx)`` of each planned Python migration
    marked ``transactional = False`` with a context that runs no statement
    and whose backfills count their rows (on ``session``'s database, when
    it exists)."""
    from migrata._core.source import load_python
    from migrata.context import MigrationContext

    wanted = [p for p in prepared if p.migration.kind == "py" and p.step.direction == "up"]
    if not wanted or not session.database_exists():
        return []
    backend = session.backend
    reports: list[BackfillReport] = []
    for item in wanted:
        m = item.migration
        if item.step.script.transactional:
            continue
        service = DryRunService(None, getattr(session, "crypto", None))
        ctx = MigrationContext(backend, m.id, m.name, "up", services=service, dry_run=True)
        try:
            load_python(m).up(ctx)
        except Exception as exc:  # noqa: BLE001 - a dry run reports what it can, e.g. before a table exists
            log.warning("dry run of %s: could not count its backfills: %s: %s", m.label, type(exc).__name__, exc)
        for r in service.reports:
            r.name = f"{m.id} {r.name}"
        reports.extend(service.reports)
    return reports
