"""Issue 16, items 5, 6 and 8: a failure names its real culprit.

* The wrong culprit (5): a read-only SQLite database, a file that is not an
  SQLite database, a user table where migrata's history table should be, a
  connection the server or `lock release --force` killed, a table that
  exists before the first migration creates it, a down blocked by an object
  that depends on the table: each says what happened and the way out.
* Ctrl-C (6): SIGINT during a slow statement exits 130 and names the
  statement that was running, on every database.
* A green light that is not (8): `doctor` and `up` agree on a database that
  does not exist; `create_database = true` lets `up` create it.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import Server, error_lines, open_server, reap, watchdog
from migrata.testing import wait_for

pytestmark = pytest.mark.slow

ALL = ("sqlite", "postgresql", "mysql")


class SQLiteTarget:
    """A SQLite database file and a project, with the interface of ``Server``."""

    dialect = "sqlite"
    pg = False

    def __init__(self, root: Path) -> None:
        self.root = root
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)
        self.path = root / "app.db"
        self.url = f"sqlite:///{self.path}"

    def write(self, name: str, text: str) -> Path:
        path = self.migrations / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def args(self, *args: str, url: str | None = None) -> list[str]:
        return ["--url", url or self.url, "--migrations", str(self.migrations), *args]

    def cli(self, *args: str, url: str | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "migrata", *self.args(*args, url=url)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "migrata", *self.args(*args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.root,
        )

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return conn.execute(query.replace("%s", "?"), params).fetchall()
        finally:
            conn.close()


Target = Server | SQLiteTarget


@pytest.fixture(params=ALL)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield SQLiteTarget(tmp_path / "proj")
        return
    with open_server(request.param, tmp_path / "proj") as server:
        yield server


@pytest.fixture(params=("postgresql", "mysql"))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


def failed(proc: subprocess.CompletedProcess[str], code: int) -> tuple[str, str]:
    """The one error line and the hint of a failure that exited ``code``."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}: {out}"
    assert "Traceback" not in out, out
    errors = error_lines(proc.stderr)
    assert len(errors) == 1, proc.stderr
    hints = [line for line in proc.stderr.splitlines() if line.startswith("hint:")]
    return errors[0], hints[0] if hints else ""


# --- item 5: SQLite files that cannot be migrated ------------------------------------------------


def test_read_only_sqlite_database_is_not_the_migrations_fault(tmp_path: Path) -> None:
    t = SQLiteTarget(tmp_path / "proj")
    t.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);\n")
    assert t.cli("up").returncode == 0
    t.write("2_b.up.sql", "CREATE TABLE b (id INTEGER);\n")
    # opened read-only (as a read-only file is; root would write a 0444 file anyway)
    proc = t.cli("up", url=f"sqlite:///{t.path}?mode=ro")
    error, hint = failed(proc, 6)
    assert "read-only" in error and str(t.path) in error, error
    assert "fix the migration" not in error + hint
    assert [r[0] for r in t.sql("SELECT version FROM migrata_history WHERE kind <> 'ledger'")] == ["1"]


def test_a_file_that_is_not_an_sqlite_database_is_named(tmp_path: Path) -> None:
    t = SQLiteTarget(tmp_path / "proj")
    t.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);\n")
    t.path.write_bytes(b"this is a text file, not a database\n" * 200)
    for command in ("up", "status"):
        error, _ = failed(t.cli(command), 6)
        assert str(t.path) in error and "not an SQLite database" in error, error
    assert t.path.read_bytes().startswith(b"this is a text file")


# --- item 5: a user table where migrata's history should be --------------------------------------


