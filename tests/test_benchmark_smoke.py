"""The benchmark cannot rot: its smoke version runs and verifies every tool.

Runs ``benchmarks/run.py --smoke`` (N = 20, one repetition, SQLite,
PostgreSQL and MariaDB) once for this module and reads its JSON. It asserts
that every tool and every floor ran every operation and that the schema was
checked after each (N tables after apply, none after rollback): never a
time. Peers are installed once per machine into ``benchmarks/.peers`` and
reused. A server that cannot be reached skips its database locally and fails
in CI, as everywhere in this suite.
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
CYCLE = ("apply", "status", "status2", "check", "check2", "apply1", "rollback")
EXPECTED: dict[str, tuple[str, ...]] = {
    "python": ("start",),
    "client-a": ("apply", "apply1", "rollback"),
    "client-b": ("apply", "apply1", "rollback"),
    "migrata": (*CYCLE, "status0", "check0"),
    "migrata-lib": ("library",),
    "alembic": CYCLE,
    "yoyo": CYCLE,
    "dbmate": CYCLE,
}
TABLES_AFTER = {
    "apply": N,
    "status": N,
    "status2": N,
    "check": N,
    "check2": N,
    "status0": N,
    "check0": N,
    "apply1": N + 1,
    "rollback": 0,
    "library": N,
}


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


@pytest.mark.parametrize("db", DATABASES)
def test_every_tool_did_the_work(smoke: dict[str, Any], db: str) -> None:
    unavailable = smoke["meta"]["unavailable"]
    if db in unavailable:
        if in_ci():
            pytest.fail(f"{db}: {unavailable[db]} (CI: a missing server is a failure)")
        pytest.skip(f"{db}: {unavailable[db]}")
    expected = dict(EXPECTED)
    if db == "sqlite":
        expected["py-sqlite3"] = ("library",)
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
