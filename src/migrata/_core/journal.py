"""Step mode *journal*: for what cannot run in one transaction (DDL on
MySQL/MariaDB, ``no-transaction`` migrations, files that begin and commit
their own transactions).

A ``running`` row is committed first, the row's ``progress`` counts the
statements that completed, and the row becomes ``applied`` at the end
(``failed`` on error). After a crash the row says which statements completed
and which one is in doubt; every later command refuses to continue until
``repair``.

Statement by statement, each progress mark is written just before its
statement. Where the backend can (``journal_in_one_call``: MySQL/MariaDB) a
step of plain statements goes in one batch instead: the same rows and marks
in the same order, sent in one round trip; the server stops at the first
failure and says which piece it was. Where DDL commits implicitly, each mark
is committed by the statement it precedes, exactly as when sent one by one
(:func:`~migrata._core.steps.journal_marks`), and marks the schema makes
needless are left out (:func:`~migrata._core.doubt.unmarked`: before a
data change, and before DDL that follows DDL the schema shows). What is
left in doubt after a crash (a statement cut short, one that ended just
before the crash, DDL followed by a data change the crash rolled back, or
two DDL statements with no mark between them) ``repair --resume`` settles
by looking at the schema (:mod:`~migrata._core.doubt`).

Where journal writes wait for the next commit (``defers_journal_commits``),
a step's running row would otherwise cost a commit of its own; within a run,
the batch of the step before writes it (``open_next``) and its commit takes
it along. After a crash in between, the record reads as any interrupted
step's: running, none of its statements completed. A run that stops before
that step starts takes the row back (:func:`may_open_ahead`, the runner).

A statement that gave up waiting for a lock (``ddl_lock_timeout``,
:mod:`~migrata._core.lockwaits`) did not run: it runs again, and the rest
after it, one by one.
"""

from __future__ import annotations

import time

from migrata._core.doubt import unmarked
from migrata._core.ledger import Ledger, Raw
from migrata._core.lockwaits import LockWaits
from migrata._core.steps import (
    JOURNAL,
    Prepared,
    StepResult,
    check_written,
    execute_body,
    journal_closing,
    journal_marks,
    opening_op,
    record_failure,
    statement_failure,
    step_result,
    stopped,
)
from migrata.backends.base import Backend, Statement, StatementError, StatementInterrupted
from migrata.errors import ConnectionLostError, DatabaseError, DDLLockTimeoutError, MigrationFailedError
from migrata.util import elapsed_ms, utcnow

__all__ = ["may_open_ahead", "run_journal"]


def run_journal(
    backend: Backend,
    ledger: Ledger,
    item: Prepared,
    completed: list[StepResult],
    *,
    start: int = 0,
    resume: bool = False,
    timed: bool = False,
    opened: bool = False,
    open_next: Prepared | None = None,
    waits: LockWaits | None = None,
) -> StepResult:
    """Run ``item`` journaled from statement ``start`` (``resume``: its row
    exists already, a dirty run being finished; ``timed``: a timeout is armed,
    so statements go one by one and the one that ran out of time is known;
    ``opened``: the step before wrote its running row; ``open_next``: the step
    after, whose running row this step's batch writes; ``waits``: lock
    waits are bounded and retried)."""
    m = item.migration
    t0 = time.perf_counter()
    waits = waits or LockWaits(backend, ledger, None)
    opening = None if opened else opening_op(ledger, item, exists=resume or _has_row(ledger, item))
    with backend.deferred_commits():
        try:
            try:
                with waits.attempt():
                    if _batchable(backend, item, start, timed):
                        head = ledger.render(opening) if opening is not None else []
                        tail = ledger.render(opening_op(ledger, open_next, exists=False)) if open_next else []
                        waits.bound_session(item.statements)
                        _run_batch(backend, ledger, item, head, tail)
                    else:
                        assert opening is not None and open_next is None
                        ledger.run(opening)
                        if start:
                            ledger.run(ledger.progress(m.id, start))
                        execute_body(backend, item, start, ledger, before=waits.bound_one)
                        closed = ledger.run(*journal_closing(ledger, item, elapsed_ms(t0)))
                        check_written(ledger, item, closed[0], committed=True)
            except DDLLockTimeoutError as exc:
                _run_again(backend, ledger, item, waits, exc, t0, open_next)
        except MigrationFailedError as exc:
            _record_journal_failure(backend, ledger, item, exc, t0, completed)
            raise
        except BaseException:
            if item.self_managed and backend.in_transaction():
                backend.rollback()
            raise
    return step_result(item, t0)