@pytest.mark.parametrize("table", [None, "keep_me"])
def test_a_user_table_named_like_the_history_table(target: Target, table: str | None) -> None:
    name = table or "migrata_history"
    target.sql(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, note VARCHAR(20))")
    target.sql(f"INSERT INTO {name} (id, note) VALUES (1, 'mine')")
    target.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);\n")
    extra = ("--table", table) if table else ()
    for command in ("up", "status"):
        error, hint = failed(target.cli(*extra, command), 2)
        assert f"table {name}" in error and "not migrata's" in error, error
        assert "--table" in hint, hint
    assert target.sql(f"SELECT id, note FROM {name}") == [(1, "mine")]
    assert "no such column" not in error.lower()


# --- item 5: an existing table, a blocked down ---------------------------------------------------


def test_an_existing_table_points_at_stamp(target: Target) -> None:
    target.sql("CREATE TABLE t (id INTEGER)")
    target.write("1_t.up.sql", "CREATE TABLE t (id INTEGER);\n")
    error, hint = failed(target.cli("up"), 1)
    assert "already exists" in error, error
    assert "migrata stamp 1" in hint and "fix the migration" not in hint, hint


def test_a_down_blocked_by_a_view_names_the_view_and_its_file(target: Target) -> None:
    """PostgreSQL refuses the DROP itself; MariaDB and SQLite would drop the
    table and leave the view broken: the rollback is refused before it runs,
    naming the view and the repeatable migration that creates it."""
    target.write("1_t.up.sql", "CREATE TABLE t (id INTEGER);\n")
    target.write("1_t.down.sql", "DROP TABLE t;\n")
    target.write("R__views.sql", "DROP VIEW IF EXISTS t_view;\nCREATE VIEW t_view AS SELECT id FROM t;\n")
    assert target.cli("up").returncode == 0
    error, hint = failed(target.cli("down"), 1)
    assert "depend" in error and "1_t.down.sql:1" in error, error
    assert "view t_view depends on table t (created by R__views.sql)" in hint, hint
    assert "nothing was rolled back" in hint or "nothing of it was applied" in hint, hint
    assert target.sql("SELECT count(*) FROM t_view") == [(0,)]  # the view still works
    assert [r[0] for r in target.sql("SELECT version FROM migrata_history WHERE kind = 'sql'")] == ["1"]


def test_a_view_that_only_uses_the_name_as_an_alias_blocks_nothing(target: Target) -> None:
    target.write("1_t.up.sql", "CREATE TABLE t (id INTEGER);\nCREATE TABLE other (id INTEGER);\n")
    target.write("1_t.down.sql", "DROP TABLE other;\n")
    target.write("2_t.up.sql", "CREATE TABLE t2 (id INTEGER);\n")
    target.write("2_t.down.sql", "DROP TABLE t;\n")
    target.write("R__views.sql", "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT t.id FROM other t;\n")
    assert target.cli("up").returncode == 0
    proc = target.cli("down")  # drops table t: v names "t" only as an alias of other
    assert proc.returncode == 0, proc.stderr
    assert target.sql("SELECT count(*) FROM v") == [(0,)]


def test_a_down_blocked_by_a_foreign_key_names_the_table(target: Target) -> None:
    target.write("1_p.up.sql", "CREATE TABLE p (id INTEGER PRIMARY KEY);\n")
    target.write("1_p.down.sql", "DROP TABLE p;\n")
    target.write("2_c.up.sql", "CREATE TABLE c (id INTEGER, pid INTEGER REFERENCES p (id));\n")
    target.write("2_c.down.sql", "-- forgets c\nSELECT 1;\n")
    assert target.cli("up").returncode == 0
    assert target.cli("down", "1").returncode == 0  # c stays
    error, hint = failed(target.cli("down"), 1)
    assert "1_p.down.sql:1" in error, error
    assert "table c" in hint and "(created by 2_c.up.sql)" in hint, hint
    assert target.sql("SELECT count(*) FROM p") == [(0,)]  # still there
    # a down part that drops the dependent first goes through
    target.write("1_p.down.sql", "DROP TABLE c;\nDROP TABLE p;\n")
    proc = target.cli("down")
    assert proc.returncode == 0, proc.stderr


