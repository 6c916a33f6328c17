"""What every way of running a step shares: the prepared step, its result,
the bookkeeping rows it writes, its body, and how a failure is described and
recorded.

The step modes live beside this module: :mod:`~migrata._core.transaction`
(the step and its rows commit together, statement by statement or in one
call) and :mod:`~migrata._core.journal` (a ``running`` row first, progress
marks, then ``applied``: statement by statement or in one batch);
:mod:`~migrata._core.render` writes the same rows as SQL text for ``--sql``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migrata._core.doubt import unmarked
from migrata._core.ledger import Ledger, Op, Raw
from migrata._core.model import Migration, Step, StepResult
from migrata._core.pymigration import load_python
from migrata.backends.base import Backend, Statement, StatementError
from migrata.context import MigrationContext
from migrata.errors import ConnectionLostError, DDLLockTimeoutError, HistoryWriteError, MigrationFailedError, one_line
from migrata.util import elapsed_ms

__all__ = [
    "JOURNAL",
    "TRANSACTION",
    "Prepared",
    "StepResult",
    "check_written",
    "event_op",
    "execute_body",
    "stopped",
    "history_ops",
    "journal_closing",
    "journal_marks",
    "opening_op",
    "record_failure",
    "statement_failure",
    "step_result",
]

log = logging.getLogger("migrata")

TRANSACTION = "transaction"
JOURNAL = "journal"


@dataclass
class Prepared:
    """A step ready to run: its statements (None for Python) and how it runs."""

    step: Step
    statements: list[Statement] | None
    mode: str  # TRANSACTION or JOURNAL
    note: str = ""
    self_managed: bool = False  # the file begins/commits its own transaction
    services: Any = None  # what ctx.backfill works through (the runner's), for a Python step
    text: str | None = None  # the SQL the step runs: its part's, placeholders replaced (None: Python)
    source: Any = None  # the migrations (a Source), to name the file that creates an object

    @property
    def migration(self) -> Migration:
        return self.step.migration

    @property
    def count(self) -> int | None:
        """How many statements the step has (None: a Python migration)."""
        return len(self.statements) if self.statements is not None else None

    @property
    def kind(self) -> str:
        """The kind its history row records."""
        return "repeatable" if self.migration.repeatable else self.migration.kind


# --- bookkeeping rows ------------------------------------------------------------------


def history_ops(ledger: Ledger, item: Prepared, duration_ms: int | Raw) -> list[Op]:
    """The history rows of a step that committed in one transaction."""
    m = item.migration
    if item.step.direction == "down":
        return [ledger.delete(m.id)]
    ops = [ledger.delete(m.id)] if m.repeatable else []
    ops.append(ledger.record_applied(m.id, m.name, item.kind, m.checksum, duration_ms, item.count))  # type: ignore[arg-type]
    return ops


def event_op(ledger: Ledger, item: Prepared, outcome: str, duration_ms: int | Raw, **detail: Any) -> Op:
    """The event row of a step."""
    m = item.migration
    detail.setdefault("mode", item.mode)
    if item.statements is not None:
        detail.setdefault("statements", len(item.statements))
    if item.step.direction == "up":
        detail.setdefault("checksum", m.checksum)
    action = "repeat" if m.repeatable and item.step.direction == "up" else item.step.direction
    return ledger.event(action, version=m.id, name=m.name, outcome=outcome, duration_ms=duration_ms, detail=detail)  # type: ignore[arg-type]


def opening_op(ledger: Ledger, item: Prepared, *, exists: bool) -> Op:
    """The ``running`` row that opens a journaled run of ``item``."""
    m = item.migration
    return ledger.start_run(m.id, m.name, item.kind, m.checksum, item.count, item.step.direction, exists=exists)


def journal_closing(ledger: Ledger, item: Prepared, duration_ms: int | Raw) -> list[Op]:
    """The rows that end a journaled run that succeeded."""
    m = item.migration
    if item.step.direction == "down":
        first = ledger.delete(m.id)
    else:
        first = ledger.finish_run(m.id, m.checksum, duration_ms, item.count)  # type: ignore[arg-type]
    return [first, event_op(ledger, item, "ok", duration_ms)]


def check_written(ledger: Ledger, item: Prepared, count: int | None, *, committed: bool) -> None:
    """Raise unless ``count``, the driver's count of the step's own history
    write (the row that says it is done), says it wrote its one row.
    ``committed``: the step's changes are committed already."""
    if count == 1:
        return
    m, direction = item.migration, item.step.direction
    what = "deleting its history row" if direction == "down" else "recording it in the history"
    cause = (
        f"{what} changed {max(count or 0, 0)} row(s) of {ledger.table}, not 1: a trigger or rule there discards writes"
    )
    fix = f"find the trigger or rule on {ledger.table} that discards migrata's writes and remove it"
    if not committed:
        message, hint = f"{cause}; nothing of it was applied", f"{fix}, then run `migrata {direction}` again"
    elif direction == "up":
        message = f"{cause}; its changes are committed, but the history does not say it is applied"
        hint = f"{fix}; then `migrata stamp {m.id}` records it (or `migrata repair {m.id}` if its row reads running)"
    else:
        message = f"{cause}; it was rolled back, but the history still says it is applied"
        hint = f"{fix}; then `migrata stamp VERSION --force` with the version below {m.id} drops its row"
    raise HistoryWriteError(f"migration {m.label}: {message}", version=m.id, hint=hint)


