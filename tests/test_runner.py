"""Runner behaviour on SQLite: transactions, journal, timeouts, repair, stamp."""

from __future__ import annotations

import pytest

import migrata
from migrata.errors import DirtyStateError, MigrationFailedError


def test_statement_timeout_directive_cancels_a_long_statement(project) -> None:
    """The statement never ends by itself: returning at all is the timeout at work."""
    project.pair(
        "1",
        "slow",
        "-- migrata:timeout 200ms\nCREATE TABLE s (x);\n"
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT COUNT(*) FROM c;\n",
    )
    with pytest.raises(MigrationFailedError, match="timeout of 0.2s") as info:
        migrata.upgrade(project.root)
    assert info.value.line == 3
    assert project.tables() == set() and migrata.status(project.root).pending


def test_global_statement_timeout(project) -> None:
    project.pair("1", "slow", "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT COUNT(*) FROM c;")
    with pytest.raises(MigrationFailedError, match="timeout"):
        migrata.upgrade(project.root, statement_timeout="300ms")


def test_self_managed_transaction_failure_records_committed_progress(project) -> None:
    project.pair(
        "1",
        "own",
        "CREATE TABLE a (id INTEGER);\nBEGIN;\nINSERT INTO a VALUES (1);\nINSERT INTO nope VALUES (1);\nCOMMIT;\n",
    )
    with pytest.raises(MigrationFailedError):
        migrata.upgrade(project.root)
    st = migrata.status(project.root)
    row = next(m for m in st.migrations if m.version == "1")
    assert (row.state, row.progress, row.statements) == ("failed", 1, 5)
    assert project.sql("SELECT COUNT(*) FROM a") == [(0,)]  # the file's own transaction rolled back
    with pytest.raises(DirtyStateError) as dirty:
        migrata.upgrade(project.root)
    assert "repair" in (dirty.value.hint or "")
    project.pair(
        "1",
        "own",
        "CREATE TABLE a (id INTEGER);\nBEGIN;\nINSERT INTO a VALUES (1);\nINSERT INTO a VALUES (2);\nCOMMIT;\n",
    )
    res = migrata.repair(project.root, "1", resume=True)
    assert res.actions and res.problems == []
    assert project.sql("SELECT id FROM a ORDER BY id") == [(1,), (2,)]
    assert migrata.status(project.root).current == "1"
    actions = [(e.action, e.detail.get("action")) for e in migrata.history(project.root).events]
    assert ("repair", "resume") in actions


def test_repair_forget_and_mark_applied(project) -> None:
    project.pair("1", "nt", "-- migrata:no-transaction\nCREATE TABLE a (id INTEGER);\nINSERT INTO nope VALUES (1);\n")
    with pytest.raises(MigrationFailedError):
        migrata.upgrade(project.root)
    report = migrata.repair(project.root)
    assert report.needed and report.problems[0].code == "failed"
    migrata.repair(project.root, "1", mark_applied=True)
    assert migrata.status(project.root).current == "1"
    assert migrata.check(project.root).state == "up-to-date"


def test_stamp_adopts_an_existing_database(project) -> None:
    project.pair("1", "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;")
    project.pair("2", "b", "CREATE TABLE b (id INTEGER);", "DROP TABLE b;")
    project.pair("3", "c", "CREATE TABLE c (id INTEGER);", "DROP TABLE c;")
    res = migrata.stamp(project.root, "2")
    assert res.added == ["1", "2"]
    assert project.tables() == set()
    assert [s.version for s in migrata.upgrade(project.root).steps] == ["3"]
    with pytest.raises(migrata.NotConfirmedError):
        migrata.stamp(project.root, "1")
    assert migrata.stamp(project.root, "1", force=True).removed == ["2", "3"]


def test_stamp_a_baseline_version_without_a_file(project) -> None:
    project.pair("5", "e", "CREATE TABLE e (id INTEGER);", "DROP TABLE e;")
    migrata.stamp(project.root, "4")
    st = migrata.status(project.root)
    assert st.current == "5" or st.current == "4"
    assert [m.state for m in st.migrations if m.version == "4"] == ["baseline"]
    migrata.upgrade(project.root)
    assert migrata.current(project.root).current == "5"


def test_python_migration_failure_names_the_line(project) -> None:
    project.pair("1", "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;")
    project.write(
        "2_py.py", "def up(ctx):\n    ctx.execute('INSERT INTO a VALUES (1)')\n    raise ValueError('bad data')\n"
    )
    with pytest.raises(MigrationFailedError, match="2_py.py:3: ValueError: bad data"):
        migrata.upgrade(project.root)
    assert project.sql("SELECT COUNT(*) FROM a") == [(0,)]
    assert migrata.current(project.root).current == "1"


