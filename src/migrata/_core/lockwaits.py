"""DDL that cannot take a table down: ``ddl_lock_timeout`` and ``ddl_retries``.

A statement such as ``ALTER TABLE busy ...`` that waits behind another
session's long transaction makes every later query on ``busy`` queue behind
it. So each migration's lock waits are bounded (PostgreSQL: ``SET LOCAL
lock_timeout`` first in its transaction, and the session's ``lock_timeout``
around a journaled statement that is safe to retry; MySQL/MariaDB: the
session's ``lock_wait_timeout``). A statement that gave up waiting did not
run: the transaction is rolled back and run again (a journaled statement is
run again alone), after an exponential backoff with jitter, up to
``ddl_retries`` attempts in all. Each retry is an event (``lock-retry``) and
counts in the metrics.

From the second attempt on (or on the only one), a second connection asks
the server who holds the lock while the statement waits
(``Backend.lock_blockers``): the last failure names them in its hint.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from migrata._core.ledger import Ledger
from migrata._core.steps import JOURNAL, Prepared
from migrata.backends.base import Backend, LockHolder, Statement
from migrata.errors import DDLLockTimeoutError, MigrationFailedError

__all__ = ["LockWaits"]

log = logging.getLogger("migrata")

#: first backoff, and the longest one (seconds); each wait is drawn between
#: half and all of min(cap, base * 2**(attempt - 1))
BACKOFF_BASE = 0.25
BACKOFF_CAP = 10.0
WATCH_EVERY = 0.05  # how often the second connection asks who blocks


class LockWaits:
    """The lock-wait bound and retries of one run (``timeout`` None: off)."""

    def __init__(self, backend: Backend, ledger: Ledger, timeout: float | None, attempts: int = 5) -> None:
        self.backend = backend
        self.ledger = ledger
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.deadline: float | None = None  # time.monotonic() past which no retry starts
        self.retries: dict[str, int] = {}  # version -> retries made in this run
        self._bound: float | None = None  # the bound of the current step (None: off for it)
        self._item: Prepared | None = None
        self._attempt = 1
        self._index: int | None = None  # the statement being retried (journal)
        self._watch: _Watch | None = None
        self._seen: list[LockHolder] = []  # who blocked the last attempt watched

    # --- per step ------------------------------------------------------------------------
    def start(self, item: Prepared, statement_timeout: float | None) -> None:
        """``item`` starts; its lock waits are bounded unless its own statement
        bound is as short (that bound then governs waits, as before) or it
        manages its own transaction (a statement cannot be retried alone there)."""
        self._item, self._attempt, self._index = item, 1, None
        own = item.step.script.ddl_lock_timeout  # the file's directive (0: off)
        bound = self.timeout if own is None else (own or None)
        if bound and statement_timeout and statement_timeout <= bound:
            bound = None
        if item.self_managed:
            bound = None
        self._bound = bound

    @property
    def first(self) -> bool:
        """Whether this is the step's first attempt (the fast path may run it)."""
        return self._attempt == 1

    def transaction_sql(self) -> str | None:
        """The statement that opens the step's transaction after BEGIN."""
        return self.backend.ddl_lock_sql(self._bound) if self._bound else None

    def bound_session(self, statements: list[Statement] | None = None) -> None:
        """Before journaled ``statements`` (one, or a whole batch): bound the
        session's lock waits when each of them can be retried safely (a
        statement that cannot run in a transaction may have done part of its
        work when it gave up: ``CREATE INDEX CONCURRENTLY`` leaves an invalid
        index); else leave waits unbounded."""
        safe = statements is not None and all(self.backend.no_transaction_reason(s) is None for s in statements)
        self.backend.bound_lock_waits(self._bound if safe else None)

    def bound_one(self, statement: Statement) -> None:
        """Before one journaled statement (see :meth:`bound_session`)."""
        self.bound_session([statement])

    def finish(self) -> None:
        """After the run: the session's lock waits as they were."""
        self._stop_watch()
        self.backend.bound_lock_waits(None)

    # --- attempts ------------------------------------------------------------------------
    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Around one attempt: from the second on (or on the only one), watch
        who blocks it from a second connection."""
        self._seen = []
        if self._bound and (self._attempt > 1 or self.attempts == 1) and self._watch is None:
            self._watch = _Watch(self.backend)
        try:
            yield
        finally:
            self._stop_watch()

    def settle(self, exc: MigrationFailedError) -> bool:
        """``exc`` ended an attempt (its transaction rolled back). True: it gave
        up waiting for a lock and runs again, after the retry is recorded and
        the backoff waited; else ``exc`` is final (a lock timeout's message
        and hint then say how often it waited and who held the lock)."""
        holders = self._stop_watch()
        if not isinstance(exc, DDLLockTimeoutError) or not self._bound or self._item is None:
            return False
        if self._item.mode == JOURNAL and exc.statement_index != self._index:  # a later statement: its own attempts
            self._index, self._attempt = exc.statement_index, 1
        wait = _backoff(self._attempt)
        late = self.deadline is not None and time.monotonic() + wait >= self.deadline
        if self._attempt >= self.attempts or late:
            self._final(exc, holders)
            return False
        self._record_retry(exc, holders, wait)
        time.sleep(wait)
        self._attempt += 1
        return True

    def _record_retry(self, exc: MigrationFailedError, holders: list[LockHolder], wait: float) -> None:
        item = self._item
        assert item is not None
        m = item.migration
        self.retries[m.id] = self.retries.get(m.id, 0) + 1
        log.warning(
            "%s: a statement waited longer than ddl_lock_timeout (%gs) for a lock%s; attempt %d of %d in %.2fs",
            m.label,
            self._bound,
            f" held by {_names(holders)}" if holders else "",
            self._attempt + 1,
            self.attempts,
            wait,
        )
        detail: dict[str, Any] = {
            "attempt": self._attempt,
            "of": self.attempts,
            "ddl_lock_timeout": self._bound,
            "backoff_ms": int(wait * 1000),
            "line": exc.line,
            "mode": item.mode,
            "holders": [h.to_dict() for h in holders],
        }
        if exc.statement:
            detail["statement"] = exc.statement[:2000]
        self.ledger.run(self.ledger.event("lock-retry", version=m.id, name=m.name, outcome="retry", detail=detail))

    def _final(self, exc: DDLLockTimeoutError, holders: list[LockHolder]) -> None:
        assert self._item is not None
        exc.attempts, exc.holders = self._attempt, list(holders)
        where = f" at {Path(exc.path).name}:{exc.line}" if exc.path and exc.line else ""
        shown = ""
        if exc.statement is not None and exc.statement_index is not None:
            text = " ".join(exc.statement.split())
            shown = f" [statement {exc.statement_index + 1}: {text if len(text) <= 120 else text[:117] + '...'}]"
        exc.message = (
            f"migration {self._item.migration.label} failed{where}: it waited longer than ddl_lock_timeout "
            f"({self._bound:g}s) for a lock another session held, {self._attempt} time(s){shown}"
        )
        exc.args = (exc.message,)
        held = f"held by {_names(holders)}" if holders else "held by another session (the server did not say which)"
        exc.hint = f"the lock was {held}: that transaction must end first"

    def _stop_watch(self) -> list[LockHolder]:
        """Stop watching; who was seen blocking the last attempt watched."""
        watch, self._watch = self._watch, None
        if watch is not None:
            self._seen = watch.stop()
        return self._seen


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter before attempt ``attempt + 1``."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


def _names(holders: list[LockHolder]) -> str:
    return "; ".join(h.describe() for h in holders)


class _Watch:
    """A second connection asking, while the attempt runs, who blocks it."""

    def __init__(self, backend: Backend) -> None:
        self.session = backend.session_id()
        self.twin = backend.twin()
        self.seen: list[LockHolder] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="migrata-lock-watch", daemon=True)
        if self.session is not None:
            self._thread.start()

    def _run(self) -> None:
        try:
            self.twin.connect()
            while True:
                found = self.twin.lock_blockers(self.session)
                if found:
                    self.seen = found
                if self._stop.wait(WATCH_EVERY):
                    return
        except Exception:  # noqa: BLE001 - watching is best effort: the migration's error matters
            log.debug("could not ask who blocks the migration", exc_info=True)
        finally:
            self.twin.close()

    def stop(self) -> list[LockHolder]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        return list(self.seen)
