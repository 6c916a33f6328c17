"""Where ``migrata up`` spends its time on MariaDB, beside dbmate.

``run.py`` times whole processes; this script splits migrata's apply of N
migrations (the same generated workload) into what the client does and
what the server does, to say what a target against dbmate can and cannot
be met by:

* **migrata up**, whole process, and **dbmate migrate**, whole process, on
  fresh databases, interleaved;
* migrata's run as seen from inside: the command runs with a probe that
  notes when each step's packet (``run_batch``) starts and ends, and every
  statement sent. From that: **start** (process start to the first step's
  packet: interpreter, imports, connecting, migrata's tables, the lock,
  reading the files, planning), time **inside** the step packets (the
  server's work, with the driver reading each result as it comes), time
  **between** them (migrata preparing the next step: the client alone),
  and **after** the last one;
* **replay**: everything that run sent, statement for statement, sent
  again by a bare PyMySQL loop on a fresh database (the server's work plus
  the least a client can do); its step packets alone give the **lower
  bound** of migrata with no client work per step: start + replayed packets;
* **floor (b)**: the mariadb client running the same SQL, one transaction
  per migration with a history row (as in ``run.py``).

    python3 -m uv run python benchmarks/apply_breakdown.py [--n 300] [--reps 5]

It prints medians over the repetitions, per migration where that is the
unit, and the ratios of migrata, of the lower bound and of floor (b) to
dbmate (each the median of the repetitions' own ratios). Nothing is
written; nothing is asserted. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.peers import ensure_peers  # noqa: E402
from harness.servers import Database, MySQLServer  # noqa: E402
from harness.workload import Workload  # noqa: E402
from run import measured_env  # noqa: E402

#: Run in the interpreter migrata is measured with: `migrata up -q` through
#: the console entry point, noting each step packet's start and end and
#: every statement's text as sent (argv: report path, then migrata's argv).
PROBE = """
import json, sys, time
import pymysql.cursors
from migrata.backends import mysql
report, sys.argv = sys.argv[1], ["migrata", *sys.argv[2:]]
packets, sent = [], []
run_batch, execute = mysql.MySQLBackend.run_batch, pymysql.cursors.Cursor.execute
def noted_batch(self, statements):
    start = time.time()
    try:
        return run_batch(self, statements)
    finally:
        packets.append((start, time.time()))
def noted_execute(self, query, args=None):
    sent.append(self.mogrify(query, args) if args is not None else query)
    return execute(self, query, args)
mysql.MySQLBackend.run_batch, pymysql.cursors.Cursor.execute = noted_batch, noted_execute
from migrata.cli import main
try:
    main()
finally:
    with open(report, "w") as f:
        json.dump({"packets": packets, "sent": sent}, f)
