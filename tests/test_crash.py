"""Crash tests: SIGKILL a real `migrata up` process at random moments.

Every kill must leave the database before or after each migration, never
between (DESIGN.md, "The run protocol"): the history says exactly which
migrations are applied, the schema agrees, nothing is `running`/`failed` for
transactional migrations, and a rerun finishes the job. A journaled
(`-- migrata:no-transaction`) migration may be left `running`, but then its
progress count must match the statements that really completed (at most one
in doubt), every later `up` must refuse until `repair`, and the repair paths
must lead to a correct database.

The kill moments come from a seeded `random.Random` (set MIGRATA_CRASH_SEED
to replay a failure; the seed is printed in every assertion message).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MIGRATA_CRASH_SEED", "20251016"))
APPLIED_RE = re.compile(r"^applied (\d+) \S+ \((\d+) ms\)")
LEDGER = {"migrata_history", "migrata_events"}

# --- helpers ---------------------------------------------------------------------------


def cte_insert(table: str, rows: int, batch: int | None = None) -> str:
    if batch is None:
        return (
            f"INSERT INTO {table} (id, v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {rows}) SELECT x, hex(randomblob(16)) FROM c;"
        )
    return (
        f"INSERT INTO {table} (batch, x) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        f"WHERE x < {rows}) SELECT {batch}, x FROM c;"
    )


def write_table_migration(project: Any, version: int, rows: int) -> None:
    project.write(
        f"{version:03d}_t{version}.up.sql",
        f"CREATE TABLE t{version} (id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n{cte_insert(f't{version}', rows)}\n",
    )


def watchdog(proc: subprocess.Popen[str], seconds: float = 60.0) -> threading.Timer:
    """Kill a child that hangs, so a bug cannot hang the test run."""

    def kill() -> None:
        if proc.poll() is None:
            proc.kill()

    timer = threading.Timer(seconds, kill)
    timer.daemon = True
    timer.start()
    return timer


def wait_for_applied(proc: subprocess.Popen[str], version: int) -> bool:
    """Read the child's log until `applied VERSION ...`; False at EOF."""
    assert proc.stderr is not None
    for line in proc.stderr:
        m = APPLIED_RE.match(line)
        if m and int(m.group(1)) >= version:
            return True
    return False


def sigkill(proc: subprocess.Popen[str]) -> int:
    try:
        proc.send_signal(signal.SIGKILL)
    except ProcessLookupError:
        pass
    rc = proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
    return rc


