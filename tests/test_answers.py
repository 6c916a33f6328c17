"""Kept answers of status, check and current: the same command asked again
with nothing changed prints the kept answer; every change to what it depends
on (files, folder, settings, environment, database) makes it answer in full,
and answers in doubt are never kept."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

import migrata._fingerprint as fingerprint
import migrata.api as api
import migrata.cli.answers as answers
from migrata.backends import _sqlitestate


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each run was answered from a kept answer (in order)."""
    monkeypatch.setenv("MIGRATA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(fingerprint, "RACY_NS", 0)  # the test's files are seconds old at most
    seen: list[bool] = []
    real = answers.lookup

    def spying(args: list[str]) -> tuple[str, int] | None:
        found = real(args)
        seen.append(found is not None)
        return found

    monkeypatch.setattr(answers, "lookup", spying)
    return seen


def _applied(project) -> None:  # type: ignore[no-untyped-def]
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
    assert project.run("up").exit_code == 0


def _twice(project, *args: str):  # type: ignore[no-untyped-def]
    first, second = project.run(*args), project.run(*args)
    assert (second.exit_code, second.stdout, second.stderr) == (first.exit_code, first.stdout, first.stderr)
    return second


@pytest.mark.parametrize(
    ("args", "after_up"),
    [
        (("status",), True),
        (("check",), True),
        (("status", "--json"), False),
        (("check", "--json"), True),
        (("current",), False),
        (("-q", "status"), False),
    ],
)
def test_the_same_question_again_is_answered_from_the_kept_answer(project, kept, args, after_up) -> None:  # type: ignore[no-untyped-def]
    """The first time in full (unless `up` kept the answer: status and check,
    plain and JSON, as asked with up's settings), then from the kept answer."""
    _applied(project)
    kept.clear()
    _twice(project, *args)
    assert kept == [after_up, True]


@pytest.mark.parametrize("command", [("up",), ("down",), ("up", "--steps", "1")])
def test_up_and_down_keep_the_answers_of_status_and_check(project, kept, command, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """What `up`/`down` keep is exactly what `status`/`check` print in full."""
    _applied(project)
    project.pair("3", "three", "CREATE TABLE three (id INTEGER);", "DROP TABLE three;")
    project.pair("4", "four", "CREATE TABLE four (id INTEGER);", "DROP TABLE four;")
    assert project.run(*command).exit_code == 0
    kept.clear()
    asked = (("status",), ("check",), ("check", "--json"))
    answered = [project.run(*args) for args in asked]
    assert kept == [True] * 3
    monkeypatch.setenv("MIGRATA_NO_CACHE", "1")
    full = [project.run(*args) for args in asked]
    assert [(r.exit_code, r.stdout) for r in answered] == [(r.exit_code, r.stdout) for r in full]


def test_an_up_with_nothing_to_do_is_answered_from_its_kept_answer(project, kept, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A service that runs `migrata up` at every start-up: the first `up`
    with nothing to do answers in full, the same `up` again from its kept
    answer, without the library; a new file or another program's change to
    the database is noticed and migrated."""
    _applied(project)
    kept.clear()
    first = _twice(project, "up")
    assert kept == [False, True]
    assert first.exit_code == 0 and first.stdout.startswith("Nothing to apply:")
    _twice(project, "-q", "up")
    assert kept[2:] == [False, True]

    real = api.upgrade

    def refuse(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the library was called")

    monkeypatch.setattr(api, "upgrade", refuse)
    assert project.run("up").stdout == first.stdout
    monkeypatch.setattr(api, "upgrade", real)

    # a new migration: up runs in full and applies it
    project.pair("3", "three", "CREATE TABLE three (id INTEGER);", "DROP TABLE three;")
    kept.clear()
    assert "Applied 1 migration(s)" in project.run("up").stdout
    assert kept == [False] and "three" in project.tables()
    _twice(project, "up")

    # another program takes migration 3 back: the database's counter moved
    project.sql_write("DROP TABLE three")
    project.sql_write("DELETE FROM migrata_history WHERE version = '3'")
    kept.clear()
    assert "Applied 1 migration(s)" in project.run("up").stdout
    assert kept == [False] and "three" in project.tables()


@pytest.mark.parametrize("args", [("up", "--json"), ("up", "--dry-run"), ("up", "--sql"), ("up",)])
def test_an_up_that_prints_json_a_plan_or_sql_or_imports_python_is_never_kept(project, kept, args) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    if args == ("up",):  # an applied Python migration: `up` imports it every time
        project.write("3_three.py", "def up(ctx):\n    ctx.execute('CREATE TABLE three (id INTEGER)')\n")
        assert project.run("up").exit_code == 0
    kept.clear()
    project.run(*args)
    project.run(*args)
    assert kept == [False, False]


def test_settings_options_count_wherever_they_are_written(project, kept, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.db"
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up", "--url", f"sqlite:///{other}").exit_code == 0
    kept.clear()
    res = project.run("--url", f"sqlite:///{other}", "status")
    assert kept == [True] and "Applied:  1" in res.stdout
    assert "Applied:  0" in project.run("status").stdout  # the project's own database: another question
    assert kept == [True, False]


def test_nothing_is_kept_for_a_failed_run_or_a_dry_run(project, kept) -> None:  # type: ignore[no-untyped-def]
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    _nothing_kept(project, "up", "--dry-run")
    project.pair("2", "two", "CREATE TABLE two (id INTEGER;", "DROP TABLE two;")  # a syntax error
    _nothing_kept(project, "up")


def test_exit_codes_are_kept_too(project, kept) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    project.pair("3", "three", "CREATE TABLE three (id INTEGER);")
    kept.clear()
    res = _twice(project, "check")
    assert res.exit_code == 5 and "1 pending: 3" in res.stdout
    assert kept == [False, True]


def test_a_kept_answer_never_calls_the_library(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    first = project.run("status")

    def refuse(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("the library was called")

    monkeypatch.setattr(api, "status", refuse)
    assert project.run("status").stdout == first.stdout


def _edit_in_place_same_size(path: Path) -> None:
    st = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("id", "ID"), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only ctime moves


def test_every_change_it_depends_on_is_noticed(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    base = _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below
    assert json.loads(base.stdout)["applied"] == 2

    # an applied file edited in place, size and mtime unchanged
    _edit_in_place_same_size(project.migrations / "1_one.up.sql")
    edited = json.loads(project.run("status", "--json").stdout)
    assert {m["version"]: m["state"] for m in edited["migrations"]}["1"] == "changed"
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # a new file
    project.pair("3", "three", "CREATE TABLE three (id INTEGER);")
    assert json.loads(project.run("status", "--json").stdout)["pending"] == ["3"]
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # a down file removed: only its existence is read
    (project.migrations / "2_two.down.sql").unlink()
    migrations = json.loads(project.run("status", "--json").stdout)["migrations"]
    assert {m["version"]: m["has_down"] for m in migrations}["2"] is False
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # the database changed by someone else
    project.sql_write("DELETE FROM migrata_history WHERE version = '2'")
    assert json.loads(project.run("status", "--json").stdout)["applied"] == 1
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # the config file
    (project.root / "migrata.toml").write_text(
        'url = "sqlite:///other.db"\nmigrations = "migrations"\n', encoding="utf-8"
    )
    assert json.loads(project.run("status", "--json").stdout)["database_exists"] is False
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # a .env that appears (it overrides the config file)
    (project.root / ".env").write_text("MIGRATA_DATABASE_URL=sqlite:///app.db\n", encoding="utf-8")
    assert json.loads(project.run("status", "--json").stdout)["applied"] == 1
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below

    # the environment
    monkeypatch.setenv("MIGRATA_DATABASE_URL", "sqlite:///third.db")
    assert json.loads(project.run("status", "--json").stdout)["database_exists"] is False
    kept.clear()
    _twice(project, "status", "--json")
    assert kept[-1]  # kept before the change below
    assert kept == [True, True]


def test_a_missing_database_file_that_appears_is_noticed(project, kept) -> None:  # type: ignore[no-untyped-def]
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);")
    assert "not created yet" in _twice(project, "status").stdout
    assert project.run("up").exit_code == 0
    assert "Pending:  0" in project.run("status").stdout


def _nothing_kept(project, *args: str) -> None:  # type: ignore[no-untyped-def]
    folder = Path(os.environ["MIGRATA_CACHE_DIR"]) / "answers"
    before = set(folder.glob("*.bin")) if folder.exists() else set()
    project.run(*args)
    after = set(folder.glob("*.bin")) if folder.exists() else set()
    assert after == before


def test_answers_in_doubt_are_never_kept(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    # a database in WAL mode: its commits do not move the header's counter
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    _nothing_kept(project, "status")
    conn = sqlite3.connect(project.db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()

    # an interrupted migration: the answer depends on who holds the lock
    project.sql_write("UPDATE migrata_history SET status = 'running' WHERE version = '2'")
    _nothing_kept(project, "status")
    project.sql_write("UPDATE migrata_history SET status = 'applied' WHERE version = '2'")

    # a pending Python migration is imported, and its imports may change
    project.write("3_three.py", "def up(ctx):\n    ctx.execute('CREATE TABLE three (id INTEGER)')\n")
    _nothing_kept(project, "status")
    (project.migrations / "3_three.py").unlink()

    # a broken file
    project.write("4_four.up.sql", "")
    _nothing_kept(project, "status")
    (project.migrations / "4_four.up.sql").unlink()

    # files younger than the clock's tick
    monkeypatch.setattr(fingerprint, "RACY_NS", 10**18)
    _nothing_kept(project, "status")
    monkeypatch.setattr(fingerprint, "RACY_NS", 0)

    # turned off
    monkeypatch.setenv("MIGRATA_NO_CACHE", "1")
    _nothing_kept(project, "status")


def test_a_database_changed_while_answering_is_not_kept(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    from migrata._workspace import Workspace

    real = Workspace.rows

    def rows_then_commit(self):  # type: ignore[no-untyped-def]
        found = real(self)

        def writer() -> None:  # another process's connection, committing meanwhile
            project.sql_write("INSERT INTO migrata_events (at, action, outcome) VALUES ('now', 'x', 'ok')")

        t = threading.Thread(target=writer)
        t.start()
        t.join()
        return found

    monkeypatch.setattr(Workspace, "rows", rows_then_commit)
    _nothing_kept(project, "status")


def test_kept_answers_hold_no_secret_and_survive_corruption(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    monkeypatch.setenv("DB_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("MIGRATA_HEALTH_URL", "http://probe:hunter2-secret@localhost/health")
    _twice(project, "status")
    folder = Path(os.environ["MIGRATA_CACHE_DIR"]) / "answers"
    entries = list(folder.glob("*.bin"))
    assert entries and all(b"hunter2" not in p.read_bytes() for p in entries)
    for p in entries:
        p.write_bytes(b"\x00garbage")
    kept.clear()
    res = project.run("status")
    assert res.exit_code == 0 and "Applied:  2" in res.stdout
    assert kept == [False]
    assert project.run("status").stdout == res.stdout
    assert kept == [False, True]


def test_at_most_max_entries_are_kept(project, kept, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _applied(project)
    monkeypatch.setattr(answers, "MAX_ENTRIES", 3)
    for n in range(6):
        monkeypatch.setenv("MIGRATA_TABLE", f"history_{n}")
        project.run("status")
    assert len(list((Path(os.environ["MIGRATA_CACHE_DIR"]) / "answers").glob("*.bin"))) == 3


def test_sqlite_state_token(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    assert _sqlitestate.state(path) == ("absent",)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    first = _sqlitestate.state(path)
    assert first is not None
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    assert _sqlitestate.state(path) == first  # not committed: the file still holds the old state
    conn.execute("COMMIT")
    second = _sqlitestate.state(path)
    assert second is not None and second != first
    conn.execute("PRAGMA journal_mode = WAL")
    assert _sqlitestate.state(path) is None
    conn.close()
    (tmp_path / "junk.db").write_bytes(b"not a database" * 10)
    assert _sqlitestate.state(str(tmp_path / "junk.db")) is None


def test_only_file_databases_have_a_probe() -> None:
    from migrata.backends import create_backend
    from migrata.backends.base import DatabaseURL

    assert create_backend(DatabaseURL.parse("sqlite:///:memory:")).state_probe() is None
    assert create_backend(DatabaseURL.parse("postgresql://u@localhost/db")).state_probe() is None
    assert create_backend(DatabaseURL.parse("mysql://u@localhost/db")).state_probe() is None
