"""``benchmarks/apply_breakdown.py`` cannot rot: its small version runs.

Runs the breakdown at N = 5, one repetition, on MariaDB in a process of its
own: every phase is printed with a time, and the script's own checks held
(each run left N tables with their indexes and rows; the probe saw one
packet per step). Never a time. Marked ``benchmark``: it runs as its own
step, after the peers are installed. A missing MariaDB (exit 3) skips
locally and fails in CI.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from migrata.testing.plugin import in_ci

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parent.parent
ROWS = (
    "dbmate migrate",
    "floor (b)",
    "migrata up",
    "start",
    "inside",
    "between",
    "after",
    "replay",
    "replayed step packets",
    "lower bound",
)


def test_small_run_prints_every_phase() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "apply_breakdown.py"), "--n", "5", "--reps", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode == 3:
        if in_ci():
            pytest.fail(f"MariaDB unreachable (CI: a missing server is a failure): {proc.stderr}")
        pytest.skip(f"MariaDB unreachable: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MariaDB, N = 5: medians of 1 interleaved repetitions" in proc.stdout
    for row in ROWS:
        assert re.search(rf"^{re.escape(row)} +\d+\.\d{{3}} ", proc.stdout, re.MULTILINE), (row, proc.stdout)
    assert len(re.findall(r"\d+\.\d\dx ", proc.stdout)) == 3, proc.stdout  # migrata, the bound and floor (b) x dbmate
