"""Concurrency tests: real `migrata` processes racing for the same SQLite database.

The migration lock (an flock beside the database) must serialise them: every
migration applied exactly once, waiters say they wait, a waiter that times out
names the holder, and the lock dies with its holder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from migrata.testing import wait_for

pytestmark = pytest.mark.slow

N = 20
ROWS = 20_000
PROCS = 8

# Imports migrata first (the slow part), signals ready, then waits for the
# start file, so all processes call `migrata up` within a millisecond or two.
BARRIER = textwrap.dedent(
    """
    import os, sys, time
    from migrata.cli import main
    import migrata.api, migrata.backends.sqlite, migrata.cli.app
    ready, go = sys.argv[1], sys.argv[2]
    open(ready, "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.0005)
    sys.argv = ["migrata", *sys.argv[3:]]
    main(sys.argv[1:])
    """
)


#: The last migration of the set: holds the run, and so the lock, until the test
#: has seen every other migrator say that it waits (then touches `release`).
HOLD_UNTIL_RELEASED = """
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def up(ctx):
    ctx.execute({create!r})
    ctx.execute({fill!r})
    deadline = time.monotonic() + 120
    while not (ROOT / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
"""


class Output:
    """A process's stdout and stderr, read by two threads as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err))
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def says_it_waits(self) -> bool:
        return any("waiting for the migration lock" in x or "in use by a migration run" in x for x in self.err)

    def join(self, timeout: float) -> tuple[str, str]:
        for t in self._threads:
            t.join(timeout)
        return "".join(self.out), "".join(self.err)


def write_set(project: Any) -> None:
    for v in range(1, N + 1):
        create = f"CREATE TABLE t{v} (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"
        fill = (
            f"INSERT INTO t{v} (id, v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {ROWS}) SELECT x, hex(randomblob(8)) FROM c"
        )
        if v < N:
            project.write(f"{v:03d}_t{v}.up.sql", f"{create};\n{fill};\n")
        else:
            # the last migration, pending in every case, holds the run until every waiter said it waits
            project.write(f"{v:03d}_t{v}.py", HOLD_UNTIL_RELEASED.format(create=create, fill=fill))


@pytest.mark.parametrize("already", [0, N // 2], ids=["fresh", "half-applied"])
def test_eight_migrators_at_once(project: Any, tmp_path: Path, already: int) -> None:
    write_set(project)
    if already:
        assert project.run("up", str(already)).exit_code == 0
    events_before = project.sql("SELECT COUNT(*) FROM migrata_events")[0][0] if already else 0
    gate = tmp_path / "gate"
    gate.mkdir()
    go = gate / "go"
    procs = []
    for i in range(PROCS):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    BARRIER,
                    str(gate / f"ready{i}"),
                    str(go),
                    "-C",
                    str(project.root),
                    "up",
                    "--json",
                    "--lock-timeout",
                    "300s",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        wait_for(lambda: all((gate / f"ready{i}").exists() for i in range(PROCS)), 60, "the migrators to start")
        if not already:
            assert not project.db.exists(), "a migrator touched the database before the start signal"
        go.touch()
        outputs = [Output(p) for p in procs]
        wait_for(
            lambda: sum(o.says_it_waits() for o in outputs) >= PROCS - 1, 120, "every migrator but one to say it waits"
        )
        (project.root / "release").touch()
        for p in procs:
            p.wait(timeout=120)
        outs = [o.join(60) for o in outputs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    pids = {p.pid for p in procs}
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, f"migrator {p.pid} exited {p.returncode}: {err}"
        assert "Traceback" not in err, err

    # the lock is held for a whole run: one process applies everything, the others find nothing to do
    steps = sorted(len(json.loads(out)["steps"]) for out, _ in outs)
    assert steps == [0] * (PROCS - 1) + [N - already], f"steps applied per process: {steps}"

    history = project.sql("SELECT version, status FROM migrata_history WHERE kind != 'ledger'")
    assert Counter(int(v) for v, _ in history) == Counter(range(1, N + 1)), history
    assert {s for _, s in history} == {"applied"}
    assert project.tables() == {f"t{v}" for v in range(1, N + 1)}
    for v in range(1, N + 1):
        assert project.sql(f"SELECT COUNT(*) FROM t{v}") == [(ROWS,)]
    events = project.sql("SELECT action, version, outcome, duration_ms FROM migrata_events ORDER BY id")
    ups = Counter((int(v), outcome) for action, v, outcome, _ in events if action == "up")
    assert ups == Counter({(v, "ok"): 1 for v in range(1, N + 1)}), f"`up` events: {ups}"

    # the waits show: in the log of the waiters (at the migration lock, or reading
    # the database the run holds), and as lock-wait events
    waiting = [err for _, err in outs if "waiting for the migration lock" in err or "in use by a migration run" in err]
    assert len(waiting) == PROCS - 1, f"not every waiter said it was waiting: {[err for _, err in outs]}"
    named = {int(m) for err in waiting for m in re.findall(r"held by pid (\d+)", err)}
    assert named and named <= pids, f"waiters named holders {named}, migrators were {pids}"
    # a waiter that waited at the lock records it (a reader that waited for the run
    # and then found nothing to do writes nothing; the test with a holding Python migration checks the event)
    # (not the half-applying `up`'s: alone, it too records one when taking the lock took 50 ms)
    lock_waits = [d for action, _, _, d in events[events_before:] if action == "lock-wait"]
    assert len(lock_waits) <= PROCS  # the holder's too, when taking the free lock took 50 ms on a busy machine
    assert all(d is not None and d >= 50 for d in lock_waits), lock_waits


HOLDER = '''
"""holds the migration lock until told to stop"""
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def up(ctx):
    ctx.execute("CREATE TABLE held (x INTEGER)")
    # written whole, then renamed: whoever sees the file can read the pid
    (ROOT / "holder-started.tmp").write_text(str(os.getpid()))
    (ROOT / "holder-started.tmp").rename(ROOT / "holder-started")
    deadline = time.monotonic() + 60
    while not (ROOT / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
'''


def migrata(project: Any, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project.root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_lock_timeout_names_holder_and_lock_dies_with_it(project: Any) -> None:
    project.write("001_first.up.sql", "CREATE TABLE first (x INTEGER);\n")
    project.write("002_hold.py", HOLDER)
    holder = project.popen("up")
    try:
        started = project.root / "holder-started"
        wait_for(lambda: started.exists() or holder.poll() is not None, 60, "the holder to take the lock")
        assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
        assert int(started.read_text()) == holder.pid

        t0 = time.monotonic()
        blocked = migrata(project, "up", "--lock-timeout", "1s")
        waited = time.monotonic() - t0
        assert blocked.returncode == 4, blocked.stderr
        # at least the timeout; far less than the 60 s default, however busy the machine
        assert 0.9 <= waited < 30, f"waited {waited:.2f}s for a 1s lock timeout"
        errors = [line for line in blocked.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, blocked.stderr
        assert f"pid {holder.pid}" in errors[0], blocked.stderr
        assert "Traceback" not in blocked.stderr
        assert "lock status" in blocked.stderr  # the hint names the command that shows the holder

        st = migrata(project, "lock", "status")
        assert st.returncode == 0, st.stderr
        assert st.stdout.startswith("held:") and f"pid {holder.pid}" in st.stdout, st.stdout
        st_json = json.loads(migrata(project, "lock", "status", "--json").stdout)
        assert st_json["held"] is True and st_json["holder"]["pid"] == holder.pid, st_json

        # the waiter changed nothing: migration 1 committed, 2 is still in the holder's open transaction
        assert project.sql("SELECT version FROM migrata_history WHERE kind != 'ledger'") == [("1",)]
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)
        holder.wait()
        if holder.stderr:
            holder.stderr.close()
    assert holder.returncode == -signal.SIGKILL

    # the lock died with its holder: free at once, no waiting
    st = migrata(project, "lock", "status")
    assert st.returncode == 0 and st.stdout.startswith("free:"), st.stdout + st.stderr
    # the killed run of 002 left nothing behind
    assert project.tables() == {"first"}
    assert project.sql("SELECT version, status FROM migrata_history WHERE kind != 'ledger'") == [("1", "applied")]

    (project.root / "release").touch()
    rerun = migrata(project, "up", "--lock-timeout", "0s")
    assert rerun.returncode == 0, rerun.stderr
    assert "waiting for the migration lock" not in rerun.stderr
    assert project.tables() == {"first", "held"}
    assert sorted(project.sql("SELECT version, status FROM migrata_history WHERE kind != 'ledger'")) == [
        ("1", "applied"),
        ("2", "applied"),
    ]
    assert migrata(project, "lock", "status").stdout.startswith("free:")


def test_waiter_proceeds_when_holder_finishes(project: Any) -> None:
    """A second migrator with a generous timeout waits, then finds nothing left to do."""
    project.write("001_hold.py", HOLDER)
    holder = project.popen("up")
    try:
        wait_for(lambda: (project.root / "holder-started").exists() or holder.poll() is not None, 60, "the holder")
        assert holder.poll() is None
        waiter = project.popen("up", "--lock-timeout", "300s", stdout=subprocess.PIPE)
        assert waiter.stderr is not None
        line = waiter.stderr.readline()
        assert "waiting for the migration lock" in line and f"pid {holder.pid}" in line, line
        time.sleep(0.3)  # a wait long enough to be recorded (>= 50 ms)
        assert waiter.poll() is None, "the waiter gave up or ran while the lock was held"
        (project.root / "release").touch()
        out, err = waiter.communicate(timeout=60)
        assert holder.wait(timeout=60) == 0
        assert waiter.returncode == 0, err
        assert out.startswith("Nothing to apply"), out
    finally:
        for p in (holder,):
            if p.poll() is None:
                p.kill()
                p.wait()
        if holder.stderr:
            holder.stderr.close()
    assert project.sql("SELECT version, status FROM migrata_history WHERE kind != 'ledger'") == [("1", "applied")]
    lock_waits = project.sql("SELECT duration_ms FROM migrata_events WHERE action = 'lock-wait'")
    # the waiter's, and the holder's too when taking the free lock took 50 ms on a busy machine
    assert 1 <= len(lock_waits) <= 2 and max(d for (d,) in lock_waits) >= 300, lock_waits


def test_lock_file_is_not_the_database(project: Any) -> None:
    """Sanity: the lock lives beside the database, and a finished run leaves it unlocked."""
    project.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    assert migrata(project, "up").returncode == 0
    lock = Path(str(project.db) + "-migrata.lock")
    assert lock.exists()
    with sqlite3.connect(project.db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    fd = os.open(lock, os.O_RDWR)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a finished run kept it
    finally:
        os.close(fd)
