"""Backfill throughput: ``ctx.backfill`` against a hand-written batched UPDATE loop.

On each database (SQLite always; PostgreSQL and MariaDB when their test
servers answer) a fresh database gets a table of N rows (1,000,000 by
default). Then, on the same table:

* **hand loop**: what teams write by hand, through the driver:
  ``UPDATE items SET counter = counter + 1 WHERE id > lo AND id <= hi``,
  one commit per batch of B ids (it knows the ids are dense; no checkpoint);
* **migrata**: ``migrata up`` of a Python migration calling
  ``ctx.backfill("items", set="counter = counter + 1", batch_size=B)``:
  keyset batches, each committing its checkpoint with its rows.

After each run every row's counter is checked (1, then 2: each run updated
every row exactly once). Printed: rows/s of each and the ratio of migrata's
time to the loop's (the target: within 2x).

    python3 -m uv run python benchmarks/backfill.py [--rows 1000000] [--batch 1000] [--databases sqlite,mysql]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from migrata import api
from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import ServerUnavailable, temporary_database

MIGRATION = '''
"""backfill every row"""
transactional = False


def up(ctx):
    ctx.backfill("items", set="counter = counter + 1", batch_size={batch})
'''


def fill(backend: Any, dialect: str, rows: int) -> None:
    backend.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, counter INTEGER NOT NULL DEFAULT 0, pad VARCHAR(40))")
    if dialect == "postgresql":
        backend.execute(f"INSERT INTO items (id, pad) SELECT g, md5(g::text) FROM generate_series(1, {rows}) AS s(g)")
    elif dialect == "mysql":
        backend.execute(f"INSERT INTO items (id, pad) SELECT seq, MD5(seq) FROM seq_1_to_{rows}")
    else:
        backend.execute(
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
            "INSERT INTO items (id, pad) SELECT x, hex(randomblob(16)) FROM c"
        )


def hand_loop(url: str, rows: int, batch: int) -> float:
    """The loop a team writes by hand: one UPDATE and one commit per batch."""
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    conn = backend.connection
    ph = backend.placeholder
    sql = f"UPDATE items SET counter = counter + 1 WHERE id > {ph} AND id <= {ph}"
    t0 = time.perf_counter()
    try:
        cur = conn.cursor()
        for lo in range(0, rows, batch):
            backend.begin()
            cur.execute(sql, (lo, lo + batch))
            backend.commit()
        cur.close()
    finally:
        backend.close()
    return time.perf_counter() - t0


def with_migrata(url: str, folder: Path, batch: int) -> float:
    (folder / "000001_backfill.py").write_text(textwrap.dedent(MIGRATION.replace("{batch}", str(batch))))
    t0 = time.perf_counter()
    res = api.upgrade(url, migrations=str(folder))
    seconds = time.perf_counter() - t0
    assert res.after == "1", res
    return seconds


def check(url: str, rows: int, expected: int) -> None:
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        got = backend.query("SELECT COUNT(*), MIN(counter), MAX(counter) FROM items")[0]
    finally:
        backend.close()
    assert tuple(int(v) for v in got) == (rows, expected, expected), f"rows/min/max counter: {got}"


def bench(dialect: str, rows: int, batch: int) -> tuple[float, float] | None:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migrata-backfill-")))
        try:
            url = stack.enter_context(temporary_database(dialect, directory=tmp))
        except ServerUnavailable as exc:
            print(f"{dialect}: skipped ({exc})")
            return None
        backend = create_backend(DatabaseURL.parse(url))
        backend.connect()
        try:
            fill(backend, dialect, rows)
        finally:
            backend.close()
        loop = hand_loop(url, rows, batch)
        check(url, rows, 1)
        (tmp / "migrations").mkdir()
        ours = with_migrata(url, tmp / "migrations", batch)
        check(url, rows, 2)
        return loop, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--databases", default="sqlite,postgresql,mysql")
    args = parser.parse_args()
    print(f"backfill of {args.rows:,} rows in batches of {args.batch:,}")
    print(f"{'database':<11} {'hand loop rows/s':>17} {'migrata rows/s':>15} {'ratio':>6}")
    for dialect in args.databases.split(","):
        result = bench(dialect.strip(), args.rows, args.batch)
        if result is None:
            continue
        loop, ours = result
        print(f"{dialect:<11} {args.rows / loop:>17,.0f} {args.rows / ours:>15,.0f} {ours / loop:>5.2f}x")


if __name__ == "__main__":
    main()