# --- item 5: a connection killed under a run ------------------------------------------------------


def slow_second_statement(target: Target, seconds: int = 60) -> None:
    """Migration 1: a quick statement, then one that runs ``seconds``."""
    if target.dialect == "postgresql":
        slow = f"SELECT pg_sleep({seconds})"
    elif target.dialect == "mysql":
        slow = f"SELECT SLEEP({seconds})"
    else:  # a recursive CTE counting far past what finishes in time
        slow = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000000000) "
            "SELECT count(*) FROM n"
        )
    target.write("1_slow.up.sql", f"CREATE TABLE first_one (id INTEGER);\n{slow};\nCREATE TABLE third (id INTEGER);\n")


def slow_statement_running(target: Target) -> bool:
    """The step's packet is on the server and, on MariaDB (where the whole
    packet is the session's query text), statement 1 has committed its
    table: statement 2 is the one running."""
    assert isinstance(target, Server)
    if target.pg:
        q = (
            "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND state = 'active' "
            "AND query LIKE '%%pg_sleep%%' AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
        )  # the whole step is the session's query text: the wait event says pg_sleep runs
        return bool(target.sql(q, (target.name,)))
    q = (
        "SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE '%%SLEEP(%%' "
        "AND ID <> CONNECTION_ID()"
    )
    return bool(target.sql(q, (target.name,))) and "first_one" in target.tables()


def test_a_killed_connection_says_so(server: Server) -> None:
    slow_second_statement(server)
    proc = server.popen("up")
    watchdog(proc)
    try:
        wait_for(lambda: slow_statement_running(server) or proc.poll() is not None, 60, "the slow statement")
        server.end_sessions()  # pg_terminate_backend / KILL CONNECTION, as an administrator would
        _, err = proc.communicate(timeout=60)
    finally:
        reap(proc)
    assert proc.returncode == 6, err
    error = error_lines(err)[0]
    assert "connection" in error and "terminated" in error, error
    assert "migration 1 slow" in error and "nothing of it was applied" not in error, error
    assert "statement 2" in error and "statement 1 " not in error, error
    assert "(error 0)" not in err and "Traceback" not in err


def test_lock_release_force_is_named_as_the_killer(server: Server) -> None:
    slow_second_statement(server)
    proc = server.popen("up")
    watchdog(proc)
    try:
        wait_for(lambda: slow_statement_running(server) or proc.poll() is not None, 60, "the slow statement")
        assert server.cli("lock", "release", "--force").returncode == 0
        _, err = proc.communicate(timeout=60)
    finally:
        reap(proc)
    assert proc.returncode == 6, err
    error = error_lines(err)[0]
    assert "terminated" in error and "lock release --force" in error, error
    assert "migration 1 slow" in error, error
    assert "statement 2" in error, error


# --- item 6: Ctrl-C -------------------------------------------------------------------------------


def test_ctrl_c_exits_130_naming_the_running_statement(target: Target) -> None:
    slow_second_statement(target, 300)
    target.write("0_base.up.sql", "CREATE TABLE base (id INTEGER);\n")
    assert target.cli("up", "0").returncode == 0  # migrata's tables exist: the next run writes only its step
    proc = target.popen("up")
    watchdog(proc)
    try:
        if isinstance(target, SQLiteTarget):
            # the rollback journal appears when statement 1 (CREATE TABLE) writes its
            # first page; Python sees the signal in the progress handler, which runs
            # every 2,000 steps: only statement 2 (the CTE) has that many left
            journal = Path(str(target.path) + "-journal")
            wait_for(lambda: journal.exists() or proc.poll() is not None, 60, "statement 1 to write")
        else:
            wait_for(lambda: slow_statement_running(target) or proc.poll() is not None, 60, "the slow statement")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        reap(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted (Ctrl-C)" in err and "migration 1 slow" in err, err
    assert "statement 2" in err and "statement 1" not in err, err


# --- item 8: doctor and up agree on a missing database ------------------------------------------


@pytest.fixture
def missing(server: Server) -> Iterator[tuple[Server, str]]:
    """A URL of a database that does not exist on the server (dropped afterwards)."""
    name = server.name + "_new"
    url = server.url.replace(f"/{server.name}", f"/{name}", 1)
    server.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);\n")
    try:
        yield server, url
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(
                [sys.executable, "-m", "migrata", "--url", url, "db", "drop", "--force"],
                capture_output=True,
                timeout=60,
            )