def calibrate(root: Path) -> tuple[float, dict[int, int]]:
    """Run `up` once in a subprocess on a fresh database: wall time, ms per version."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(root), "up"], capture_output=True, text=True, timeout=120
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    per = {int(m.group(1)): int(m.group(2)) for line in proc.stderr.splitlines() if (m := APPLIED_RE.match(line))}
    return wall, per


def fresh_db(db: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm", "-migrata.lock"):
        p = Path(str(db) + suffix)
        if p.exists():
            p.unlink()


def db_state(db: Path) -> dict[str, Any]:
    """Tables, history rows and events as the database holds them now."""
    state: dict[str, Any] = {"tables": set(), "history": {}, "events": []}
    if not db.exists():
        return state
    conn = sqlite3.connect(db)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        state["tables"] = {n for n in names if not n.startswith("sqlite_")} - LEDGER
        if "migrata_history" in names:
            for version, status, progress, statements in conn.execute(
                "SELECT version, status, progress, statements FROM migrata_history WHERE kind != 'ledger'"
            ):
                state["history"][int(version)] = (status, progress, statements)
        if "migrata_events" in names:
            state["events"] = conn.execute("SELECT action, version, outcome FROM migrata_events").fetchall()
        state["counts"] = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in state["tables"]}
    finally:
        conn.close()
    return state


def assert_consistent(state: dict[str, Any], rows: int, ctx: str, *, skip: frozenset[int] = frozenset()) -> set[int]:
    """History (all `applied`) and schema agree; each applied version has one `up ok` event."""
    history = {v: s for v, s in state["history"].items() if v not in skip}
    dirty = {v: s for v, s in history.items() if s[0] != "applied"}
    assert not dirty, f"{ctx}: transactional migrations left dirty rows {dirty}"
    applied = set(history)
    tables = {t for t in state["tables"] if t not in {f"t{v}" for v in skip}}
    assert tables == {f"t{v}" for v in applied}, (
        f"{ctx}: history says {sorted(applied)} applied but the tables are {sorted(tables)}"
    )
    for t in tables:
        assert state["counts"][t] == rows, f"{ctx}: {t} has {state['counts'][t]} rows, not {rows}: half-applied"
    ups = Counter(int(v) for action, v, outcome in state["events"] if action == "up" and outcome == "ok")
    ups = Counter({v: n for v, n in ups.items() if v not in skip})
    assert ups == Counter(applied), f"{ctx}: `up ok` events {dict(ups)} do not match applied {sorted(applied)}"
    failed = [e for e in state["events"] if e[2] != "ok"]
    assert not failed, f"{ctx}: unexpected failure events {failed}"
    return applied


def hot_journal(db: Path) -> bool:
    """A rollback journal left beside the database: the kill landed inside a write transaction."""
    return Path(str(db) + "-journal").exists()


def wal_mode(db: Path) -> bool:
    with db.open("rb") as fh:
        header = fh.read(20)
    return len(header) == 20 and header[18] == 2


# --- transactional migrations ------------------------------------------------------------

N = 40
ROWS = 10_000
TRIALS = 30


def test_sigkill_during_up_never_half_applies(project: Any) -> None:
    for v in range(1, N + 1):
        write_table_migration(project, v, ROWS)
    wall, per = calibrate(project.root)
    assert sorted(per) == list(range(1, N + 1))
    step_s = max(sum(per.values()) / N / 1000, 0.002)
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    for trial in range(TRIALS):
        fresh_db(project.db)
        ctx = f"seed {SEED} trial {trial}"
        proc = project.popen("up")
        timer = watchdog(proc)
        if trial % 2 == 0:
            # anywhere from process start to a little past the end of the run
            delay = rng.uniform(0, 1.15 * wall)
            how = f"{ctx} kill {delay:.3f}s after start"
            time.sleep(delay)
        else:
            # right after migration k committed, or a moment later (inside k+1 or between)
            k = rng.randint(1, N - 3)
            delay = rng.choice([0.0, rng.uniform(0, 1.5 * step_s)])
            how = f"{ctx} kill {delay * 1000:.1f} ms after `applied {k}`"
            assert wait_for_applied(proc, k), f"{how}: the run ended before migration {k}"
            time.sleep(delay)
        rc = sigkill(proc)
        timer.cancel()
        journal = hot_journal(project.db) or Path(str(project.db) + "-wal").exists()

        # migrata itself is the first to open the database after the kill
        st = project.run("status", "--json")
        assert st.exit_code == 0, f"{how}: status failed: {st.stderr}"
        assert "Traceback" not in st.output
        state = db_state(project.db)
        applied = assert_consistent(state, ROWS, how)
        assert json.loads(st.stdout)["applied"] == len(applied), f"{how}: status disagrees with the history"
        assert applied == set(range(1, len(applied) + 1)), f"{how}: applied set has holes: {sorted(applied)}"

        if rc == 0:
            seen["finished before the kill"] += 1
            assert applied == set(range(1, N + 1)), how
        elif not applied:
            seen["killed before the first commit"] += 1
        elif len(applied) < N:
            seen["killed mid-run"] += 1
        else:
            seen["killed after the last commit"] += 1
        if journal:
            seen["killed inside the run (journal or WAL file left)"] += 1

        check = project.run("check")
        assert check.exit_code == (0 if len(applied) == N else 5), f"{how}: check: {check.output}"
        validate = project.run("validate")
        assert validate.exit_code == 0, f"{how}: validate: {validate.output}"

        rerun = project.run("up")
        assert rerun.exit_code == 0, f"{how}: rerun failed: {rerun.stderr}"
        final = assert_consistent(db_state(project.db), ROWS, f"{how}, after the rerun")
        assert final == set(range(1, N + 1)), f"{how}: rerun left {sorted(set(range(1, N + 1)) - final)} pending"
        assert project.run("check").exit_code == 0
        # a kill inside the run left the database in WAL: the rerun put its own mode back
        assert not wal_mode(project.db), f"{how}: the rerun left the database in WAL mode"
        assert not Path(str(project.db) + "-wal").exists(), how

    print(f"crash trials (seed {SEED}): {dict(seen)}")
    # the test only means something if many kills really landed while migrating
    assert seen["killed mid-run"] >= TRIALS // 3, f"kills did not land mid-run often enough: {dict(seen)}"
    assert seen["killed inside the run (journal or WAL file left)"] >= 2, (
        f"too few kills landed in the run: {dict(seen)}"
    )


# --- a journaled (no-transaction) migration in the middle ---------------------------------

J_BEFORE = 8  # transactional migrations 1..8, the journaled one is 9, then 10..14
J_VERSION = 9
J_AFTER = 14
J_ROWS = 5_000
J_BATCHES = [120_000, 30_000, 30_000, 30_000, 30_000]  # rows per statement of migration 9
J_TRIALS = 16


def write_journaled_set(project: Any) -> None:
    for v in range(1, J_AFTER + 1):
        if v != J_VERSION:
            write_table_migration(project, v, J_ROWS)
    first = J_BATCHES[0]
    body = [
        "-- migrata:no-transaction",
        "-- statement k inserts batch k, so the data shows how many statements completed",
        f"CREATE TABLE t{J_VERSION} AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        f"WHERE x < {first}) SELECT 1 AS batch, x FROM c;",
    ]
    body += [cte_insert(f"t{J_VERSION}", rows, batch) for batch, rows in enumerate(J_BATCHES[1:], start=2)]
    project.write(f"{J_VERSION:03d}_t{J_VERSION}.up.sql", "\n".join(body) + "\n")


def completed_statements(db: Path) -> tuple[int, Counter[int]]:
    conn = sqlite3.connect(db)
    try:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (f"t{J_VERSION}",)).fetchone()
        if not exists:
            return 0, Counter()
        batches = Counter(dict(conn.execute(f"SELECT batch, COUNT(*) FROM t{J_VERSION} GROUP BY batch").fetchall()))
    finally:
        conn.close()
    done = len(batches)
    return done, batches


def assert_full_journaled_table(db: Path, ctx: str) -> None:
    done, batches = completed_statements(db)
    want = Counter({k: rows for k, rows in enumerate(J_BATCHES, start=1)})
    assert batches == want, f"{ctx}: t{J_VERSION} holds batches {dict(batches)}, expected {dict(want)}"


def assert_all_applied(project: Any, ctx: str) -> None:
    state = db_state(project.db)
    assert state["history"] == {v: ("applied", s[1], s[2]) for v, s in state["history"].items()}, (
        f"{ctx}: dirty rows left: {state['history']}"
    )
    assert set(state["history"]) == set(range(1, J_AFTER + 1)), f"{ctx}: history {sorted(state['history'])}"
    assert state["tables"] == {f"t{v}" for v in range(1, J_AFTER + 1)}, ctx
    assert_consistent(state, J_ROWS, ctx, skip=frozenset({J_VERSION}))
    assert_full_journaled_table(project.db, ctx)


def test_sigkill_during_journaled_migration(project: Any) -> None:
    write_journaled_set(project)
    wall, per = calibrate(project.root)
    j_s = per[J_VERSION] / 1000
    rng = random.Random(SEED + 1)
    seen: Counter[str] = Counter()
    for trial in range(J_TRIALS):
        fresh_db(project.db)
        proc = project.popen("up")
        timer = watchdog(proc)
        ctx = f"seed {SEED + 1} trial {trial}"
        if trial < J_TRIALS - 2:
            delay = rng.uniform(0, 1.1 * j_s)
            how = f"{ctx} kill {delay * 1000:.1f} ms after `applied {J_BEFORE}`"
            assert wait_for_applied(proc, J_BEFORE), f"{how}: the run ended early"
        else:
            delay = rng.uniform(0, 1.1 * wall)
            how = f"{ctx} kill after {delay:.3f}s"
        time.sleep(delay)
        sigkill(proc)
        timer.cancel()

        state = db_state(project.db)
        row = state["history"].get(J_VERSION)
        # the transactional ones agree with the schema whatever happened to 9
        assert_consistent(state, J_ROWS, how, skip=frozenset({J_VERSION}))
        done, batches = completed_statements(project.db)
        assert sorted(batches) == list(range(1, done + 1)), f"{how}: batches {dict(batches)} are not a prefix"
        for k in batches:
            assert batches[k] == J_BATCHES[k - 1], f"{how}: statement {k} half-applied: {dict(batches)}"

        if row is None or row[0] == "applied":
            seen["history and schema agree"] += 1
            if row is None:
                assert done == 0, f"{how}: no history row for {J_VERSION} but {done} statements ran"
            else:
                assert done == len(J_BATCHES), f"{how}: {J_VERSION} applied but only {done} statements ran"
            rerun = project.run("up")
            assert rerun.exit_code == 0, f"{how}: rerun failed: {rerun.stderr}"
            assert_all_applied(project, f"{how}, after the rerun")
            continue

        status, progress, statements = row
        seen[f"left running, {progress} of {statements} recorded, {done} done"] += 1
        assert status == "running", f"{how}: row is {row}"
        assert statements == len(J_BATCHES), f"{how}: row is {row}"
        assert progress <= done <= progress + 1, (
            f"{how}: the journal says {progress} statements completed but {done} really did "
            "(at most one may be in doubt)"
        )

        # every later `up` refuses, naming repair; status/check report it
        for attempt in range(2):
            up = project.run("up")
            assert up.exit_code == 3, f"{how}: `up` #{attempt + 1} after the crash: {up.exit_code} {up.output}"
            assert "repair" in up.stderr, f"{how}: {up.stderr}"
            assert "Traceback" not in up.output
        st = project.run("status")  # reports the interrupted run (and may exit 3 for it)
        assert st.exit_code in (0, 3) and "Traceback" not in st.output, f"{how}: {st.output}"
        assert f"{J_VERSION} t{J_VERSION}" in st.stdout and "repair" in st.stdout, f"{how}: {st.output}"
        assert project.run("check").exit_code == 3
        shown = project.run("repair", str(J_VERSION))
        assert shown.exit_code == 3 and "--resume" in shown.stdout, f"{how}: {shown.output}"
        assert db_state(project.db)["history"][J_VERSION] == row, f"{how}: a refused command changed the row"

        if trial % 2 == 0:
            # finish what the journal says is left (the in-doubt statement decided by the data)
            if done == len(J_BATCHES):
                args = ["--mark-applied"]
            elif done == progress:
                args = ["--resume"]
            else:
                args = ["--resume-from", str(done + 1)]
        else:
            # undo by hand, then forget the run
            conn = sqlite3.connect(project.db)
            conn.execute(f"DROP TABLE IF EXISTS t{J_VERSION}")
            conn.commit()
            conn.close()
            args = ["--forget"]
        fix = project.run("repair", str(J_VERSION), *args)
        if args == ["--resume"] and fix.exit_code == 3 and "may or may not have taken effect" in fix.output:
            # a data change outside a transaction is in doubt: repair leaves it to
            # the user, with both choices; the data says it did not complete
            assert f"--resume-from {done + 1}` (it did not" in fix.output, f"{how}: {fix.output}"
            args = ["--resume-from", str(done + 1)]
            fix = project.run("repair", str(J_VERSION), *args)
        assert fix.exit_code == 0, f"{how}: repair {' '.join(args)} (progress {progress}, done {done}): {fix.output}"
        rerun = project.run("up")
        assert rerun.exit_code == 0, f"{how}: `up` after repair {' '.join(args)}: {rerun.stderr}"
        assert_all_applied(project, f"{how}, after repair {' '.join(args)} and up")

    print(f"journaled crash trials (seed {SEED + 1}): {dict(seen)}")
    left_running = sum(n for k, n in seen.items() if k.startswith("left running"))
    assert left_running >= 2, f"too few kills landed inside the journaled migration: {dict(seen)}"


def running_row(db: Path, version: str) -> bool:
    conn = sqlite3.connect(db, timeout=10)
    try:
        return bool(conn.execute("SELECT 1 FROM migrata_history WHERE version = ?", (version,)).fetchone())
    except sqlite3.OperationalError:  # no history table yet
        return False
    finally:
        conn.close()


def test_resume_after_kill_in_first_statement(project: Any) -> None:
    """Killed before any statement of a journaled migration completed (progress 0):
    `repair --resume` runs it from the start and records it once."""
    write_table_migration(project, 1, 10)
    project.write(
        "002_big.up.sql",
        "-- migrata:no-transaction\n"
        "CREATE TABLE big AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
        "SELECT x FROM c;\n"
        "CREATE TABLE small (x INTEGER);\n",
    )
    proc = project.popen("up")
    timer = watchdog(proc)
    assert wait_for_applied(proc, 1)
    deadline = time.monotonic() + 30
    while not running_row(project.db, "2"):  # the journal's `running` row is committed
        assert time.monotonic() < deadline and proc.poll() is None, "migration 2 never started"
        time.sleep(0.005)
    time.sleep(0.05)  # statement 1 takes far longer than this
    sigkill(proc)
    timer.cancel()
    # precondition: the kill landed in statement 1
    assert project.sql("SELECT status, progress FROM migrata_history WHERE version = '2'") == [("running", 0)]
    assert project.tables() == {"t1"}
    up = project.run("up")
    assert up.exit_code == 3 and "repair" in up.stderr, up.output
    fix = project.run("repair", "2", "--resume")
    assert fix.exit_code == 0, fix.output
    assert project.run("up").exit_code == 0
    assert project.tables() == {"t1", "big", "small"}
    assert project.sql("SELECT COUNT(*) FROM big") == [(3_000_000,)]
    assert project.sql("SELECT status FROM migrata_history WHERE version = '2'") == [("applied",)]


def test_crash_between_ledger_tables_is_recoverable(project: Any) -> None:
    """migrata creates its tables one statement at a time (history, events,
    ledger row). A kill after the first CREATE TABLE leaves a database with
    only the history table; the next `up` must still work."""
    write_table_migration(project, 1, 10)
    rendered = project.run("up", "--sql")
    assert rendered.exit_code == 0, rendered.output
    create_history = next(s for s in rendered.stdout.split(";\n") if "CREATE TABLE IF NOT EXISTS migrata_history" in s)
    conn = sqlite3.connect(project.db)
    conn.execute(create_history)
    conn.commit()
    conn.close()
    up = project.run("up")
    assert up.exit_code == 0, f"up after a kill between the ledger's CREATE TABLEs: {up.output}"
    assert project.tables() == {"t1"}
    assert project.sql("SELECT action, version, outcome FROM migrata_events WHERE action = 'up'") == [("up", "1", "ok")]
