"""Running a plan: lock -> for each step: journal, run, record -> unlock.

Two ways to run a step:

* **transaction** (SQLite, PostgreSQL, and every database for DML): the
  statements, the history row and the event row commit together, so a crash
  at any instant leaves the database before or after the migration.
* **journal** (DDL on MySQL/MariaDB; a migration marked ``no-transaction``;
  a file that begins/commits its own transaction): a ``running`` row is
  committed first, the row's ``progress`` counts completed statements as
  they go, and the row becomes ``applied`` at the end (``failed`` on error).
  After a crash the row says which statements completed and which one is in
  doubt; every later command refuses to continue until ``repair``.

Every step is prepared (split, checked) before the first one runs, so a
broken file stops the run before anything changes.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from migrata import _lazy
from migrata._core.ledger import Ledger, Op, Raw, render_literal, utcnow
from migrata._core.model import Migration, Plan, Step
from migrata._core.source import load_python
from migrata._lazy import LazyLogger
from migrata._record import field, record
from migrata.backends.base import Backend, Statement, StatementError
from migrata.errors import DatabaseError, LockTimeoutError, MigrationFailedError, MigrationFileError, one_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MigrationContext", "Prepared", "Runner", "StepResult"]

log = LazyLogger("migrata")

TRANSACTION = "transaction"
JOURNAL = "journal"


class MigrationContext:
    """What a Python migration's ``up(ctx)``/``down(ctx)`` receives.

    ``ctx.execute(sql, params)`` runs one statement, ``ctx.query`` returns
    rows, ``ctx.execute_script(sql)`` runs several; ``ctx.connection`` is the
    DB-API connection, ``ctx.dialect`` the backend name (``sqlite``,
    ``postgresql``, ``mysql``), ``ctx.log`` a logger. In a transactional
    migration everything runs in migrata's transaction: do not commit.
    """

    def __init__(self, backend: Backend, migration: Migration, direction: str) -> None:
        self._backend = backend
        self.connection = backend.connection
        self.dialect = backend.dialect
        self.version = migration.id
        self.name = migration.name
        self.direction = direction
        self.log = _lazy.get(f"migrata.migration.{migration.id}")
        self.placeholder = backend.placeholder

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


@record
class Prepared:
    """A step ready to run: its statements (None for Python) and how it runs."""

    step: Step
    statements: list[Statement] | None
    mode: str  # TRANSACTION or JOURNAL
    note: str = ""
    self_managed: bool = False  # the file begins/commits its own transaction
    several_results: bool | None = None  # a statement returns several results (CALL); the runner fills it once

    @property
    def migration(self) -> Migration:
        return self.step.migration


@record
class StepResult:
    version: str
    name: str
    direction: str
    status: str  # "applied", "rolled back", "failed"
    duration_ms: int
    statements: int | None
    mode: str
    reason: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@record
class Runner:
    """Runs prepared steps against one backend and its ledger."""

    backend: Backend
    ledger: Ledger
    statement_timeout: float | None = None
    mixed: bool = False  # run migrations with non-transactional statements journaled instead of refusing
    run_timeout: float | None = None  # bound of the whole run (--timeout), seconds
    deadline: float | None = None  # time.monotonic() at which the run must stop
    ledger_exists: bool = True
    on_step: Callable[[StepResult], None] | None = None
    results: list[StepResult] = field(default_factory=list)
    _timed: bool = field(default=False, init=False, repr=False)  # a timeout is armed for the current step
    # the next step whose `running` row the previous step's closing packet
    # committed already, with the op that takes that row back if it never runs
    _opened: tuple[Prepared, Op] | None = field(default=None, init=False, repr=False)
    rows_before: list[Any] | None = None  # the history as the run found it, if its caller read it
    _rows_before: dict[str, Any] | None = field(default=None, init=False, repr=False)
    # log lines held back until the next packet is on its way (see _say)
    _done_line: tuple[str, str, int] | None = field(default=None, init=False, repr=False)
    _begun_line: tuple[str, str] | None = field(default=None, init=False, repr=False)
    _stopped: BaseException | None = field(default=None, init=False, repr=False)  # see _say_meanwhile

    # --- preparing -------------------------------------------------------------------
    def prepare(self, step: Step) -> Prepared:
        migration = step.migration
        script = step.script
        if migration.kind == "py":
            load_python(migration)
            script = step.script
            if not script.transactional:
                return Prepared(step, None, JOURNAL, "no-transaction")
            if not self.backend.transactional_ddl:
                # its statements are unknown and DDL would commit mid-way: journal it
                # (with deferred commits a data-only migration still commits once, at the end)
                return Prepared(step, None, JOURNAL, "DDL commits implicitly")
            return Prepared(step, None, TRANSACTION)
        assert script.sql is not None
        statements = [Statement(s.sql, s.line + script.line_offset, s.index) for s in self.backend.split(script.sql)]
        self_managed = [s for s in statements if self.backend.manages_transaction(s)]
        if script.transactional and not self_managed:
            for stmt in statements:
                reason = self.backend.no_transaction_reason(stmt)
                if reason and self.mixed:
                    return Prepared(step, statements, JOURNAL, f"mixed: {reason}")
                if reason:
                    raise MigrationFileError(
                        f"{reason}: {stmt.first_line[:80]}",
                        path=str(script.path),
                        line=stmt.line,
                        hint="add the line '-- migrata:no-transaction' at the top of the migration "
                        "(or set mixed = true to run such migrations without a transaction)",
                    )
        if not script.transactional or self_managed:
            note = "no-transaction" if script.explicit_no_transaction else "manages its own transaction"
            return Prepared(step, statements, JOURNAL, note, self_managed=bool(self_managed))
        if not self.backend.transactional_ddl and not all(self.backend.transactional_statement(s) for s in statements):
            return Prepared(step, statements, JOURNAL, "DDL commits implicitly")
        return Prepared(step, statements, TRANSACTION)

    def prepare_plan(self, plan: Plan) -> list[Prepared]:
        return [self.prepare(step) for step in plan.steps]

    # --- running -----------------------------------------------------------------------
    def run(self, prepared: list[Prepared]) -> list[StepResult]:
        try:
            for n, item in enumerate(prepared):
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    raise self._run_timeout(len(prepared) - n)
                # without a deadline nothing but a crash stops the run between two
                # steps: the next step's opening row may ride on this one's commit
                following = prepared[n + 1] if n + 1 < len(prepared) and self.deadline is None else None
                result = self.run_one(
                    item, reset=False, following=following, ahead=len(prepared) - n, hold_line=following is not None
                )
                self.results.append(result)
                if self.on_step:
                    self.on_step(result)
                if self._stopped is not None:  # an interrupt while the step's packet ran: stop here
                    stopped, self._stopped = self._stopped, None
                    raise stopped
        finally:
            try:
                self._say()
            finally:
                self._take_back_opening()
                self.backend.apply_timeout(None)
        return self.results

    def run_one(
        self,
        item: Prepared,
        *,
        start: int = 0,
        resume: bool = False,
        reset: bool = True,
        following: Prepared | None = None,
        ahead: int = 1,
        hold_line: bool = False,
    ) -> StepResult:
        """Run one prepared step; ``resume`` continues a dirty run from ``start``;
        ``ahead``: the steps left in the run, this one included; ``hold_line``:
        the step's log line may wait for the next step (see :meth:`_say`)."""
        m = item.migration
        # a journaled step is one others may want to watch; a Python one may connect on its own
        self.backend.between_steps(others=item.mode == JOURNAL or item.statements is None, ahead=ahead)
        self._begun_line = ("applying" if item.step.direction == "up" else "reverting", m.label)
        timeout = item.step.script.timeout or self.statement_timeout
        if self.deadline is not None:
            # whole seconds, so the session setting changes at most once a second
            remaining = max(1.0, float(math.ceil(self.deadline - time.monotonic())))
            timeout = min(timeout, remaining) if timeout else remaining
        self.backend.apply_timeout(timeout)
        self._timed = bool(timeout)
        try:
            if item.mode == TRANSACTION:
                return self._run_transaction(item)
            return self._run_journal(item, start, resume, following)
        except MigrationFailedError as exc:
            if self.deadline is not None and time.monotonic() >= self.deadline - 0.05:
                exc.message = f"the run's timeout of {self.run_timeout:g}s expired: {exc.message}"
                exc.args = (exc.message,)
            raise
        finally:
            if not hold_line:
                self._say()
            if reset:
                self.backend.apply_timeout(None)

    def _run_timeout(self, left: int) -> MigrationFailedError:
        err = MigrationFailedError(
            f"the run's timeout of {self.run_timeout:g}s expired: {len(self.results)} migration(s) done, "
            f"{left} not started",
            hint="each migration either completed or did not start; run the command again to continue",
        )
        err.completed = list(self.results)  # type: ignore[attr-defined]
        return err

    def _history_ops(self, item: Prepared, duration_ms: int) -> list[Op]:
        m, led = item.migration, self.ledger
        count = len(item.statements) if item.statements is not None else None
        if item.step.direction == "down":
            return [led.delete(m.id)]
        kind = "repeatable" if m.repeatable else m.kind
        ops = [led.delete(m.id)] if m.repeatable else []
        ops.append(led.record_applied(m.id, m.name, kind, m.checksum, duration_ms, count))
        return ops

    def _event(self, item: Prepared, outcome: str, duration_ms: int, **detail: Any) -> Op:
        m = item.migration
        detail.setdefault("mode", item.mode)
        if item.statements is not None:
            detail.setdefault("statements", len(item.statements))
        if item.step.direction == "up":
            detail.setdefault("checksum", m.checksum)
        action = "repeat" if m.repeatable and item.step.direction == "up" else item.step.direction
        return self.ledger.event(
            action, version=m.id, name=m.name, outcome=outcome, duration_ms=duration_ms, detail=detail
        )

    def _run_transaction(self, item: Prepared) -> StepResult:
        backend = self.backend
        t0 = time.perf_counter()
        # the whole step in one round trip, unless a timeout is armed: then each
        # statement goes alone, so the one that runs out of time is known
        if backend.step_in_one_call and item.statements and not self._timed:
            return self._run_in_one_call(item, t0)
        self._say()
        backend.begin()
        try:
            self.execute_body(item, 0, journal=False)
            ms = _ms(t0)
            self.ledger.run(*self._history_ops(item, ms), self._event(item, "ok", ms))
            backend.commit()
        except MigrationFailedError as exc:
            backend.rollback()
            self._record_failure(item, exc, _ms(t0), applied_part="nothing of it was applied")
            raise
        except BaseException:
            backend.rollback()
            raise
        return self._result(item, _ms(t0))

    def _run_journal(
        self, item: Prepared, start: int, resume: bool = False, following: Prepared | None = None
    ) -> StepResult:
        m, led = item.migration, self.ledger
        count = len(item.statements) if item.statements is not None else None
        t0 = time.perf_counter()
        opening: Op | None = None
        if self._opened is not None and self._opened[0] is item:
            self._opened = None  # its running row is committed already
        else:
            opening = self._opening(item, exists=resume or self._has_history_row(item))
        batch = self._batchable(item, start)
        carried = self._carried_opening(following) if batch else None
        if not batch:
            self._say()
        with self.backend.deferred_commits():
            try:
                if batch:
                    self._run_journal_batch(item, opening, carried[0] if carried else None)
                else:
                    if opening is not None:
                        led.run(opening)
                    if start:
                        led.run(led.progress(m.id, start))
                    self.execute_body(item, start, journal=True)
            except MigrationFailedError as exc:
                done: int | None = exc.statement_index  # type: ignore[attr-defined]
                recorded = True
                if (item.self_managed or item.statements is None) and self.backend.in_transaction():
                    # The file's own transaction (or a Python migration's work since
                    # the last implicit commit) rolls back, and with it the journal
                    # entries written inside it: what stays is the committed journal.
                    self.backend.rollback()
                    row = next((r for r in self.ledger.read() if r.version == m.id), None)
                    done = row.progress if row is not None else None
                    recorded = row is not None
                if recorded:
                    led.run(led.fail_run(m.id, done, exc.message[:4000]))
                    state = _journal_state(done, count)
                else:
                    state = "nothing of it was applied"
                self._record_failure(item, exc, _ms(t0), applied_part=state, dirty=recorded)
                raise
            except BaseException:
                if item.self_managed and self.backend.in_transaction():
                    self.backend.rollback()
                raise
            ms = _ms(t0)
            if not batch:
                led.run(*self._journal_closing(item, ms))
        if carried is not None:
            self._opened = (following, carried[1])  # type: ignore[assignment]
        return self._result(item, ms)

    def _has_history_row(self, item: Prepared) -> bool:
        """Whether ``item``'s history row exists before it runs (its opening
        updates that row instead of inserting one)."""
        m = item.migration
        return item.step.direction == "down" or (m.repeatable and self._has_row(m.id))

    def _opening(self, item: Prepared, *, exists: bool) -> Op:
        """The ``running`` row that opens a journaled run of ``item``."""
        m = item.migration
        count = len(item.statements) if item.statements is not None else None
        kind = "repeatable" if m.repeatable else m.kind
        return self.ledger.start_run(m.id, m.name, kind, m.checksum, count, item.step.direction, exists=exists)

    def _carried_opening(self, following: Prepared | None) -> tuple[Op, Op] | None:
        """(opening, take-back) of the step after this one when its running row
        can ride in this step's closing packet. Where journal writes wait for
        the next commit (MySQL/MariaDB), a journaled step otherwise commits its
        running row on its own, by the implicit commit of its first DDL
        statement; written at the end of the step before, the row costs no
        commit. After a crash in between, the record reads as before: the step
        is running, none of its statements completed, the first in doubt."""
        if following is None or following.mode != JOURNAL or not self.backend.defers_journal_commits:
            return None
        timeout = following.step.script.timeout or self.statement_timeout
        if timeout or not self._batchable(following, 0, timed=False):
            return None
        m, led = following.migration, self.ledger
        exists = self._has_history_row(following)
        opening = self._opening(following, exists=exists)
        if not exists:
            return opening, led.delete(m.id)
        if self._rows_before is None:  # read once: a step changes only its own row
            rows = self.rows_before if self.rows_before is not None else led.read()
            self._rows_before = {r.version: r for r in rows}
        row = self._rows_before.get(m.id)
        if row is None or row.status != "applied":
            return None
        return opening, led.restore_applied(row)

    def _take_back_opening(self) -> None:
        """A step opened ahead that never ran (the run stopped before it):
        its row goes back to what it was."""
        if self._opened is None:
            return
        _, undo = self._opened
        self._opened = None
        try:
            self.ledger.run(undo)
        except Exception as exc:  # noqa: BLE001 - the error that stopped the run matters more
            log.warning("could not take back the running row of a migration that did not start: %s", exc)

    def _journal_closing(self, item: Prepared, ms: int | Raw) -> list[Op]:
        """The rows that end a journaled run that succeeded."""
        m, led = item.migration, self.ledger
        count = len(item.statements) if item.statements is not None else None
        if item.step.direction == "down":
            first = led.delete(m.id)
        else:
            first = led.finish_run(m.id, m.checksum, ms, count)  # type: ignore[arg-type]
        return [first, self._event(item, "ok", ms)]  # type: ignore[arg-type]

    def _batchable(self, item: Prepared, start: int, *, timed: bool | None = None) -> bool:
        """Whether a journaled step can go to the server in one round trip:
        plain statements from the first, no timeout to attribute, none that
        returns several results (CALL) or manages its own transaction."""
        backend = self.backend
        timed = self._timed if timed is None else timed
        if not backend.journal_in_one_call or item.statements is None or start or timed:
            return False
        if item.self_managed or not item.statements:
            return False
        if item.several_results is None:
            item.several_results = any(backend.returns_several_results(stmt) for stmt in item.statements)
        return not item.several_results

    def _run_journal_batch(self, item: Prepared, opening: Op | None, carried: Op | None = None) -> None:
        """The journal as the sequential path writes it, sent in one packet:
        the running row (unless the step before committed it), then before
        each statement after the first its progress mark, then the closing
        rows (and ``carried``: the next step's running row). Where DDL commits
        implicitly, each mark is committed by the statement it precedes,
        exactly as when sent one by one; the server stops at the first
        failure, and the results before it say which statement that was."""
        backend, led, m = self.backend, self.ledger, item.migration
        assert item.statements
        pieces: list[str] = []
        timer = backend.batch_timer_sql()
        if timer:
            pieces.append(timer)
        if opening is not None:
            pieces.append(render_literal(opening, led.ph))
        which: dict[int, Statement] = {}
        for stmt in item.statements:
            if self._marked(stmt):
                pieces.append(render_literal(led.progress(m.id, stmt.index), led.ph))
            which[len(pieces)] = stmt
            pieces.append(stmt.sql)
        elapsed = Raw(backend.elapsed_ms_sql(utcnow()))
        pieces.extend(render_literal(op, led.ph) for op in self._journal_closing(item, elapsed))
        if carried is not None:
            pieces.append(render_literal(carried, led.ph))
        try:
            # the line of the step before is written while the server works on this one
            backend.run_batch(pieces, meanwhile=self._meanwhile())
        except StatementError as exc:
            stmt_failed = which.get(exc.index) if exc.index is not None else None
            if stmt_failed is None:  # one of migrata's own rows: not the migration's fault
                raise DatabaseError(f"recording the run of {m.label} failed: {exc.db_message}") from None
            raise self._statement_failure(item, stmt_failed, exc) from None

    def _marked(self, stmt: Statement) -> bool:
        """Whether the journal marks its progress before ``stmt``. Where journal
        writes wait for the next commit (DDL committing implicitly), a mark
        before a statement that does not commit (DML) is only ever committed
        together with that statement and the next mark: after a crash it would
        tell nothing the others do not, so it is left out."""
        if not stmt.index:
            return False
        return not self.backend.defers_journal_commits or not self.backend.transactional_statement(stmt)

    def _has_row(self, version: str) -> bool:
        return any(r.version == version for r in self.ledger.read())

    def execute_body(self, item: Prepared, start: int, *, journal: bool) -> None:
        if item.statements is None:
            self._run_python(item)
            return
        backend, led, m = self.backend, self.ledger, item.migration
        statements = item.statements
        for stmt in statements[start:]:
            if journal and stmt.index > start and self._marked(stmt):
                led.run(led.progress(m.id, stmt.index))
            try:
                backend.run_statement(stmt.sql)
            except StatementError as exc:
                raise self._statement_failure(item, stmt, exc) from None

    def _run_python(self, item: Prepared) -> None:
        m = item.migration
        module = load_python(m)
        fn = getattr(module, item.step.direction)
        ctx = MigrationContext(self.backend, m, item.step.direction)
        try:
            fn(ctx)
        except Exception as exc:  # noqa: BLE001 - any failure of user code fails the migration
            line = _user_line(exc, m.path)
            where = f"{m.path.name}:{line}" if line else m.path.name
            err = MigrationFailedError(
                f"migration {m.label} failed at {where}: {type(exc).__name__}: {exc}",
                version=m.id,
                path=str(m.path),
                line=line,
                db_error=str(exc),
            )
            err.statement_index = None  # type: ignore[attr-defined]
            raise err from exc

    def _run_in_one_call(self, item: Prepared, t0: float) -> StepResult:
        """BEGIN; the migration; its history and event rows; COMMIT — one call.
        The durations in the rows are computed by the database meanwhile."""
        backend, led = self.backend, self.ledger
        text = item.step.script.sql or ""
        elapsed = Raw(backend.elapsed_ms_sql(utcnow()))
        tail = led.render(*self._history_ops(item, elapsed), self._event(item, "ok", elapsed))  # type: ignore[arg-type]
        head = backend.begin_sql + ";\n"
        try:
            self._say()
            backend.run_script(head + text + "\n;\n" + ";\n".join(tail) + ";\nCOMMIT;")
        except StatementError as exc:
            backend.rollback()
            position = exc.position - len(head) if exc.position else None
            if position is not None and 0 < position <= len(text):
                exc.position = position
                err = self._script_failure(item, exc)
            else:  # no position (or one in the bookkeeping): find the statement by replaying
                backend.begin()
                err = self._locate_failure(item, exc)
                backend.rollback()
            self._record_failure(item, err, _ms(t0), applied_part="nothing of it was applied")
            raise err from None
        except BaseException:
            backend.rollback()
            raise
        return self._result(item, _ms(t0))

    def _locate_failure(self, item: Prepared, exc: StatementError) -> MigrationFailedError:
        """The server gave no position (a dependency error, say): roll back, and
        replay the statements one by one in a new transaction, rolled back too,
        to find the one that fails. Only ever done on a failed migration."""
        backend = self.backend
        assert item.statements
        backend.rollback()
        backend.begin()
        try:
            for stmt in item.statements:
                try:
                    backend.run_statement(stmt.sql)
                except StatementError as again:
                    return self._statement_failure(item, stmt, again)
        finally:
            backend.rollback()
        backend.begin()  # the caller rolls back the transaction it opened
        return self._statement_failure(item, item.statements[0], exc)

    def _script_failure(self, item: Prepared, exc: StatementError) -> MigrationFailedError:
        """Map a failure of a whole script run in one call to its statement and line."""
        assert item.statements
        text = item.step.script.sql or ""
        if not exc.position:
            return self._statement_failure(item, item.statements[0], exc)
        line = item.step.script.line_offset + text.count("\n", 0, max(0, exc.position - 1)) + 1
        stmt = item.statements[0]
        for candidate in item.statements:
            if candidate.line <= line:
                stmt = candidate
        return self._statement_failure(item, stmt, StatementError(exc.db_message), line=line)

    def _statement_failure(
        self, item: Prepared, stmt: Statement, exc: StatementError, *, line: int | None = None
    ) -> MigrationFailedError:
        m = item.migration
        script = item.step.script
        if line is None:
            line = stmt.line
            if exc.position:
                line += stmt.sql.count("\n", 0, max(0, exc.position - 1))
            elif exc.line:
                line += exc.line - 1
        shown = _clip(" ".join(stmt.sql.split()), 120)
        # the message stays one line of reasonable length; the server's full
        # text is kept in db_error and in the event log
        db = _clip(one_line(exc.db_message), 400)
        where = f"{Path(script.path).name}:{line}"
        err = MigrationFailedError(
            f"migration {m.label} failed at {where}: {db} [statement {stmt.index + 1}: {shown}]",
            version=m.id,
            path=str(script.path),
            line=line,
            statement=stmt.sql,
            db_error=exc.db_message,
        )
        err.statement_index = stmt.index  # type: ignore[attr-defined]
        return err

    def _record_failure(
        self, item: Prepared, exc: MigrationFailedError, ms: int, *, applied_part: str, dirty: bool = False
    ) -> None:
        detail: dict[str, Any] = {"error": exc.db_error or exc.message, "line": exc.line}
        if exc.statement:
            detail["statement"] = exc.statement[:2000]
        try:
            self.ledger.run(self._event(item, "failed", ms, **detail))
        except Exception:  # noqa: BLE001 - the event must not hide the migration's own error
            log.debug("could not record the failure event", exc_info=True)
        if item.mode == TRANSACTION or not dirty:
            exc.hint = exc.hint or (f"{applied_part}; fix the migration and run `migrata {item.step.direction}` again")
        else:
            exc.hint = exc.hint or (
                f"{applied_part}; the run is recorded as failed: fix the cause, then "
                f"`migrata repair` shows the ways out"
            )
        exc.completed = list(self.results)  # type: ignore[attr-defined]

    def _result(self, item: Prepared, ms: int) -> StepResult:
        m = item.migration
        status = "applied" if item.step.direction == "up" else "rolled back"
        self._done_line = (status, m.label, ms)  # written by _say, now or with the next step
        return StepResult(
            version=m.id,
            name=m.name,
            direction=item.step.direction,
            status=status,
            duration_ms=ms,
            statements=len(item.statements) if item.statements is not None else None,
            mode=item.mode,
            reason=item.step.reason,
        )

    def _meanwhile(self) -> Callable[[], None] | None:
        """What a step gives the backend to do while the database works on it:
        the line of the step before, if one is held back (else it says at once
        what there is to say, and there is nothing to overlap)."""
        if self._done_line is None:
            self._say()
            return None
        return self._say_meanwhile

    def _say_meanwhile(self) -> None:
        """:meth:`_say` while a packet runs. What interrupts it (Ctrl-C) waits
        until the step is recorded: the run then stops between two steps, as
        an interrupt at any other moment of writing a line does."""
        try:
            self._say()
        except BaseException as exc:  # noqa: BLE001 - raised again by run() after the step
            self._stopped = exc

    def _say(self) -> None:
        """Write the log lines held back: that the step before ended, and that
        this one began. Within a run a step's line waits for the next step,
        which writes it once its packet is on its way to the server (where
        the backend sends a step in one packet, see ``run_batch``) or before
        it touches the database; the end of the run writes what is left."""
        done, begun = self._done_line, self._begun_line
        self._done_line = self._begun_line = None
        if done is not None:
            log.info("%s %s (%d ms)", *done)
        if begun is not None:
            log.debug("%s %s", *begun)

    # --- rendering (--sql) -----------------------------------------------------------------
    def render(self, prepared: list[Prepared]) -> str:
        led, b = self.ledger, self.backend
        out: list[str] = []
        if not self.ledger_exists:
            out.append("-- migrata's own tables")
            out.extend(s + ";" for s in led.render(*led.create_ops()))
            out.append("")
        for item in prepared:
            m = item.migration
            script = item.step.script
            out.append(f"-- {item.step.direction} {m.label} ({Path(script.path).name}, {item.mode})")
            body = self._render_body(item)
            if item.mode == TRANSACTION:
                out.append(b.begin_sql + ";")
                out.extend(body)
                out.extend(s + ";" for s in led.render(*self._history_ops(item, 0), self._event(item, "ok", 0)))
                out.append("COMMIT;")
            else:
                count = len(item.statements) if item.statements is not None else None
                kind = "repeatable" if m.repeatable else m.kind
                exists = item.step.direction == "down"
                out.extend(
                    s + ";"
                    for s in led.render(
                        led.start_run(m.id, m.name, kind, m.checksum, count, item.step.direction, exists=exists)
                    )
                )
                statements = item.statements or []
                for k, line in enumerate(body):
                    if k < len(statements) and self._marked(statements[k]):
                        out.append(led.render(led.progress(m.id, k))[0] + ";")
                    out.append(line)
                final = (
                    led.delete(m.id) if item.step.direction == "down" else led.finish_run(m.id, m.checksum, 0, count)
                )
                out.extend(s + ";" for s in led.render(final, self._event(item, "ok", 0)))
            out.append("")
        return "\n".join(out)

    def _render_body(self, item: Prepared) -> list[str]:
        if item.statements is None:
            return [f"-- Python migration {item.migration.path.name}: its SQL is only known when it runs"]
        return [self.backend.render_statement(s) for s in item.statements]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ms(t0: float) -> int:
    return int(round((time.perf_counter() - t0) * 1000))


def _journal_state(done: int | None, count: int | None) -> str:
    if done is None or count is None:
        return "the migration was interrupted"
    if done == 0:
        return f"none of its {count} statements completed"
    return f"statements 1-{done} of {count} completed"


def _user_line(exc: BaseException, path: Path) -> int | None:
    line = None
    import traceback

    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


def lock_timeout_error(holder_text: str, timeout: float, target: str) -> LockTimeoutError:
    return LockTimeoutError(
        f"the migration lock on {target} was not free within {timeout:g}s: held by {holder_text}",
        hint="`migrata lock status` shows the holder; `migrata lock release --force` stops it",
    )
