"""Every ``migrata`` command end to end on SQLite, through the CLI.

Commands run in-process (``project.run``: ``migrata -C <project> ...``) on a
real SQLite file, checked with a separate sqlite3 connection. Every output is
also checked to be plain text (no ANSI escapes): nothing here is a terminal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from migrata.testing import CliResult, run_cli

ANSI = re.compile(r"\x1b\[")
ALL = ["1", "2", "3"]
# `init` warns on every run (see test_init_emits_no_warnings); keep the other init tests quiet.
INIT_WARNING = "ignore:The name 'directory' is used by an argument:UserWarning"


def plain(r: CliResult) -> CliResult:
    assert not ANSI.search(r.stdout), r.stdout
    assert not ANSI.search(r.stderr), r.stderr
    return r


def run(project, *args: str) -> CliResult:
    return plain(project.run(*args))


def ok(project, *args: str) -> CliResult:
    r = run(project, *args)
    assert r.exit_code == 0, f"migrata {' '.join(args)} -> {r.exit_code}\n{r.stdout}\n{r.stderr}"
    return r


def three(project) -> None:
    """A pair, a single file with sections, and a Python data migration."""
    project.pair(
        "000001",
        "create_t1",
        "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
        "DROP TABLE t1;\n",
    )
    project.write(
        "000002_create_t2.sql",
        """
        -- migrate:up
        CREATE TABLE t2 (id INTEGER PRIMARY KEY, t1_id INTEGER REFERENCES t1 (id));
        CREATE INDEX idx_t2_t1 ON t2 (t1_id);

        -- migrate:down
        DROP INDEX idx_t2_t1;
        DROP TABLE t2;
        """,
    )
    project.write(
        "000003_fill_t1.py",
        '''
        """Put two rows in t1."""


        def up(ctx):
            for name in ("ada", "linus"):
                ctx.execute(f"INSERT INTO t1 (name) VALUES ({ctx.placeholder})", (name,))


        def down(ctx):
            ctx.execute("DELETE FROM t1")
        ''',
    )


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def all_tables(project) -> set[str]:
    if not project.db.exists():
        return set()
    return {r[0] for r in project.sql("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}


def event_actions(project) -> list[tuple[str, str | None]]:
    return project.sql("SELECT action, version FROM migrata_events ORDER BY id")


# --- init --------------------------------------------------------------------------------


@pytest.mark.filterwarnings(INIT_WARNING)
def test_init_writes_config_and_migrations_folder(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    r = plain(run_cli(["-C", str(root), "init"]))
    assert r.exit_code == 0, r.output
    config = root / "migrata.toml"
    assert config.is_file()
    assert (root / "migrations").is_dir()
    assert 'url = "sqlite:///app.db"' in config.read_text(encoding="utf-8")
    assert "created" in r.stdout and "migrata.toml" in r.stdout

    # the written project works at once
    r = plain(run_cli(["-C", str(root), "status"]))
    assert r.exit_code == 0, r.output
    assert "base (nothing applied)" in r.stdout


@pytest.mark.filterwarnings(INIT_WARNING)
def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    config = root / "migrata.toml"
    config.write_text('url = "sqlite:///mine.db"\n', encoding="utf-8")
    r = plain(run_cli(["-C", str(root), "init"]))
    assert r.exit_code == 2
    assert "already exists" in r.stderr and "--force" in r.stderr
    assert config.read_text(encoding="utf-8") == 'url = "sqlite:///mine.db"\n'

    r = plain(run_cli(["-C", str(root), "init", "--force", "--url", "sqlite:///other.db"]))
    assert r.exit_code == 0, r.output
    assert 'url = "sqlite:///other.db"' in config.read_text(encoding="utf-8")


@pytest.mark.filterwarnings(INIT_WARNING)
def test_init_directory_argument_and_options(tmp_path: Path) -> None:
    r = plain(run_cli(["init", str(tmp_path / "sub"), "--url", "sqlite:///x.db", "--migrations", "db/migrations"]))
    assert r.exit_code == 0, r.output
    text = (tmp_path / "sub" / "migrata.toml").read_text(encoding="utf-8")
    assert 'url = "sqlite:///x.db"' in text
    assert 'migrations = "db/migrations"' in text
    assert (tmp_path / "sub" / "db" / "migrations").is_dir()


def test_init_emits_no_warnings(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = run_cli(["-C", str(root), "init"])
    assert r.exit_code == 0, r.output
    assert (root / "migrata.toml").is_file()


def test_init_directory_option_after_command(tmp_path: Path) -> None:
    target, elsewhere = tmp_path / "target", tmp_path / "elsewhere"
    target.mkdir()
    elsewhere.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = run_cli(["init", "-C", str(target)], cwd=elsewhere)
    assert r.exit_code == 0, r.output
    assert (target / "migrata.toml").is_file()
    assert not (elsewhere / "migrata.toml").exists()


# --- new ---------------------------------------------------------------------------------


def test_new_pair_single_py_and_numbering(project) -> None:
    r = ok(project, "new", "Create Users")
    up, down = project.migrations / "000001_create_users.up.sql", project.migrations / "000001_create_users.down.sql"
    assert up.is_file() and down.is_file()
    assert str(up) in r.stdout and str(down) in r.stdout

    ok(project, "new", "add_posts", "--single")
    single = project.migrations / "000002_add_posts.sql"
    text = single.read_text(encoding="utf-8")
    assert "-- migrate:up" in text and "-- migrate:down" in text

    ok(project, "new", "--py", "backfill")
    py = project.migrations / "000003_backfill.py"
    assert "def up(ctx)" in py.read_text(encoding="utf-8")

    r = ok(project, "generate", "add_index")  # alias
    assert (project.migrations / "000004_add_index.up.sql").is_file()

    r = ok(project, "new", "with_json", "--json")
    data = json.loads(r.stdout)
    assert data["version"] == "000005"
    assert [Path(f).name for f in data["files"]] == ["000005_with_json.up.sql", "000005_with_json.down.sql"]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ("0007_x.up.sql", "0008_next.up.sql"),  # width kept
        ("9_x.up.sql", "10_next.up.sql"),  # unpadded grows
        ("000099_x.sql", "000100_next.up.sql"),
        ("00041_x.py", "00042_next.up.sql"),
    ],
)
def test_new_continues_numbering_from_existing_files(project, existing: str, expected: str) -> None:
    (project.migrations / existing).write_text("", encoding="utf-8")
    ok(project, "new", "next")
    assert (project.migrations / expected).is_file()


def test_new_rejects_an_empty_name(project) -> None:
    r = run(project, "new", "!!!")
    assert r.exit_code == 2
    assert list(project.migrations.iterdir()) == []


@pytest.mark.parametrize("where", ["before", "after", "config"])
def test_new_timestamp_versions(project, where: str) -> None:
    if where == "config":
        (project.root / "migrata.toml").write_text(
            'url = "sqlite:///app.db"\nversions = "timestamp"\n', encoding="utf-8"
        )

    def new(name: str) -> None:
        if where == "before":
            ok(project, "--versions", "timestamp", "new", name)
        elif where == "after":
            ok(project, "new", name, "--versions", "timestamp")
        else:
            ok(project, "new", name)

    before = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    new("stamped")
    after = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    names = sorted(p.name for p in project.migrations.iterdir())
    assert len(names) == 2
    version = names[0].split("_", 1)[0]
    assert len(version) == 14 and before <= version <= after
    assert names == [f"{version}_stamped.down.sql", f"{version}_stamped.up.sql"]
    # a second one within the same second still gets a later version
    new("again")
    (again,) = project.migrations.glob("*_again.up.sql")
    assert int(again.name.split("_", 1)[0]) > int(version)


# --- up -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["up", "migrate", "upgrade"])
def test_up_applies_everything(project, command: str) -> None:
    three(project)
    r = ok(project, command)
    assert "Applied 3 migration(s)" in r.stdout and "now at 3" in r.stdout
    assert project.history() == ALL
    assert project.tables() == {"t1", "t2"}
    assert project.sql("SELECT name FROM t1 ORDER BY name") == [("ada",), ("linus",)]
    r = ok(project, command)
    assert "Nothing to apply" in r.stdout


def test_up_to_target_and_steps(project) -> None:
    three(project)
    r = ok(project, "up", "1")
    assert "now at 1" in r.stdout
    assert project.history() == ["1"]
    assert project.tables() == {"t1"}
    r = ok(project, "up", "000002")  # the file's spelling works too
    assert project.history() == ["1", "2"]
    ok(project, "down", "base")
    r = ok(project, "up", "--steps", "2")
    assert "Applied 2 migration(s)" in r.stdout
    assert project.history() == ["1", "2"]
    ok(project, "up", "--steps", "5")
    assert project.history() == ALL


@pytest.mark.parametrize("command", ["up", "down"])
def test_unknown_target_is_a_usage_error(project, command: str) -> None:
    three(project)
    ok(project, "up", "1")
    r = run(project, command, "9")
    assert r.exit_code == 2
    assert "no migration has version 9" in r.stderr
    assert project.history() == ["1"]


# Commands that only read, or that fail or find nothing to do, must not create the database.
READ_ONLY = [
    ["status"],
    ["status", "--json"],
    ["info"],
    ["history"],
    ["current"],
    ["validate"],
    ["check"],
    ["repair"],
    ["config"],
    ["lock", "status"],
    ["lock", "release"],
    ["cleanup", "--keep-days", "1", "--dry-run"],
    ["cleanup", "--keep-days", "1"],
    ["up", "--dry-run"],
    ["up", "2", "--sql"],  # 3 is a Python migration: no script for it
    ["down", "--dry-run"],
    ["down", "base", "--sql"],
    ["new", "another"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_create_no_database(project, args: list[str]) -> None:
    three(project)
    r = run(project, *args)
    assert r.exit_code in (0, 5), r.output
    assert sorted(p.name for p in project.root.iterdir()) == ["migrata.toml", "migrations"]


@pytest.mark.parametrize(
    "args", [["up", "9"], ["down", "9"], ["down"], ["down", "base"], ["repair", "--checksums"]], ids=" ".join
)
def test_failing_or_noop_commands_create_no_database(project, args: list[str]) -> None:
    three(project)
    r = run(project, *args)
    assert r.exit_code in (0, 2), r.output
    assert not project.db.exists()


def test_up_dry_run_writes_nothing(project) -> None:
    three(project)
    r = ok(project, "up", "--dry-run")
    assert "Would apply 3 migration(s)" in r.stdout
    for name in ("create_t1", "create_t2", "fill_t1"):
        assert name in r.stdout
    assert not project.db.exists()
    assert list(project.root.glob("app.db*")) == []

    ok(project, "up", "1")
    before = digest(project.db)
    time.sleep(0.01)
    r = ok(project, "up", "--dry-run")
    assert "Would apply 2 migration(s)" in r.stdout and "now at 1" in r.stdout
    assert digest(project.db) == before
    assert project.history() == ["1"]


def test_up_sql_prints_the_exact_sql_and_writes_nothing(project) -> None:
    project.pair("000001", "create_t1", "CREATE TABLE t1 (id INTEGER PRIMARY KEY);\n", "DROP TABLE t1;\n")
    project.pair(
        "000002",
        "fill",
        "INSERT INTO t1 (id) VALUES (1);\nINSERT INTO t1 (id) VALUES (2);\n",
        "DELETE FROM t1;\n",
    )
    r = ok(project, "up", "--sql")
    out = r.stdout
    assert not project.db.exists()
    lines = [line for line in out.splitlines() if line.strip() and not line.startswith("--")]
    # migrata's own tables first (nothing exists yet), then each migration in its transaction
    assert any(line.startswith("CREATE TABLE IF NOT EXISTS migrata_history") for line in lines)
    body = out[out.index("BEGIN") :]
    expected_order = [
        "BEGIN",
        "CREATE TABLE t1 (id INTEGER PRIMARY KEY);",
        "INSERT INTO migrata_history",
        "COMMIT;",
        "BEGIN",
        "INSERT INTO t1 (id) VALUES (1);",
        "INSERT INTO t1 (id) VALUES (2);",
        "INSERT INTO migrata_history",
        "COMMIT;",
    ]
    pos = 0
    for needle in expected_order:
        found = body.find(needle, pos)
        assert found >= 0, f"{needle!r} missing (in order) from:\n{out}"
        pos = found + len(needle)
    assert out.count("BEGIN") == 2 and out.count("COMMIT;") == 2
    assert "INSERT INTO migrata_events" in out

    # on an existing database: the ledger exists, so no CREATE for it; still nothing written
    ok(project, "up", "1")
    before = digest(project.db)
    r = ok(project, "up", "--sql")
    assert "CREATE TABLE IF NOT EXISTS migrata_history" not in r.stdout
    assert "INSERT INTO t1 (id) VALUES (1);" in r.stdout
    assert "CREATE TABLE t1" not in r.stdout
    assert digest(project.db) == before
    assert project.history() == ["1"]


def test_up_json(project) -> None:
    three(project)
    r = ok(project, "up", "--json")
    data = json.loads(r.stdout)
    assert data["direction"] == "up"
    assert data["before"] is None and data["after"] == "3"
    assert [s["version"] for s in data["steps"]] == ALL
    assert all(s["status"] == "applied" for s in data["steps"])
    r = ok(project, "up", "--json")
    assert json.loads(r.stdout)["steps"] == []


# --- down -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["down", "rollback", "downgrade"])
def test_down_one_by_default(project, command: str) -> None:
    three(project)
    ok(project, "up")
    r = ok(project, command)
    assert "Rolled back 1 migration(s)" in r.stdout and "now at 2" in r.stdout
    assert project.history() == ["1", "2"]
    assert project.sql("SELECT COUNT(*) FROM t1") == [(0,)]


def test_down_to_target_keeps_the_target(project) -> None:
    three(project)
    ok(project, "up")
    r = ok(project, "down", "1")
    assert "Rolled back 2 migration(s)" in r.stdout and "now at 1" in r.stdout
    assert project.history() == ["1"]
    assert project.tables() == {"t1"}
    r = ok(project, "down", "1")
    assert "Nothing to roll back" in r.stdout


def test_down_steps_and_base(project) -> None:
    three(project)
    ok(project, "up")
    ok(project, "rollback", "--steps", "2")
    assert project.history() == ["1"]
    ok(project, "up")
    r = ok(project, "downgrade", "base")
    assert "Rolled back 3 migration(s)" in r.stdout and "now at base" in r.stdout
    assert project.history() == []
    assert project.tables() == set()
    assert all_tables(project) == {"migrata_history", "migrata_events"}
    r = ok(project, "down")
    assert "Nothing to roll back" in r.stdout


def test_down_target_and_steps_together_is_a_usage_error(project) -> None:
    three(project)
    ok(project, "up")
    r = run(project, "down", "1", "--steps", "1")
    assert r.exit_code == 2
    assert project.history() == ALL


def test_down_dry_run_sql_json(project) -> None:
    three(project)
    ok(project, "up")
    before = digest(project.db)
    r = ok(project, "down", "base", "--dry-run")
    assert "Would roll back 3 migration(s)" in r.stdout
    # 3 is a Python migration: no script can do what its down(ctx) does
    r = run(project, "down", "--steps", "2", "--sql")
    assert r.exit_code == 2 and "Python migration 3 fill_t1" in r.stderr, r.output
    assert digest(project.db) == before
    r = ok(project, "down", "--json")
    data = json.loads(r.stdout)
    assert data["direction"] == "down" and data["before"] == "3" and data["after"] == "2"
    assert [(s["version"], s["status"]) for s in data["steps"]] == [("3", "rolled back")]
    before = digest(project.db)
    r = ok(project, "down", "--steps", "1", "--sql")
    assert "DROP INDEX idx_t2_t1;" in r.stdout and "DROP TABLE t2;" in r.stdout
    assert "DELETE FROM migrata_history WHERE version = '2'" in r.stdout
    assert "DROP TABLE t1;" not in r.stdout
    assert r.stdout.count("COMMIT;") == 1
    assert digest(project.db) == before


# --- reporting ------------------------------------------------------------------------------------


def test_status_text_and_json(project) -> None:
    three(project)
    r = ok(project, "status")
    assert "not created yet" in r.stdout
    assert "base (nothing applied)" in r.stdout
    assert "Pending:  3" in r.stdout
    data = json.loads(ok(project, "status", "--json").stdout)
    assert data["database_exists"] is False
    assert data["current"] is None and data["pending"] == ALL and data["up_to_date"] is False
    assert not project.db.exists(), "status must not create the database"

    ok(project, "up", "2")
    r = ok(project, "status")
    assert "Current:  2 create_t2" in r.stdout
    assert "Applied:  2" in r.stdout
    assert "Pending:  1" in r.stdout and "fill_t1" in r.stdout
    data = json.loads(ok(project, "status", "--json").stdout)
    assert data["database_exists"] is True
    assert data["current"] == "2" and data["applied"] == 2 and data["pending"] == ["3"]
    assert [m["state"] for m in data["migrations"]] == ["applied", "applied", "pending"]


def test_info_text_and_json(project) -> None:
    three(project)
    ok(project, "up", "2")
    r = ok(project, "info")
    header = r.stdout.splitlines()[0].split()
    assert header[:5] == ["Version", "Name", "Kind", "State", "Checksum"]
    assert "Applied" in header and "Duration" in header and "By" in header
    assert re.search(r"^1\s+create_t1\s+sql\s+applied\s+[0-9a-f]{12}\s", r.stdout, re.M)
    assert re.search(r"^3\s+fill_t1\s+py\s+pending\s", r.stdout, re.M)

    data = json.loads(ok(project, "info", "--json").stdout)
    by_version = {m["version"]: m for m in data["migrations"]}
    assert set(by_version) == set(ALL)
    for key in ("version", "name", "kind", "state", "checksum", "applied_at", "duration_ms", "applied_by"):
        assert all(key in m for m in data["migrations"]), key
    one = by_version["1"]
    assert (one["name"], one["kind"], one["state"]) == ("create_t1", "sql", "applied")
    assert re.fullmatch(r"[0-9a-f]{64}", one["checksum"])
    assert one["applied_at"].startswith(dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"))
    assert isinstance(one["duration_ms"], int) and one["duration_ms"] >= 0
    assert "@" in one["applied_by"]
    three_ = by_version["3"]
    assert (three_["kind"], three_["state"], three_["applied_at"], three_["applied_by"]) == (
        "py",
        "pending",
        None,
        None,
    )


def test_history_limit_version_json(project) -> None:
    three(project)
    r = ok(project, "history")
    assert "No events recorded" in r.stdout
    assert not project.db.exists()
    ok(project, "up")
    ok(project, "down")
    r = ok(project, "history")
    rows = r.stdout.splitlines()[1:]
    assert len(rows) == 4
    assert rows[0].split()[1:3] == ["down", "3"]  # newest first
    r = ok(project, "history", "--limit", "2")
    assert len(r.stdout.splitlines()) == 3
    r = ok(project, "history", "--version", "3", "--json")
    events = json.loads(r.stdout)["events"]
    assert [(e["action"], e["version"], e["outcome"]) for e in events] == [("down", "3", "ok"), ("up", "3", "ok")]
    assert all("@" in e["actor"] for e in events)
    r = ok(project, "history", "--version", "000001", "--json")
    assert [e["action"] for e in json.loads(r.stdout)["events"]] == ["up"]


@pytest.mark.parametrize("command", ["current", "version"])
def test_current(project, command: str) -> None:
    three(project)
    assert ok(project, command).stdout.strip() == "base"
    ok(project, "up", "2")
    assert ok(project, command).stdout.strip() == "2 create_t2"
    data = json.loads(ok(project, command, "--json").stdout)
    assert data["current"] == "2" and data["name"] == "create_t2" and data["pending"] == 1


# --- validate / check / repair ---------------------------------------------------------------------


def test_validate(project) -> None:
    three(project)
    r = ok(project, "validate")
    assert r.stdout.startswith("OK: 3 migration(s) checked")
    data = json.loads(ok(project, "validate", "--json").stdout)
    assert data["ok"] is True and data["checked"] == 3 and data["problems"] == []

    ok(project, "up")
    project.write("000001_create_t1.up.sql", "CREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT);\n")
    r = run(project, "validate")
    assert r.exit_code == 3
    assert "Invalid" in r.stdout and "1 create_t1" in r.stdout and "repair --checksums" in r.stdout
    data = json.loads(run(project, "validate", "--json").stdout)
    assert data["ok"] is False
    assert [p["code"] for p in data["problems"]] == ["checksum"]


def test_validate_warns_about_a_missing_down(project) -> None:
    project.pair("000001", "one_way", "CREATE TABLE t (id INTEGER);\n")
    r = ok(project, "validate")
    assert "warning" in r.stdout and "no down part" in r.stdout


def test_validate_file(project, tmp_path: Path) -> None:
    three(project)
    ok(project, "up")
    before = digest(project.db)
    good = tmp_path / "000004_add_t3.up.sql"
    good.write_text("CREATE TABLE t3 (id INTEGER);\nINSERT INTO t1 (name) VALUES ('x');\n", encoding="utf-8")
    r = ok(project, "validate", "--file", str(good))
    assert r.stdout.startswith("OK")
    data = json.loads(ok(project, "validate", "--file", str(good), "--json").stdout)
    assert data["ok"] is True and data["file"] == str(good)

    broken = tmp_path / "000004_broken.up.sql"
    broken.write_text(
        "CREATE TABLE t3 (id INTEGER);\n\n-- the next one is wrong\nINSERT INTO no_such_table VALUES (1);\n",
        encoding="utf-8",
    )
    r = run(project, "validate", "--file", str(broken))
    assert r.exit_code == 3
    assert "000004_broken.up.sql:4" in r.stdout
    assert "no such table: no_such_table" in r.stdout
    data = json.loads(run(project, "validate", "--file", str(broken), "--json").stdout)
    assert data["ok"] is False and "000004_broken.up.sql:4" in data["problems"][0]["message"]

    syntax = tmp_path / "000005_syntax.up.sql"
    syntax.write_text("CREATE TABLE ok1 (id INTEGER);\nCREATE TABLEX nope (id);\n", encoding="utf-8")
    r = run(project, "validate", "--file", str(syntax))
    assert r.exit_code == 3
    assert "000005_syntax.up.sql:2" in r.stdout and "syntax error" in r.stdout

    # the real database was never touched
    assert digest(project.db) == before
    assert project.tables() == {"t1", "t2"}


def test_validate_file_relative_to_project_directory(project, tmp_path: Path) -> None:
    three(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = plain(
        run_cli(["-C", str(project.root), "validate", "--file", "migrations/000001_create_t1.up.sql"], cwd=elsewhere)
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("OK")


def test_check_exit_codes(project) -> None:
    three(project)
    r = run(project, "check")
    assert r.exit_code == 5
    assert "3 pending" in r.stdout
    assert not project.db.exists()
    data = json.loads(run(project, "check", "--json").stdout)
    assert data["state"] == "pending" and data["pending"] == ALL

    ok(project, "up")
    r = ok(project, "check")
    assert "up to date at 3" in r.stdout
    assert json.loads(ok(project, "check", "--json").stdout)["state"] == "up-to-date"

    project.write(
        "000001_create_t1.up.sql", "-- edited\nCREATE TABLE t1 (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
    )
    r = run(project, "check")
    assert r.exit_code == 3
    assert "invalid" in r.stdout and "edited" in r.stdout
    data = json.loads(run(project, "check", "--json").stdout)
    assert data["state"] == "invalid" and data["problems"][0]["code"] == "checksum"


def test_check_broken_file_is_invalid(project) -> None:
    three(project)
    project.write("000004_empty.up.sql", "-- nothing here\n")
    r = run(project, "check")
    assert r.exit_code == 3
    assert "000004_empty.up.sql" in r.output
    data = json.loads(run(project, "check", "--json").stdout)
    assert data["state"] == "invalid"


def test_repair_without_flags_only_reports(project) -> None:
    three(project)
    ok(project, "up")
    r = ok(project, "repair")
    assert "Nothing to repair" in r.stdout

    project.write(
        "000002_create_t2.sql", "-- migrate:up\nCREATE TABLE t2 (id INTEGER);\n-- migrate:down\nDROP TABLE t2;\n"
    )
    rows_before = project.sql("SELECT version, checksum, status FROM migrata_history ORDER BY version")
    r = run(project, "repair")
    assert r.exit_code == 3
    assert "Needs repair" in r.stdout
    assert "2 create_t2" in r.stdout
    # only the way out of an edit is offered, none of a failed run's
    assert "migrata repair --checksums" in r.stdout and "--forget" not in r.stdout
    assert project.sql("SELECT version, checksum, status FROM migrata_history ORDER BY version") == rows_before
    data = json.loads(run(project, "repair", "--json").stdout)
    assert data["actions"] == [] and data["problems"][0]["version"] == "2"

    r = ok(project, "repair", "--checksums")
    assert "accepted the edited file of 2 create_t2" in r.stdout
    ok(project, "check")


# --- stamp / cleanup ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["stamp", "baseline"])
def test_stamp_records_without_running(project, command: str) -> None:
    three(project)
    r = ok(project, command, "2")
    assert "stamped 2: 2 row(s) added, 0 removed" in r.stdout
    assert project.history() == ["1", "2"]
    assert project.tables() == set(), "stamp must not run the migrations"
    assert ("stamp", "2") in event_actions(project)
    r = ok(project, "status")
    assert "Current:  2 create_t2" in r.stdout and "Pending:  1" in r.stdout


def test_stamp_below_applied_rows_needs_force(project) -> None:
    three(project)
    ok(project, "up")
    r = run(project, "stamp", "1")
    assert r.exit_code == 2
    assert "2 applied version(s) above 1" in r.stderr and "--force" in r.stderr
    assert project.history() == ALL
    r = ok(project, "stamp", "1", "--force", "--json")
    assert json.loads(r.stdout) == {"version": "1", "added": [], "removed": ["2", "3"]}
    assert project.history() == ["1"]
    assert project.tables() == {"t1", "t2"}, "stamp removes rows, never schema"


def test_cleanup_trims_only_old_events(project) -> None:
    three(project)
    ok(project, "up")
    ok(project, "down")
    ok(project, "up")
    assert len(event_actions(project)) == 5
    history = project.sql("SELECT * FROM migrata_history ORDER BY version")
    conn = sqlite3.connect(project.db)
    with conn:  # commits
        conn.execute("UPDATE migrata_events SET at = '2001-01-01T00:00:00.000Z' WHERE id <= 3")
    conn.close()

    r = ok(project, "cleanup", "--keep-days", "30", "--dry-run")
    assert "would delete 3 event(s) older than 30 day(s)" in r.stdout
    assert len(event_actions(project)) == 5
    assert json.loads(ok(project, "cleanup", "--keep-days", "30", "--dry-run", "--json").stdout)["deleted"] == 3

    r = ok(project, "cleanup", "--keep-days", "30")
    assert "deleted 3 event(s)" in r.stdout
    assert event_actions(project) == [("down", "3"), ("up", "3"), ("cleanup", None)]
    assert project.sql("SELECT * FROM migrata_history ORDER BY version") == history, "history is never trimmed"
    r = ok(project, "cleanup", "--keep-days", "30")
    assert "deleted 0 event(s)" in r.stdout


def test_cleanup_needs_keep_days(project) -> None:
    r = run(project, "cleanup")
    assert r.exit_code == 2
    assert "--keep-days" in r.output


# --- lock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "release"), [(("lock", "status"), ("lock", "release")), (("lock-status",), ("force-unlock",))]
)
def test_lock_status_and_release_when_free(project, status: tuple[str, ...], release: tuple[str, ...]) -> None:
    three(project)
    r = ok(project, *status)
    assert r.stdout.startswith("free")
    ok(project, "up")
    r = ok(project, *status)
    assert r.stdout.startswith("free: no migrator holds the lock")
    data = json.loads(ok(project, *status, "--json").stdout)
    assert data["held"] is False and data["holder"] is None
    r = ok(project, *release)
    assert "nothing to release" in r.stdout
    r = ok(project, *release, "--force")
    assert "nothing to release" in r.stdout


HOLDER = textwrap.dedent(
    """
    import fcntl, json, os, socket, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    info = {"pid": os.getpid(), "host": socket.gethostname(), "since": "2020-01-01T00:00:00Z", "detail": "migrata up"}
    os.pwrite(fd, json.dumps(info).encode(), 0)
    print("locked", flush=True)
    time.sleep(600)  # until killed (by `lock release --force`, or the test's cleanup)
    """
)


def test_lock_status_and_release_when_held(project) -> None:
    three(project)
    ok(project, "up", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, f"{project.db}-migrata.lock"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        r = ok(project, "lock", "status")
        assert r.stdout.startswith(f"held: pid {holder.pid}")
        data = json.loads(ok(project, "lock", "status", "--json").stdout)
        assert data["held"] is True and data["holder"]["pid"] == holder.pid
        r = run(project, "up", "--lock-timeout", "0.2s")
        assert r.exit_code == 4
        assert str(holder.pid) in r.stderr
        r = run(project, "lock", "release")  # not a terminal: needs --force
        assert r.exit_code != 0 and "--force" in r.stderr
        assert holder.poll() is None
        r = ok(project, "lock", "release", "--force")
        assert f"released: stopped pid {holder.pid}" in r.stdout
        holder.wait(timeout=10)
        assert ok(project, "lock", "status").stdout.startswith("free")
        ok(project, "up")
        assert project.history() == ALL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# --- config and shared options -------------------------------------------------------------------


def test_config_shows_origins_and_masks_password(project, monkeypatch: pytest.MonkeyPatch) -> None:
    r = ok(project, "config")
    rows = {line.split()[0]: line.split()[1:] for line in r.stdout.splitlines()[1:]}
    assert rows["url"] == ["sqlite:///app.db", "migrata.toml"]
    assert rows["table"] == ["migrata_history", "default"]

    data = json.loads(ok(project, "config", "--table", "audit_history", "--json").stdout)
    assert data["settings"]["table"] == "audit_history"
    assert data["settings"]["events_table"] == "audit_events"
    assert data["origins"]["table"] == "--table"
    assert data["origins"]["url"] == "migrata.toml"

    monkeypatch.setenv("MIGRATA_LOCK_TIMEOUT", "5s")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cr3t-pw@db.example/app")
    r = ok(project, "config")
    assert "s3cr3t-pw" not in r.output
    assert "postgresql://app:***@db.example/app" in r.stdout
    data = json.loads(ok(project, "config", "--json").stdout)
    assert "s3cr3t-pw" not in json.dumps(data)
    assert data["origins"]["url"] == "environment variable DATABASE_URL"
    assert data["origins"]["lock_timeout"] == "environment variable MIGRATA_LOCK_TIMEOUT"
    assert data["settings"]["lock_timeout"] == 5.0

    r = ok(project, "--url", "mysql://root:hunter2@127.0.0.1/x", "config")
    assert "hunter2" not in r.output and "--url" in r.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_url_option_before_and_after_command(project, where: str) -> None:
    three(project)
    opt = ["--url", "sqlite:///other.db"]
    args = [*opt, "up"] if where == "before" else ["up", *opt]
    r = ok(project, *args)
    assert "sqlite:///other.db" in r.stdout
    other = project.root / "other.db"
    assert other.is_file() and not project.db.exists()
    r = ok(project, *([*opt, "status"] if where == "before" else ["status", *opt]))
    assert "Current:  3 fill_t1" in r.stdout


def test_option_after_command_wins(project) -> None:
    three(project)
    ok(project, "--url", "sqlite:///a.db", "up", "--url", "sqlite:///b.db")
    assert (project.root / "b.db").is_file()
    assert not (project.root / "a.db").exists()


@pytest.mark.parametrize("where", ["before", "after"])
def test_migrations_option_before_and_after_command(project, where: str) -> None:
    three(project)
    other = project.root / "other_migrations"
    other.mkdir()
    (other / "000001_only.up.sql").write_text("CREATE TABLE only_here (id INTEGER);\n", encoding="utf-8")
    opt = ["--migrations", str(other)]
    ok(project, *([*opt, "up"] if where == "before" else ["up", *opt]))
    assert project.tables() == {"only_here"}
    r = ok(project, *([*opt, "status"] if where == "before" else ["status", *opt]))
    assert "Current:  1 only" in r.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_table_option_before_and_after_command(project, where: str) -> None:
    three(project)
    opt = ["--table", "custom_history"]
    ok(project, *([*opt, "up"] if where == "before" else ["up", *opt]))
    tables = all_tables(project)
    assert {"custom_history", "custom_events"} <= tables
    assert "migrata_history" not in tables and "migrata_events" not in tables
    assert project.sql("SELECT version FROM custom_history WHERE kind != 'ledger' ORDER BY version") == [
        ("1",),
        ("2",),
        ("3",),
    ]
    assert len(project.sql("SELECT * FROM custom_events")) == 3
    r = ok(project, *([*opt, "status"] if where == "before" else ["status", *opt]))
    assert "Current:  3 fill_t1" in r.stdout
    # without the option migrata looks at its default table: nothing applied there
    r = ok(project, "status")
    assert "base (nothing applied)" in r.stdout
    assert "migrata_history" not in all_tables(project), "status must not create its table"


def test_quiet_and_log_level(project) -> None:
    three(project)
    r = ok(project, "up", "1")
    assert "applied 1 create_t1" in r.stderr  # progress is logged on stderr by default
    r = ok(project, "-q", "up", "2")
    assert r.stdout == "" and r.stderr == ""
    assert project.history() == ["1", "2"]
    r = ok(project, "down", "--log-level", "debug")
    assert "rolled back 2 create_t2" in r.stderr
    assert "reverting 2 create_t2" in r.stderr  # debug-level detail
    r = ok(project, "--log-level", "warning", "up")
    assert r.stderr == ""
    assert "Applied 2 migration(s)" in r.stdout
    r = ok(project, "down", "-q")
    assert r.stdout == "" and r.stderr == ""
    # errors are never silenced
    r = run(project, "-qq", "up", "9")
    assert r.exit_code == 2 and "error:" in r.stderr
    r = run(project, "--log-level", "loud", "status")
    assert r.exit_code == 2


def test_errors_are_one_line_without_traceback(project) -> None:
    project.pair("000001", "bad", "CREATE TABLE ok_one (id INTEGER);\nCREATE TABLE ok_one (id INTEGER);\n")
    r = run(project, "up")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert r.stderr.startswith("error: migration 1 bad failed at 000001_bad.up.sql:2")
    assert "hint:" in r.stderr
    assert project.tables() == set(), "the failed migration's transaction was rolled back"
    data = json.loads(run(project, "up", "--json").stdout)
    assert data["exit_code"] == 1


# --- the program itself -----------------------------------------------------------------------------


def test_python_dash_m_help_and_version(tmp_path: Path) -> None:
    env = {**os.environ, "TERM": "xterm-256color"}
    r = subprocess.run(
        [sys.executable, "-m", "migrata", "--help"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Usage: migrata")
    for command in ("up (migrate, upgrade)", "down (rollback, downgrade)", "status", "stamp (baseline)", "lock"):
        assert command in r.stdout
    assert not ANSI.search(r.stdout + r.stderr)

    r = subprocess.run(
        [sys.executable, "-m", "migrata", "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert r.returncode == 0
    from importlib.metadata import version

    assert r.stdout.strip() == f"migrata, version {version('migrata')}"


def test_version_in_process(project) -> None:
    r = ok(project, "--version")
    assert re.fullmatch(r"migrata, version \d+\.\d+\.\d+\S*\n", r.stdout)


def test_every_command_has_help(project) -> None:
    commands = [
        "init", "new", "generate", "up", "migrate", "upgrade", "down", "rollback", "downgrade", "status", "info",
        "history", "current", "version", "validate", "check", "repair", "stamp", "baseline", "cleanup", "config",
        "lock", "lock-status", "force-unlock",
    ]  # fmt: skip
    for command in commands:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # see test_init_emits_no_warnings
            r = run(project, command, "--help")
        assert r.exit_code == 0, (command, r.output)
        assert r.stdout.startswith("Usage: migrata "), command
    r = ok(project, "lock", "status", "--help")
    assert "Usage: migrata lock status" in r.stdout


def test_table_output_is_plain_text_through_a_pipe(project) -> None:
    """Through a real pipe (not a TTY), tables are aligned text with no escapes."""
    three(project)
    ok(project, "up")
    env = {**os.environ, "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    env.pop("DATABASE_URL", None)
    for args in (["info"], ["history"], ["status"], ["config"], ["up", "--dry-run"], ["nonsense"]):
        r = subprocess.run(
            [sys.executable, "-m", "migrata", "-C", str(project.root), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert not ANSI.search(r.stdout + r.stderr), (args, r.stdout, r.stderr)
        assert "│" not in r.stdout and "━" not in r.stdout, (args, r.stdout)
