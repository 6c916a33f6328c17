"""While it migrates, migrata runs transactional migrations with the
database in WAL mode and SQLite's lock in exclusive mode (one sync per
commit instead of four), and puts the database's own rollback-journal mode
back afterwards. A database already in WAL mode, or one a migration switches
to another mode, is left as it is. Journaled and Python migrations, and
everything after the run, see the database's own mode and normal locking. A
run that is killed leaves WAL mode behind, recorded in the lock file: the next
migrata command to open the database switches it back.
"""

from __future__ import annotations

import json
import sqlite3
import time


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


def _files(project) -> set[str]:
    return {p.name for p in project.db.parent.iterdir() if p.name.startswith(project.db.name + "-")} - {
        project.db.name + "-migrata.lock"
    }


def _probe(project, version: str, name: str) -> None:
    """A transactional migration that records the journal and locking modes it ran in."""
    project.pair(
        version,
        name,
        f"CREATE TABLE {name} AS SELECT j.journal_mode AS journal, l.locking_mode AS locking"
        " FROM pragma_journal_mode AS j, pragma_locking_mode AS l;",
        f"DROP TABLE {name};",
    )


def test_transactional_migrations_run_in_wal_and_the_own_mode_is_restored(project) -> None:
    _probe(project, "1", "one")
    _python_seeing(project, "journal_mode")
    for v in range(3, 7):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")
    _probe(project, "7", "seven")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal, locking FROM one") == [("wal", "exclusive")]
    assert project.sql("SELECT mode FROM seen") == [("delete",)]
    assert project.sql("SELECT journal, locking FROM seven") == [("wal", "exclusive")]  # WAL again after it
    assert _mode(project) == "delete"
    assert _files(project) == set()  # no -wal, -shm or -journal left
    assert project.run("down", "base").exit_code == 0
    assert _mode(project) == "delete"
    assert _files(project) == set()


def test_a_short_run_stays_in_the_own_mode(project) -> None:
    """Switching to WAL and back costs about what it saves over four
    migrations: fewer run with the exclusive lock in the database's own mode."""
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    _probe(project, "2", "two")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT journal, locking FROM two") == [("delete", "exclusive")]
    assert _mode(project) == "delete"
    assert _files(project) == set()


def test_a_truncate_database_gets_truncate_back(project) -> None:
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = TRUNCATE")
    conn.close()
    # journal_mode TRUNCATE is not kept in the file: SQLite's own default comes back on
    # the next open, so check the mode the run's connection returns to, from a Python step
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    _python_seeing(project, "journal_mode")
    assert project.run("up").exit_code == 0
    assert project.sql("SELECT mode FROM seen") == [("delete",)]
    assert _files(project) == set()


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


def test_in_wal_mode_a_commit_of_another_connection_moves_the_change_marker(project) -> None:
    """The marker that lets a run reuse its read of the history
    (``PRAGMA data_version``) sees commits that land in the -wal file too."""
    from migrata.backends import create_backend
    from migrata.backends.base import DatabaseURL

    conn = sqlite3.connect(project.db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (id INTEGER)")
    backend = create_backend(DatabaseURL.parse(f"sqlite:///{project.db}"))
    backend.connect()
    try:
        first = backend.change_marker()
        assert backend.change_marker() == first
        conn.execute("INSERT INTO t VALUES (1)")
        assert backend.change_marker() != first
    finally:
        backend.close()
        conn.close()


def test_a_migration_that_chooses_wal_keeps_it(project) -> None:
    project.write("1_wal.sql", "-- migrata:no-transaction\nPRAGMA journal_mode = WAL;\n")
    project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert _mode(project) == "wal"


def test_a_migration_that_chooses_truncate_keeps_its_own_connection_mode(project) -> None:
    """journal_mode TRUNCATE lasts for a connection only: what matters is that
    the run stops managing the mode, so WAL is not entered after it and
    nothing is left in WAL."""
    project.write("1_tr.sql", "-- migrata:no-transaction\nPRAGMA journal_mode = TRUNCATE;\n")
    project.pair("2", "two", "CREATE TABLE two AS SELECT journal_mode AS mode FROM pragma_journal_mode;")
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert project.sql("SELECT mode FROM two") == [("truncate",)]
    assert _mode(project) == "delete"
    assert _files(project) <= {project.db.name + "-journal"}  # TRUNCATE's empty journal, no -wal or -shm


def _slow_project(project, quick: int) -> None:
    for v in range(1, quick + 1):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")
    project.pair(
        str(quick + 1),
        "slow",
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000000)"
        " SELECT count(*) AS n FROM c;",
        "DROP TABLE slow;",
    )


def _kill_in_wal(project) -> None:
    """Start `up`, SIGKILL it while the slow last migration runs in WAL mode."""
    lock = project.db.with_name(project.db.name + "-migrata.lock")
    wal = project.db.with_name(project.db.name + "-wal")
    proc = project.popen("up")
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # quick migrations print `applied N ...` as each commits
            if line.startswith("applied 3 "):
                break
        deadline = time.monotonic() + 20
        while not (wal.exists() and '"journal"' in lock.read_text()):
            assert time.monotonic() < deadline, "the run never entered WAL mode"
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_run_leaves_wal_and_the_next_command_restores_the_mode(project) -> None:
    _slow_project(project, 3)
    _kill_in_wal(project)
    lock = project.db.with_name(project.db.name + "-migrata.lock")
    assert json.loads(lock.read_text())["journal"] == "delete"
    with project.db.open("rb") as fh:
        assert fh.read(20)[18] == 2  # the file says WAL
    st = project.run("status", "--json")  # the three committed migrations, read from the WAL
    assert st.exit_code == 0, st.output
    assert json.loads(st.stdout)["applied"] == 3
    # the first command to open the database put its own mode back (an `up` with
    # nothing to do, after a kill that landed after the last commit, does the same)
    assert _mode(project) == "delete"
    assert _files(project) == set()
    assert lock.read_text() == ""
    project.pair("4", "slow", "CREATE TABLE slow (n INTEGER);", "DROP TABLE slow;")
    assert project.run("up").exit_code == 0
    assert _mode(project) == "delete"
    assert _files(project) == set()
    assert project.tables() == {"t1", "t2", "t3", "slow"}
    assert lock.read_text() == ""


def test_wal_left_open_by_another_connection_is_restored_by_a_later_run(project) -> None:
    _slow_project(project, 3)
    _kill_in_wal(project)
    lock = project.db.with_name(project.db.name + "-migrata.lock")
    other = sqlite3.connect(project.db)  # an application that keeps the database open, in WAL
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT count(*) FROM t1").fetchone() == (0,)
        project.pair("4", "slow", "CREATE TABLE slow (n INTEGER);", "DROP TABLE slow;")
        (project.root / "migrata.toml").write_text(
            f'url = "{project.url}"\nmigrations = "migrations"\nlock_timeout = 0.5\n', encoding="utf-8"
        )
        res = project.run("up")
        assert res.exit_code == 0, res.output
        assert _mode(project) == "wal"  # could not switch back while the application has it open
        assert json.loads(lock.read_text()) == {"journal": "delete"}
    finally:
        other.close()
    project.pair("5", "five", "CREATE TABLE five (id INTEGER);", "DROP TABLE five;")
    assert project.run("up").exit_code == 0  # the application is gone: the mode comes back
    assert _mode(project) == "delete"
    assert _files(project) == set()
    assert lock.read_text() == ""
