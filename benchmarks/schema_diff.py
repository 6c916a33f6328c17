"""``migrata autogenerate`` and ``migrata diff`` against alembic's own autogenerate.

On each database (PostgreSQL by default; ``--databases sqlite,mysql`` too)
a fresh database and a generated model set of N tables (2,000 by default;
each with a primary key, five columns of different types, a server
default, a foreign key to the table before, an index, a unique and a check
constraint) are compared, in one process, three ways:

* **alembic compare**: ``alembic.autogenerate.compare_metadata`` of the
  models against a database holding their schema (it finds nothing);
* **alembic autogenerate**: what ``alembic revision --autogenerate`` does
  on the empty database: ``produce_migrations`` and ``render_python_code``
  of the upgrade and downgrade;
* **migrata autogenerate**: the library call ``migrata.autogenerate``
  from an empty migrations folder: replays the (no) migrations into a
  scratch database, compares with the models and writes the N-table pair;
* **migrata diff**: ``migrata.diff`` after that pair is applied: the live
  database against the replayed migrations, and those against the models
  (two comparisons, a replay of the N tables, no drift).

SQLAlchemy and alembic are imported before anything is timed. Each run is
checked: alembic and diff find nothing, autogenerate writes one pair that
creates N tables. Printed: seconds and the ratio of each migrata command
to alembic's comparison (the target: diff, which does two comparisons and
a replay, no slower than alembic's one comparison per table).

    python3 -m uv run python benchmarks/schema_diff.py [--tables 2000] [--databases postgresql,sqlite]
        [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import migrata
from migrata.testing import ServerUnavailable, temporary_database

MODELS = '''
"""{n} generated tables for benchmarks/schema_diff.py."""
import sqlalchemy as sa

metadata = sa.MetaData()
for i in range({n}):
    name = f"t{{i:05d}}"
    sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False, server_default="0.00"),
        sa.Column("note", sa.Text),
        sa.Column("created_at", sa.DateTime),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{{i - 1:05d}}.id") if i else None),
        sa.Index(f"ix_{{name}}_created_at", "created_at"),
        sa.UniqueConstraint("code", name=f"uq_{{name}}_code"),
        sa.CheckConstraint("amount >= 0", name=f"ck_{{name}}_amount"),
    )
'''


def write_project(root: Path, url: str, tables: int) -> tuple[migrata.Settings, str]:
    module = f"bench_models_{uuid.uuid4().hex[:8]}"
    (root / f"{module}.py").write_text(MODELS.format(n=tables), encoding="utf-8")
    (root / "migrations").mkdir()
    (root / "migrata.toml").write_text(f'url = "{url}"\nmigrations = "migrations"\n', encoding="utf-8")
    return migrata.load_settings(root / "migrata.toml"), f"{module}:metadata"


_OPTS: dict[str, Any] = {
    "compare_type": True,
    "compare_server_default": True,
    # migrata's own tables, as alembic leaves out its alembic_version
    "include_name": lambda name, type_, parent: type_ != "table" or not name.startswith("migrata_"),
}


def _engine(url: str) -> Any:
    import sqlalchemy as sa

    drivers = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    family = url.split(":", 1)[0]
    return sa.create_engine(url.replace(family, drivers.get(family, family), 1))


def alembic_compare(url: str, metadata: Any) -> tuple[float, list[Any]]:
    """alembic's own autogenerate comparison of ``metadata`` with the database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = _engine(url)
    try:
        t0 = time.perf_counter()
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts=_OPTS), metadata)
        return time.perf_counter() - t0, diffs
    finally:
        engine.dispose()


def alembic_autogenerate(url: str, metadata: Any) -> tuple[float, str]:
    """What ``alembic revision --autogenerate`` does for the models on an
    empty database: compare, then render the upgrade and downgrade code."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.migration import MigrationContext

    engine = _engine(url)
    try:
        t0 = time.perf_counter()
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts=_OPTS)
            script = produce_migrations(ctx, metadata)
            assert script.upgrade_ops is not None and script.downgrade_ops is not None
            code = render_python_code(script.upgrade_ops) + render_python_code(script.downgrade_ops)
        return time.perf_counter() - t0, code
    finally:
        engine.dispose()


def bench(dialect: str, tables: int) -> dict[str, Any] | None:
    import alembic.autogenerate  # noqa: F401  (imported before anything is timed)
    import sqlalchemy  # noqa: F401

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="migrata-schema-diff-")))
        try:
            url = stack.enter_context(temporary_database(dialect, directory=tmp))
        except ServerUnavailable as exc:
            print(f"{dialect}: skipped ({exc})")
            return None
        cfg, spec = write_project(tmp, url, tables)
        sys.path.insert(0, str(tmp))
        try:
            metadata = __import__(spec.split(":")[0]).metadata
        finally:
            sys.path.remove(str(tmp))

        alembic_gen_s, code = alembic_autogenerate(url, metadata)
        assert code.count("op.create_table(") == tables, "alembic rendered the wrong number of tables"
        t0 = time.perf_counter()
        generated = migrata.autogenerate(cfg, "schema", models=spec)
        autogenerate_s = time.perf_counter() - t0
        assert generated.changed and len(generated.files) == 2, generated
        created = Path(generated.files[0]).read_text().count("CREATE TABLE")
        assert created == tables, f"autogenerate wrote {created} CREATE TABLE for {tables} tables"

        if dialect == "postgresql" and tables > 500:
            # thousands of CREATEs in one transaction pass PostgreSQL's lock table
            # (max_locks_per_transaction): the file runs statement by statement
            up = Path(generated.files[0])
            head, rest = up.read_text().split("\n", 1)
            up.write_text(f"{head}\n-- migrata:no-transaction\n{rest}")
        migrata.upgrade(cfg)
        t0 = time.perf_counter()
        drift = migrata.diff(cfg, models=spec)
        diff_s = time.perf_counter() - t0
        assert not drift.drift, [c["lines"][:5] for c in drift.comparisons]

        alembic_s, found = alembic_compare(url, metadata)
        assert not found, f"alembic found differences: {str(found[:3])[:500]}"
    return {
        "database": dialect,
        "tables": tables,
        "alembic_compare_metadata": alembic_s,
        "alembic_autogenerate": alembic_gen_s,
        "migrata_autogenerate": autogenerate_s,
        "migrata_diff": diff_s,
        "autogenerate_x_alembic_compare": autogenerate_s / alembic_s,
        "autogenerate_x_alembic_autogenerate": autogenerate_s / alembic_gen_s,
        "diff_x_alembic_compare": diff_s / alembic_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    print(f"schema comparison of {args.tables:,} tables, seconds (ratio: migrata / alembic)")
    head = ("database", "alembic compare", "alembic autogen", "migrata autogen", "x compare", "x autogen",
            "migrata diff", "x compare")  # fmt: skip
    print(" ".join(f"{h:>15}" for h in head))
    results = []
    for dialect in args.databases.split(","):
        r = bench(dialect.strip(), args.tables)
        if r is None:
            continue
        results.append(r)
        cells = [
            f"{r['alembic_compare_metadata']:.2f}",
            f"{r['alembic_autogenerate']:.2f}",
            f"{r['migrata_autogenerate']:.2f}",
            f"{r['autogenerate_x_alembic_compare']:.2f}x",
            f"{r['autogenerate_x_alembic_autogenerate']:.2f}x",
            f"{r['migrata_diff']:.2f}",
            f"{r['diff_x_alembic_compare']:.2f}x",
        ]
        print(f"{dialect:>15} " + " ".join(f"{c:>15}" for c in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
