"""The shared backend suite: every backend must pass it unchanged.

Use it from a test module with the plugin enabled::

    pytest_plugins = ["migrata.testing.plugin"]
    from migrata.testing.suite import *  # noqa: F403

Each test gets ``migrata_url`` (a fresh database) and writes its own
migrations into ``tmp_path``. The tests only speak standard SQL, so they
hold on every dialect.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import migrata
from migrata.backends.base import Backend, DatabaseURL, StatementError
from migrata.backends.registry import create_backend

__all__ = [
    "test_connect_and_introspect",
    "test_ddl_rollback_matches_capability",
    "test_failed_migration_changes_nothing_recorded_wrongly",
    "test_failed_python_migration_leaves_no_partial_data",
    "test_ledger_tables_created_once",
    "test_lock_excludes_second_holder",
    "test_lock_freed_when_holder_dies",
    "test_no_transaction_migration_is_journaled",
    "test_python_migration_context",
    "test_split_keeps_quoted_semicolons_and_lines",
    "test_statement_error_is_reported",
    "test_up_down_round_trip",
]


def _backend(url: str) -> Backend:
    b = create_backend(DatabaseURL.parse(url))
    b.connect()
    return b


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _tables(url: str) -> set[str]:
    b = _backend(url)
    try:
        return {t.lower() for t in b.table_names()} - {"migrata_history", "migrata_events"}
    finally:
        b.close()


def test_connect_and_introspect(migrata_url: str) -> None:
    b = _backend(migrata_url)
    try:
        b.execute("CREATE TABLE suite_t (id INTEGER PRIMARY KEY)")
        assert "suite_t" in [t.lower() for t in b.table_names()]
        assert b.query("SELECT COUNT(*) FROM suite_t") == [(0,)]
        # the ledger asks for its own tables by name, not by listing the schema
        b.execute("CREATE VIEW suite_v AS SELECT id FROM suite_t")
        assert b.tables_present(["suite_t", "suite_missing", "suite_v"]) == {"suite_t"}
        assert b.tables_present(["suite_missing"]) == set()
        assert b.tables_present([]) == set()
    finally:
        b.close()


def test_split_keeps_quoted_semicolons_and_lines(migrata_url: str) -> None:
    b = _backend(migrata_url)
    try:
        script = (
            "-- a comment; with a semicolon\nCREATE TABLE a (x VARCHAR(10));\n\n"
            "INSERT INTO a VALUES ('p;q');\n/* c; */ SELECT 1"
        )
        stmts = b.split(script)
        assert [s.line for s in stmts] == [2, 4, 5]
        assert "'p;q'" in stmts[1].sql
        assert b.split("-- only a comment\n;\n") == []
    finally:
        b.close()


def test_statement_error_is_reported(migrata_url: str) -> None:
    b = _backend(migrata_url)
    try:
        with pytest.raises(StatementError) as info:
            b.run_statement("SELECT * FROM no_such_table_here")
        assert "no_such_table_here" in str(info.value)
    finally:
        b.close()


def test_ddl_rollback_matches_capability(migrata_url: str) -> None:
    b = _backend(migrata_url)
    try:
        b.begin()
        b.run_statement("CREATE TABLE suite_rb (id INTEGER)")
        b.rollback()
        present = "suite_rb" in [t.lower() for t in b.table_names()]
        assert present is (not b.transactional_ddl)
    finally:
        b.close()


def test_lock_excludes_second_holder(migrata_url: str) -> None:
    first, second = _backend(migrata_url), _backend(migrata_url)
    try:
        assert first.acquire_lock(1.0)
        t0 = time.monotonic()
        assert not second.acquire_lock(0.3)
        assert time.monotonic() - t0 >= 0.25
        holder = second.lock_holder()
        assert holder is not None
        first.release_lock()
        assert second.acquire_lock(1.0)
        second.release_lock()
        assert second.lock_holder() is None
    finally:
        first.close()
        second.close()


_HOLD = """
import sys, time
from migrata.backends.registry import create_backend
from migrata.backends.base import DatabaseURL
b = create_backend(DatabaseURL.parse(sys.argv[1])); b.connect()
assert b.acquire_lock(5)
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_freed_when_holder_dies(migrata_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, migrata_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        b = _backend(migrata_url)
        try:
            assert not b.acquire_lock(0.2)
            proc.kill()
            proc.wait()
            assert b.acquire_lock(5.0), "a killed holder must free the lock at once"
            b.release_lock()
        finally:
            b.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ledger_tables_created_once(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    assert migrata.upgrade(migrata_url, migrations=folder).steps == []  # nothing to do: nothing created
    assert "migrata_history" not in [t.lower() for t in _backend_tables(migrata_url)]
    _write(folder, "1_a.up.sql", "CREATE TABLE suite_once (id INTEGER);")
    migrata.upgrade(migrata_url, migrations=folder)
    migrata.upgrade(migrata_url, migrations=folder)
    b = _backend(migrata_url)
    try:
        names = [t.lower() for t in b.table_names()]
        assert "migrata_history" in names and "migrata_events" in names
    finally:
        b.close()
    assert migrata.status(migrata_url, migrations=folder).current == "1"


def _backend_tables(url: str) -> list[str]:
    b = _backend(url)
    try:
        return b.table_names()
    finally:
        b.close()


def test_up_down_round_trip(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _write(folder, "1_a.up.sql", "CREATE TABLE suite_a (id INTEGER PRIMARY KEY, name VARCHAR(20));")
    _write(folder, "1_a.down.sql", "DROP TABLE suite_a;")
    _write(
        folder, "2_b.sql", "-- migrate:up\nCREATE TABLE suite_b (id INTEGER);\n-- migrate:down\nDROP TABLE suite_b;\n"
    )
    _write(folder, "10_c.up.sql", "INSERT INTO suite_a (id, name) VALUES (1, 'x;y');")
    _write(folder, "10_c.down.sql", "DELETE FROM suite_a WHERE id = 1;")
    res = migrata.upgrade(migrata_url, migrations=folder)
    assert [s.version for s in res.steps] == ["1", "2", "10"]
    assert _tables(migrata_url) == {"suite_a", "suite_b"}
    assert migrata.downgrade(migrata_url, migrations=folder).after == "2"
    assert migrata.downgrade(migrata_url, "base", migrations=folder).after is None
    assert _tables(migrata_url) == set()
    assert migrata.upgrade(migrata_url, migrations=folder).after == "10"
    events = migrata.history(migrata_url, migrations=folder, limit=None).events
    assert [e.action for e in events].count("up") == 6


def test_failed_migration_changes_nothing_recorded_wrongly(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _write(folder, "1_ok.up.sql", "CREATE TABLE suite_ok (id INTEGER);")
    _write(folder, "2_bad.up.sql", "INSERT INTO suite_ok (id) VALUES (1);\nINSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(migrata.MigrationFailedError) as info:
        migrata.upgrade(migrata_url, migrations=folder)
    assert info.value.line == 2 and info.value.path and info.value.path.endswith("2_bad.up.sql")
    st = migrata.status(migrata_url, migrations=folder)
    assert st.current == "1"
    b = _backend(migrata_url)
    try:
        rows = b.query("SELECT COUNT(*) FROM suite_ok")
    finally:
        b.close()
    if rows[0][0] == 0:  # the failure rolled back: nothing of version 2 is recorded
        assert [m.version for m in st.pending] == ["2"]
        assert st.problems == []
    else:  # no transaction: the run is recorded as failed with its progress
        failed = [m for m in st.migrations if m.state == "failed"]
        assert failed and failed[0].progress == 1


def test_no_transaction_migration_is_journaled(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _write(
        folder,
        "1_nt.up.sql",
        "-- migrata:no-transaction\nCREATE TABLE suite_nt (id INTEGER);\nINSERT INTO suite_nt VALUES (1);\n",
    )
    _write(folder, "1_nt.down.sql", "DROP TABLE suite_nt;")
    res = migrata.upgrade(migrata_url, migrations=folder)
    assert res.steps[0].mode == "journal"
    info = migrata.info(migrata_url, migrations=folder)
    row = info.migrations[0]
    assert (row.state, row.progress, row.statements) == ("applied", 2, 2)
    migrata.downgrade(migrata_url, migrations=folder)
    assert _tables(migrata_url) == set()


def test_python_migration_context(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    _write(folder, "1_t.up.sql", "CREATE TABLE suite_py (id INTEGER, name VARCHAR(20));")
    _write(folder, "1_t.down.sql", "DROP TABLE suite_py;")
    _write(
        folder,
        "2_fill.py",
        '''
        """Fill the table."""

        def up(ctx):
            p = ctx.placeholder
            ctx.execute(f"INSERT INTO suite_py (id, name) VALUES ({p}, {p})", (1, ctx.dialect))
            assert ctx.query("SELECT COUNT(*) FROM suite_py") == [(1,)]

        def down(ctx):
            ctx.execute("DELETE FROM suite_py")
        ''',
    )
    migrata.upgrade(migrata_url, migrations=folder)
    b = _backend(migrata_url)
    try:
        assert b.query("SELECT id, name FROM suite_py") == [(1, b.dialect)]
    finally:
        b.close()
    migrata.downgrade(migrata_url, "base", migrations=folder)
    assert _tables(migrata_url) == set()


def test_failed_python_migration_leaves_no_partial_data(migrata_url: str, tmp_path: Path) -> None:
    """A data migration that fails half-way leaves nothing behind, and nothing to repair."""
    folder = tmp_path / "migrations"
    _write(folder, "1_t.up.sql", "CREATE TABLE suite_partial (id INTEGER);")
    _write(
        folder,
        "2_fill.py",
        """
        def up(ctx):
            ctx.execute("INSERT INTO suite_partial (id) VALUES (1)")
            raise RuntimeError("half-way")
        """,
    )
    with pytest.raises(migrata.MigrationFailedError, match="half-way"):
        migrata.upgrade(migrata_url, migrations=folder)
    st = migrata.status(migrata_url, migrations=folder)
    assert st.current == "1" and st.problems == [] and [m.version for m in st.pending] == ["2"]
    b = _backend(migrata_url)
    try:
        assert b.query("SELECT COUNT(*) FROM suite_partial") == [(0,)]
    finally:
        b.close()
