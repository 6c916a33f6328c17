"""The benchmark cannot rot: its smoke version runs and verifies every tool.

Runs ``benchmarks/run.py --smoke`` (N = 20, one repetition, SQLite,
PostgreSQL and MariaDB) once for this module and reads its JSON. It asserts
that every tool and every floor ran every operation, that the schema was
checked after each (N tables after apply, none after rollback) and that
every target of issue 15 computed a value (at N = 20): never a time, never
whether a target was met. Peers are installed once per machine into
``benchmarks/.peers`` and reused, which is why the module is marked
``benchmark`` and runs as its own step, not in the ordinary test run. A
server that cannot be reached skips its database locally and fails in CI,
as everywhere in this suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from migrata.testing.plugin import in_ci

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parent.parent
N = 20
DATABASES = ("sqlite", "postgresql", "mysql")
CYCLE = ("apply", "status", "check", "apply1", "rollback")
PEER_CYCLE = ("apply", "status", "check", "apply1")  # the peers do not roll back
EXPECTED: dict[str, tuple[str, ...]] = {
    "python": ("start",),
    "client-a": ("apply", "apply1", "rollback"),
    "client-b": ("apply", "apply1", "rollback"),
    "migrata": CYCLE,
    "migrata-lib": ("library",),
    "alembic": PEER_CYCLE,
    "yoyo": PEER_CYCLE,
    "dbmate": PEER_CYCLE,
}
#: floors of one database only
ONLY_ON = {"sqlite": {"py-sqlite3": ("library",)}, "postgresql": {"psycopg": ("start",)}}
TABLES_AFTER = {"apply": N, "status": N, "check": N, "apply1": N + 1, "rollback": 0, "library": N}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--quiet", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.is_file(), f"the benchmark wrote no results (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    data: dict[str, Any] = json.loads(out.read_text())
    data["_proc"] = proc
    return data


def test_smoke_run_completed(smoke: dict[str, Any]) -> None:
    proc = smoke["_proc"]
    failed = [s for s in smoke["samples"] if not s["ok"]]
    assert not failed, "failed measurements:\n" + "\n".join(
        f"{s['db']} {s['tool']} {s['op']}: {s['error']}" for s in failed
    )
    assert proc.returncode in (0, 3), proc.stdout + proc.stderr
    assert not smoke["meta"]["peers"]["problems"]
    assert smoke["meta"]["ns"] == [N] and smoke["meta"]["reps"] == 1
    assert "== Targets" in proc.stdout  # the table was printed


def _available(smoke: dict[str, Any], db: str) -> None:
    """Skip a database the run could not reach (fail in CI)."""
    unavailable = smoke["meta"]["unavailable"]
    if db in unavailable:
        if in_ci():
            pytest.fail(f"{db}: {unavailable[db]} (CI: a missing server is a failure)")
        pytest.skip(f"{db}: {unavailable[db]}")


@pytest.mark.parametrize("db", DATABASES)
def test_every_tool_did_the_work(smoke: dict[str, Any], db: str) -> None:
    _available(smoke, db)
    expected = {**EXPECTED, **ONLY_ON.get(db, {})}
    samples = {(s["tool"], s["op"]): s for s in smoke["samples"] if s["db"] == db and s["n"] == N}
    for tool, ops in expected.items():
        for op in ops:
            sample = samples.get((tool, op))
            assert sample is not None, f"{db}: {tool} {op} was not measured"
            assert sample["ok"], f"{db}: {tool} {op} failed: {sample['error']}"
            assert sample["seconds"] is not None and sample["processes"] >= 1
            if op == "start":
                continue
            counts = sample["counts"]
            assert counts is not None, f"{db}: the schema was not checked after {tool} {op}"
            assert counts["tables"] == TABLES_AFTER[op] and counts["indexes"] == TABLES_AFTER[op], (tool, op, counts)
            assert counts["rows"] == (None if op == "rollback" else 10), (tool, op, counts)
    rows = {(r["tool"], r["op"]): r for r in smoke["summary"] if r["db"] == db and r["n"] == N}
    assert rows[("migrata", "apply")]["x_floor"] is not None
    assert rows[("migrata", "apply")]["x_best_peer"] is not None
    for op in ("status", "check"):
        assert rows[("migrata", op)]["x_floor"] is not None, f"{db}: {op} has no start floor"


@pytest.mark.parametrize("db", DATABASES)
def test_every_target_computes(smoke: dict[str, Any], db: str) -> None:
    """Each database has its targets (apply against floor (b) and dbmate, status
    and check against Alembic or psycopg's import), all with a value; met or
    not is not asserted."""
    _available(smoke, db)
    mine = [t for t in smoke["targets"] if t["db"] == db]
    assert len(mine) == 4, mine
    units = sorted(t["unit"] for t in mine)
    floor = "× psycopg" if db == "postgresql" else "× Alembic"
    assert units == sorted(["× floor (b)", "× dbmate", floor, floor])
    for t in mine:
        assert t["n"] == N and t["measured"] is not None, t
        assert t["result"] in ("met", "not met"), t


def test_ratios_pair_the_repetitions() -> None:
    """A ratio is the median of per-repetition ratios, so a slow minute that
    hits both tools of one repetition does not skew it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from harness.report import Row, paired
    finally:
        sys.path.pop(0)
    a = Row("sqlite", 10, "migrata", "apply", True, 3, seconds=2.0, by_rep={0: 1.1, 1: 2.0, 2: 4.4})
    b = Row("sqlite", 10, "client-b", "apply", True, 3, seconds=2.0, by_rep={0: 1.0, 1: 2.0, 2: 4.0})
    assert paired(a, b) == pytest.approx(1.1)  # the ratio of the medians would say 1.0
    c = Row("sqlite", 10, "x", "apply", True, 1, seconds=3.0)
    assert paired(c, b) == pytest.approx(1.5)  # no repetition in common: medians


def test_targets_pair_the_issue_rows() -> None:
    """Each target divides the right rows: apply by floor (b) and by dbmate,
    status and check by Alembic's (or, on PostgreSQL, psycopg's import); a
    target whose rows are missing is "not measured", never met."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from harness.report import Row, targets
    finally:
        sys.path.pop(0)

    def row(db: str, tool: str, op: str, seconds: float) -> Row:
        return Row(db, 1000, tool, op, True, 1, seconds=seconds, by_rep={0: seconds})

    rows = [
        row("sqlite", "migrata", "apply", 1.2),
        row("sqlite", "client-b", "apply", 1.0),
        row("sqlite", "dbmate", "apply", 1.5),
        row("sqlite", "migrata", "status", 0.1),
        row("sqlite", "alembic", "status", 0.5),
        row("postgresql", "migrata", "check", 0.4),
        row("postgresql", "psycopg", "start", 0.2),
    ]
    got = {(t.db, t.n, t.name.split(" ")[1], t.unit): t for t in targets(rows, ["sqlite", "postgresql"], [1000], 1000)}
    assert got[("sqlite", 1000, "up", "× floor (b)")].measured == pytest.approx(1.2)
    assert got[("sqlite", 1000, "up", "× floor (b)")].result == "met"
    assert got[("sqlite", 1000, "up", "× dbmate")].measured == pytest.approx(0.8)
    assert got[("sqlite", 1000, "status", "× Alembic")].measured == pytest.approx(0.2)
    assert got[("sqlite", 1000, "check", "× Alembic")].result == "not measured"
    assert got[("postgresql", 1000, "check", "× psycopg")].measured == pytest.approx(2.0)
    assert got[("postgresql", 1000, "check", "× psycopg")].result == "not met"
    assert got[("postgresql", 1000, "up", "× dbmate")].result == "not measured"


def test_a_failure_shows_no_password() -> None:
    """A failed sample's text (the command line and the tool's output) is
    stored and printed with the server's password masked."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from harness.bench import masked
    finally:
        sys.path.pop(0)
    text = "exit 1: migrata --url postgresql://app:s%40cret@127.0.0.1/db up\nFATAL: password s@cret refused"
    out = masked(text, ["s@cret", "s%40cret"])
    assert "s@cret" not in out and "s%40cret" not in out
    assert "postgresql://app:***@127.0.0.1/db" in out
    assert masked("sqlite:////tmp/x.db mysql://root@h/db", []) == "sqlite:////tmp/x.db mysql://root@h/db"
