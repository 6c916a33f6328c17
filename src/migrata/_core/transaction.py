"""Step mode *transaction*: the migration, its history row and its event
commit together, so a crash at any instant leaves the database before or
after the migration, never between.

Where the backend can (``step_in_one_call``: PostgreSQL, SQLite), the whole
step — BEGIN, the migration's SQL, the bookkeeping rows rendered as SQL text,
COMMIT — goes to the database in one call, and the server computes the
step's duration. Otherwise, and when a timeout must say which statement ran
out of time, the statements go one by one inside BEGIN ... COMMIT.

With ``ddl_lock_timeout`` (:mod:`~migrata._core.lockwaits`) the bound on
lock waits opens the transaction (in the same call); an attempt that gave
up waiting for a lock is rolled back and run again, statement by statement
(so the statement that waited is named).
"""

from __future__ import annotations

import re
import time

from migrata._core.ledger import Ledger, Raw
from migrata._core.lockwaits import LockWaits
from migrata._core.steps import (
    Prepared,
    StepResult,
    check_written,
    event_op,
    execute_body,
    history_ops,
    record_failure,
    statement_failure,
    step_result,
    stopped,
)
from migrata.backends.base import Backend, Statement, StatementError, StatementInterrupted
from migrata.errors import ConnectionLostError, DatabaseError, DDLLockTimeoutError, MigrationFailedError
from migrata.util import elapsed_ms, utcnow

__all__ = ["run_transaction"]

NOTHING_APPLIED = "nothing of it was applied"


def run_transaction(
    backend: Backend,
    ledger: Ledger,
    item: Prepared,
    completed: list[StepResult],
    *,
    timed: bool,
    waits: LockWaits | None = None,
) -> StepResult:
    """Run ``item`` in one transaction (``timed``: a timeout is armed;
    ``waits``: lock waits are bounded and retried)."""
    waits = waits or LockWaits(backend, ledger, None)
    while True:
        with waits.attempt():
            try:
                if backend.step_in_one_call and item.statements and not timed and waits.first:
                    return _run_in_one_call(backend, ledger, item, completed, waits)
                return _run_statements(backend, ledger, item, completed, waits)
            except _Again:
                continue


class _Again(Exception):
    """The attempt gave up waiting for a lock; it runs again."""


def _run_statements(
    backend: Backend, ledger: Ledger, item: Prepared, completed: list[StepResult], waits: LockWaits
) -> StepResult:
    """BEGIN, the statements one by one, the rows, COMMIT."""
    t0 = time.perf_counter()
    backend.begin()
    try:
        bound = waits.transaction_sql()
        if bound:
            backend.execute(bound)
        execute_body(backend, item)
        ms = elapsed_ms(t0)
        history = history_ops(ledger, item, ms)
        counts = ledger.run(*history, event_op(ledger, item, "ok", ms))
        check_written(ledger, item, counts[len(history) - 1], committed=False)
        backend.commit()
    except MigrationFailedError as exc:
        backend.rollback()
        if waits.settle(exc):
            raise _Again from None
        record_failure(ledger, item, exc, elapsed_ms(t0), completed, applied_part=NOTHING_APPLIED)
        raise
    except BaseException:
        backend.rollback()
        raise
    return step_result(item, t0)


def _run_in_one_call(
    backend: Backend, ledger: Ledger, item: Prepared, completed: list[StepResult], waits: LockWaits
) -> StepResult:
    """BEGIN; the bound on lock waits; the migration; its history and event
    rows; COMMIT — one call. The durations in the rows are computed by the
    database meanwhile."""
    t0 = time.perf_counter()
    text = item.text or ""
    elapsed = Raw(backend.elapsed_ms_sql(utcnow()))
    history = history_ops(ledger, item, elapsed)
    tail = ledger.render(*history, event_op(ledger, item, "ok", elapsed))
    if backend.commits_in_one_call:
        tail.append("COMMIT")
    bound = waits.transaction_sql()
    head = backend.begin_sql + ";\n" + (bound + ";\n" if bound else "")
    try:
        counts = backend.run_script(head + text + "\n;\n", tail)
    except StatementError as exc:
        backend.rollback()
        position = exc.position - len(head) if exc.position else None
        if position is not None and 0 < position <= len(text):
            exc.position = position
            err = _script_failure(item, exc)
        elif exc.lock_timeout:  # a replay would wait for the lock again: the next attempt names the statement
            err = _lock_failure(item, exc)
        else:  # no position (or one in the bookkeeping): find the statement by replaying
            found = _locate_failure(backend, item, bound)
            if found is None:  # every statement runs: one of migrata's own rows failed
                raise DatabaseError(
                    f"recording the run of {item.migration.label} failed: {exc.db_message}",
                    hint="nothing of it was applied",
                ) from None
            err = found
        if waits.settle(err):
            raise _Again from None
        record_failure(ledger, item, err, elapsed_ms(t0), completed, applied_part=NOTHING_APPLIED)
        raise err from None
    except (StatementInterrupted, ConnectionLostError) as exc:
        backend.rollback()
        raise stopped(item, _running(item, exc, len(head), 2 if bound else 1), exc) from None
    except BaseException:
        backend.rollback()
        raise
    written = counts[len(history) - 1] if len(counts) == len(tail) else None
    if not backend.commits_in_one_call:
        try:
            check_written(ledger, item, written, committed=False)
        except BaseException:
            backend.rollback()
            raise
        backend.commit()
    check_written(ledger, item, written, committed=True)
    return step_result(item, t0)


