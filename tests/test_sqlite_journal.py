"""A run leaves an SQLite database's own journal and locking modes alone:
migrations run in the mode the database is in, a migration that chooses
another mode keeps it, and nothing is left behind (no -wal, -shm or -journal
files, no lock another connection would wait for)."""

from __future__ import annotations

import sqlite3


def _mode(project) -> str:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(project.db)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def _files(project) -> set[str]:  # type: ignore[no-untyped-def]
    return {p.name for p in project.db.parent.iterdir() if p.name.startswith(project.db.name + "-")} - {
        project.db.name + "-migrata.lock"
    }


def _probe(project, version: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """A transactional migration that records the journal and locking modes it ran in."""
    project.pair(
        version,
        name,
        f"CREATE TABLE {name} AS SELECT j.journal_mode AS journal, l.locking_mode AS locking"
        " FROM pragma_journal_mode AS j, pragma_locking_mode AS l;",
        f"DROP TABLE {name};",
    )


def test_migrations_run_in_the_databases_own_mode(project) -> None:  # type: ignore[no-untyped-def]
    _probe(project, "1", "one")
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
    project.write("3_nt.sql", "-- migrata:no-transaction\nCREATE TABLE three (id INTEGER);\n")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal, locking FROM one") == [("delete", "normal")]
    assert project.sql("SELECT mode FROM seen") == [("delete",)]
    assert _mode(project) == "delete"
    assert _files(project) == set()


def test_another_connection_writes_at_once_after_the_run(project) -> None:  # type: ignore[no-untyped-def]
    for v in range(1, 4):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")
    assert project.run("up").exit_code == 0
    conn = sqlite3.connect(project.db, timeout=0)
    try:
        conn.execute("CREATE TABLE other (id INTEGER)")
        conn.commit()
    finally:
        conn.close()


def test_a_wal_database_stays_wal(project) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    _probe(project, "1", "one")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal FROM one") == [("wal",)]
    assert _mode(project) == "wal"
    assert project.run("down", "base").exit_code == 0
    assert _mode(project) == "wal"


def test_a_migration_that_chooses_wal_keeps_it(project) -> None:  # type: ignore[no-untyped-def]
    project.write("1_wal.sql", "-- migrata:no-transaction\nPRAGMA journal_mode = WAL;\n")
    project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
    assert project.run("up").exit_code == 0
    assert _mode(project) == "wal"
    assert project.tables() == {"two"}
