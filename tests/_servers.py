"""Shared helpers of the real-server failure tests (test_server_*.py).

A :class:`Server` is one fresh database on the PostgreSQL or MariaDB test
server (created and dropped by ``migrata.testing.temporary_database``) plus a
project folder: it runs the ``migrata`` CLI against it (in a subprocess or in
this process) and reads the database directly with the driver, so the tests
check what the server really holds, not what migrata says it holds.

An unreachable server skips the test locally and fails it in CI
(``migrata.testing.plugin.fresh_database``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _secrets import assert_no_leak
from migrata.testing import CliResult, run_cli, wait_for
from migrata.testing.plugin import fresh_database


def kill_once_past(proc: subprocess.Popen[str], passed: Callable[[], bool], timeout: float, what: str) -> bool:
    """Wait until ``passed()`` (or ``proc`` ends), then SIGKILL ``proc`` if it
    still runs and reap it; whether it was killed."""
    try:
        wait_for(lambda: passed() or proc.poll() is not None, timeout, what)
    finally:
        killed = proc.poll() is None
        if killed:
            proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    return killed


def driver_connect(dialect: str, url: str, **extra: Any) -> Any:
    """A new autocommit connection to ``url`` through the database's own
    driver (``extra``: driver options, for the servers)."""
    if dialect == "sqlite":
        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    if dialect == "postgresql":
        import psycopg

        return psycopg.connect(url, autocommit=True, **extra)
    import pymysql

    from migrata.backends.base import DatabaseURL

    u = DatabaseURL.parse(url)
    return pymysql.connect(
        host=u.host,
        port=u.port or 3306,
        user=u.username or "root",
        password=u.password or "",
        database=u.database,
        autocommit=True,
        **extra,
    )


SERVERS = ("postgresql", "mysql")
LEDGER = {"migrata_history", "migrata_events"}


class Server:
    """One fresh database on a real server, and a migrata project using it."""

    def __init__(self, dialect: str, url: str, root: Path) -> None:
        self.dialect = dialect
        self.url = url
        self.name = url.rsplit("/", 1)[1].split("?", 1)[0]
        self.root = root
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)
        self._conn: Any = None

    @property
    def pg(self) -> bool:
        return self.dialect == "postgresql"

    # --- files -------------------------------------------------------------------------
    def write(self, name: str, text: str) -> Path:
        path = self.migrations / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    # --- the CLI -----------------------------------------------------------------------
    def args(self, *args: str, url: str | None = None) -> list[str]:
        return ["--url", url or self.url, "--migrations", str(self.migrations), *args]

    def cli(self, *args: str, url: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        """``migrata ARGS`` in a subprocess (its output holds no test password)."""
        proc = subprocess.run(
            [sys.executable, "-m", "migrata", *self.args(*args, url=url)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        assert_no_leak(proc.stdout + proc.stderr, "the output of `migrata ...`")
        return proc

    def popen(self, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "migrata", *self.args(*args)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.root,
        )

    def run(self, *args: str, url: str | None = None) -> CliResult:
        """``migrata ARGS`` in this process (faster; for checks between kills)."""
        return run_cli(self.args(*args, url=url), cwd=self.root)

    # --- the database, read directly ----------------------------------------------------
    def connect(self, **extra: Any) -> Any:
        """A new autocommit driver connection to this database."""
        return driver_connect("postgresql" if self.pg else "mysql", self.url, **extra)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.cursor()
        try:
            cur.execute(query, params or None)
            try:
                return [tuple(r) for r in cur.fetchall()]
            except Exception:  # noqa: BLE001 - a statement without a result set
                return []
        finally:
            cur.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def schema_filter(self) -> str:
        return "table_schema = current_schema()" if self.pg else "table_schema = DATABASE()"

    def all_tables(self) -> set[str]:
        rows = self.sql(
            f"SELECT table_name FROM information_schema.tables WHERE {self.schema_filter()} "
            "AND table_type = 'BASE TABLE'"
        )
        return {r[0] for r in rows}

    def tables(self) -> set[str]:
        """The user's tables (migrata's own left out)."""
        return self.all_tables() - LEDGER

    def columns(self, table: str) -> set[str]:
        rows = self.sql(
            f"SELECT column_name FROM information_schema.columns WHERE {self.schema_filter()} AND table_name = %s",
            (table,),
        )
        return {r[0] for r in rows}

    def history(self) -> dict[str, tuple[Any, ...]]:
        """version -> (status, progress, statements); {} without a history table."""
        if "migrata_history" not in self.all_tables():
            return {}
        rows = self.sql(
            "SELECT version, status, progress, statements FROM migrata_history WHERE kind <> 'ledger' ORDER BY version"
        )
        return {r[0]: tuple(r[1:]) for r in rows}

    def events(self) -> list[tuple[Any, ...]]:
        """(action, version, outcome, duration_ms, detail) in order."""
        if "migrata_events" not in self.all_tables():
            return []
        rows = self.sql("SELECT action, version, outcome, duration_ms, detail FROM migrata_events ORDER BY id")
        return [(a, v, o, d, json.loads(det) if det else {}) for a, v, o, d, det in rows]

    def sessions(self) -> list[int]:
        """Server sessions connected to this database, other than ours."""
        if self.pg:
            rows = self.sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,)
            )
        else:
            rows = self.sql(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()", (self.name,)
            )
        return sorted(int(r[0]) for r in rows)

    def wait_sessions_gone(self, timeout: float = 30) -> None:
        """After killing a client: its server session may still finish a long
        statement; wait until the server has ended it (and rolled back)."""
        wait_for(lambda: not self.sessions(), timeout, f"the sessions on {self.name} to end", 0.02)

    def end_sessions(self) -> None:
        for sid in self.sessions():
            with contextlib.suppress(Exception):
                if self.pg:
                    self.sql("SELECT pg_terminate_backend(%s)", (sid,))
                else:
                    self.sql(f"KILL CONNECTION {int(sid)}")

    def has_index(self, table: str, index: str) -> bool:
        if self.pg:
            q = "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s AND indexname = %s"
        else:
            q = (
                "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() "
                "AND table_name = %s AND index_name = %s"
            )
        return bool(self.sql(q, (table, index)))

    def busy_sessions(self) -> list[int]:
        """Sessions on this database in the middle of a statement."""
        if self.pg:
            q = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND state = 'active'"
        else:
            q = (
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID() "
                "AND COMMAND = 'Query'"
            )
        return sorted(int(r[0]) for r in self.sql(q, (self.name,)))

    def drop_all(self) -> None:
        """Back to an empty database (faster than a new one per trial)."""
        self.wait_sessions_gone()
        for t in self.all_tables():
            q = f'DROP TABLE IF EXISTS "{t}" CASCADE' if self.pg else f"DROP TABLE IF EXISTS `{t}`"
            self.sql(q)


@contextlib.contextmanager
def open_server(dialect: str, root: Path) -> Iterator[Server]:
    """A fresh database; an unreachable server skips locally and fails in CI."""
    with fresh_database(dialect) as url:
        server = Server(dialect, url, root)
        try:
            yield server
        finally:
            # never leave a session behind that would keep the database from being dropped
            with contextlib.suppress(Exception):
                server.end_sessions()
                with contextlib.suppress(AssertionError):
                    server.wait_sessions_gone(10)
            server.close()


# --- processes --------------------------------------------------------------------------


def watchdog(proc: subprocess.Popen[str], seconds: float = 90.0) -> threading.Timer:
    """Kill a child that hangs, so a bug cannot hang the test run."""

    def kill() -> None:
        if proc.poll() is None:
            proc.kill()

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    return timer


def sigkill(proc: subprocess.Popen[str]) -> int:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    rc = proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
    return rc


def reap(*procs: subprocess.Popen[str]) -> None:
    for p in procs:
        if p.poll() is None:
            sigkill(p)


#: Imports migrata and the drivers first (the slow part), signals ready, then
#: waits for the start file: the command starts within a millisecond or two of it.
BARRIER = textwrap.dedent(
    """
    import os, sys, time
    from migrata.cli import main
    import migrata.api, migrata.cli.app, migrata.backends.postgresql, migrata.backends.mysql
    import psycopg, pymysql
    ready, go = sys.argv[1], sys.argv[2]
    open(ready, "w").close()
    deadline = time.monotonic() + 90
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.0005)
    if not os.path.exists(go):
        sys.exit(99)  # never told to start: do nothing
    main(sys.argv[3:])
    """
)

#: A Python migration that holds the migration lock until a file appears.
HOLDER = '''
"""holds the migration lock until told to stop"""
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def up(ctx):
    ctx.query("SELECT 1")
    # written whole, then renamed: whoever sees the file can read the pid
    (ROOT / "holder-started.tmp").write_text(str(os.getpid()))
    (ROOT / "holder-started.tmp").rename(ROOT / "holder-started")
    deadline = time.monotonic() + 90
    while not (ROOT / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
'''


def series(dialect: str, n: int) -> str:
    """A FROM item of the integers 1..n as column ``g`` (no recursion limit on either server)."""
    if dialect == "postgresql":
        return f"generate_series(1, {n}) AS s(g)"
    return f"(SELECT seq AS g FROM seq_1_to_{n}) AS s"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def env_without(*names: str) -> dict[str, str]:
    env = dict(os.environ)
    for n in names:
        env.pop(n, None)
    return env
