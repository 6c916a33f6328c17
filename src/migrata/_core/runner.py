"""Running a plan: for each step, prepare it, run it in its mode, record it.

The caller holds the migration lock (:mod:`migrata.session`). Every step is
prepared (split, checked, its mode chosen) before the first one runs, so a
broken file stops the run before anything changes. Then each step runs in
its mode:

* **transaction** (SQLite, PostgreSQL, and every database for DML): the
  statements, the history row and the event row commit together
  (:mod:`~migrata._core.transaction`);
* **journal** (DDL on MySQL/MariaDB; a migration marked ``no-transaction``;
  a file that begins/commits its own transaction): a ``running`` row first,
  progress marks, then ``applied`` (:mod:`~migrata._core.journal`).

A Python migration runs in either mode (its body is its function).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from migrata._core.dependents import check_rollback
from migrata._core.journal import may_open_ahead, run_journal
from migrata._core.ledger import Ledger
from migrata._core.lockwaits import LockWaits
from migrata._core.model import Plan, Step
from migrata._core.placeholders import Placeholders
from migrata._core.pymigration import load_python
from migrata._core.render import render_plan
from migrata._core.steps import JOURNAL, TRANSACTION, Prepared, StepResult
from migrata._core.transaction import run_transaction
from migrata.backends.base import Backend, Statement
from migrata.errors import MigrationFailedError, MigrationFileError

__all__ = ["Prepared", "Runner", "StepResult", "prepare_step"]

log = logging.getLogger("migrata")


def prepare_step(
    backend: Backend, step: Step, *, mixed: bool = False, placeholders: Placeholders | None = None
) -> Prepared:
    """``step`` split and checked, with the mode it runs in. Its SQL is the
    file's with ``placeholders`` replaced (the one place where they are). A
    file whose statements all cannot run in a transaction runs without one
    (journaled), as Flyway does; ``mixed``: a transactional migration holding
    such a statement among others runs journaled instead of being refused."""
    migration, script = step.migration, step.script
    if migration.kind == "py":
        load_python(migration)
        if not script.transactional:
            return Prepared(step, None, JOURNAL, "no-transaction")
        if not backend.transactional_ddl:
            # its statements are unknown and DDL would commit mid-way: journal it
            return Prepared(step, None, JOURNAL, "DDL commits implicitly")
        return Prepared(step, None, TRANSACTION)
    assert script.sql is not None
    text = placeholders.replace(script.sql, script.path, script.line_offset + 1) if placeholders else script.sql
    item = _prepare_sql(backend, step, text, mixed)
    item.text = text
    return item


def _prepare_sql(backend: Backend, step: Step, text: str, mixed: bool) -> Prepared:
    script = step.script
    statements = [Statement(s.sql, s.line + script.line_offset, s.index) for s in backend.split(text)]
    self_managed = any(backend.manages_transaction(s) for s in statements)
    if script.transactional and not self_managed:
        outside = _outside_transaction(backend, step, statements, mixed)
        if outside is not None:
            return outside
    if not script.transactional or self_managed:
        note = "no-transaction" if script.explicit_no_transaction else "manages its own transaction"
        return Prepared(step, statements, JOURNAL, note, self_managed=self_managed)
    if not backend.transactional_ddl and not all(backend.transactional_statement(s) for s in statements):
        return Prepared(step, statements, JOURNAL, "DDL commits implicitly")
    return Prepared(step, statements, TRANSACTION)


def _outside_transaction(backend: Backend, step: Step, statements: list[Statement], mixed: bool) -> Prepared | None:
    """The journaled step of a transactional file holding statements that
    cannot run in a transaction: all of them (no transaction needed, as
    Flyway decides), or some of them with ``mixed``; None when there are
    none; refused when some are and ``mixed`` is off."""
    found = [(stmt, reason) for stmt in statements if (reason := backend.no_transaction_reason(stmt))]
    if not found:
        return None
    if len(found) == len(statements):
        return Prepared(step, statements, JOURNAL, f"no-transaction (automatic): {found[0][1]}")
    if mixed:
        return Prepared(step, statements, JOURNAL, f"mixed: {found[0][1]}")
    stmt, reason = found[0]
    other = next(s for s in statements if not backend.no_transaction_reason(s))
    raise MigrationFileError(
        f"{reason}: {stmt.first_line[:80]}; the file also holds statements that run in a transaction "
        f"(line {other.line}: {other.first_line[:60]})",
        path=str(step.script.path),
        line=stmt.line,
        hint="move it to a migration of its own (which then runs without a transaction), or add the line "
        "'-- migrata:no-transaction' at the top of the migration (or set mixed = true to run such "
        "migrations without a transaction)",
    )


@dataclass
class Runner:
    """Runs prepared steps against one backend and its ledger."""

    backend: Backend
    ledger: Ledger
    statement_timeout: float | None = None
    mixed: bool = False  # run migrations with non-transactional statements journaled instead of refusing
    run_timeout: float | None = None  # bound of the whole run (--timeout), seconds
    deadline: float | None = None  # time.monotonic() at which the run must stop
    on_step: Callable[[StepResult], None] | None = None
    ddl_lock_timeout: float | None = None  # bound of a migration's lock waits (None: off)
    ddl_retries: int = 5  # attempts of a migration (statement) whose lock wait timed out
    results: list[StepResult] = field(default_factory=list)
    waits: LockWaits | None = None  # this runner's, made on first use
    services: Any = None  # ctx.backfill's checkpoints, throttle, replica and progress (migrata.data)
    placeholders: Placeholders | None = None  # replaced in the SQL of every step it prepares
    source: Any = None  # the migrations (a Source): which file creates an object a drop needs gone

    def lock_waits(self) -> LockWaits:
        """The bound on lock waits and the retries of this runner's steps."""
        if self.waits is None:
            self.waits = LockWaits(self.backend, self.ledger, self.ddl_lock_timeout, self.ddl_retries)
        return self.waits

    def prepare(self, step: Step) -> Prepared:
        item = prepare_step(self.backend, step, mixed=self.mixed, placeholders=self.placeholders)
        item.source = self.source
        return item

    def prepare_plan(self, plan: Plan) -> list[Prepared]:
        return [self.prepare(step) for step in plan.steps]

    def render(self, prepared: list[Prepared], *, ledger_exists: bool) -> str:
        """The SQL a run of ``prepared`` would send (``--sql``)."""
        return render_plan(self.backend, self.ledger, prepared, ledger_exists=ledger_exists)

    def run(self, prepared: list[Prepared]) -> list[StepResult]:
        """Run the steps in order (the caller holds the lock)."""
        # steps that each commit one transaction of SQL: the backend may make
        # those commits cheaper (a Python step may open connections of its own,
        # a journaled one may change settings: either runs as the database is)
        plain = all(p.mode == TRANSACTION and p.statements is not None for p in prepared)
        # the next step, whose running row the last step's batch wrote: until
        # it is called, a run that stops takes that row back
        pending: Prepared | None = None
        if any(p.step.direction == "down" for p in prepared):
            check_rollback(self.backend, prepared, self.source)
        try:
            with self.backend.run_of_transactions(len(prepared) if plain else 0):
                for n, item in enumerate(prepared):
                    if self.deadline is not None and time.monotonic() >= self.deadline:
                        raise self._run_timeout(len(prepared) - n)
                    following = prepared[n + 1] if n + 1 < len(prepared) else None
                    ahead = following if following is not None and self._may_open_ahead(item, following) else None
                    opened, pending = pending is item, None
                    result = self.run_one(item, opened=opened, open_next=ahead)
                    pending = ahead
                    self.results.append(result)
                    if self.on_step:
                        self.on_step(result)
        except BaseException:
            # the connection may be gone (killed, Ctrl-C): the run's own error is what counts
            with contextlib.suppress(Exception):
                self._wind_down(pending)
            raise
        self._wind_down(pending)
        return self.results

    def _wind_down(self, pending: Prepared | None) -> None:
        """After the steps: take back the running row of a step the run did not
        reach; the session's timeouts and lock waits as they were."""
        try:
            if pending is not None:
                self._take_back(pending)
        finally:
            self.backend.apply_timeout(None)
            self.lock_waits().finish()

    def _may_open_ahead(self, item: Prepared, following: Prepared) -> bool:
        """Whether ``item``'s batch writes the running row of ``following``
        (never where the run may stop between them on a timeout)."""
        if self.deadline is not None or self.statement_timeout:
            return False
        return may_open_ahead(self.backend, item, following)

    def _take_back(self, item: Prepared) -> None:
        """The run stopped before ``item``, whose running row the step before
        may have written: that row goes (nothing of ``item`` ran)."""
        try:
            if any(r.version == item.migration.id and r.status == "running" for r in self.ledger.read()):
                self.ledger.run(self.ledger.delete(item.migration.id))
        except Exception as exc:  # noqa: BLE001 - the error that stopped the run matters more
            log.warning("could not take back the running row of %s, which did not start: %s", item.migration.label, exc)

    def run_one(
        self,
        item: Prepared,
        *,
        start: int = 0,
        resume: bool = False,
        opened: bool = False,
        open_next: Prepared | None = None,
    ) -> StepResult:
        """Run one prepared step; ``resume`` continues a dirty run from
        ``start``; ``opened``/``open_next``: see :func:`~migrata._core.journal.run_journal`."""
        label = item.migration.label
        log.debug("%s %s (%s)", "applying" if item.step.direction == "up" else "reverting", label, item.mode)
        timeout = self._timeout(item)
        self.backend.apply_timeout(timeout)
        waits = self.lock_waits()
        waits.start(item, timeout)
        waits.deadline = self.deadline
        if self.services is not None and item.statements is None:
            item.services = self.services
            self.services.start_step(item.migration.id, item.step.direction)
        try:
            if item.mode == TRANSACTION:
                timed = bool(timeout)
                result = run_transaction(self.backend, self.ledger, item, self.results, timed=timed, waits=waits)
            else:
                result = run_journal(
                    self.backend,
                    self.ledger,
                    item,
                    self.results,
                    start=start,
                    resume=resume,
                    timed=bool(timeout),
                    opened=opened,
                    open_next=open_next,
                    waits=waits,
                )
        except MigrationFailedError as exc:
            if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
                exc.message = f"the run's timeout of {self.run_timeout:g}s expired: {exc.message}"
                exc.args = (exc.message,)
            raise
        result.lock_retries = waits.retries.get(item.migration.id, 0)
        if item.services is not None:
            result.backfills = item.services.finish_step()
        log.info("%s %s (%d ms)", result.status, label, result.duration_ms)
        return result

    def _timeout(self, item: Prepared) -> float | None:
        """The step's statement bound: its own, the setting's, and what is left
        of the run's (whole seconds, so the session setting changes at most
        once a second)."""
        timeout = item.step.script.timeout or self.statement_timeout
        if self.deadline is not None:
            remaining = max(1.0, float(math.ceil(self.deadline - time.monotonic())))
            timeout = min(timeout, remaining) if timeout else remaining
        return timeout

    def _run_timeout(self, left: int) -> MigrationFailedError:
        return MigrationFailedError(
            f"the run's timeout of {self.run_timeout:g}s expired: {len(self.results)} migration(s) done, "
            f"{left} not started",
            hint="each migration either completed or did not start; run the command again to continue",
            completed=list(self.results),
        )