def test_repeatable_reapplied_only_when_changed(project) -> None:
    project.pair("1", "a", "CREATE TABLE a (id INTEGER);", "DROP TABLE a;")
    project.write("R__v.sql", "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT id FROM a;\n")
    assert [s.version for s in migrata.upgrade(project.root).steps] == ["1", "R__v"]
    assert migrata.upgrade(project.root).steps == []
    project.write("R__v.sql", "DROP VIEW IF EXISTS v;\nCREATE VIEW v AS SELECT id, id AS id2 FROM a;\n")
    assert migrata.status(project.root).pending[0].state == "outdated"
    assert [s.version for s in migrata.upgrade(project.root).steps] == ["R__v"]
    assert project.sql("SELECT COUNT(*) FROM migrata_history WHERE version = 'R__v'") == [(1,)]


def test_foreign_keys_are_enforced(project) -> None:
    project.pair("1", "a", "CREATE TABLE p (id INTEGER PRIMARY KEY);\nCREATE TABLE c (pid INTEGER REFERENCES p (id));")
    project.pair("2", "bad", "INSERT INTO c VALUES (42);")
    with pytest.raises(MigrationFailedError, match="FOREIGN KEY"):
        migrata.upgrade(project.root)


def test_python_migration_timeout_is_enforced(project) -> None:
    """The query never ends by itself: returning at all is the timeout at work."""
    project.write(
        "1_slow.py",
        "timeout = '200ms'\n"
        "def up(ctx):\n"
        "    ctx.query('WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT COUNT(*) FROM c')\n",
    )
    with pytest.raises(MigrationFailedError, match="timeout of 0.2s"):
        migrata.upgrade(project.root)


def test_run_timeout_bounds_the_whole_run(project) -> None:
    """Migration 2 never ends by itself: the run's timeout cancels it (no
    time is measured: returning at all is the timeout at work)."""
    endless = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT COUNT(*) FROM c;\n"
    for i in range(1, 4):
        project.pair(
            f"{i}", f"t{i}", f"CREATE TABLE t{i} (id INTEGER);\n{endless if i == 2 else ''}", f"DROP TABLE t{i};"
        )
    with pytest.raises(MigrationFailedError, match="run's timeout of 1s expired") as info:
        migrata.upgrade(project.root, timeout="1s")
    # every migration either completed or did not start (1 does, unless the machine
    # is too busy to finish it within the second); 2 and 3 never do
    st = migrata.status(project.root)
    assert st.problems == []
    assert set(project.history()) <= {"1"}
    assert project.tables() == {f"t{v}" for v in project.history()}
    assert info.value.hint


def test_a_run_reads_the_history_a_fixed_number_of_times(project, monkeypatch) -> None:
    """Three reads whatever the number of migrations: to plan, under the lock
    (another migrator may have moved it meanwhile), and the version reached;
    never one per migration."""
    from migrata._core.ledger import Ledger

    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    migrata.upgrade(project.root)
    for v in range(2, 7):
        project.pair(str(v), f"t{v}", f"CREATE TABLE t{v} (id INTEGER);", f"DROP TABLE t{v};")
    reads = []
    real = Ledger.read

    def counting(self):  # type: ignore[no-untyped-def]
        reads.append(1)
        return real(self)

    monkeypatch.setattr(Ledger, "read", counting)
    result = migrata.upgrade(project.root)
    assert [s.version for s in result.steps] == ["2", "3", "4", "5", "6"] and result.after == "6"
    assert len(reads) == 3


def test_a_failure_in_the_bookkeeping_is_not_blamed_on_the_migration(project) -> None:  # type: ignore[no-untyped-def]
    """The step goes in one call with its history row; when that row is what
    fails (here the migration breaks migrata's own table), the error says so
    instead of naming a statement of the migration, and nothing is applied."""
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up").exit_code == 0
    project.pair("2", "breaks_history", "ALTER TABLE migrata_history RENAME COLUMN checksum TO c;")
    res = project.run("up")
    assert res.exit_code == 6, res.output
    assert "recording the run of 2 breaks_history failed" in res.stderr
    assert "[statement" not in res.stderr
    assert project.sql("SELECT version FROM migrata_history WHERE kind <> 'ledger'") == [("1",)]
    assert "checksum" in {r[1] for r in project.sql("PRAGMA table_info(migrata_history)")}
