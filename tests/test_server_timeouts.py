"""Timeouts on real servers: a migration blocked by another session's lock.

Another session holds a lock on table ``t`` (PostgreSQL: ``LOCK TABLE ... IN
ACCESS EXCLUSIVE MODE`` or an open transaction that read it; MariaDB: ``LOCK
TABLES t WRITE`` or an open transaction holding its metadata lock). A
migration that ALTERs ``t`` under a 2 s bound (``-- migrata:timeout 2s``,
``--statement-timeout 2s`` or ``--timeout 2s`` for the whole run) must fail
after about 2 s with exit 1 and a message that names the file, the line and
the statement and says it ran past its timeout. Nothing may be half-recorded:

* PostgreSQL: the migration's transaction rolls back, so no history row and
  no schema change; once the blocker lets go, `up` applies it.
* MariaDB (journal): the row is ``failed`` with ``progress`` = the statements
  that completed before the blocked one; `up` refuses until
  ``repair VERSION --resume`` runs the rest, after which `up` has nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import (
    SERVERS,
    Server,
    error_lines,
    open_server,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh database on each real server (skipped locally, failed in CI when it is down)."""
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


T_SQL = "CREATE TABLE t (id INTEGER PRIMARY KEY);\nINSERT INTO t (id) VALUES (1);\n"


class Blocker:
    """Another session holding a lock on table t until released."""

    def __init__(self, s: Server, kind: str) -> None:
        self.s, self.kind = s, kind
        self.conn: Any = s.connect()
        cur = self.conn.cursor()
        if s.pg:
            cur.execute("BEGIN")
            cur.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE" if kind == "lock" else "SELECT * FROM t")
        elif kind == "lock":
            cur.execute("LOCK TABLES t WRITE")
        else:
            cur.execute("START TRANSACTION")
            cur.execute("SELECT * FROM t")
            cur.fetchall()
        cur.close()

    def release(self) -> None:
        if self.conn is None:
            return
        cur = self.conn.cursor()
        try:
            cur.execute("ROLLBACK" if self.s.pg or self.kind != "lock" else "UNLOCK TABLES")
        finally:
            cur.close()
            self.conn.close()
            self.conn = None


def timed_up(s: Server, *args: str) -> tuple[Any, float]:
    t0 = time.monotonic()
    proc = s.cli("up", *args)
    return proc, time.monotonic() - t0


def assert_timeout_failure(s: Server, proc: Any, elapsed: float, version: str, bound: float = 2.0) -> str:
    assert proc.returncode == 1, f"exit {proc.returncode}: {proc.stderr}"
    # not before the bound: the process's whole life is measured, so a busy machine only adds
    assert elapsed >= bound * 0.95, f"a {bound:g}s timeout fired after {elapsed:.2f}s"
    # and the blocked step waited for the bound once: never twice, never the server's default
    # lock wait. Its own duration (the failure event) leaves out starting Python and
    # connecting, which a busy machine stretches by seconds.
    [ms] = [d for action, v, outcome, d, _ in s.events() if (action, v, outcome) == ("up", version, "failed")]
    assert ms < 2 * bound * 1000, f"the step under a {bound:g}s timeout failed after {ms} ms"
    assert "Traceback" not in proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 1, proc.stderr
    line = errors[0]
    assert f"timeout of {bound:g}s" in line, line
    assert "ran longer than" in line or "waited longer than" in line, line
    return line


ALTER_FILE = "002_alter.up.sql"


def write_alter(s: Server, how: str) -> None:
    first = "-- migrata:timeout 2s" if how == "directive" else "-- adds a column to t"
    s.write(ALTER_FILE, f"{first}\nCREATE TABLE side (x INTEGER);\nALTER TABLE t ADD COLUMN c INTEGER;\n")


