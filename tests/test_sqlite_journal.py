"""While it migrates, migrata keeps SQLite's rollback journal file between
transactions (journal_mode PERSIST on its own connection) and restores the
default afterwards; a database in WAL mode, or one a migration switches to
WAL, is left as it is."""

from __future__ import annotations

import sqlite3


def _mode(project) -> str:
    conn = sqlite3.connect(project.db)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_default_mode_is_restored_and_no_journal_file_is_left(project) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    project.write(
        "2_seen.py",
        """
        def up(ctx):
            mode = ctx.query("PRAGMA journal_mode")[0][0]
            ctx.execute("CREATE TABLE seen (mode TEXT)")
            ctx.execute("INSERT INTO seen VALUES (?)", (mode,))

        def down(ctx):
            ctx.execute("DROP TABLE seen")
        """,
    )
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT mode FROM seen") == [("persist",)]
    assert _mode(project) == "delete"
    assert not project.db.with_name(project.db.name + "-journal").exists()
    assert project.run("down", "base").exit_code == 0
    assert not project.db.with_name(project.db.name + "-journal").exists()


def test_a_wal_database_stays_wal(project) -> None:
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up").exit_code == 0
    assert _mode(project) == "wal"


def test_a_migration_that_chooses_wal_keeps_it(project) -> None:
    project.write("1_wal.sql", "-- migrata:no-transaction\nPRAGMA journal_mode = WAL;\n")
    project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert _mode(project) == "wal"