"""
MISSING_TABLE = 1146


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=300, help="migrations (default 300)")
    p.add_argument("--reps", type=int, default=5, help="repetitions, interleaved (default 5)")
    return p.parse_args(argv)


def timed(cmd: list[str], env: dict[str, str], stdin: Path | None = None) -> float:
    """Wall-clock seconds of ``cmd``, which must succeed."""
    t0 = time.perf_counter()
    with open(stdin or os.devnull, "rb") as feed:
        done = subprocess.run(cmd, env=env, stdin=feed, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}")
    return seconds


def applied(db: Database, n: int, what: str) -> None:
    """Stop unless the schema holds the N tables, their indexes and rows:
    what did not do the work gets no time."""
    counts = db.counts(n)
    if (counts.tables, counts.indexes, counts.rows) != (n, n, 10):
        raise SystemExit(f"{what} left {counts.as_dict()} in the schema, not {n} tables with their index and rows")


def probed(python: Path, db: Database, w: Workload, env: dict[str, str], folder: Path) -> dict[str, Any]:
    """One probed ``migrata up``: the phases of its run, and what it sent."""
    report = folder / "probe.json"
    cmd = [str(python), "-c", PROBE, str(report), "--url", db.url("migrata")]
    cmd += ["--migrations", str(w.migrations("migrata")), "up", "-q"]
    spawned = time.time()
    timed(cmd, env)
    ended = time.time()
    data = json.loads(report.read_text())
    packets = data["packets"]
    return {
        "start": packets[0][0] - spawned,
        "inside": sum(end - start for start, end in packets),
        "between": sum(b[0] - a[1] for a, b in zip(packets, packets[1:], strict=False)),
        "after": ended - packets[-1][1],
        "steps": len(packets),
        "sent": data["sent"],
    }


def replay(db: Database, sent: list[str], is_step: Callable[[str], bool]) -> tuple[float, float]:
    """Send ``sent`` again through a bare PyMySQL connection, reading every
    result; seconds for all of it, and from the first step packet on."""
    import pymysql
    from pymysql.constants import CLIENT

    server = db.server
    assert isinstance(server, MySQLServer)
    conn = pymysql.connect(
        host=server.host,
        port=server.port or 3306,
        user=server.user or "root",
        password=server.password,
        database=db.name,
        autocommit=True,
        client_flag=CLIENT.MULTI_STATEMENTS,
        ssl_disabled=True,
    )
    first_step: float | None = None
    try:
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for text in sent:
                if first_step is None and is_step(text):
                    first_step = time.perf_counter()
                try:
                    cur.execute(text)
                except pymysql.err.ProgrammingError as exc:
                    if exc.args[0] != MISSING_TABLE:
                        raise
                    continue  # migrata's first reads of its own tables, on a fresh database
                while cur.nextset():
                    pass
        end = time.perf_counter()
    finally:
        conn.close()
    return end - t0, end - (first_step or t0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = MySQLServer()
    problem = server.check()
    if problem:
        print(problem, file=sys.stderr)
        return 3
    peers = ensure_peers()
    if peers.dbmate is None:
        print("; ".join(peers.problems) or "dbmate is not installed", file=sys.stderr)
        return 1
    samples: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="migrata-breakdown-") as tmp:
        folder = Path(tmp)
        env = measured_env(folder / "pycache")
        w = Workload(folder / "work", args.n, "mysql")
        w.generate(["migrata", "dbmate"], peers.migrata_python, env)
        migrata = [str(peers.migrata_python.parent / "migrata")]
        dbmate = [str(peers.dbmate), "--migrations-dir", str(w.migrations("dbmate")), "--no-dump-schema"]
        with server.fresh(folder) as db:  # a warm-up: caches of the interpreter, the files and the server
            timed([*migrata, "--url", db.url("migrata"), "--migrations", str(w.migrations("migrata")), "up", "-q"], env)
        for rep in range(args.reps):
            print(f"repetition {rep + 1} of {args.reps}", file=sys.stderr)
            with server.fresh(folder) as db:
                cmd = [*migrata, "--url", db.url("migrata"), "--migrations", str(w.migrations("migrata")), "up", "-q"]
                note("migrata up", timed(cmd, env))
                applied(db, args.n, "migrata up")
            with server.fresh(folder) as db:
                note("dbmate migrate", timed([*dbmate, "--url", db.url("dbmate"), "migrate"], env))
                applied(db, args.n, "dbmate migrate")
            with server.fresh(folder) as db:
                phases = probed(peers.migrata_python, db, w, env, folder)
                applied(db, args.n, "the probed migrata up")
                if phases["steps"] != args.n:
                    raise SystemExit(f"the probe saw {phases['steps']} step packets, not {args.n}")
                for name in ("start", "inside", "between", "after"):
                    note(name, phases[name])
            with server.fresh(folder) as db:
                whole, steps = replay(db, phases["sent"], lambda text: "bench_" in text)
                applied(db, args.n, "the replay")
                note("replay", whole)
                note("replayed step packets", steps)
                note("lower bound", phases["start"] + steps)
            with server.fresh(folder) as db:
                cmd, feed = db.client(w.floor("b_up.sql"))
                note("floor (b)", timed(cmd, dict(env, **server.client_env()), feed))
                applied(db, args.n, "floor (b)")
    print_report(samples, args.n)
    return 0


def print_report(samples: dict[str, list[float]], n: int) -> None:
    """Medians; each ratio to dbmate is the median of the single repetitions'
    ratios (commands run seconds apart: the server's speed drifts within minutes)."""
    med = {name: statistics.median(values) for name, values in samples.items()}
    rows = [
        ("dbmate migrate", "whole process", True),
        ("floor (b)", "mariadb client, one transaction per migration + history row", True),
        ("migrata up", "whole process", True),
        ("start", "process start to the first step packet", False),
        ("inside", "inside the step packets (server work, results read as they come)", True),
        ("between", "between step packets (migrata preparing the next step)", True),
        ("after", "after the last step packet to the process's end", False),
        ("replay", "all migrata sent, again, by a bare PyMySQL loop", True),
        ("replayed step packets", "its step packets alone", True),
        ("lower bound", "migrata's start + replayed step packets (no client work per step)", True),
    ]
    print(f"MariaDB, N = {n}: medians of {len(samples['migrata up'])} interleaved repetitions")
    print(f"{'':24} {'seconds':>8} {'ms/migration':>13} {'x dbmate':>9}  what")
    for name, what, per in rows:
        per_mig = f"{1000 * med[name] / n:13.3f}" if per else " " * 13
        ratio = " " * 9
        if name in ("migrata up", "lower bound", "floor (b)"):
            pairs = zip(samples[name], samples["dbmate migrate"], strict=True)
            ratio = f"{statistics.median(a / b for a, b in pairs):8.2f}x"
        print(f"{name:24} {med[name]:8.3f} {per_mig} {ratio}  {what}")


if __name__ == "__main__":
    raise SystemExit(main())
