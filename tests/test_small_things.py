"""Smaller things a user trips over (issue 16, item 11).

* every problem is printed once;
* one confirmation flag everywhere: ``--yes``/``-y`` with ``--force``/``-f``
  as its alias, on every command that asks before changing something;
* ``repair VERSION`` prints the commands with the real version and only the
  ways out that apply to that state;
* ``lock status`` shows the migrating client's pid and host and says what
  "since" measures;
* ``backups`` re-checks each backup's SHA-256 before saying verified;
* a MariaDB failure message cites the user's statement and line, never
  migrata's own bookkeeping statements.

SQLite through the CLI in-process; PostgreSQL and MariaDB on the real test
servers (a missing server skips locally and fails in CI).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from _servers import SERVERS, error_lines, open_server
from migrata.testing import CliResult


def ok(r: CliResult) -> CliResult:
    assert r.exit_code == 0, f"exit {r.exit_code}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.output
    return r


# --- one confirmation flag everywhere -----------------------------------------------------------


def _with_backup(project: Any) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    ok(project.run("up"))
    ok(project.run("backup"))


@pytest.mark.parametrize("flag", ["--yes", "-y", "--force", "-f"])
def test_restore_confirms_with_yes_or_force(project: Any, flag: str) -> None:
    _with_backup(project)
    project.sql_write("INSERT INTO a VALUES (42)")
    r = ok(project.run("restore", flag))
    assert "restored" in r.stdout
    assert project.sql("SELECT x FROM a") == []  # the row written after the backup is gone


@pytest.mark.parametrize("flag", ["--yes", "-y", "--force", "-f"])
def test_stamp_confirms_with_yes_or_force(project: Any, flag: str) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    project.pair("2", "b", "CREATE TABLE b (x INTEGER);\n", "DROP TABLE b;\n")
    ok(project.run("up"))
    refused = project.run("stamp", "1")
    assert refused.exit_code == 2 and project.history() == ["1", "2"], refused.output
    r = ok(project.run("stamp", "1", flag))
    assert "1 removed" in r.stdout
    assert project.history() == ["1"]


@pytest.mark.parametrize("flag", ["--yes", "-y", "--force", "-f"])
def test_db_drop_lock_release_and_init_take_both_spellings(project: Any, flag: str) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n")
    ok(project.run("up"))
    assert "free: nothing to release" in ok(project.run("lock", "release", flag)).stdout
    assert "dropped" in ok(project.run("db", "drop", flag)).stdout
    assert not project.db.exists()
    r = ok(project.run("init", flag))
    assert "created" in r.stdout


def test_the_confirmation_flag_is_one_shared_definition() -> None:
    """Every command that asks for confirmation spells it the same way."""
    import click

    from migrata.cli.app import cli

    ctx = click.Context(cli)
    spellings = set()
    for path in (["init"], ["stamp"], ["restore"], ["lock", "release"], ["db", "drop"]):
        cmd: Any = cli
        for name in path:
            cmd = cmd.get_command(ctx, name)
        opts = [p for p in cmd.params if isinstance(p, click.Option) and "--yes" in p.opts]
        assert len(opts) == 1, path
        assert not [p for p in cmd.params if "--force" in getattr(p, "opts", []) and p is not opts[0]], path
        spellings.add((tuple(sorted(opts[0].opts)), opts[0].name))
    assert spellings == {(("--force", "--yes", "-f", "-y"), "yes")}


# --- every problem printed once ------------------------------------------------------------------


def _failed_second_migration(write: Any, pg: bool) -> str:
    """1 creates a; 2 creates b, then fails on creating a again, leaving a failed row
    (PostgreSQL: outside a transaction, so that it is journaled as on the others)."""
    write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    head = "-- migrata:no-transaction\n" if pg else ""
    write("2_b.up.sql", f"{head}CREATE TABLE b (x INTEGER);\n\nCREATE TABLE a (y INTEGER);\n")
    return f"2_b.up.sql:{4 if head else 3}"


def _once(r: CliResult, *fragments: str) -> None:
    out = r.stdout + r.stderr
    for fragment in fragments:
        assert out.count(fragment) == 1, f"{fragment!r} printed {out.count(fragment)} times:\n{out}"


def test_status_prints_a_broken_file_once_and_no_false_problem(project: Any) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    ok(project.run("up"))
    ok(project.run("new", "unfinished"))  # an empty template: the set does not load
    for command in ("status", "info"):
        r = project.run(command)
        assert r.exit_code == 3, r.output
        _once(r, "empty migration")
        assert error_lines(r.stderr) and "empty migration" in error_lines(r.stderr)[0]
        assert "missing" not in r.output, f"{command} calls the applied 1 a missing:\n{r.output}"
    r = project.run("status", "--json")
    data = json.loads(r.stdout)
    assert [p["code"] for p in data["problems"]] == ["file"]
    assert [(m["version"], m["state"]) for m in data["migrations"]] == [("1", "applied")]


def test_status_prints_a_broken_python_file_once(project: Any) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    ok(project.run("up"))
    project.write("2_b.py", "def up(ctx):\n    ctx.execute(\n")
    r = project.run("status")
    assert r.exit_code == 3, r.output
    _once(r, "2_b.py:2")
    assert "missing" not in r.output and "Current:  1 a" in r.stdout


def test_status_says_a_failed_run_once_sqlite(project: Any) -> None:
    where = _failed_second_migration(project.write, pg=True)  # SQLite journals a no-transaction file too
    assert project.run("up").exit_code == 1
    for command in ("status", "info", "check", "validate", "up"):
        r = project.run(command)
        _once(r, "table a already exists")
        line = next(x for x in (r.stdout + r.stderr).splitlines() if "already exists" in x)
        assert line.count("failed") == 1 and line.count("2 b") == 1, line
        assert where in line, line


@pytest.mark.parametrize("dialect", SERVERS)
def test_status_says_a_failed_run_once_servers(dialect: str, tmp_path: Path) -> None:
    with open_server(dialect, tmp_path) as server:
        where = _failed_second_migration(server.write, pg=server.pg)
        assert server.run("up").exit_code == 1
        for command in ("status", "info", "check", "up"):
            r = server.run(command)
            _once(r, "already exists")
            line = next(x for x in (r.stdout + r.stderr).splitlines() if "already exists" in x)
            assert line.count("failed") == 1 and line.count("2 b") == 1, line
            assert where in line, line


# --- repair VERSION: the real version, only the ways out that apply ------------------------------


def _ways(r: CliResult) -> list[str]:
    """The commands under "Ways out"."""
    lines = r.stdout.splitlines()
    assert "Ways out (each needs its flag):" in lines, r.output
    return [re.split(r"\s{2,}", x.strip())[0] for x in lines[lines.index("Ways out (each needs its flag):") + 1 :]]


def test_repair_lists_the_ways_out_of_a_failed_run(project: Any) -> None:
    _failed_second_migration(project.write, pg=True)
    assert project.run("up").exit_code == 1
    for args in (("repair",), ("repair", "2")):
        r = project.run(*args)
        assert r.exit_code == 3, r.output
        assert "VERSION" not in r.stdout and " N " not in r.stdout, r.stdout
        commands = _ways(r)
        assert commands == ["migrata repair 2 --resume", "migrata repair 2 --mark-applied", "migrata repair 2 --forget"]
        assert "statement 2" in r.stdout  # where --resume goes on from
    data = json.loads(project.run("repair", "2", "--json").stdout)
    assert [w["command"] for w in data["ways_out"]] == [
        "migrata repair 2 --resume",
        "migrata repair 2 --mark-applied",
        "migrata repair 2 --forget",
    ]
    assert "`migrata repair 2`" in project.run("up").stderr  # the hint names the version too
    ok(project.run("repair", "2", "--forget"))


def test_repair_offers_no_resume_for_python_and_names_the_edit(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    project.write(
        "2_fill.py",
        "transactional = False\n\n\ndef up(ctx):\n"
        "    ctx.execute('INSERT INTO a VALUES (1)')\n"
        "    raise ValueError('no')\n",
    )
    assert project.run("up").exit_code == 1
    r = project.run("repair", "2")
    assert r.exit_code == 3, r.output
    commands = _ways(r)
    assert commands == ["migrata repair 2 --mark-applied", "migrata repair 2 --forget"], r.stdout
    ok(project.run("repair", "2", "--forget"))
    (project.migrations / "2_fill.py").unlink()
    project.write("1_a.up.sql", "-- edited\nCREATE TABLE a (x INTEGER);\n")
    r = project.run("repair", "1")
    assert r.exit_code == 3, r.output
    assert _ways(r) == ["migrata repair --checksums"], r.stdout
    assert "--forget" not in r.stdout and "--resume" not in r.stdout


@pytest.mark.parametrize("dialect", SERVERS)
def test_repair_lists_both_resumes_of_an_interrupted_run(dialect: str, tmp_path: Path) -> None:
    from _servers import sigkill, watchdog
    from migrata.testing import wait_for

    with open_server(dialect, tmp_path) as server:
        sleep = "SELECT pg_sleep(60)" if server.pg else "SELECT SLEEP(60)"
        server.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
        server.write(
            "2_b.up.sql",
            f"-- migrata:no-transaction\nCREATE TABLE b (x INTEGER);\n{sleep};\nCREATE TABLE c (x INTEGER);\n",
        )
        proc = server.popen("up")
        timer = watchdog(proc)
        try:
            wait_for(lambda: server.busy_sessions() and "b" in server.tables(), 30, "statement 2 to run")
            sigkill(proc)
        finally:
            timer.cancel()
        server.end_sessions()
        server.wait_sessions_gone()
        status, done, total = server.history()["2"]
        assert status == "running" and total == 3 and done < 2, server.history()
        r = server.run("repair", "2")
        assert r.exit_code == 3, r.output
        # the statement in doubt is done + 1 (the journal's own precision is item 10's)
        assert _ways(r) == [
            "migrata repair 2 --resume",
            f"migrata repair 2 --resume-from {done + 2}",
            "migrata repair 2 --mark-applied",
            "migrata repair 2 --forget",
        ], r.stdout
        assert f"statement {done + 1} (in doubt)" in r.stdout


# --- backups re-checks the SHA-256 --------------------------------------------------------------


def test_backups_rechecks_the_sha256_before_saying_verified(project: Any) -> None:
    _with_backup(project)
    listed = json.loads(ok(project.run("backups", "--json")).stdout)["backups"]
    assert [b["verified"] for b in listed] == [True]
    path = Path(listed[0]["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other content
    path.write_bytes(bytes(data))
    r = ok(project.run("backups"))
    row = r.stdout.splitlines()[1]
    assert "NO:" in row and "SHA-256" in row and " yes " not in row, r.stdout
    listed = json.loads(ok(project.run("backups", "--json")).stdout)["backups"]
    assert listed[0]["verified"] is False and "SHA-256" in listed[0]["problem"]
    assert project.run("restore", "--yes").exit_code == 7  # and it is never restored


@pytest.mark.parametrize("dialect", SERVERS)
def test_backups_rechecks_the_sha256_servers(dialect: str, tmp_path: Path) -> None:
    """The same on PostgreSQL (pg_dump's archive) and MariaDB (mariadb-dump's SQL)."""
    with open_server(dialect, tmp_path) as server:
        backups = tmp_path / "backups"
        server.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
        ok(server.run("up"))
        ok(server.run("--backup-dir", str(backups), "backup"))
        listed = json.loads(ok(server.run("--backup-dir", str(backups), "backups", "--json")).stdout)["backups"]
        assert [b["verified"] for b in listed] == [True]
        path = Path(listed[0]["path"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size, other content
        path.write_bytes(bytes(data))
        listed = json.loads(ok(server.run("--backup-dir", str(backups), "backups", "--json")).stdout)["backups"]
        assert listed[0]["verified"] is False and "SHA-256" in listed[0]["problem"]
        r = server.run("--backup-dir", str(backups), "restore", "--yes")
        assert r.exit_code == 7, r.output  # never restored
        assert server.tables() == {"a"}


# --- the shared suite's check after every up ------------------------------------------------------


@pytest.mark.parametrize("dialect", ["sqlite", *SERVERS])
def test_suite_check_catches_a_history_that_does_not_match(dialect: str, tmp_path: Path) -> None:
    """The check the shared suite runs after every ``up`` passes on an honest
    run and fails on each way a reported success can be false."""
    import migrata
    from migrata._core.source import load_source
    from migrata.testing.plugin import fresh_database
    from migrata.testing.suite.checks import assert_history_matches, upgrade
    from migrata.testing.suite.dialects import connected

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_a.up.sql").write_text("CREATE TABLE sc_a (x INTEGER);\n")
    (folder / "2_b.sql").write_text(
        "-- migrate:up\nCREATE TABLE sc_b (x INTEGER);\n-- migrate:down\nDROP TABLE sc_b;\n"
    )
    with fresh_database(dialect, directory=tmp_path) as url:
        res = upgrade(url, migrations=folder)  # honest: passes
        assert res.after == "2"

        def fails(what: str) -> None:
            with pytest.raises(AssertionError, match=what):
                assert_history_matches(url, res, folder)

        with connected(url) as b:
            b.execute("UPDATE migrata_history SET checksum = 'x' WHERE version = '1'")
            fails("history checksum")
            good = load_source(folder).versioned[0].checksum
            b.execute(f"UPDATE migrata_history SET checksum = '{good}' WHERE version = '1'")
            assert_history_matches(url, res, folder)
            b.execute("DROP TABLE sc_b")
            fails("sc_b")
            b.execute("CREATE TABLE sc_b (x INTEGER)")
            b.execute("DELETE FROM migrata_history WHERE version = '2'")
            fails("no history row")
        assert migrata.status(url, migrations=folder).current == "1"


# --- a MariaDB failure cites the user's statement and line, never migrata's bookkeeping ---------


@pytest.mark.parametrize(
    ("body", "line", "near"),
    [
        (
            "CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\n\n"
            "INSERT INTO b\n  VALUEZ (2);\nCREATE TABLE c (x INTEGER);\n",
            5,
            "VALUEZ (2)",
        ),
        (
            "CREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\nCREATE TABLEX c (x INTEGER);\n",
            3,
            "TABLEX c (x INTEGER)",
        ),
    ],
    ids=["middle", "last"],
)
def test_mariadb_failure_shows_no_bookkeeping(tmp_path: Path, body: str, line: int, near: str) -> None:
    with open_server("mysql", tmp_path) as server:
        server.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
        server.write("2_b.up.sql", body)
        server.write("3_c.up.sql", "CREATE TABLE d (x INTEGER);\n")
        r = server.run("up")
        assert r.exit_code == 1, r.output
        shown = [r.stderr, server.run("status").stdout, server.run("repair").stdout, server.run("history").stdout]
        shown.append(json.dumps(server.events()))
        shown.append(str(server.sql("SELECT error FROM migrata_history WHERE version = '2'")))
        for text in shown:
            assert "migrata_history" not in text, text
            assert "migrata_events" not in text and ";;" not in text and "UPDATE " not in text, text
        error = error_lines(r.stderr)[0]
        assert f"2_b.up.sql:{line}:" in error and f"near '{near}'" in error, error


# --- lock status names the client's pid and host, and what "since" measures ----------------------


def _check_holder_shown(run: Any, popen: Any, write: Any, root: Path) -> None:
    import socket

    from _servers import HOLDER, reap, watchdog
    from migrata.testing import wait_for

    write("1_first.up.sql", "CREATE TABLE first (x INTEGER);\n")
    write("2_hold.py", HOLDER)
    holder = popen("up")
    timer = watchdog(holder)
    try:
        wait_for(lambda: (root / "holder-started").exists() or holder.poll() is not None, 60, "the holder")
        assert holder.poll() is None
        r = ok(run("lock", "status"))
        assert r.stdout.startswith(f"held: pid {holder.pid} on {socket.gethostname()} "), r.stdout
        assert "(lock taken)" in r.stdout, r.stdout
        h = json.loads(ok(run("lock", "status", "--json")).stdout)["holder"]
        assert (h["pid"], h["host"], h["since_what"]) == (holder.pid, socket.gethostname(), "lock taken"), h
        blocked = run("up", "--lock-timeout", "0.2s")
        assert blocked.exit_code == 4 and f"held by pid {holder.pid} on " in blocked.stderr, blocked.output
    finally:
        (root / "release").touch()
        timer.cancel()
        holder.communicate(timeout=60)
        reap(holder)


def test_lock_status_names_the_client_sqlite(project: Any) -> None:
    _check_holder_shown(project.run, project.popen, project.write, project.root)


@pytest.mark.parametrize("dialect", SERVERS)
def test_lock_status_names_the_client_servers(dialect: str, tmp_path: Path) -> None:
    with open_server(dialect, tmp_path) as server:
        _check_holder_shown(server.run, server.popen, server.write, server.root)
        assert json.loads(server.run("lock", "status", "--json").stdout)["held"] is False  # the holder finished