def _running(
    item: Prepared, exc: StatementInterrupted | ConnectionLostError, head_chars: int, head_statements: int
) -> Statement | None:
    """The statement of ``item`` that ran when ``exc`` stopped its one-call
    step, where it can be known: from the error's position, or from the
    count of the batch's statements that had completed (the one after the
    last completed) — trusted only when the command tag of each completed
    statement matches the statement of the script at its place. None:
    unknown."""
    at = getattr(exc, "position", None)
    if at:
        return _at(item, at - head_chars)
    index, verbs = exc.index, exc.verbs
    if index is None or verbs is None or not item.statements:
        return None
    k = index - head_statements
    if not 0 <= k < len(item.statements) or len(verbs) != index:
        return None
    done = verbs[head_statements:]
    if all(_same_command(stmt.sql, verb) for stmt, verb in zip(item.statements[:k], done, strict=True)):
        return item.statements[k]
    return None


_SELECT_TAGGED = {"SELECT", "CREATE", "TABLE", "VALUES", "WITH", "("}


def _same_command(sql: str, verb: str) -> bool:
    """Whether the server's command tag ``verb`` can answer statement ``sql``."""
    text = re.sub(r"(--[^\n]*\n|/\*.*?\*/|\s)+", " ", sql + "\n", flags=re.S).strip()
    word = (text.split(" ", 1)[0] if text else "").upper().rstrip(";")
    if word.startswith("("):
        word = "("
    if word == verb or word in ("WITH", "("):
        return True
    return verb == "SELECT" and word in _SELECT_TAGGED


def _at(item: Prepared, position: int) -> Statement | None:
    """The statement of ``item`` at ``position`` (1-based, in its text)."""
    text = item.text or ""
    if not item.statements or not 0 < position <= len(text):
        return None
    line = item.step.script.line_offset + text.count("\n", 0, position - 1) + 1
    return [s for s in item.statements if s.line <= line][-1] if item.statements[0].line <= line else None


def _locate_failure(backend: Backend, item: Prepared, bound: str | None) -> MigrationFailedError | None:
    """The server gave no position in the migration (a dependency error, say,
    or an error in the bookkeeping after it): replay the statements one by
    one in a transaction that is rolled back (its lock waits ``bound`` too),
    to find the one that fails; None when none does. Only ever done on a
    failed step."""
    assert item.statements
    backend.begin()
    try:
        if bound:
            backend.execute(bound)
        for stmt in item.statements:
            try:
                backend.run_statement(stmt.sql)
            except StatementError as again:
                return statement_failure(item, stmt, again)
    finally:
        backend.rollback()
    return None


def _lock_failure(item: Prepared, exc: StatementError) -> DDLLockTimeoutError:
    """A step sent in one call gave up waiting for a lock (which statement
    waited, the server does not say)."""
    m = item.migration
    return DDLLockTimeoutError(
        f"migration {m.label} failed: {exc.db_message}",
        version=m.id,
        path=str(item.step.script.path),
        db_error=exc.db_message,
    )


def _script_failure(item: Prepared, exc: StatementError) -> MigrationFailedError:
    """Map a failure of a whole script run in one call to its statement and line."""
    assert item.statements and exc.position
    text = item.text or ""
    line = item.step.script.line_offset + text.count("\n", 0, max(0, exc.position - 1)) + 1
    stmt = item.statements[0]
    for candidate in item.statements:
        if candidate.line <= line:
            stmt = candidate
    return statement_failure(
        item,
        stmt,
        StatementError(exc.db_message, lock_timeout=exc.lock_timeout, exists=exc.exists, hint=exc.hint),
        line=line,
    )