@pytest.mark.parametrize(
    ("blocker", "how"), [("lock", "directive"), ("transaction", "flag")], ids=["lock-directive", "trx-flag"]
)
def test_blocked_alter_times_out(server: Server, blocker: str, how: str) -> None:
    s = server
    s.write("001_t.up.sql", T_SQL)
    write_alter(s, how)
    assert s.run("up", "1").exit_code == 0
    block = Blocker(s, blocker)
    try:
        proc, elapsed = timed_up(s, *(["--statement-timeout", "2s"] if how == "flag" else []))
    finally:
        block.release()
    line = assert_timeout_failure(s, proc, elapsed, "2")
    assert f"{ALTER_FILE}:" in line, line

    history = {v: h for v, h in s.history().items()}
    assert s.columns("t") == {"id"}, "the blocked ALTER changed t"
    if s.pg:
        # one transaction: nothing of 2 happened, nothing recorded
        assert history == {"1": ("applied", 2, 2)}, history
        assert s.tables() == {"t"}
        assert "nothing of it was applied" in proc.stderr, proc.stderr
    else:
        # journal: statement 1 completed, statement 2 failed and is recorded as the failure
        assert history == {"1": ("applied", 2, 2), "2": ("failed", 1, 2)}, history
        assert s.tables() == {"t", "side"}
        assert "repair" in proc.stderr, proc.stderr
    failed = [e for e in s.events() if e[0] == "up" and e[1] == "2"]
    assert [e[2] for e in failed] == ["failed"], failed

    # the blocker has let go: the way out works
    if s.pg:
        up = s.cli("up")
        assert up.returncode == 0, up.stderr
    else:
        up = s.cli("up")
        assert up.returncode == 3 and "repair 2" in up.stderr, up.stderr
        fix = s.cli("repair", "2", "--resume")
        assert fix.returncode == 0, fix.stderr
        assert "from statement 2 of 2" in fix.stdout, fix.stdout
        again = s.cli("up")
        assert again.returncode == 0 and "Nothing to apply" in again.stdout, again.stdout + again.stderr
    assert s.columns("t") == {"id", "c"}
    assert s.tables() == {"t", "side"}
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}


@pytest.mark.parametrize(
    "server",
    ["postgresql", "mysql"],
    indirect=True,
)
@pytest.mark.parametrize("mode", ["directive", "run-timeout"])
def test_timeout_is_not_waited_twice(server: Server, mode: str) -> None:
    """A 2s bound fails the step after 2s, not 4s, and the error names the
    blocked statement (line 3, the ALTER), not the file's first one."""
    s = server
    s.write("001_t.up.sql", T_SQL)
    write_alter(s, "directive" if mode == "directive" else "flag")
    assert s.run("up", "1").exit_code == 0
    block = Blocker(s, "lock")
    try:
        proc, elapsed = timed_up(s, *(["--timeout", "2s"] if mode == "run-timeout" else []))
    finally:
        block.release()
    line = assert_timeout_failure(s, proc, elapsed, "2")
    assert f"{ALTER_FILE}:3:" in line, line
    assert "[statement 2: ALTER TABLE t ADD COLUMN c INTEGER]" in line, line


def test_run_timeout_stops_at_the_blocked_migration(server: Server) -> None:
    """`--timeout 2s` bounds the whole run: 2 applies, 3 waits for the lock on
    t until the run's time is up; 2 stays applied, 3 is not half-recorded."""
    s = server
    s.write("001_t.up.sql", T_SQL)
    s.write("002_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    s.write("003_alter.up.sql", "ALTER TABLE t ADD COLUMN c INTEGER;\n")
    assert s.run("up", "1").exit_code == 0
    block = Blocker(s, "lock")
    try:
        proc, elapsed = timed_up(s, "--timeout", "2s")
    finally:
        block.release()
    line = assert_timeout_failure(s, proc, elapsed, "3")
    assert "the run's timeout of 2s expired" in line, line
    assert "003_alter.up.sql:1" in line and "ALTER TABLE t ADD COLUMN c" in line, line
    assert "applied 2 a" in proc.stderr, proc.stderr

    history = s.history()
    assert s.columns("t") == {"id"}
    assert s.tables() == {"t", "a"}
    if s.pg:
        assert {v: h[0] for v, h in history.items()} == {"1": "applied", "2": "applied"}, history
        up = s.cli("up")
        assert up.returncode == 0, up.stderr
    else:
        assert {v: h[:2] for v, h in history.items()} == {
            "1": ("applied", 2),
            "2": ("applied", 1),
            "3": ("failed", 0),
        }, history
        up = s.cli("up")
        assert up.returncode == 3 and "repair 3" in up.stderr, up.stderr
        fix = s.cli("repair", "3", "--resume")
        assert fix.returncode == 0, fix.stderr
    assert s.columns("t") == {"id", "c"}
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied", "3": "applied"}
