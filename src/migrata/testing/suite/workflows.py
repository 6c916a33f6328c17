"""Whole runs through migrata's public API, on each dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

import migrata
from migrata.testing.suite.checks import upgrade
from migrata.testing.suite.dialects import connected, user_tables, write

__all__ = [
    "test_failed_migration_changes_nothing_recorded_wrongly",
    "test_failed_python_migration_leaves_no_partial_data",
    "test_no_transaction_migration_is_journaled",
    "test_python_migration_context",
    "test_up_down_round_trip",
]


def test_up_down_round_trip(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "1_a.up.sql", "CREATE TABLE suite_a (id INTEGER PRIMARY KEY, name VARCHAR(20));")
    write(folder, "1_a.down.sql", "DROP TABLE suite_a;")
    write(
        folder, "2_b.sql", "-- migrate:up\nCREATE TABLE suite_b (id INTEGER);\n-- migrate:down\nDROP TABLE suite_b;\n"
    )
    write(folder, "10_c.up.sql", "INSERT INTO suite_a (id, name) VALUES (1, 'x;y');")
    write(folder, "10_c.down.sql", "DELETE FROM suite_a WHERE id = 1;")
    res = upgrade(migrata_url, migrations=folder)
    assert [s.version for s in res.steps] == ["1", "2", "10"]
    assert user_tables(migrata_url) == {"suite_a", "suite_b"}
    assert migrata.downgrade(migrata_url, migrations=folder).after == "2"
    assert migrata.downgrade(migrata_url, "base", migrations=folder).after is None
    assert user_tables(migrata_url) == set()
    assert upgrade(migrata_url, migrations=folder).after == "10"
    events = migrata.history(migrata_url, migrations=folder, limit=None).events
    assert [e.action for e in events].count("up") == 6


def test_failed_migration_changes_nothing_recorded_wrongly(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "1_ok.up.sql", "CREATE TABLE suite_ok (id INTEGER);")
    write(folder, "2_bad.up.sql", "INSERT INTO suite_ok (id) VALUES (1);\nINSERT INTO no_such_table VALUES (1);\n")
    with pytest.raises(migrata.MigrationFailedError) as info:
        upgrade(migrata_url, migrations=folder)
    assert info.value.line == 2 and info.value.path and info.value.path.endswith("2_bad.up.sql")
    st = migrata.status(migrata_url, migrations=folder)
    assert st.current == "1"
    with connected(migrata_url) as b:
        rows = b.query("SELECT COUNT(*) FROM suite_ok")
    if rows[0][0] == 0:  # the failure rolled back: nothing of version 2 is recorded
        assert [m.version for m in st.pending] == ["2"]
        assert st.problems == []
    else:  # no transaction: the run is recorded as failed with its progress
        failed = [m for m in st.migrations if m.state == "failed"]
        assert failed and failed[0].progress == 1


def test_no_transaction_migration_is_journaled(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(
        folder,
        "1_nt.up.sql",
        "-- migrata:no-transaction\nCREATE TABLE suite_nt (id INTEGER);\nINSERT INTO suite_nt VALUES (1);\n",
    )
    write(folder, "1_nt.down.sql", "DROP TABLE suite_nt;")
    res = upgrade(migrata_url, migrations=folder)
    assert res.steps[0].mode == "journal"
    info = migrata.info(migrata_url, migrations=folder)
    row = info.migrations[0]
    assert (row.state, row.progress, row.statements) == ("applied", 2, 2)
    migrata.downgrade(migrata_url, migrations=folder)
    assert user_tables(migrata_url) == set()


def test_python_migration_context(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    write(folder, "1_t.up.sql", "CREATE TABLE suite_py (id INTEGER, name VARCHAR(20));")
    write(folder, "1_t.down.sql", "DROP TABLE suite_py;")
    write(
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
    upgrade(migrata_url, migrations=folder)
    with connected(migrata_url) as b:
        assert b.query("SELECT id, name FROM suite_py") == [(1, b.dialect)]
    migrata.downgrade(migrata_url, "base", migrations=folder)
    assert user_tables(migrata_url) == set()


def test_failed_python_migration_leaves_no_partial_data(migrata_url: str, tmp_path: Path) -> None:
    """A data migration that fails half-way leaves nothing behind, and nothing to repair."""
    folder = tmp_path / "migrations"
    write(folder, "1_t.up.sql", "CREATE TABLE suite_partial (id INTEGER);")
    write(
        folder,
        "2_fill.py",
        """
        def up(ctx):
            ctx.execute("INSERT INTO suite_partial (id) VALUES (1)")
            raise RuntimeError("half-way")
        """,
    )
    with pytest.raises(migrata.MigrationFailedError, match="half-way"):
        upgrade(migrata_url, migrations=folder)
    st = migrata.status(migrata_url, migrations=folder)
    assert st.current == "1" and st.problems == [] and [m.version for m in st.pending] == ["2"]
    with connected(migrata_url) as b:
        assert b.query("SELECT COUNT(*) FROM suite_partial") == [(0,)]
