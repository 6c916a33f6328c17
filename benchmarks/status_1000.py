"""How fast does `migrata status` answer on a project of 1,000 migrations?

DESIGN.md promises "well under 200 ms". This script:

1. generates a throwaway SQLite project with N migrations (default 1,000
   `.up.sql`/`.down.sql` pairs, each creating a table and an index);
2. applies them all with `migrata up` (timed once, for reference);
3. times whole processes, as a user or a CI job would see them: the floor
   `python -c pass`, then `migrata status` and `migrata check` (asked again,
   from their kept answers) and the same with every cache off (the full
   answer), each run `--runs` times (default 10) after one warm-up run;
   Bytecode is cached in the temporary folder (see ``clean_env``);
4. prints a table with the median and fastest wall-clock seconds, the ratio to
   the floor, and whether `status` is under the 200 ms budget.

Usage (from the repository root):

    uv run python benchmarks/status_1000.py [--count 1000] [--runs 10] [--keep]

It uses the `migrata` console script next to the running interpreter (the
project's virtualenv), or `python -m migrata` when there is none. Nothing is
asserted: the exit code is 0 either way; read the table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 0.200


def migrata_command() -> list[str]:
    script = Path(sys.executable).parent / ("migrata.exe" if os.name == "nt" else "migrata")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "migrata"]


def generate(root: Path, count: int) -> None:
    folder = root / "migrations"
    folder.mkdir(parents=True)
    (root / "migrata.toml").write_text('url = "sqlite:///bench.db"\nmigrations = "migrations"\n', encoding="utf-8")
    width = max(6, len(str(count)))
    for i in range(1, count + 1):
        stem = f"{i:0{width}d}_create_t{i}"
        (folder / f"{stem}.up.sql").write_text(
            f"-- migration {i} of {count}\n"
            f"CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name TEXT NOT NULL,\n"
            f"    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n"
            f"CREATE INDEX idx_t{i}_name ON t{i} (name);\n",
            encoding="utf-8",
        )
        (folder / f"{stem}.down.sql").write_text(f"DROP INDEX idx_t{i}_name;\nDROP TABLE t{i};\n", encoding="utf-8")


def clean_env(pycache: Path) -> dict[str, str]:
    """The environment for every timed process.

    Bytecode goes to a private cache that the warm-up run fills, so every
    timed run loads up-to-date .pyc files, as an installed package does, even
    where PYTHONDONTWRITEBYTECODE is set or the source is newer than its .pyc
    (recompiling stale modules on every run would cost ~20 ms and hide the
    real numbers). The repository is not written to.
    """
    env = dict(os.environ)
    for var in ("DATABASE_URL", "MIGRATA_DATABASE_URL", "MIGRATA_ENV", "DB_HOST", "DB_NAME", "PYTHONDONTWRITEBYTECODE"):
        env.pop(var, None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_once(cmd: list[str], cwd: Path, env: dict[str, str], ok_codes: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok_codes:
        sys.stderr.write(f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n")
        raise SystemExit(1)
    return elapsed


def measure(cmd: list[str], cwd: Path, env: dict[str, str], runs: int) -> list[float]:
    run_once(cmd, cwd, env)  # warm-up: page cache, .pyc files
    return [run_once(cmd, cwd, env) for _ in range(runs)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="number of migrations (default 1000)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project and print its path")
    args = parser.parse_args()

    migrata = migrata_command()
    tmp = Path(tempfile.mkdtemp(prefix="migrata-bench-"))
    env = clean_env(tmp / "pycache")
    env["MIGRATA_CACHE_DIR"] = str(tmp / "cache")
    full = dict(env, MIGRATA_NO_CACHE="1")  # no kept answer, no report cache: everything read
    try:
        root = tmp / "project"
        t0 = time.perf_counter()
        generate(root, args.count)
        gen_s = time.perf_counter() - t0
        up_s = run_once([*migrata, "up", "-q"], root, env)
        # files younger than two seconds are never taken on trust (the caches' racy rule)
        time.sleep(max(0.0, 2.1 - (time.perf_counter() - t0)))
        status_out = subprocess.run(
            [*migrata, "status"], cwd=root, env=env, capture_output=True, text=True, check=True
        ).stdout
        if f"Applied:  {args.count}" not in status_out or "up to date" not in status_out:
            sys.stderr.write(f"unexpected status after `up`:\n{status_out}\n")
            raise SystemExit(1)

        rows = [
            ("python -c pass (floor)", measure([sys.executable, "-c", "pass"], root, env, args.runs)),
            ("python -c 'import migrata'", measure([sys.executable, "-c", "import migrata"], root, env, args.runs)),
            ("migrata --version", measure([*migrata, "--version"], root, env, args.runs)),
            ("migrata status", measure([*migrata, "status"], root, env, args.runs)),
            ("migrata check", measure([*migrata, "check"], root, env, args.runs)),
            ("status, full answer", measure([*migrata, "status"], root, full, args.runs)),
            ("check, full answer", measure([*migrata, "check"], root, full, args.runs)),
        ]

        print(f"migrata status on {args.count} applied migrations (SQLite), {args.runs} runs each after a warm-up")
        print(f"python {sys.version.split()[0]} on {sys.platform}; command: {' '.join(migrata)}")
        print(f"generate {args.count} migrations: {gen_s:.2f} s; `migrata up` (all of them, one process): {up_s:.2f} s")
        print()
        floor = statistics.median(rows[0][1])
        header = f"{'command':<28} {'median s':>9} {'min s':>8} {'x floor':>8} {'- floor s':>10}"
        print(header)
        print("-" * len(header))
        for name, times in rows:
            med = statistics.median(times)
            print(f"{name:<28} {med:>9.3f} {min(times):>8.3f} {med / floor:>8.1f} {med - floor:>10.3f}")
        print()
        print("`migrata status`/`check` asked again print their kept answer (docs/commands.md);")
        print("the full answer reads every file and the database (MIGRATA_NO_CACHE=1).")
        status_med = statistics.median(rows[3][1])
        verdict = "yes" if status_med < BUDGET_S else "NO"
        print(f"status under {BUDGET_S * 1000:.0f} ms: {verdict} (median {status_med * 1000:.0f} ms)")
        if args.keep:
            print(f"project kept in {root}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
