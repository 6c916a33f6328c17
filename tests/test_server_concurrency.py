"""Concurrency on real servers: `migrata` processes racing for one PostgreSQL
or MariaDB database.

The migration lock (PostgreSQL session advisory lock, MariaDB ``GET_LOCK``)
must serialise them: every migration applied exactly once, waiters say whom
they wait for, a waiter that times out names the holder's server session,
``lock status``/``lock release --force`` see and end the holder, and the lock
dies with its holder's connection.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from _servers import (
    BARRIER,
    HOLDER,
    SERVERS,
    Server,
    error_lines,
    open_server,
    reap,
    series,
    sigkill,
    wait_for,
    watchdog,
)

pytestmark = pytest.mark.slow


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh database on each real server (skipped locally, failed in CI when it is down)."""
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


N = 12
ROWS = 20_000
PROCS = 8


def write_set(s: Server, n: int = N) -> None:
    for v in range(1, n + 1):
        s.write(
            f"{v:03d}_t{v}.up.sql",
            f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);\n"
            f"INSERT INTO t{v} (id, v) SELECT g, g * 2 FROM {series(s.dialect, ROWS)};\n",
        )


def start_barrier(s: Server, gate: Path, i: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", BARRIER, str(gate / f"ready{i}"), str(gate / "go"), *s.args(*args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=s.root,
    )


