"""While it migrates, migrata keeps SQLite's rollback journal file between
transactions (journal_mode PERSIST on its own connection) and restores the
default afterwards; a database in WAL mode, or one a migration switches to
WAL, is left as it is. Transactional migrations run with SQLite's lock in
exclusive mode; journaled and Python ones, and everything after the run, in
normal mode."""

from __future__ import annotations

import sqlite3


def _mode(project) -> str:
    conn = sqlite3.connect(project.db)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def _python_seeing(project, pragma: str) -> None:  # type: ignore[no-untyped-def]
    """Migration 2: a Python migration that records what ``PRAGMA pragma`` says while it runs."""
    project.write(
        "2_seen.py",
        f"""
        def up(ctx):
            mode = ctx.query("PRAGMA {pragma}")[0][0]
            ctx.execute("CREATE TABLE seen (mode TEXT)")
            ctx.execute("INSERT INTO seen VALUES (?)", (mode,))

        def down(ctx):
            ctx.execute("DROP TABLE seen")
        """,
    )


def test_default_mode_is_restored_and_no_journal_file_is_left(project) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    _python_seeing(project, "journal_mode")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT mode FROM seen") == [("persist",)]
    assert _mode(project) == "delete"
    assert not project.db.with_name(project.db.name + "-journal").exists()
    assert project.run("down", "base").exit_code == 0
    assert not project.db.with_name(project.db.name + "-journal").exists()


def test_python_and_journaled_migrations_run_without_the_exclusive_lock(project) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    _python_seeing(project, "locking_mode")
    project.pair("3", "three", "CREATE TABLE three (id INTEGER);", "DROP TABLE three;")
    project.write(
        "4_nt.sql",
        "-- migrata:no-transaction\nCREATE TABLE four AS SELECT locking_mode AS mode FROM pragma_locking_mode;\n",
    )
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT mode FROM seen") == [("normal",)]
    assert project.sql("SELECT mode FROM four") == [("normal",)]
    assert project.tables() == {"one", "seen", "three", "four"}


def test_the_lock_is_let_go_after_the_run(project) -> None:
    """After `up` (in process: the connection is closed by then either way,
    so check from a second connection that can write at once)."""
    for v in range(1, 4):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")
    assert project.run("up").exit_code == 0
    conn = sqlite3.connect(project.db, timeout=0)
    try:
        conn.execute("CREATE TABLE other (id INTEGER)")
        conn.commit()
        assert conn.execute("PRAGMA locking_mode").fetchone()[0] == "normal"
    finally:
        conn.close()


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
