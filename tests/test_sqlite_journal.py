"""SQLite's journal during a run.

A run of four or more transactional SQL migrations on a database in a
rollback-journal mode commits them in WAL mode (one sync per commit instead
of four) and puts the database's own mode back at the end; any other run
(fewer steps, a Python or journaled step) leaves the mode alone, and so does
a database already in WAL mode. While the database is in WAL for a run, the
lock file names the mode to put back: a run that is killed leaves WAL behind,
and the next command that opens the database puts the mode back.
"""

from __future__ import annotations

import json
import signal
import sqlite3

from migrata.testing import wait_for


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


def _lock_record(project) -> dict:  # type: ignore[no-untyped-def,type-arg]
    text = (project.db.parent / (project.db.name + "-migrata.lock")).read_text()
    return json.loads(text) if text.strip() else {}


def _probe(project, version: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """A transactional migration that records the journal mode it ran in."""
    project.pair(
        version,
        name,
        f"CREATE TABLE {name} AS SELECT journal_mode AS journal FROM pragma_journal_mode;",
        f"DROP TABLE {name};",
    )


def _tables(project, first: int, last: int) -> None:  # type: ignore[no-untyped-def]
    for v in range(first, last + 1):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")


def test_a_run_of_four_commits_in_wal_and_puts_the_mode_back(project) -> None:  # type: ignore[no-untyped-def]
    _tables(project, 1, 3)
    _probe(project, "4", "probe")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal FROM probe") == [("wal",)]
    assert _mode(project) == "delete"
    assert _files(project) == set()  # no -wal, -shm or -journal left
    assert _lock_record(project) == {}
    assert project.run("down", "base").exit_code == 0  # four rollbacks: in WAL too, and back
    assert _mode(project) == "delete" and _files(project) == set()


def test_a_short_run_stays_in_the_own_mode(project) -> None:  # type: ignore[no-untyped-def]
    _tables(project, 1, 2)
    _probe(project, "3", "probe")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal FROM probe") == [("delete",)]


def test_a_run_with_a_python_step_stays_in_the_own_mode(project) -> None:  # type: ignore[no-untyped-def]
    """A Python migration may open connections of its own: the run keeps the
    database as it is."""
    _tables(project, 1, 3)
    project.write("4_py.py", "def up(ctx):\n    ctx.execute('CREATE TABLE py (id INTEGER)')\n")
    _probe(project, "5", "probe")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal FROM probe") == [("delete",)]


def test_a_wal_database_stays_wal(project) -> None:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    _tables(project, 1, 4)
    assert project.run("up").exit_code == 0
    assert _mode(project) == "wal"
    assert project.run("down", "base").exit_code == 0
    assert _mode(project) == "wal"


def test_a_migration_that_chooses_wal_keeps_it(project) -> None:  # type: ignore[no-untyped-def]
    project.write("1_wal.sql", "-- migrata:no-transaction\nPRAGMA journal_mode = WAL;\n")
    _tables(project, 2, 6)
    assert project.run("up").exit_code == 0
    assert _mode(project) == "wal"
    assert project.tables() == {f"t{v}" for v in range(2, 7)}


def test_a_killed_run_leaves_wal_and_the_next_command_puts_the_mode_back(project) -> None:  # type: ignore[no-untyped-def]
    _tables(project, 1, 4)
    # the fifth runs for a long while: the run is killed inside it
    project.pair(
        "5",
        "slow",
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)"
        " SELECT COUNT(*) AS n FROM c;",
        "DROP TABLE slow;",
    )
    proc = project.popen("up")
    try:
        # WAL lets this connection read while the run goes on
        wait_for(lambda: len(project.history()) == 4, 60, "the first four migrations to commit")
        assert _lock_record(project).get("journal") == "delete"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert _mode(project) == "wal"
    assert project.run("status").exit_code == 0  # any command that opens the database puts it back
    assert _mode(project) == "delete" and _files(project) == set()
    assert _lock_record(project) == {}
    project.pair("5", "slow", "CREATE TABLE slow (n INTEGER);", "DROP TABLE slow;")  # fixed
    assert project.run("up").exit_code == 0
    assert project.history() == ["1", "2", "3", "4", "5"]


def test_a_reader_keeping_wal_open_defers_the_mode_to_a_later_run(project) -> None:  # type: ignore[no-untyped-def]
    """Leaving WAL needs the database to itself: while another connection
    has it open in WAL, the mode stays recorded for the next run."""
    _tables(project, 1, 4)
    project.pair(
        "5",
        "slow",
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)"
        " SELECT COUNT(*) AS n FROM c;",
        "DROP TABLE slow;",
    )
    proc = project.popen("up")
    try:
        wait_for(lambda: len(project.history()) == 4, 60, "the first four migrations to commit")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    reader = sqlite3.connect(project.db)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM migrata_history").fetchall()  # a read transaction in WAL
        project.pair("5", "slow", "CREATE TABLE slow (n INTEGER);", "DROP TABLE slow;")
        assert project.run("up").exit_code == 0
        assert _mode(project) == "wal"
        assert _lock_record(project).get("journal") == "delete"
    finally:
        reader.close()
    assert project.run("status").exit_code == 0
    assert _mode(project) == "delete" and _lock_record(project) == {}
