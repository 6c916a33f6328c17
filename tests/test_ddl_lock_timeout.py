"""DDL that cannot take a table down (``ddl_lock_timeout``, ``ddl_retries``).

Another session holds an open transaction that read table ``t``. A migration
that ALTERs ``t`` must not wait behind it for long: it gives up after the
lock timeout, is rolled back (or, journaled, its statement did not run) and
runs again after a backoff, each retry an event. Meanwhile a third session's
SELECT on ``t`` is never queued behind the waiting ALTER for longer than the
lock timeout: the server enforces that bound on the SELECT itself
(``statement_timeout`` / ``max_statement_time``), so on code without the
bound the SELECT fails. When the blocker commits the migration completes;
when it never does, the run fails after ``ddl_retries`` attempts and the
hint names the blocker's server session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import SERVERS, Server, error_lines, open_server
from migrata.testing import wait_for

pytestmark = pytest.mark.slow

T_SQL = "CREATE TABLE t (id INTEGER PRIMARY KEY);\nINSERT INTO t (id) VALUES (1);\n"
ALTER_FILE = "002_alter.up.sql"


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


def lock_timeout(s: Server) -> str:
    """The ddl_lock_timeout of these tests: MySQL/MariaDB count whole seconds."""
    return "200ms" if s.pg else "1s"


def hold_table(s: Server) -> tuple[Any, int]:
    """A second session with an open transaction that read t (it holds its
    share lock / metadata lock until it ends), and its server session id."""
    conn = s.connect()
    cur = conn.cursor()
    cur.execute("BEGIN" if s.pg else "START TRANSACTION")
    cur.execute("SELECT * FROM t")
    cur.fetchall()
    cur.close()
    return conn, conn.info.backend_pid if s.pg else conn.thread_id()


def end(conn: Any) -> None:
    cur = conn.cursor()
    cur.execute("COMMIT")
    cur.close()
    conn.close()


def retries(s: Server) -> list[dict[str, Any]]:
    return [e[4] for e in s.events() if e[0] == "lock-retry" and e[1] == "2"]


def select_within(s: Server, bound_s: float) -> None:
    """A third session reads t; the server cancels the SELECT past ``bound_s``."""
    conn = s.connect()
    try:
        cur = conn.cursor()
        if s.pg:
            cur.execute(f"SET statement_timeout = {int(bound_s * 1000)}")
        else:
            cur.execute(f"SET SESSION max_statement_time = {bound_s:g}")
        cur.execute("SELECT COUNT(*) FROM t")
        assert cur.fetchall()[0][0] == 1
        cur.close()
    finally:
        conn.close()


def test_blocked_alter_retries_and_succeeds_once_the_blocker_commits(server: Server) -> None:
    s = server
    s.write("001_t.up.sql", T_SQL)
    s.write(ALTER_FILE, "ALTER TABLE t ADD COLUMN c INTEGER;\n")
    assert s.run("up", "1").exit_code == 0
    blocker, _ = hold_table(s)
    metrics = s.root / "metrics.prom"
    proc = s.popen("up", "--ddl-lock-timeout", lock_timeout(s), "--ddl-retries", "60", "--metrics-file", str(metrics))
    try:
        wait_for(lambda: retries(s), 60, "the first lock-retry event")
        # readers go on: each SELECT waits at most one lock timeout behind the ALTER
        bound = 1.0 if s.pg else 2.5
        for _ in range(3):
            select_within(s, bound)
        assert proc.poll() is None, "the migration gave up while the blocker was open"
    finally:
        end(blocker)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert s.columns("t") == {"id", "c"}
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}
    made = retries(s)
    assert [d["attempt"] for d in made] == list(range(1, len(made) + 1)), made
    assert all(d["of"] == 60 for d in made), made
    ups = [e for e in s.events() if e[0] == "up" and e[1] == "2"]
    assert [e[2] for e in ups] == ["ok"], ups
    text = metrics.read_text()
    assert f'migration_lock_retries_total{{database="{s.name}",version="2"}} {float(len(made))}' in text, text


def test_blocker_that_never_commits_fails_after_the_retries_naming_it(server: Server) -> None:
    s = server
    s.write("001_t.up.sql", T_SQL)
    s.write(ALTER_FILE, "ALTER TABLE t ADD COLUMN c INTEGER;\n")
    assert s.run("up", "1").exit_code == 0
    blocker, pid = hold_table(s)
    metrics = s.root / "metrics.prom"
    try:
        proc = s.cli("up", "--ddl-lock-timeout", lock_timeout(s), "--ddl-retries", "3", "--metrics-file", str(metrics))
    finally:
        end(blocker)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = error_lines(proc.stderr)
    assert f"{ALTER_FILE}:1" in line and "ddl_lock_timeout" in line and "3 time(s)" in line, line
    hint = next(ln for ln in proc.stderr.splitlines() if ln.startswith("hint:"))
    assert f"pid {pid} " in hint, hint
    assert [d["attempt"] for d in retries(s)] == [1, 2], s.events()
    assert str(pid) in str(retries(s)[-1]["holders"]), retries(s)
    failed = [e for e in s.events() if e[0] == "up" and e[1] == "2"]
    assert [e[2] for e in failed] == ["failed"], failed
    assert s.columns("t") == {"id"}
    assert f'migration_lock_retries_total{{database="{s.name}",version="2"}} 3.0' in metrics.read_text()


def test_directive_turns_the_bound_off_for_one_file(server: Server) -> None:
    """``-- migrata:ddl-lock-timeout 0`` keeps a file's old behaviour: it waits
    (here until its own statement timeout), with no retry."""
    s = server
    s.write("001_t.up.sql", T_SQL)
    s.write(ALTER_FILE, "-- migrata:ddl-lock-timeout 0\n-- migrata:timeout 2s\nALTER TABLE t ADD COLUMN c INTEGER;\n")
    assert s.run("up", "1").exit_code == 0
    blocker, _ = hold_table(s)
    try:
        proc = s.cli("up", "--ddl-lock-timeout", lock_timeout(s))
    finally:
        end(blocker)
    assert proc.returncode == 1, proc.stderr
    assert "timeout of 2s" in proc.stderr, proc.stderr
    assert retries(s) == []
