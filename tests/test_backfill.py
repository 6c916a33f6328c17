"""ctx.backfill: keyed, checkpointed batches that survive SIGKILL.

Every test runs on SQLite, PostgreSQL and MariaDB (a fresh database each).
The crash test kills a real ``migrata up`` process with SIGKILL at instants
chosen by watching the checkpoint row advance (no sleeps decide anything),
runs ``up`` again each time, and finally checks the counter column: every
row was updated exactly once.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import kill_once_past
from migrata import api
from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.data.backfill import Backfill, LagGate, run_backfill
from migrata.errors import MigrationFailedError
from migrata.testing import run_cli, wait_for
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")

BACKFILL = '''
"""count every row once"""
transactional = False


def up(ctx):
    ctx.backfill("items", set="counter = counter + 1", batch_size={batch})


def down(ctx):
    pass
'''


def fill_sql(dialect: str, n: int) -> str:
    """The table and its ``n`` rows, in the dialect's way of counting."""
    create = "CREATE TABLE items (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL DEFAULT 0, label VARCHAR(40));\n"
    if dialect == "postgresql":
        rows = f"INSERT INTO items (id) SELECT g FROM generate_series(1, {n}) AS s(g);\n"
    elif dialect == "mysql":
        rows = f"INSERT INTO items (id) SELECT seq FROM seq_1_to_{n};\n"
    else:
        rows = (
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
            "INSERT INTO items (id) SELECT x FROM c;\n"
        )
    return create + rows