def _run_again(
    backend: Backend,
    ledger: Ledger,
    item: Prepared,
    waits: LockWaits,
    exc: DDLLockTimeoutError,
    t0: float,
    open_next: Prepared | None,
) -> None:
    """Statement ``exc.statement_index`` gave up waiting for a lock, so it did
    not run: run it again and the rest after it, one by one, until they
    complete or the retries are used up; then the closing rows (and the next
    step's running row, which the batch would have written). Its progress
    mark is written first (it may have had none, :func:`~migrata._core.doubt.unmarked`):
    the marks after it are those of a run resumed from it."""
    while waits.settle(exc):
        assert exc.statement_index is not None
        try:
            with waits.attempt():
                ledger.run(ledger.progress(item.migration.id, exc.statement_index))
                execute_body(backend, item, exc.statement_index, ledger, before=waits.bound_one)
            break
        except DDLLockTimeoutError as again:
            exc = again
    else:
        raise exc
    ledger.run(*journal_closing(ledger, item, elapsed_ms(t0)))
    if open_next is not None:
        ledger.run(opening_op(ledger, open_next, exists=False))


def _has_row(ledger: Ledger, item: Prepared) -> bool:
    """Whether ``item``'s history row exists before it runs (its opening
    updates that row instead of inserting one)."""
    m = item.migration
    if item.step.direction == "down":
        return True
    # a Python migration's row outlives an interrupted backfill (resumable)
    return (m.repeatable or item.statements is None) and any(r.version == m.id for r in ledger.read())


def _batchable(backend: Backend, item: Prepared, start: int, timed: bool) -> bool:
    """Whether the step can go to the server in one round trip: plain
    statements from the first, no timeout to attribute, none that returns
    several results (CALL) or manages its own transaction."""
    if not backend.journal_in_one_call or item.statements is None or start or timed:
        return False
    if item.self_managed or not item.statements:
        return False
    return not any(backend.returns_several_results(stmt) for stmt in item.statements)


def may_open_ahead(backend: Backend, item: Prepared, following: Prepared) -> bool:
    """Whether ``item``'s batch may write the running row of ``following``
    (both journaled batches with no timeout, where journal writes wait for
    the next commit; ``following`` applies a migration that has no row yet)."""
    if not backend.defers_journal_commits or item.mode != JOURNAL or following.mode != JOURNAL:
        return False
    if following.step.direction != "up" or following.migration.repeatable:
        return False
    timed = bool(item.step.script.timeout or following.step.script.timeout)
    return _batchable(backend, item, 0, timed) and _batchable(backend, following, 0, timed)


def _run_batch(backend: Backend, ledger: Ledger, item: Prepared, head: list[str], tail: list[str]) -> None:
    """The journal as the statement-by-statement path writes it, in one
    batch: ``head`` (the running row, unless the step before wrote it), then
    before each statement its progress mark, then the closing rows and
    ``tail`` (the next step's running row)."""
    assert item.statements
    m = item.migration
    pieces = list(head)
    which: dict[int, Statement] = {}
    skipped = unmarked(backend, item)
    for stmt in item.statements:
        pieces.extend(ledger.render(*journal_marks(ledger, item, stmt, skipped)))
        which[len(pieces)] = stmt
        pieces.append(stmt.sql)
    closing = len(pieces)  # the write that says the step is done
    pieces.extend(ledger.render(*journal_closing(ledger, item, Raw(backend.elapsed_ms_sql(utcnow())))))
    pieces.extend(tail)
    try:
        counts = backend.run_batch(pieces)
    except StatementError as exc:
        failed = which.get(exc.index) if exc.index is not None else None
        if failed is None:  # one of migrata's own rows: not the migration's fault
            raise DatabaseError(f"recording the run of {m.label} failed: {exc.db_message}") from None
        raise statement_failure(item, failed, exc) from None
    except (StatementInterrupted, ConnectionLostError) as exc:
        raise stopped(item, which.get(exc.index) if exc.index is not None else None, exc) from None
    check_written(ledger, item, counts[closing] if closing < len(counts) else None, committed=True)


def _record_journal_failure(
    backend: Backend,
    ledger: Ledger,
    item: Prepared,
    exc: MigrationFailedError,
    t0: float,
    completed: list[StepResult],
) -> None:
    """Mark the run failed with what the journal says completed."""
    m = item.migration
    done = exc.statement_index
    recorded = True
    if (item.self_managed or item.statements is None) and backend.in_transaction():
        # The file's own transaction (or a Python migration's work since the
        # last implicit commit) rolls back, and with it the journal entries
        # written inside it: what stays is the committed journal.
        backend.rollback()
        row = next((r for r in ledger.read() if r.version == m.id), None)
        done = row.progress if row is not None else None
        recorded = row is not None
    if recorded:
        ledger.run(ledger.fail_run(m.id, done, exc.message[:4000]))
        state = _journal_state(done, item.count)
    else:
        state = "nothing of it was applied"
    record_failure(ledger, item, exc, elapsed_ms(t0), completed, applied_part=state, dirty=recorded)


def _journal_state(done: int | None, count: int | None) -> str:
    if done is None or count is None:
        return "the migration was interrupted"
    if done == 0:
        return f"none of its {count} statements completed"
    return f"statements 1-{done} of {count} completed"
