"""Statements that can only run outside a transaction, handled as Flyway does.

* A file whose statements ALL cannot run in a transaction (PostgreSQL
  ``CREATE/DROP INDEX CONCURRENTLY``, ``VACUUM``; SQLite ``VACUUM``) runs
  without one by itself, journaled: a golang-migrate set with such a file and
  empty down files applies with ``allow_empty`` and nothing else.
* A file that mixes them with statements that run in a transaction is still
  refused before anything runs, naming the file and line (the directive or
  ``mixed = true`` is the way out).
* The up part's ``no-transaction`` applies to its down part unless the down
  part says otherwise (``-- migrata:transaction``, dbmate's
  ``-- migrate:down transaction:true``), on every database.
* ``ALTER TYPE ... ADD VALUE`` runs in a transaction on PostgreSQL 12 and
  later (it is only forced out of one on older servers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")


def project(root: Path, url: str, **settings: Any) -> Path:
    """A project folder: migrata.toml with ``url`` and ``settings``, and a migrations folder."""
    (root / "migrations").mkdir(parents=True)
    lines = [f"url = '{url}'"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    (root / "migrata.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / "migrations" / name).write_text(text, encoding="utf-8")


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    from migrata.backends.registry import create_backend
    from migrata.util import DatabaseURL

    backend = create_backend(DatabaseURL.parse(url))
    try:
        return [tuple(r) for r in backend.query(sql, params)]
    finally:
        backend.close()


def modes(result: migrata.MigrateResult) -> dict[str, str]:
    return {s.version: s.mode for s in result.steps}


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", directory=tmp_path) as url:
        yield url


# --- golang-migrate: a single-statement CONCURRENTLY file, empty down files -----------------

GOLANG_MIGRATE_SET = {
    "1_users.up.sql": "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL);\n"
    "INSERT INTO users VALUES (1, 'a@example.com');\n",
    "1_users.down.sql": "DROP TABLE users;\n",
    "2_users_email_idx.up.sql": "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx\n    ON users (email);\n",
    "2_users_email_idx.down.sql": "",
    "3_drop_idx.up.sql": "-- the index was a mistake\nDROP INDEX CONCURRENTLY IF EXISTS users_email_idx;\n",
    "3_drop_idx.down.sql": "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
    "4_name.up.sql": "ALTER TABLE users ADD COLUMN name TEXT;\n",
    "4_name.down.sql": "",
}


def test_golang_migrate_set_applies_with_allow_empty_only(tmp_path: Path, pg: str) -> None:
    root = project(tmp_path / "p", pg, allow_empty=True)
    write(root, GOLANG_MIGRATE_SET)
    valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s"

    result = migrata.upgrade(root, "2")
    assert modes(result) == {"1": "transaction", "2": "journal"}
    assert query(pg, valid, ("users_email_idx",)) == [(True,)]
    history = query(pg, "SELECT version, status, statements FROM migrata_history WHERE kind <> 'ledger'")
    assert sorted(history) == [("1", "applied", 2), ("2", "applied", 1)]
    detail = query(pg, "SELECT detail FROM migrata_events WHERE action = 'up' AND version = '2'")
    assert json.loads(detail[0][0])["mode"] == "journal"

    result = migrata.upgrade(root)
    assert modes(result) == {"3": "journal", "4": "transaction"}
    assert query(pg, valid, ("users_email_idx",)) == []

    # down: 4's empty down is a no-op, 3's down (CONCURRENTLY, no directive) runs outside a transaction
    result = migrata.downgrade(root, "2")
    assert modes(result) == {"4": "transaction", "3": "journal"}
    assert query(pg, valid, ("users_email_idx",)) == [(True,)]
    result = migrata.downgrade(root, "base")
    assert [s.version for s in result.steps] == ["2", "1"]
    assert query(pg, "SELECT to_regclass('users')") == [(None,)]
    assert migrata.status(root).applied == 0


def test_concurrently_file_renders_without_a_transaction(tmp_path: Path, pg: str) -> None:
    """``up --sql``: no BEGIN around the CONCURRENTLY statement (it would fail there)."""
    root = project(tmp_path / "p", pg, allow_empty=True)
    write(root, {k: v for k, v in GOLANG_MIGRATE_SET.items() if k.startswith(("1_", "2_"))})
    res = run_cli(["-C", str(root), "up", "--sql"])
    assert res.exit_code == 0, res.output
    part = res.output.split("-- up 2 ", 1)[1]
    assert "(2_users_email_idx.up.sql, journal)" in part.splitlines()[0]
    assert "CREATE INDEX CONCURRENTLY" in part and "BEGIN" not in part


def test_file_mixing_concurrently_with_transactional_sql_is_refused(tmp_path: Path, pg: str) -> None:
    root = project(tmp_path / "p", pg)
    write(
        root,
        {
            "1_t.up.sql": "CREATE TABLE t (x INT);\n",
            "2_mix.up.sql": "INSERT INTO t VALUES (1);\n\nCREATE INDEX CONCURRENTLY t_x ON t (x);\n",
        },
    )
    res = run_cli(["-C", str(root), "up"])
    assert res.exit_code == 3, res.output
    assert "2_mix.up.sql:3" in res.output and "CREATE INDEX CONCURRENTLY cannot run inside a transaction" in res.output
    assert "line 1: INSERT INTO t VALUES (1)" in res.output
    assert "-- migrata:no-transaction" in res.output and "Traceback" not in res.output
    assert query(pg, "SELECT to_regclass('t')") == [(None,)], "1 ran although the run was refused"

    result = migrata.upgrade(root, mixed=True)
    assert modes(result) == {"1": "transaction", "2": "journal"}


def test_sqlite_vacuum_file_runs_without_a_transaction(tmp_path: Path) -> None:
    root = project(tmp_path / "p", "sqlite:///app.db")
    write(
        root,
        {
            "1_t.up.sql": "CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1);\n",
            "2_vacuum.up.sql": "-- reclaim space\nVACUUM;\n",
            "2_vacuum.down.sql": "VACUUM;\n",
        },
    )
    result = migrata.upgrade(root)
    assert modes(result) == {"1": "transaction", "2": "journal"}
    assert migrata.status(root).current == "2"
    assert modes(migrata.downgrade(root)) == {"2": "journal"}
    assert migrata.status(root).current == "1"


def test_postgresql_15_adds_enum_values_in_a_transaction(tmp_path: Path, pg: str) -> None:
    from migrata.backends.registry import create_backend
    from migrata.util import DatabaseURL

    backend = create_backend(DatabaseURL.parse(pg))
    try:
        major = int(backend.server_version().split(".")[0])
    finally:
        backend.close()
    root = project(tmp_path / "p", pg)
    write(
        root,
        {
            "1_enum.up.sql": "CREATE TYPE mood AS ENUM ('sad', 'ok');\n",
            "2_add.up.sql": "ALTER TYPE mood ADD VALUE 'happy';\n",
        },
    )
    result = migrata.upgrade(root)
    assert modes(result)["2"] == ("transaction" if major >= 12 else "journal")
    labels = "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype"
    assert query(pg, labels) == [("sad,ok,happy",)]


# --- the up part's no-transaction applies to its down part ---------------------------------

TABLE = "CREATE TABLE t (x INTEGER);\n"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_down_part_inherits_no_transaction_unless_it_says_otherwise(tmp_path: Path, dialect: str) -> None:
    """Down parts of data statements only, which would run in a transaction on
    every database: journaled when their up part is ``no-transaction`` and
    they say nothing, in a transaction when they say so."""
    with fresh_database(dialect, directory=tmp_path) as url:
        root = project(tmp_path / "p", url)
        write(
            root,
            {
                "1_t.up.sql": TABLE,
                "1_t.down.sql": "DROP TABLE t;\n",
                # golang-migrate pairs
                "2_a.up.sql": "-- migrata:no-transaction\nINSERT INTO t VALUES (2);\n",
                "2_a.down.sql": "DELETE FROM t WHERE x = 2;\n",
                "3_b.up.sql": "-- migrata:no-transaction\nINSERT INTO t VALUES (3);\n",
                "3_b.down.sql": "-- migrata:transaction\nDELETE FROM t WHERE x = 3;\n",
                # dbmate sections
                "4_c.sql": "-- migrate:up transaction:false\nINSERT INTO t VALUES (4);\n"
                "-- migrate:down\nDELETE FROM t WHERE x = 4;\n",
                "5_d.sql": "-- migrate:up transaction:false\nINSERT INTO t VALUES (5);\n"
                "-- migrate:down transaction:true\nDELETE FROM t WHERE x = 5;\n",
                "6_e.sql": "-- migrate:up\nINSERT INTO t VALUES (6);\n-- migrate:down\nDELETE FROM t WHERE x = 6;\n",
            },
        )
        up = migrata.upgrade(root)
        ddl = "journal" if dialect == "mysql" else "transaction"  # MySQL DDL commits implicitly
        expected = {"1": ddl, "2": "journal", "3": "journal", "4": "journal", "5": "journal", "6": "transaction"}
        assert modes(up) == expected
        down = migrata.downgrade(root, "1")
        assert modes(down) == {
            "6": "transaction",
            "5": "transaction",
            "4": "journal",
            "3": "transaction",
            "2": "journal",
        }
        assert query(url, "SELECT x FROM t") == []
        assert migrata.status(root).current == "1"
