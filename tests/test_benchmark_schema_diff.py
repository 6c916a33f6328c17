"""``benchmarks/schema_diff.py`` cannot rot: its small version runs and checks itself.

Runs the benchmark at N = 5 tables on SQLite, PostgreSQL and MariaDB in a
process of its own and reads its JSON: each database reached has every
timing and ratio (alembic's comparison and autogenerate, migrata's
autogenerate and diff), and the run's own checks passed (autogenerate
wrote N tables, diff and alembic found nothing). Never a time. Marked
``benchmark``: it runs as its own step, not in the ordinary test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from migrata.testing.plugin import in_ci

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parent.parent
DATABASES = ("sqlite", "postgresql", "mysql")
KEYS = {
    "alembic_compare_metadata",
    "alembic_autogenerate",
    "migrata_autogenerate",
    "migrata_diff",
    "autogenerate_x_alembic_compare",
    "autogenerate_x_alembic_autogenerate",
    "diff_x_alembic_compare",
}


def test_small_run_measures_every_database(tmp_path: Path) -> None:
    out = tmp_path / "schema_diff.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "schema_diff.py"), "--tables", "5"]
        + ["--databases", ",".join(DATABASES), "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["database"]: r for r in json.loads(out.read_text())}
    skipped = [line for line in proc.stdout.splitlines() if ": skipped (" in line]
    if skipped and in_ci():
        pytest.fail(f"servers missing (CI: a missing server is a failure): {skipped}")
    assert "sqlite" in results
    assert set(results) | {line.split(":")[0] for line in skipped} == set(DATABASES)
    for db, r in results.items():
        assert r["tables"] == 5
        assert KEYS <= set(r), (db, r)
        assert all(r[k] > 0 for k in KEYS), (db, r)
        assert f"{db:>15} " in proc.stdout  # its row was printed