def journal_marks(ledger: Ledger, item: Prepared, stmt: Statement, skipped: frozenset[int]) -> list[Op]:
    """The journal's writes just before ``stmt``: its progress mark (``stmt.index``
    statements completed), unless it is the first or one of ``skipped``
    (:func:`~migrata._core.doubt.unmarked`: where journal writes wait for the
    next commit, a mark that would tell a crash nothing the schema does not)."""
    if not stmt.index or stmt.index in skipped:
        return []
    return [ledger.progress(item.migration.id, stmt.index)]


# --- the body --------------------------------------------------------------------------


def execute_body(
    backend: Backend,
    item: Prepared,
    start: int = 0,
    ledger: Ledger | None = None,
    before: Callable[[Statement], None] | None = None,
) -> None:
    """Run the step's statements from ``start`` one by one (or its Python
    function); with a ``ledger``, mark the journal's progress before each;
    ``before(statement)`` is called just before each statement runs."""
    if item.statements is None:
        run_python(backend, item)
        return
    skipped = unmarked(backend, item, start) if ledger is not None else frozenset()
    for stmt in item.statements[start:]:
        if ledger is not None and stmt.index > start:
            ledger.run(*journal_marks(ledger, item, stmt, skipped))
        if before is not None:
            before(stmt)
        try:
            backend.run_statement(stmt.sql)
        except StatementError as exc:
            raise statement_failure(item, stmt, exc) from None
        except (KeyboardInterrupt, ConnectionLostError) as exc:
            raise stopped(item, stmt, exc) from None


def run_python(backend: Backend, item: Prepared) -> None:
    """Call the Python migration's ``up``/``down`` with its context."""
    m = item.migration
    fn = getattr(load_python(m), item.step.direction)
    try:
        ctx = MigrationContext(backend, m.id, m.name, item.step.direction, services=item.services)
        ctx.transactional = item.step.script.transactional
        fn(ctx)
    except Exception as exc:  # noqa: BLE001 - any failure of user code fails the migration
        line = _user_line(exc, m.path)
        where = f"{m.path.name}:{line}" if line else m.path.name
        raise MigrationFailedError(
            f"migration {m.label} failed at {where}: {type(exc).__name__}: {exc}",
            version=m.id,
            path=str(m.path),
            line=line,
            db_error=str(exc),
        ) from exc


def _user_line(exc: BaseException, path: Path) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return line


# --- failures --------------------------------------------------------------------------