def test_doctor_fails_on_a_missing_database_and_names_db_create(missing: tuple[Server, str]) -> None:
    server, url = missing
    doctor = server.cli("doctor", url=url)
    assert doctor.returncode == 3, doctor.stdout + doctor.stderr
    assert "migrata db create" in doctor.stdout + doctor.stderr
    up = server.cli("up", url=url)
    error, hint = failed(up, 6)
    assert "does not exist" in error and "migrata db create" in hint and "create_database" in hint
    # and the way out works
    assert server.cli("db", "create", url=url).returncode == 0
    assert server.cli("doctor", url=url).returncode == 0
    assert server.cli("up", url=url).returncode == 0


def test_up_creates_the_database_when_asked(missing: tuple[Server, str]) -> None:
    server, url = missing
    doctor = server.cli("--create-database", "doctor", url=url)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "creates it" in doctor.stdout
    up = server.cli("up", "--create-database", url=url)
    assert up.returncode == 0, up.stderr
    assert "created" in up.stderr + up.stdout
    status = server.cli("status", url=url)
    assert status.returncode == 0 and "Applied:  1" in status.stdout, status.stdout


def test_create_database_setting_in_the_config_file(missing: tuple[Server, str]) -> None:
    server, url = missing
    (server.root / "migrata.toml").write_text(f'url = "{url}"\ncreate_database = true\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "migrata", "--migrations", str(server.migrations), "up"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=server.root,
    )
    assert proc.returncode == 0, proc.stderr
    assert server.cli("status", url=url).returncode == 0


# --- item 6 / 5 on PostgreSQL: which statement ran, only when it can be known ---------------------


def _one_call_item(sql: str) -> Any:
    from migrata._core.model import Migration, Script, Step, Version
    from migrata._core.steps import TRANSACTION, Prepared
    from migrata.backends.base import Statement

    migration = Migration(Version.parse("1"), "slow", "sql", Script(Path("1_slow.up.sql"), sql=sql), None, "")
    parts = [p.strip() + ";" for p in sql.split(";") if p.strip()]
    statements = [Statement(p, n + 1, n) for n, p in enumerate(parts)]
    return Prepared(Step(migration, "up"), statements, TRANSACTION)


@pytest.mark.parametrize(
    ("verbs", "expected"),
    [
        (["BEGIN", "CREATE"], 2),  # BEGIN and statement 1 done: statement 2 ran
        (["BEGIN"], 1),
        (["BEGIN", "CREATE", "SELECT"], 3),
        (["BEGIN", "INSERT"], None),  # the server's tags do not match the file: unknown, not a guess
        (["BEGIN", "CREATE", "SELECT", "CREATE"], None),  # past the script: the bookkeeping ran
    ],
)
def test_the_running_statement_is_named_only_when_the_server_confirms_it(
    verbs: list[str], expected: int | None
) -> None:
    from migrata._core.transaction import _running
    from migrata.backends.base import StatementInterrupted

    item = _one_call_item("CREATE TABLE a (id INTEGER);\nSELECT pg_sleep(60);\nCREATE TABLE b (id INTEGER);\n")
    found = _running(item, StatementInterrupted(index=len(verbs), verbs=verbs), 0, 1)
    assert (found.index + 1 if found else None) == expected
