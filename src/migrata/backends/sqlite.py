"""SQLite backend: the standard library's ``sqlite3``, no extra needed.

* Statements are split with ``sqlite3.complete_statement``, SQLite's own test
  for a complete statement (comments, quoted semicolons and
  ``CREATE TRIGGER ... BEGIN ... END;`` bodies included).
* Foreign keys are switched on for every connection.
* The migration lock is an ``flock`` on ``<database>-migrata.lock`` beside the
  database: the kernel frees it when the holding process dies, so it can
  never go stale. The file records the holder's pid, host and start time.
* Statement timeouts are enforced with a progress handler that interrupts a
  statement running past its deadline.
* A run of several transactional SQL migrations commits in WAL mode (one
  sync per commit instead of four, as durable): see ``run_of_transactions``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from migrata.backends._ctrl_c import CtrlC
from migrata.backends._objects import sqlite_dependents, sqlite_lookup
from migrata.backends._sqlite_errors import database_error, statement_error
from migrata.backends._sqltext import leading_keywords, split_sqlite
from migrata.backends.base import Backend, LockHolder, Statement, StatementError
from migrata.errors import DatabaseError, UsageError
from migrata.util import hostname, mask_url, poll, utc_iso

log = logging.getLogger("migrata")

__all__ = ["SQLiteBackend"]

_MISSING_FOLDER = "create the folder, or fix the path in the database URL"
_TX_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK"}
_ROLLBACK_JOURNALS = ("delete", "truncate", "persist")
# switching to WAL and back costs about what WAL saves over four commits
_WAL_FROM = 4
_FIRST_WAIT = 0.1  # seconds a query outside the migration lock waits for SQLite's lock before saying so


class SQLiteBackend(Backend):
    dialect = "sqlite"
    transactional_ddl = True
    placeholder = "?"
    primary_key_sql = "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk"
    key_type = "VARCHAR(255)"
    text_type = "TEXT"
    id_column = "id INTEGER PRIMARY KEY"  # the rowid: no sqlite_sequence page to update per event
    begin_sql = "BEGIN IMMEDIATE"
    step_in_one_call = True
    connect_creates = True
    dependents = sqlite_dependents  # views and foreign keys SQLite would let a DROP TABLE break

    def __init__(self, url: Any, *, options: dict[str, Any] | None = None) -> None:
        super().__init__(url, options=options)
        self._conn: sqlite3.Connection | None = None
        self._busy = 5.0  # seconds to wait for SQLite's lock (the lock timeout)
        self._patient = True  # waits all of _busy now (see _wait_on)
        self._lock_fd: int | None = None
        self._holder: dict[str, Any] = {}  # this process's details in the lock file
        self._put_back: str | None = None  # the journal mode a run switched away from
        self._deadline: float | None = None
        self._timeout: float | None = None
        self._traced: list[str] | None = None  # statements run_script started
        self._ctrl_c = CtrlC()  # Ctrl-C while a migration statement runs

    @property
    def path(self) -> str:
        return self.url.database or ":memory:"

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    # --- connection -------------------------------------------------------------
    def cannot_create(self) -> str | None:
        parent = Path(self.path).parent
        return None if self.in_memory or parent.is_dir() else f"folder {parent} does not exist"

    def connect(self) -> None:
        if self._conn is not None:
            return
        if reason := self.cannot_create():
            raise DatabaseError(f"cannot open SQLite database {self.path}: {reason}", hint=_MISSING_FOLDER)
        self._busy = busy = float(self.options.get("busy_timeout", 5.0))
        self._patient = busy <= _FIRST_WAIT or self._lock_fd is not None
        wait = busy if self._patient else _FIRST_WAIT
        try:
            mode = self.url.query.get("mode")
            if mode:
                conn = sqlite3.connect(f"file:{self.path}?mode={mode}", uri=True, isolation_level=None, timeout=wait)
            else:
                conn = sqlite3.connect(self.path, isolation_level=None, timeout=wait)
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise DatabaseError(f"cannot open SQLite database {self.path}: {exc}") from None
        conn.set_progress_handler(self._progress, 2000)
        conn.set_trace_callback(self._trace)  # an on_connect hook may set its own: then it wins
        self._conn = conn
        if not self.in_memory and mode not in ("ro", "memory"):
            self._put_back_left_journal()

    def _put_back_left_journal(self) -> None:
        """A run killed in WAL left the mode to put back in the lock file (a
        free lock's file is otherwise empty: one ``stat`` tells): put it
        back now, holding the lock for that moment, whatever the command."""
        try:
            if self._lock_fd is not None or os.stat(self.lock_path).st_size == 0:
                return
        except OSError:
            return
        patient = self._patient
        with contextlib.suppress(DatabaseError):
            if self.acquire_lock(0):  # puts the mode back (see acquire_lock)
                self.release_lock()
        self._be_patient(patient)

    def close(self) -> None:
        self.release_lock()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, waiting all of the lock timeout for SQLite's lock
        (only migrata's own queries wait a short while first: see _wait_on)."""
        if self._conn is None:
            self.connect()
        assert self._conn is not None
        self._be_patient()
        return self._conn

    @property
    def _own(self) -> sqlite3.Connection:
        """The connection for migrata's own statements and queries."""
        if self._conn is None:
            self.connect()
        assert self._conn is not None
        return self._conn

    def server_version(self) -> str:
        return sqlite3.sqlite_version

    def database_exists(self) -> bool:
        return self.in_memory or os.path.exists(self.path)

    def create(self) -> bool:
        if self.in_memory or os.path.exists(self.path):
            return False
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(self.path).close()
        return True

    def drop(self) -> bool:
        if self.in_memory or not os.path.exists(self.path):
            return False
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm", "-migrata.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)
        return True

    # --- backups -------------------------------------------------------------------------
    def backup_to(self, path: Path) -> None:
        """SQLite's online backup API: a consistent copy while others write."""
        dest = sqlite3.connect(path)
        try:
            self.connection.backup(dest)
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite backup to {path} failed: {exc}") from None
        finally:
            dest.close()

    def check_backup(self, path: Path) -> str | None:
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            return f"cannot open it: {exc}"
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.Error as exc:
            return f"not a readable SQLite database: {exc}"
        finally:
            conn.close()
        return None if rows == [("ok",)] else "integrity_check: " + "; ".join(str(r[0]) for r in rows[:5])

    def restore_from(self, path: Path) -> None:
        """The backup API backwards: the backup's pages replace the live ones in one step."""
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            src.backup(self.connection)
        except sqlite3.Error as exc:
            raise DatabaseError(f"SQLite restore from {path} failed: {exc}") from None
        finally:
            src.close()

    def size_estimate(self) -> int:
        return 0 if self.in_memory or not os.path.exists(self.path) else os.path.getsize(self.path)

    def scratch(self) -> SQLiteBackend:
        copy = SQLiteBackend(type(self.url).parse("sqlite:///:memory:"))
        copy.connect()
        if self.database_exists() and not self.in_memory:
            todo = [
                sql
                for (sql,) in self.connection.execute(
                    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
                )
            ]
            while todo:  # views and triggers may name objects created after them
                failed = []
                for sql in todo:
                    try:
                        copy.connection.execute(sql)
                    except sqlite3.Error:
                        failed.append(sql)
                if len(failed) == len(todo):
                    break
                todo = failed
        return copy

    def in_transaction(self) -> bool:
        return self._conn is not None and self._conn.in_transaction

    # --- statements ----------------------------------------------------------------
    def _be_patient(self, patient: bool = True) -> None:
        """From now on wait all of the lock timeout for SQLite's lock (or, not
        ``patient``, the first short wait of :meth:`_wait_on`)."""
        if self._patient == patient:
            return
        self._patient = patient
        if self._conn is not None:
            wait = self._busy if patient else _FIRST_WAIT
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")

    def _wait_on(self, exc: sqlite3.Error) -> bool:
        """True when a query of migrata's own, outside the migration lock, found
        the database locked in its first short wait: it says who holds it (a
        run in progress holds SQLite's lock from one migration to the next),
        then the query is tried again with the whole lock timeout."""
        if self._patient or (getattr(exc, "sqlite_errorcode", 0) & 0xFF) != 5:  # SQLITE_BUSY
            return False
        holder = self.lock_holder()
        if holder is not None:
            log.warning(
                "waiting for the database, in use by a migration run: the lock is held by %s", holder.describe()
            )
        else:
            log.warning("waiting for the database, locked by another connection")
        self._be_patient()
        return True

    def _own_cursor(self, sql: str, params: tuple[Any, ...] | list[Any], what: str = "query") -> sqlite3.Cursor:
        """A statement or query of migrata's own, tried again once SQLite's lock
        was waited for (see :meth:`_wait_on`)."""
        try:
            return self._own.execute(sql, params)
        except sqlite3.Error as exc:
            if self._wait_on(exc):
                return self._own_cursor(sql, params, what)
            raise database_error(self.path, exc) or DatabaseError(
                f"SQLite error in migrata's own {what}: {exc}"
            ) from exc

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        return int(self._own_cursor(sql, params, "statement").rowcount)

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._own_cursor(sql, params)
        try:
            return cur.fetchall()
        except sqlite3.Error as exc:
            raise database_error(self.path, exc) or DatabaseError(
                f"SQLite error in migrata's own query: {exc}"
            ) from exc

    def run_statement(self, sql: str) -> None:
        conn = self.connection
        with self.statement_guard(), self._ctrl_c.watching():
            try:
                conn.execute(sql)
            except sqlite3.Error as exc:
                self._ctrl_c.take()
                timed_out = self._deadline is not None and time.monotonic() >= self._deadline
                raise database_error(self.path, exc) or statement_error(exc, timed_out=timed_out) from None
            if self._ctrl_c.take():  # pressed as it started, and it ended before the progress handler ran
                raise KeyboardInterrupt

    @contextlib.contextmanager
    def statement_guard(self) -> Iterator[None]:
        """Arm the timeout for one statement; one cut short by it raises StatementError saying so."""
        self._deadline = time.monotonic() + self._timeout if self._timeout else None
        try:
            yield
        except (sqlite3.Error, StatementError):
            if self._timeout and self._deadline is not None and time.monotonic() >= self._deadline:
                raise StatementError(
                    f"statement cancelled: it ran longer than its timeout of {self._timeout:g}s"
                ) from None
            raise
        finally:
            self._deadline = None

    def run_script(self, sql: str, tail: Sequence[str] = ()) -> list[int]:
        """``executescript``: SQLite parses and runs the whole text itself. No
        transaction may be open (the text brings its own BEGIN). The ``tail``
        statements follow one by one, each with its own count (in process:
        no round trip), and the runner commits once it has read them."""
        conn = self.connection
        traced = self._traced = []  # each statement's text as it starts: Ctrl-C names the one running
        try:
            with self._ctrl_c.watching():
                conn.executescript(sql)
                if self._ctrl_c.take():
                    raise KeyboardInterrupt
            return [int(conn.execute(statement).rowcount) for statement in tail]
        except sqlite3.Error as exc:
            self._ctrl_c.take()
            raise database_error(self.path, exc) or statement_error(exc, script=sql, traced=traced) from None
        finally:
            self._traced = None

    def elapsed_ms_sql(self, started: str) -> str:
        return f"CAST(ROUND((julianday('now') - julianday('{started.rstrip('Z')}')) * 86400000) AS INTEGER)"

    def _trace(self, text: str) -> None:
        if self._traced is not None:
            self._traced.append(text)

    def _progress(self) -> int:
        if self._ctrl_c.pressed:  # its KeyboardInterrupt may have been dropped (_ctrl_c)
            return 1
        deadline = self._deadline
        return 1 if deadline is not None and time.monotonic() >= deadline else 0

    def apply_timeout(self, seconds: float | None) -> None:
        self._timeout = seconds

    def split(self, sql: str) -> list[Statement]:
        return [Statement(text, line, i) for i, (text, line) in enumerate(split_sqlite(sql))]

    def manages_transaction(self, stmt: Statement) -> bool:
        words = leading_keywords(stmt.sql, 2)
        if not words:
            return False
        if words[0] in _TX_CONTROL:
            return not (words[0] == "ROLLBACK" and words[1:2] == ["TO"])
        return words[0] == "PRAGMA" and len(words) > 1 and words[1] == "FOREIGN_KEYS"

    def no_transaction_reason(self, stmt: Statement) -> str | None:
        words = leading_keywords(stmt.sql, 2)
        if not words:
            return None
        if words[0] == "VACUUM":
            return "VACUUM cannot run inside a transaction"
        if words[0] in ("ATTACH", "DETACH"):
            return f"{words[0]} cannot run inside a transaction"
        if words[0] == "PRAGMA" and len(words) > 1 and words[1] == "JOURNAL_MODE":
            return "PRAGMA journal_mode cannot change inside a transaction"
        return None

    # --- locking -------------------------------------------------------------------
    @property
    def lock_path(self) -> str:
        return f"{self.path}-migrata.lock"

    def acquire_lock(self, timeout: float) -> bool:
        if self.in_memory or self._lock_fd is not None:
            return True
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseError(f"cannot create lock file {self.lock_path}: {exc.strerror}") from None

        def attempt() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise DatabaseError(f"cannot lock {self.lock_path}: {exc.strerror}") from None
                return False

        if not poll(attempt, timeout, most=0.1):
            os.close(fd)
            return False
        self._lock_fd = fd
        self._be_patient()  # the run's own statements wait all of the lock timeout
        left = _read_record(fd).get("journal")  # a run killed in WAL left its mode to put back
        self._put_back = str(left) if left in _ROLLBACK_JOURNALS else None
        self._holder = {
            "pid": os.getpid(),
            "host": hostname(),
            "since": utc_iso(),
            "detail": mask_url(" ".join(["migrata", *sys.argv[1:]]))[:200],
        }
        self._write_record()
        if self._put_back:
            self._leave_wal()
        return True

    def _write_record(self, *, holder: bool = True) -> None:
        """The lock file: the holder's details (unless it is letting go) and
        the journal mode to put back, while the database is in WAL for a run."""
        if self._lock_fd is None:
            return
        record = dict(self._holder) if holder else {}
        if self._put_back:
            record["journal"] = self._put_back
        with contextlib.suppress(OSError):
            os.ftruncate(self._lock_fd, 0)
            if record:
                os.pwrite(self._lock_fd, json.dumps(record).encode(), 0)

    def _journal_mode(self, change: str | None = None) -> str:
        sql = "PRAGMA journal_mode" if change is None else f"PRAGMA journal_mode = {change}"
        try:
            return str(self.connection.execute(sql).fetchone()[0]).lower()
        except sqlite3.Error:  # "database is locked": another connection keeps it in WAL
            return ""

    @contextlib.contextmanager
    def run_of_transactions(self, count: int) -> Iterator[None]:
        """Around ``count`` steps that each commit one transaction, under the
        migration lock: a database in a rollback-journal mode commits them in
        WAL mode with synchronous FULL (one sync per commit instead of four,
        as durable), and its own mode comes back at the end. The lock file
        names that mode meanwhile: if this process dies, the next holder of
        the lock puts it back. A database already in WAL mode stays as it is."""
        if count < _WAL_FROM or self.in_memory or self._lock_fd is None or self._put_back:
            yield
            return
        mode = self._journal_mode()
        if mode not in _ROLLBACK_JOURNALS:
            yield
            return
        self._put_back = mode
        self._write_record()  # before the switch: a death right after it still leaves the record
        if self._journal_mode("WAL") != "wal":  # not possible here (a network file system...)
            self._put_back = None
            self._write_record()
            yield
            return
        self.connection.execute("PRAGMA synchronous = FULL")
        try:
            yield
        finally:
            self._leave_wal()

    def _leave_wal(self) -> None:
        """Put back the journal mode a run switched away from; while other
        connections keep the database open in WAL that fails, and the lock
        file keeps the mode for the next holder."""
        mode = self._put_back
        if mode is None:
            return
        conn = self.connection
        conn.execute("PRAGMA busy_timeout = 0")  # others keeping it open stay open: no use waiting
        try:
            if self._journal_mode() != "wal" or self._journal_mode(mode) == mode:
                self._put_back = None
                self._write_record()
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy * 1000)}")

    def release_lock(self) -> None:
        fd = self._lock_fd
        if fd is None:
            return
        # erase our details before letting go: a reader that finds the lock held
        # but no holder in the file waits for the next holder to write its own
        self._write_record(holder=False)
        self._lock_fd = None
        self._put_back = None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)

    def lock_holder(self) -> LockHolder | None:
        if self.in_memory or not os.path.exists(self.lock_path):
            return None
        if self._lock_fd is not None:
            return self._read_holder(self._lock_fd)
        try:
            fd = os.open(self.lock_path, os.O_RDONLY)
        except OSError:
            return None
        try:
            for _ in range(40):
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    holder = self._read_holder(fd)
                    if holder is not None and _alive(holder):
                        return holder
                    time.sleep(0.005)  # a new holder is writing its details
                    continue
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            return self._read_holder(fd) or LockHolder(detail="holder unknown")
        finally:
            os.close(fd)

    @staticmethod
    def _read_holder(fd: int) -> LockHolder | None:
        """The holder the lock file names (None when it names none)."""
        data = _read_record(fd)
        if "pid" not in data and "detail" not in data:
            return None  # empty, or only a journal mode left for the next holder
        return LockHolder(
            pid=data.get("pid"),
            host=data.get("host"),
            since=data.get("since"),
            detail=data.get("detail"),
            since_what="lock taken" if data.get("since") else None,
        )

    def end_holder(self, holder: LockHolder) -> None:
        """SIGTERM the holding process (same host only), SIGKILL after 10 s."""
        import signal

        if holder.pid is None or holder.host != hostname():
            raise UsageError(
                f"the lock is held by {holder.describe()}, which is not a process on this host",
                hint="stop that process on its own host",
            )
        if holder.pid == os.getpid():
            self.release_lock()
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(holder.pid, signal.SIGTERM)
        if not poll(lambda: self.lock_holder() is None, 10.0):
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder.pid, signal.SIGKILL)

    # --- introspection ------------------------------------------------------------------
    def table_names(self) -> list[str]:
        rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [r[0] for r in rows]

    def has_object(self, kind: str, name: str, *, table: str | None = None) -> bool | None:
        lookup = sqlite_lookup(kind, name, table)
        return lookup if lookup is None or isinstance(lookup, bool) else bool(self.query(*lookup))

    def schema_snapshot(self) -> dict[str, Any]:
        rows = self.query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        )
        objects = {f"{t}:{n}": {"table": tbl, "sql": " ".join((sql or "").split())} for t, n, tbl, sql in rows}
        columns = {}
        for name in self.table_names():
            info = self.query(f"PRAGMA table_info({self.quote_ident(name)})")
            columns[name] = [tuple(c[1:]) for c in info]
        return {"objects": objects, "columns": columns}


def _read_record(fd: int) -> dict[str, Any]:
    """What the lock file says (empty when it says nothing readable)."""
    try:
        text = os.pread(fd, 4096, 0).decode().strip()
        data = json.JSONDecoder().raw_decode(text)[0] if text else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(holder: LockHolder) -> bool:
    """False when the recorded holder is a process of this host that is gone."""
    if holder.pid is None or holder.host != hostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except OSError as exc:  # PermissionError: alive, another user's
        return not isinstance(exc, ProcessLookupError)
    return True