def statement_failure(
    item: Prepared, stmt: Statement, exc: StatementError, *, line: int | None = None, source: Any = None
) -> MigrationFailedError:
    """The error of ``stmt`` of ``item``, naming file, line and statement
    (and the objects that block it, with the files that create them from
    ``source``, or the step's)."""
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
    hint = exc.hint
    if exc.dependents:
        from migrata._core.dependents import dependents_hint

        hint = dependents_hint(exc.dependents, source or item.source)
    if exc.exists and item.step.direction == "up":
        hint = (
            f"if the database had this schema before migrata, record the migrations up to {m.id} as applied "
            f"without running them: `migrata stamp {m.id}` (alias `baseline`)"
        )
    # a statement that gave up waiting for a lock did not run: it may run again
    return (DDLLockTimeoutError if exc.lock_timeout else MigrationFailedError)(
        f"migration {m.label} failed at {Path(script.path).name}:{line}: {db} [statement {stmt.index + 1}: {shown}]",
        version=m.id,
        path=str(script.path),
        line=line,
        statement=stmt.sql,
        statement_index=stmt.index,
        db_error=exc.db_message,
        hint=hint,
    )


def stopped(item: Prepared, stmt: Statement | None, exc: BaseException) -> BaseException:
    """Ctrl-C (a KeyboardInterrupt) or a connection the server ended
    (ConnectionLostError) while ``stmt`` of ``item`` ran (None: unknown):
    the same exception, saying where the run stopped and what is left."""
    m = item.migration
    where = f"migration {m.label}"
    if stmt is not None:
        shown = _clip(" ".join(stmt.sql.split()), 80)
        where += f", statement {stmt.index + 1} ({Path(item.step.script.path).name}:{stmt.line}: {shown})"
    if item.mode == "transaction":
        left = "nothing of it was applied; run the command again"
    else:
        left = f"the run is recorded as interrupted: `migrata repair {m.id}` shows what completed"
    if isinstance(exc, ConnectionLostError):
        exc.message = f"the connection to the database was terminated while it ran {where} ({exc.message})"
        exc.args, exc.hint = (exc.message,), left
        return exc
    return KeyboardInterrupt(f"interrupted (Ctrl-C) while running {where}; {left}")


def record_failure(
    ledger: Ledger,
    item: Prepared,
    exc: MigrationFailedError,
    ms: int,
    completed: list[StepResult],
    *,
    applied_part: str,
    dirty: bool = False,
) -> None:
    """Write the failure's event (never hiding the error itself), and give
    the error its hint and the steps completed before it."""
    detail: dict[str, Any] = {"error": exc.db_error or exc.message, "line": exc.line}
    if exc.statement:
        detail["statement"] = exc.statement[:2000]
    try:
        ledger.run(event_op(ledger, item, "failed", ms, **detail))
    except Exception:  # noqa: BLE001 - the event must not hide the migration's own error
        log.debug("could not record the failure event", exc_info=True)
    if not dirty:
        way_out = f"{applied_part}; fix the migration and run `migrata {item.step.direction}` again"
    else:
        way_out = (
            f"{applied_part}; the run is recorded as failed: fix the cause, then "
            f"`migrata repair {item.migration.id}` shows the ways out"
        )
    if isinstance(exc, DDLLockTimeoutError) and exc.hint:  # who held the lock, then the way out
        exc.hint = f"{exc.hint}; {way_out}"
    elif exc.hint:  # the statement's own way out (see statement_failure)
        more = f"; the run is recorded as failed: `migrata repair {item.migration.id}` shows the ways out"
        exc.hint = f"{applied_part}; {exc.hint}{more if dirty else ''}"
    else:
        exc.hint = way_out
    exc.completed = list(completed)


def step_result(item: Prepared, t0: float) -> StepResult:
    """The result of ``item``, which started at ``t0`` and succeeded."""
    m = item.migration
    return StepResult(
        version=m.id,
        name=m.name,
        direction=item.step.direction,
        status="applied" if item.step.direction == "up" else "rolled back",
        duration_ms=elapsed_ms(t0),
        statements=item.count,
        mode=item.mode,
        reason=item.step.reason,
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