@pytest.mark.parametrize("already", [0, N // 2], ids=["fresh", "half-applied"])
def test_eight_migrators_at_once(server: Server, tmp_path: Path, already: int) -> None:
    s = server
    write_set(s)
    if already:
        assert s.run("up", str(already)).exit_code == 0
    events_before = len(s.events())
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [start_barrier(s, gate, i, "up", "--json") for i in range(PROCS)]
    timers = [watchdog(p, 120) for p in procs]
    try:
        wait_for(lambda: all((gate / f"ready{i}").exists() for i in range(PROCS)), 90, "the migrators to start")
        if not already:
            assert s.all_tables() == set(), "a migrator touched the database before the start signal"
        (gate / "go").touch()
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        reap(*procs)
        for t in timers:
            t.cancel()
    pids = {p.pid for p in procs}
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"migrator {p.pid} exited {p.returncode}: {err}"
        assert "Traceback" not in err, err

    # one process applies everything under the lock, the others wait and find nothing to do
    steps = sorted(len(json.loads(out)["steps"]) for out, _ in outs)
    assert steps == [0] * (PROCS - 1) + [N - already], f"steps applied per process: {steps}"

    history = s.history()
    assert sorted(int(v) for v in history) == list(range(1, N + 1)), history
    assert {h[0] for h in history.values()} == {"applied"}, history
    assert s.tables() == {f"t{v}" for v in range(1, N + 1)}
    for v in range(1, N + 1):
        assert s.sql(f"SELECT COUNT(*), SUM(v) FROM t{v}") == [(ROWS, ROWS * (ROWS + 1))], f"t{v}"
    events = s.events()
    ups = Counter((int(v), outcome) for action, v, outcome, _, _ in events if action == "up")
    assert ups == Counter({(v, "ok"): 1 for v in range(1, N + 1)}), f"`up` events: {ups}"

    # the waits show: in the waiters' logs (naming the holder), and as lock-wait events
    waiting = [err for _, err in outs if "waiting for the migration lock, held by" in err]
    assert waiting, "no migrator said it was waiting for the lock"
    # the holder named by its process (pid and host), its server session and since when the lock is held
    named = {int(m) for err in waiting for m in re.findall(r"held by pid (\d+) on ", err)}
    assert (named or not s.pg) and named <= pids, f"waiters named holders {named}, the migrators were {pids}"
    # (MySQL/MariaDB: the pid comes from the holder's `lock` event, written just after it took the lock)
    pid = "pid \\d+ " if s.pg else "(pid \\d+ )?"
    assert all(re.search(rf"held by {pid}on \S+ \(server session \d+\) since \S+ \(", err) for err in waiting), waiting
    lock_waits = [d for action, _, _, d, _ in events[events_before:] if action == "lock-wait"]
    # the waiters' (at most one each); the holder's own too when taking the free lock took
    # 50 ms or more, which a busy machine can make a single query take (as it can for the
    # `up` that half-applied the set: its event, if any, is left out)
    assert 1 <= len(lock_waits) <= PROCS, f"lock-wait events: {lock_waits}"
    assert all(d is not None and d >= 50 for d in lock_waits), lock_waits


class Gate:
    """A lock that this test's own session holds, and that a migration's
    statement (``Gate.statements``) waits for: the migration stays inside that
    statement until :meth:`open` (PostgreSQL: an advisory lock, per database;
    MariaDB: a GET_LOCK name, per server, so named after the database)."""

    def __init__(self, s: Server) -> None:
        self.s = s
        self.conn = s.connect()
        self.key = f"{s.name}_gate"
        self._run("SELECT pg_advisory_lock(4242)" if s.pg else f"SELECT GET_LOCK('{self.key}', 0)")

    def statements(self) -> str:
        if self.s.pg:
            return "SELECT pg_advisory_xact_lock(4242);\n"
        return f"DO GET_LOCK('{self.key}', 300);\nDO RELEASE_LOCK('{self.key}');\n"

    def _run(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
            cur.fetchall()
        finally:
            cur.close()

    def open(self) -> None:
        if self.conn is not None:
            self._run("SELECT pg_advisory_unlock(4242)" if self.s.pg else f"SELECT RELEASE_LOCK('{self.key}')")
            self.conn.close()
            self.conn = None


def test_migrator_arriving_mid_run_waits(server: Server) -> None:
    """A second `up` that starts while a journaled migration is running (its
    history row says `running`) must wait for the lock like any waiter, then
    find nothing to do: the row belongs to a live migrator, not a crashed one.
    (On PostgreSQL a `no-transaction` migration is journaled; on MariaDB any
    migration with DDL is.) Migration 2 waits at a gate the test opens only
    once the late migrator said it waits: no time is measured."""
    s = server
    s.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    gate = Gate(s)
    s.write(
        "002_slow.up.sql",
        ("-- migrata:no-transaction\n" if s.pg else "")
        + f"CREATE TABLE slow (x INTEGER);\n{gate.statements()}CREATE TABLE after_slow (x INTEGER);\n",
    )
    first = s.popen("up")
    late = None
    timer = watchdog(first, 300)
    try:
        wait_for(lambda: s.history().get("2", ("",))[0] == "running", 120, "migration 2 to start")
        assert first.poll() is None
        late = s.popen("up", "--lock-timeout", "300s")
        late_timer = watchdog(late, 300)
        assert late.stderr is not None
        said = ""
        for line in late.stderr:  # it says so once it found the lock taken
            said += line
            if "waiting for the migration lock" in line:
                break
        else:
            raise AssertionError(f"the late migrator never said it waits: {said}")
        assert first.poll() is None and s.history()["2"][0] == "running"
        gate.open()
        _, late_err = late.communicate(timeout=120)
        late_timer.cancel()
        assert first.wait(timeout=120) == 0
    finally:
        gate.open()
        timer.cancel()
        reap(first, *([late] if late else []))
    assert late.returncode == 0, f"a migrator arriving mid-run exited {late.returncode}: {said}{late_err}"
    assert s.tables() == {"a", "slow", "after_slow"}
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}


def test_history_read_racing_ledger_creation(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interleaving the eight-migrator test hits now and then, made
    deterministic: our `up` finds no history table, and before it checks
    whether the table exists another migrator (`cleanup` takes the lock and
    creates migrata's tables) has created it. `up` must carry on."""
    s = server
    write_set(s, 2)
    from migrata._core.ledger import Ledger

    original = Ledger.exists
    raced: list[int] = []

    def exists(self: Ledger) -> bool:
        if not raced:
            raced.append(1)
            other = s.cli("cleanup", "--keep-days", "30")
            assert other.returncode == 0, other.stderr
        return original(self)

    monkeypatch.setattr(Ledger, "exists", exists)
    up = s.run("up")
    assert raced, "the race was not staged"
    assert up.exit_code == 0, up.output
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}


def holder_session(s: Server, holder: subprocess.Popen[str]) -> int:
    """The server session of the holding migrator (its only connection)."""
    sessions = s.sessions()
    assert len(sessions) == 1, f"expected the holder's one session, found {sessions}"
    sid = sessions[0]
    if s.pg:
        app = s.sql("SELECT application_name FROM pg_stat_activity WHERE pid = %s", (sid,))[0][0]
        assert f"pid={holder.pid}" in app, f"the holder session does not advertise its process: {app!r}"
    return sid


def start_holder(s: Server) -> subprocess.Popen[str]:
    s.write("001_first.up.sql", "CREATE TABLE first (x INTEGER);\n")
    s.write("002_hold.py", HOLDER)
    holder = s.popen("up")
    started = s.root / "holder-started"
    wait_for(lambda: started.exists() or holder.poll() is not None, 60, "the holder to take the lock")
    assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
    assert int(started.read_text()) == holder.pid
    return holder


def test_lock_timeout_status_and_forced_release(server: Server) -> None:
    s = server
    holder = start_holder(s)
    timer = watchdog(holder)
    try:
        sid = holder_session(s, holder)
        who = f"pid {holder.pid} on {socket.gethostname()} (server session {sid}) since "

        t0 = time.monotonic()
        blocked = s.cli("up", "--lock-timeout", "1s")
        waited = time.monotonic() - t0
        assert blocked.returncode == 4, blocked.stderr
        # at least the timeout; far less than the 60 s default, however busy the machine
        assert 1.0 <= waited < 30, f"a 1s lock timeout took {waited:.2f}s"
        errors = error_lines(blocked.stderr)
        assert len(errors) == 1, blocked.stderr
        assert who in errors[0] and "(lock taken)" in errors[0], errors[0]
        assert "Traceback" not in blocked.stderr
        assert "lock status" in blocked.stderr, blocked.stderr  # the hint names the command that shows it

        st = s.cli("lock", "status")
        assert st.returncode == 0, st.stderr
        assert st.stdout.startswith(f"held: {who}") and "(lock taken)" in st.stdout, st.stdout
        st_json = json.loads(s.cli("lock", "status", "--json").stdout)
        assert st_json["held"] is True and st_json["holder"]["pid"] == holder.pid, st_json
        assert st_json["holder"]["session"] == sid and st_json["holder"]["since_what"] == "lock taken", st_json

        # the waiter changed nothing: 1 committed, 2 is inside the holder's open transaction
        assert {v: h[0] for v, h in s.history().items()} == {"1": "applied"}

        released = s.cli("lock", "release", "--force")
        assert released.returncode == 0, released.stderr
        assert f"stopped {who}" in released.stdout, released.stdout
        # free at once
        after = json.loads(s.cli("lock", "status", "--json").stdout)
        assert after["held"] is False, after
        wait_for(lambda: sid not in s.sessions(), 60, "the holder's session to end")
        assert any(a == "lock-break" for a, *_ in s.events())

        # the holder finds its connection gone and fails cleanly; nothing of 002 is recorded
        (s.root / "release").touch()
        _, err = holder.communicate(timeout=60)
        assert holder.returncode not in (0, None), err
        assert "Traceback" not in err, err
        assert len(error_lines(err)) == 1, err
    finally:
        timer.cancel()
        reap(holder)
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied"}

    rerun = s.cli("up", "--lock-timeout", "0s")
    assert rerun.returncode == 0, rerun.stderr
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}


def test_sigkill_of_holder_frees_lock_at_once(server: Server) -> None:
    s = server
    holder = start_holder(s)
    timer = watchdog(holder)
    try:
        sid = holder_session(s, holder)
        assert json.loads(s.cli("lock", "status", "--json").stdout)["holder"]["session"] == sid
    finally:
        timer.cancel()
        rc = sigkill(holder)
    assert rc == -signal.SIGKILL
    (s.root / "release").touch()
    rerun = s.cli("up", "--lock-timeout", "0s")
    assert rerun.returncode == 0, f"the lock outlived its killed holder: {rerun.stderr}"
    assert "waiting for the migration lock" not in rerun.stderr, rerun.stderr
    assert s.tables() == {"first"}
    assert {v: h[0] for v, h in s.history().items()} == {"1": "applied", "2": "applied"}
    assert json.loads(s.cli("lock", "status", "--json").stdout)["held"] is False