class Project:
    """A migrations folder and a database of one dialect."""

    def __init__(self, dialect: str, url: str, root: Path) -> None:
        self.dialect, self.url, self.root = dialect, url, root
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True)
        self.backend = create_backend(DatabaseURL.parse(url))
        self.backend.connect()

    def write(self, name: str, text: str) -> None:
        (self.migrations / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def items(self, n: int, batch: int) -> None:
        self.write("000001_items.up.sql", fill_sql(self.dialect, n))
        self.write("000002_count.py", BACKFILL.replace("{batch}", str(batch)))

    def args(self, *args: str) -> list[str]:
        return ["--url", self.url, "--migrations", str(self.migrations), *args]

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "migrata", *self.args(*args)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def q(self, sql: str) -> list[tuple[Any, ...]]:
        return self.backend.query(sql)

    def done(self) -> int:
        """Rows the checkpoint says are done (0 before the first batch)."""
        if self.dialect == "sqlite":  # a short wait: a writer committing batch after batch starves a patient reader
            conn = sqlite3.connect(DatabaseURL.parse(self.url).database or "", timeout=0.002)
            try:
                rows = conn.execute("SELECT done FROM migrata_backfills WHERE version = '2'").fetchall()
            except sqlite3.OperationalError as exc:
                return 0 if "no such table" in str(exc) else -1  # -1: locked, not known now
            finally:
                conn.close()
            return int(rows[0][0]) if rows else 0
        try:
            rows = self.q("SELECT done FROM migrata_backfills WHERE version = '2'")
        except Exception:  # noqa: BLE001 - the table appears with the first backfill
            return 0
        return int(rows[0][0]) if rows else 0

    def status(self) -> str | None:
        rows = self.q("SELECT status FROM migrata_history WHERE version = '2'")
        return rows[0][0] if rows else None


@pytest.fixture(params=DIALECTS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    with fresh_database(request.param, directory=tmp_path) as url:
        p = Project(request.param, url, tmp_path / "proj")
        try:
            yield p
        finally:
            p.backend.close()


def _kill_and_resume(project: Project, n: int, batch: int, kills: int, seed: int) -> int:
    """Run ``up`` and SIGKILL it at ``kills`` instants past random checkpoints;
    returns how many runs were killed mid-backfill."""
    rng = random.Random(seed)
    if project.dialect == "sqlite":
        # WAL: the test's reader of the checkpoint never waits on the writer. In a
        # rollback journal a writer committing batch after batch starves it, and on
        # a busy machine the backfill could end before the reader saw it past the
        # instant to kill at (2 kills of 5 once)
        conn = sqlite3.connect(DatabaseURL.parse(project.url).database or "")
        try:
            assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        finally:
            conn.close()
    killed = 0
    for _ in range(kills):
        wait_for(lambda: project.done() >= 0, 60, "a readable checkpoint")
        start = max(0, project.done())
        if start >= n:
            break
        target = min(n - batch, start + rng.randrange(batch, max(batch + 1, (n - start) // 3)))
        proc = project.popen("up")
        killed += kill_once_past(proc, lambda: project.done() >= target, 120, f"the backfill past {target}")  # noqa: B023
        if killed == 1 and project.status() == "resumable":
            st = run_cli(project.args("status"))
            assert "resumable" in st.output and "migrata up" in st.output
    return killed


def _assert_exactly_once(project: Project, n: int) -> None:
    res = run_cli(project.args("up"))
    assert res.exit_code == 0, res.stderr
    assert project.status() == "applied"
    assert project.q("SELECT COUNT(*), MIN(counter), MAX(counter) FROM items") == [(n, 1, 1)]
    assert project.done() == n


def test_a_killed_backfill_resumes_and_updates_every_row_once(project: Project) -> None:
    # SQLite runs fastest: more rows, so the kills land before the end
    n, batch = (100_000, 500) if project.dialect == "sqlite" else (30_000, 300)
    project.items(n, batch)
    assert run_cli(project.args("up", "1")).exit_code == 0
    killed = _kill_and_resume(project, n, batch, kills=5, seed=19)
    assert killed >= 3  # most runs died mid-backfill, not after it
    _assert_exactly_once(project, n)


@pytest.mark.slow
def test_a_large_backfill_survives_many_kills(project: Project) -> None:
    """8 kills by default; issue 19's full measure on every database is
    MIGRATA_BACKFILL_ROWS=1000000 MIGRATA_BACKFILL_KILLS=20."""
    n, batch = (1_000_000, 2000) if project.dialect == "sqlite" else (200_000, 1000)
    n = int(os.environ.get("MIGRATA_BACKFILL_ROWS", n))
    kills = int(os.environ.get("MIGRATA_BACKFILL_KILLS", 8))
    project.items(n, batch)
    assert run_cli(project.args("up", "1")).exit_code == 0
    assert _kill_and_resume(project, n, batch, kills=kills, seed=1019) >= kills * 5 // 8
    _assert_exactly_once(project, n)


def test_rolled_back_and_applied_again_the_backfill_starts_over(project: Project) -> None:
    project.items(1000, 300)
    assert run_cli(project.args("up")).exit_code == 0
    assert run_cli(project.args("down")).exit_code == 0
    res = run_cli(project.args("up"))
    assert res.exit_code == 0, res.stderr
    assert project.q("SELECT MIN(counter), MAX(counter) FROM items") == [(2, 2)]


def test_dry_run_counts_the_rows_a_backfill_would_touch(project: Project) -> None:
    project.items(1234, 100)
    project.write(
        "000002_count.py",
        """
        transactional = False

        def up(ctx):
            ctx.execute("DELETE FROM items")  # a dry run runs no statement
            ctx.backfill("items", set="counter = 1", where="id > 234")
        """,
    )
    assert run_cli(project.args("up", "1")).exit_code == 0
    res = run_cli(project.args("up", "--dry-run"))
    assert res.exit_code == 0, res.stderr
    assert "would touch 1000 row(s) of items" in res.stdout
    assert project.q("SELECT COUNT(*), MAX(counter) FROM items") == [(1234, 0)]
    assert project.status() is None


def test_a_transactional_migration_cannot_backfill(project: Project) -> None:
    project.items(10, 5)
    project.write("000002_count.py", 'def up(ctx):\n    ctx.backfill("items", set="counter = 1")\n')
    res = run_cli(project.args("up"))
    assert res.exit_code == 1
    assert "transactional = False" in res.stderr and "000002_count.py:2" in res.stderr
    assert project.q("SELECT MAX(counter) FROM items") == [(0,)]


def test_row_function_reports_done_skipped_and_failed_by_key(project: Project) -> None:
    project.items(100, 10)
    project.write(
        "000002_count.py",
        """
        from migrata import RowError
        transactional = False

        def label(row):
            if row["id"] % 10 == 0:
                raise RowError("cannot label " + str(row))
            return {"label": "L%d" % row["id"]} if row["id"] % 2 else None

        def up(ctx):
            ctx.backfill("items", fn=label, batch_size=7)
        """,
    )
    res = api.upgrade(project.url, migrations=str(project.migrations))
    report = res.steps[-1].backfills[0]
    assert (report.done, report.skipped, report.failed) == (50, 40, 10)
    assert report.failed_keys == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert project.q("SELECT COUNT(*) FROM items WHERE label IS NOT NULL") == [(50,)]
    assert project.q("SELECT done, skipped, failed, status FROM migrata_backfills WHERE version = '2'") == [
        (50, 40, 10, "done")
    ]


def test_a_failed_backfill_resumes_once_fixed(project: Project) -> None:
    """A row function that raises stops the run; the committed batches stay
    done, and `up` with the fixed file continues after them."""
    project.items(100, 10)
    project.write(
        "000002_count.py",
        """
        from pathlib import Path
        transactional = False
        BROKEN = Path(__file__).with_name("broken")

        def bump(row):
            if row["id"] == 55 and BROKEN.exists():
                raise ValueError("boom")
            return {"counter": row["counter"] + 1}

        def up(ctx):
            ctx.backfill("items", fn=bump, batch_size=10)
        """,
    )
    (project.migrations / "broken").touch()
    with pytest.raises(MigrationFailedError):
        api.upgrade(project.url, migrations=str(project.migrations))
    assert project.status() == "resumable" and project.done() == 50
    (project.migrations / "broken").unlink()
    res = api.upgrade(project.url, migrations=str(project.migrations))
    assert res.steps[-1].backfills[0].resumed_after == 50
    assert project.q("SELECT MIN(counter), MAX(counter) FROM items") == [(1, 1)]


def test_backfill_pauses_while_the_replica_lags_and_resumes(project: Project) -> None:
    """The lag is measured through a hook: lagging for three probes, then
    caught up. No batch runs while it lags; waiting is recorded, not slept."""
    for stmt in fill_sql(project.dialect, 50).split(";\n")[:2]:
        project.backend.execute(stmt)
    lags = iter([0.0, 0.0, 30.0, 30.0, 30.0] + [0.0] * 100)
    seen: list[tuple[float, int]] = []
    slept: list[float] = []

    def measure() -> float:
        lag = next(lags)
        seen.append((lag, int(project.q("SELECT COUNT(*) FROM items WHERE counter = 1")[0][0])))
        return lag

    gate = LagGate(measure, 10.0, interval=0.0, sleep=slept.append)
    spec = Backfill("items", ["id"], set_sql="counter = 1", batch_size=10)
    report = run_backfill(project.backend, spec, gate=gate)
    assert report.done == 50 and gate.pauses == 1 and len(slept) == 3
    during = {done for lag, done in seen if lag > 10}
    assert during == {20}  # two batches before the lag, none while it lasted
    assert seen[-1][1] == 50


def test_throttle_holds_the_pace(project: Project) -> None:
    for stmt in fill_sql(project.dialect, 40).split(";\n")[:2]:
        project.backend.execute(stmt)
    slept: list[float] = []
    clock = iter(range(1000)).__next__  # a clock that advances one second per reading
    spec = Backfill("items", ["id"], set_sql="counter = 1", batch_size=10, max_rows_per_s=2.0)
    report = run_backfill(project.backend, spec, sleep=slept.append, clock=lambda: float(clock()))
    assert report.done == 40
    assert slept and all(s > 0 for s in slept)  # 10 rows at 2 rows/s needs 5s; the fake clock gave ~2


def test_replica_url_on_a_primary_measures_no_lag(project: Project) -> None:
    lag = project.backend.replica_lag()
    if project.dialect == "sqlite":
        assert lag is None
        return
    assert lag == 0.0
    project.items(300, 100)
    res = run_cli(project.args("up", "--replica-url", project.url, "--replica-max-lag", "1s"))
    assert res.exit_code == 0, res.stderr
    assert project.q("SELECT MIN(counter), MAX(counter) FROM items") == [(1, 1)]


def test_a_rollback_backfill_named_as_its_up_one_really_runs(project: Project) -> None:
    """The down's backfill (same table, so the same default name) does not find
    the up's finished checkpoint and skip: it touches every row again."""
    project.items(500, 100)
    project.write(
        "000002_count.py",
        """
        transactional = False

        def up(ctx):
            ctx.backfill("items", set="counter = counter + 1", batch_size=100)

        def down(ctx):
            ctx.backfill("items", set="counter = counter - 1", batch_size=100)
        """,
    )
    assert run_cli(project.args("up")).exit_code == 0
    assert project.q("SELECT MIN(counter), MAX(counter) FROM items") == [(1, 1)]
    res = run_cli(project.args("down", "1"))
    assert res.exit_code == 0, res.stderr
    assert project.q("SELECT MIN(counter), MAX(counter) FROM items") == [(0, 0)]
