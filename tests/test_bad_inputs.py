"""Bad inputs: every one gives its documented exit code, one `error:` line on
stderr (plus an optional `hint:` line), no traceback, and leaves the database
as it was (or never creates it).

Exit codes (migrata.errors.EXIT_CODES): 1 a migration failed, 2 usage or
configuration, 3 validation, 4 lock timeout, 5 pending (`check`), 6 database.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Mapping
from typing import Any

import pytest

from migrata.testing import CliResult

# --- helpers ---------------------------------------------------------------------------


def snapshot(project: Any) -> list[str] | None:
    """Everything in the database (schema, history, events), or None when there is no file."""
    if not project.db.exists():
        return None
    conn = sqlite3.connect(project.db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def schema_and_history(project: Any) -> tuple[list[Any], list[Any]]:
    schema = sorted(project.sql("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    history = sorted(project.sql("SELECT version, name, kind, checksum, status FROM migrata_history"))
    return schema, history


def assert_error(r: CliResult, code: int, *fragments: str, hint: str | None = None) -> str:
    """Exit ``code``; stderr ends with one `error:` line and at most one `hint:` line."""
    out = r.stdout + r.stderr
    assert r.exit_code == code, f"exit {r.exit_code}, expected {code}:\n{out}"
    assert "Traceback" not in out, out
    lines = r.stderr.rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("error:")]
    assert len(starts) == 1, f"expected one error: line on stderr:\n{r.stderr}"
    tail = lines[starts[0] :]
    assert len(tail) == 1 or (len(tail) == 2 and tail[1].startswith("hint:")), (
        f"after the error: line only one hint: line may follow:\n{r.stderr}"
    )
    error = tail[0]
    for fragment in fragments:
        assert fragment in error, f"{fragment!r} not in {error!r}"
    if hint is not None:
        assert len(tail) == 2 and hint in tail[1], f"hint {hint!r} missing:\n{r.stderr}"
    return error


def base_migration(project: Any) -> list[str] | None:
    """Apply migration 1 so the bad input meets an existing database; return its snapshot."""
    project.pair("001", "base", "CREATE TABLE base (id INTEGER PRIMARY KEY);\n", "DROP TABLE base;\n")
    r = project.run("up")
    assert r.exit_code == 0, r.output
    return snapshot(project)


# --- broken migration files ---------------------------------------------------------------

BROKEN_FILES: list[Any] = [
    pytest.param(
        {"2_a.up.sql": "CREATE TABLE a (x INTEGER);\n", "002_b.up.sql": "CREATE TABLE b (x INTEGER);\n"},
        ["duplicate version 2"],
        id="duplicate-version",
    ),
    pytest.param(
        {"create_users.sql": "CREATE TABLE u (x INTEGER);\n"}, ["create_users.sql", "does not parse"], id="bad-name"
    ),
    pytest.param(
        {"2_a.up.sq": "x", "2_a.sql.up": "x", "two_a.up.sql": "x"}, ["two_a.up.sql", "does not parse"], id="bad-name-2"
    ),
    pytest.param({"2_a.down.sql": "DROP TABLE a;\n"}, ["2_a.down.sql", "without an up"], id="down-without-up"),
    pytest.param({"2_a.up.sql": "-- nothing yet\n\n"}, ["2_a.up.sql", "empty migration"], id="empty"),
    pytest.param({"2_a.up.sql": "   \n"}, ["2_a.up.sql", "empty migration"], id="empty-blank"),
    pytest.param(
        {"2_a.sql": "-- migrate:up\n\n-- migrate:down\nDROP TABLE a;\n"}, ["2_a.sql", "empty"], id="empty-up-section"
    ),
    pytest.param({"2_a.up.sql": b"CREATE TABLE caf\xe9 (x INTEGER);\n"}, ["2_a.up.sql", "UTF-8"], id="not-utf8"),
    pytest.param({"2_a.up.sql": b"\xff\xfeC\x00R\x00"}, ["2_a.up.sql", "UTF-8"], id="utf16"),
    pytest.param(
        {"2_a.py": "x = 1\nimport migrata_no_such_module_xyz\n\ndef up(ctx):\n    pass\n"},
        ["2_a.py:2", "fails to import", "migrata_no_such_module_xyz"],
        id="py-import-error",
    ),
    pytest.param(
        {"2_a.py": "def up(ctx)\n    pass\n"}, ["2_a.py:1", "fails to import", "SyntaxError"], id="py-syntax-error"
    ),
    pytest.param(
        {"2_a.py": "def up(ctx):\n    pass\n\nraise RuntimeError('not today')\n"},
        ["2_a.py:4", "RuntimeError", "not today"],
        id="py-raises-on-import",
    ),
    pytest.param(
        {"2_a.py": '"""forgot the function"""\n\ndef upgrade(ctx):\n    pass\n'},
        ["2_a.py", "up(ctx)"],
        id="py-without-up",
    ),
    pytest.param({"2_a.py": "up = 42\n"}, ["2_a.py", "up(ctx)"], id="py-up-not-callable"),
    pytest.param(
        {"2_a.up.sql": "-- migrata:transactional off\nCREATE TABLE a (x INTEGER);\n"},
        ["2_a.up.sql:1", "unknown directive", "migrata:transactional"],
        id="unknown-directive",
    ),
    pytest.param(
        {"2_a.up.sql": "-- a comment\n-- migrata:no-transacton\nCREATE TABLE a (x INTEGER);\n"},
        ["2_a.up.sql:2", "unknown directive", "no-transacton"],
        id="misspelt-directive",
    ),
    pytest.param(
        {"2_a.up.sql": "-- migrata:timeout soon\nCREATE TABLE a (x INTEGER);\n"},
        ["2_a.up.sql:1", "soon"],
        id="bad-timeout-directive",
    ),
    pytest.param(
        {"2_a.sql": "-- migrate:down\nDROP TABLE a;\n-- migrate:up\nCREATE TABLE a (x INTEGER);\n"},
        ["2_a.sql:1", "migrate:up"],
        id="down-section-before-up",
    ),
    pytest.param(
        {"2_a.sql": "-- migrate:up\nCREATE TABLE a (x INTEGER);\n-- migrate:sideways\nDROP TABLE a;\n"},
        ["2_a.sql:3", "unknown section marker", "migrate:sideways"],
        id="unknown-section-marker",
    ),
    pytest.param(
        {"2_a.sql": "-- migrate:up\nCREATE TABLE a (x INTEGER);\n-- migrate:up\nCREATE TABLE b (x INTEGER);\n"},
        ["2_a.sql"],
        id="two-up-sections",
    ),
    pytest.param(
        {"2_a.sql": "CREATE TABLE z (x INTEGER);\n-- migrate:up\nCREATE TABLE a (x INTEGER);\n"},
        ["2_a.sql", "before the '-- migrate:up'"],
        id="sql-before-up-marker",
    ),
]


def _write_files(project: Any, files: Mapping[str, str | bytes]) -> None:
    for name, text in files.items():
        if isinstance(text, bytes):
            (project.migrations / name).write_bytes(text)
        else:
            project.write(name, text)


@pytest.mark.parametrize("existing", [False, True], ids=["fresh", "existing-db"])
@pytest.mark.parametrize(("files", "fragments"), BROKEN_FILES)
def test_broken_file_is_refused_before_anything_runs(
    project: Any, files: dict[str, str | bytes], fragments: list[str], existing: bool
) -> None:
    before = base_migration(project) if existing else None
    project.write("003_good.up.sql", "CREATE TABLE good (x INTEGER);\n")  # would run after the broken one
    _write_files(project, files)
    # status/check read the files but do not import Python migrations (user code); up and validate do
    python_import = any(name.endswith(".py") for name in files)
    for args in (("up",), ("up", "--dry-run"), ("up", "--sql"), *((("status",),) if not python_import else ())):
        assert_error(project.run(*args), 3, *fragments)
    for args in (("validate",), *((("check",),) if not python_import else ())):
        r = project.run(*args)
        assert r.exit_code == 3, f"{args}: {r.output}"
        assert "Traceback" not in r.output
        assert fragments[0] in r.stdout, r.stdout
    assert snapshot(project) == before, "a refused run changed (or created) the database"


def test_debug_shows_the_traceback(project: Any) -> None:
    project.write("1_a.py", "import migrata_no_such_module_xyz\n\ndef up(ctx):\n    pass\n")
    r = project.run("--debug", "up")
    assert r.exit_code == 3
    assert "Traceback (most recent call last)" in r.stderr
    assert "error: " in r.stderr and "1_a.py:1" in r.stderr
    plain = project.run("up")
    assert_error(plain, 3, "1_a.py:1")


def test_debug_traceback_from_a_real_process(project: Any) -> None:
    import subprocess

    project.write("1_a.up.sql", "-- migrata:bogus\nSELECT 1;\n")
    base = [sys.executable, "-m", "migrata", "-C", str(project.root), "up"]
    plain = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 3 and "Traceback" not in plain.stderr, plain.stderr
    assert plain.stderr.startswith("error: ") and "1_a.up.sql:1" in plain.stderr
    debug = subprocess.run([*base, "--debug"], capture_output=True, text=True, timeout=60)
    assert debug.returncode == 3
    assert "Traceback (most recent call last)" in debug.stderr, debug.stderr


# --- empty migrations, allowed -------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "config", "env"])
def test_allow_empty_runs_empty_files(project: Any, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    project.write("2_placeholder.up.sql", "-- reserved for later\n")
    project.write("3_c.sql", "-- migrate:up\n-- nothing yet\n-- migrate:down\n-- nothing either\n")
    assert_error(project.run("up"), 3, "2_placeholder.up.sql", "empty", hint="allow_empty")
    assert snapshot(project) is None
    args: list[str] = ["up"]
    if how == "flag":
        args.append("--allow-empty")
    elif how == "config":
        with (project.root / "migrata.toml").open("a", encoding="utf-8") as fh:
            fh.write("allow_empty = true\n")
    else:
        monkeypatch.setenv("MIGRATA_ALLOW_EMPTY", "true")
    r = project.run(*args)
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2", "3"]
    assert project.tables() == {"a"}
    # and rolling back the empty down part is a no-op too
    r = project.run("down", *(["--allow-empty"] if how == "flag" else []))
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2"]


# --- files that manage their own transaction -------------------------------------------------


def _modes(project: Any) -> dict[str, str]:
    rows = project.sql("SELECT version, detail FROM migrata_events WHERE action = 'up' AND outcome = 'ok'")
    return {v: json.loads(d)["mode"] for v, d in rows}


def test_own_begin_commit_runs_outside_migratas_transaction(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    project.write(
        "2_own.up.sql",
        "BEGIN;\nCREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1);\nINSERT INTO b VALUES (2);\nCOMMIT;\n",
    )
    project.write("3_c.up.sql", "CREATE TABLE c (x INTEGER);\n")
    r = project.run("up", "--json")
    assert r.exit_code == 0, r.output
    steps = {s["version"]: s["mode"] for s in json.loads(r.stdout)["steps"]}
    assert steps == {"1": "transaction", "2": "journal", "3": "transaction"}
    assert _modes(project) == steps
    assert project.tables() == {"a", "b", "c"}
    assert project.sql("SELECT x FROM b ORDER BY x") == [(1,), (2,)]
    assert project.sql("SELECT status FROM migrata_history WHERE version = '2'") == [("applied",)]


def test_own_transaction_that_fails_is_rolled_back_and_recorded(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    project.write("2_own.up.sql", "BEGIN;\nCREATE TABLE b (x INTEGER);\nINSERT INTO b VALUES (1, 2);\nCOMMIT;\n")
    r = project.run("up")
    assert_error(r, 1, "2_own.up.sql:3", "INSERT INTO b VALUES (1, 2)")
    assert project.tables() == {"a"}, "the file's own transaction was left half-done"
    status = project.sql("SELECT status FROM migrata_history WHERE version = '2'")
    assert status == [("failed",)]
    assert_error(project.run("up"), 3, "2", hint="repair")


def test_pragma_foreign_keys_toggle_really_runs_outside_a_transaction(project: Any) -> None:
    project.write(
        "1_parent_child.up.sql",
        """
        CREATE TABLE parent (id INTEGER PRIMARY KEY);
        CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent (id));
        INSERT INTO parent VALUES (1);
        INSERT INTO child VALUES (10, 1);
        """,
    )
    # the classic SQLite table rebuild: only works when foreign_keys is really OFF,
    # which SQLite ignores inside a transaction (DROP TABLE parent would then fail)
    project.write(
        "2_rebuild_parent.up.sql",
        """
        PRAGMA foreign_keys = OFF;
        CREATE TABLE parent_new (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT 'x');
        INSERT INTO parent_new (id) SELECT id FROM parent;
        DROP TABLE parent;
        ALTER TABLE parent_new RENAME TO parent;
        PRAGMA foreign_keys = ON;
        """,
    )
    project.write("3_orphan.up.sql", "INSERT INTO child VALUES (11, 99);\n")
    r = project.run("up")
    # 3 must fail: foreign keys are back on
    assert_error(r, 1, "3_orphan.up.sql:1", "FOREIGN KEY")
    assert project.history() == ["1", "2"]
    assert _modes(project) == {"1": "transaction", "2": "journal"}
    assert project.sql("SELECT id, name FROM parent") == [(1, "x")]
    assert project.sql("PRAGMA foreign_key_check") == []


# --- statements that cannot run in a transaction ---------------------------------------------


def test_vacuum_without_directive_is_refused_before_any_migration(project: Any) -> None:
    before = base_migration(project)
    project.write("002_good.up.sql", "CREATE TABLE good (x INTEGER);\n")
    project.write("003_vacuum.up.sql", "DELETE FROM base;\n\nVACUUM;\n")
    r = project.run("up")
    assert_error(r, 3, "003_vacuum.up.sql:3", "VACUUM", hint="-- migrata:no-transaction")
    assert snapshot(project) == before, "migration 2 ran although the run was refused"
    assert_error(project.run("up", "--dry-run"), 3, "VACUUM")
    assert snapshot(project) == before

    project.write("003_vacuum.up.sql", "-- migrata:no-transaction\nDELETE FROM base;\n\nVACUUM;\n")
    r = project.run("up")
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2", "3"]
    assert _modes(project)["3"] == "journal"


@pytest.mark.parametrize(
    ("files", "args", "code"),
    [
        (
            {"1_good.up.sql": "CREATE TABLE good (x INTEGER);\n", "2_vac.up.sql": "DELETE FROM good;\nVACUUM;\n"},
            ["up"],
            3,
        ),
        ({"1_good.up.sql": "CREATE TABLE good (x INTEGER);\n"}, ["up", "99"], 2),
    ],
    ids=["vacuum", "unknown-target"],
)
def test_refused_run_on_fresh_project_creates_no_database(
    project: Any, files: dict[str, str], args: list[str], code: int
) -> None:
    _write_files(project, files)
    assert_error(project.run(*args), code)
    assert not project.db.exists(), "the refused run created the database"


# --- a failing statement ------------------------------------------------------------------


def test_failing_statement_mid_set(project: Any) -> None:
    base_migration(project)
    project.write("002_good.up.sql", "CREATE TABLE good (x INTEGER);\n")
    project.write(
        "003_bad.up.sql",
        "-- the second statement is wrong\nCREATE TABLE bad (x INTEGER);\n\nINSERT INTO bad\n  VALUES (1, 2);\n"
        "CREATE TABLE bad2 (x INTEGER);\n",
    )
    project.write("004_later.up.sql", "CREATE TABLE later (x INTEGER);\n")
    schema0, history0 = schema_and_history(project)
    r = project.run("up")
    error = assert_error(r, 1, "003_bad.up.sql:4", "INSERT INTO bad VALUES (1, 2)", "2 values")
    assert "Traceback" not in error
    assert project.tables() == {"base", "good"}, "earlier migrations must stay, the failing one leaves nothing"
    assert project.history() == ["1", "2"]
    assert project.sql("SELECT action, version, outcome FROM migrata_events WHERE version = '3'") == [
        ("up", "3", "failed")
    ]
    # a transactional failure is not dirty: fix the file and go on
    project.write(
        "003_bad.up.sql",
        "CREATE TABLE bad (x INTEGER);\n\nINSERT INTO bad\n  VALUES (1);\nCREATE TABLE bad2 (x INTEGER);\n",
    )
    r = project.run("up")
    assert r.exit_code == 0, r.output
    assert project.tables() == {"base", "good", "bad", "bad2", "later"}
    schema1, history1 = schema_and_history(project)
    assert len(history1) == len(history0) + 3 and len(schema1) == len(schema0) + 4


def test_failing_python_migration_leaves_nothing(project: Any) -> None:
    base_migration(project)
    before = schema_and_history(project)
    project.write(
        "002_py.py",
        "def up(ctx):\n"
        "    ctx.execute('CREATE TABLE py_made (x INTEGER)')\n"
        "    raise ValueError('bad data in row 7')\n",
    )
    assert_error(project.run("up"), 1, "002_py.py:3", "ValueError", "bad data in row 7")
    assert schema_and_history(project) == before


def test_failing_journaled_migration_records_progress(project: Any) -> None:
    project.write(
        "1_nt.up.sql",
        "-- migrata:no-transaction\nCREATE TABLE a (x INTEGER);\n"
        "INSERT INTO a VALUES (1, 2);\nCREATE TABLE b (x INTEGER);\n",
    )
    assert_error(project.run("up"), 1, "1_nt.up.sql:3", "INSERT INTO a VALUES (1, 2)")
    assert project.sql("SELECT status, progress, statements FROM migrata_history WHERE version = '1'") == [
        ("failed", 1, 3)
    ]
    assert project.tables() == {"a"}
    before = snapshot(project)
    for args in (("up",), ("down",), ("stamp", "1")):
        r = project.run(*args)
        assert r.exit_code in (2, 3), f"{args}: {r.output}"
        assert_error(r, r.exit_code, hint="repair")
    assert snapshot(project) == before
    project.write(
        "1_nt.up.sql",
        "-- migrata:no-transaction\nCREATE TABLE a (x INTEGER);\n"
        "INSERT INTO a VALUES (1);\nCREATE TABLE b (x INTEGER);\n",
    )
    r = project.run("repair", "1", "--resume")
    assert r.exit_code == 0, r.output
    assert project.tables() == {"a", "b"}
    assert project.sql("SELECT x FROM a") == [(1,)]
    assert project.run("validate").exit_code == 0
    assert project.run("up").exit_code == 0


def test_resume_journaled_migration_that_failed_at_its_first_statement(project: Any) -> None:
    project.write("1_nt.up.sql", "-- migrata:no-transaction\nINSERT INTO a VALUES (1);\nCREATE TABLE b (x INTEGER);\n")
    assert_error(project.run("up"), 1, "1_nt.up.sql:2", "no such table")
    project.write(
        "1_nt.up.sql", "-- migrata:no-transaction\nCREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);\n"
    )
    r = project.run("repair", "1", "--resume")
    assert r.exit_code == 0, r.output
    assert project.tables() == {"a", "b"}
    assert project.sql("SELECT status FROM migrata_history WHERE version = '1'") == [("applied",)]


# --- edited applied files, order, rollback limits, targets --------------------------------------


def test_checksum_mismatch(project: Any) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    project.pair("2", "b", "CREATE TABLE b (x INTEGER);\n", "DROP TABLE b;\n")
    project.write("3_c.up.sql", "CREATE TABLE c (x INTEGER);\n")
    assert project.run("up", "2").exit_code == 0
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER, y TEXT);\n")
    before = snapshot(project)
    assert_error(project.run("up"), 3, "1 a", "edited", hint="repair --checksums")
    assert_error(project.run("down"), 3, "1 a", "edited", hint="repair --checksums")
    r = project.run("validate")
    assert r.exit_code == 3 and "1 a" in r.stdout and "Traceback" not in r.output
    assert project.run("check").exit_code == 3
    st = project.run("status")  # reports the edit (and may exit 3 for it)
    assert st.exit_code in (0, 3) and "edited" in st.stdout and "Traceback" not in st.output
    assert snapshot(project) == before

    r = project.run("repair", "--checksums")
    assert r.exit_code == 0, r.output
    assert project.run("validate").exit_code == 0
    assert project.run("up").exit_code == 0
    assert project.history() == ["1", "2", "3"]


def test_crlf_checkout_is_not_an_edit(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (x INTEGER);\n")
    assert project.run("up").exit_code == 0
    path = project.migrations / "1_a.up.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert project.run("validate").exit_code == 0
    assert project.run("up").exit_code == 0


def test_out_of_order_pending_migration(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    project.write("3_c.up.sql", "CREATE TABLE c (x INTEGER);\n")
    assert project.run("up").exit_code == 0
    project.write("2_b.up.sql", "CREATE TABLE b (x INTEGER);\n")
    before = snapshot(project)
    assert_error(project.run("up"), 3, "2 b", hint="--out-of-order")
    assert snapshot(project) == before
    assert project.run("check").exit_code == 3
    r = project.run("up", "--out-of-order")
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2", "3"]
    assert project.tables() == {"a", "b", "c"}


@pytest.mark.parametrize("args", [["down", "base"], ["down", "--steps", "2"], ["down", "1"], ["down", "0"]])
def test_rollback_past_a_migration_without_down(project: Any, args: list[str]) -> None:
    project.pair("1", "a", "CREATE TABLE a (x INTEGER);\n", "DROP TABLE a;\n")
    project.pair("2", "b", "CREATE TABLE b (x INTEGER);\n")  # no down part
    project.pair("3", "c", "CREATE TABLE c (x INTEGER);\n", "DROP TABLE c;\n")
    assert project.run("up").exit_code == 0
    before = snapshot(project)
    assert_error(project.run(*args), 3, "2 b", "no down", hint="2_b")
    assert snapshot(project) == before, "part of the rollback ran"
    r = project.run("down")
    assert r.exit_code == 0, r.output
    assert project.tables() == {"a", "b"}


@pytest.mark.parametrize(
    "args",
    [["up", "99"], ["down", "99"], ["up", "abc"], ["down", "1.x"], ["up", "--steps", "1", "77"]],
)
def test_unknown_target_version(project: Any, args: list[str]) -> None:
    before = base_migration(project)
    project.write("2_b.up.sql", "CREATE TABLE b (x INTEGER);\n")
    r = project.run(*args)
    assert_error(r, 2, hint="")
    assert snapshot(project) == before


def test_down_to_a_version_ahead_is_refused(project: Any) -> None:
    before = base_migration(project)
    project.write("2_b.up.sql", "CREATE TABLE b (x INTEGER);\n")
    assert_error(project.run("down", "2"), 2, "2", hint="migrata up 2")
    assert snapshot(project) == before


# --- configuration --------------------------------------------------------------------------


def _config(project: Any, text: str) -> None:
    (project.root / "migrata.toml").write_text(text, encoding="utf-8")


CONFIG_CASES: list[Any] = [
    pytest.param(
        'url = "sqlite:///app.db"\nlock_timout = "5s"\n',
        [],
        ["lock_timout", "migrata.toml", "did you mean 'lock_timeout'"],
        id="unknown-key",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nmigration = "migrations"\n',
        [],
        ["migration", "did you mean 'migrations'"],
        id="unknown-key-2",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nlock_timeout = "soon"\n',
        [],
        ["lock_timeout", "migrata.toml", "soon"],
        id="bad-lock-timeout",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nlock_timeout = -5\n',
        [],
        ["lock_timeout", "migrata.toml"],
        id="negative-lock-timeout",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\n',
        ["--lock-timeout", "forever"],
        ["lock_timeout", "--lock-timeout"],
        id="bad-lock-timeout-flag",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nlock_timeout = true\n', [], ["lock_timeout", "migrata.toml"], id="bool-lock-timeout"
    ),
    pytest.param('url = "sqlite:///app.db\nmigrations = [\n', [], ["migrata.toml", "TOML"], id="bad-toml"),
    pytest.param(
        'url = "sqlite:///app.db"\n[env.prod]\nurl = "sqlite:///prod.db"\n',
        ["--env", "staging"],
        ["staging", "migrata.toml"],
        id="unknown-env",
    ),
    pytest.param(
        'url = "sqlite:///app.db"\n[env.prod]\nlock_timeot = 3\n',
        ["--env", "prod"],
        ["lock_timeot", "env.prod", "did you mean"],
        id="unknown-key-in-env",
    ),
    pytest.param('migrations = "migrations"\n', [], ["URL", "url", "migrata.toml"], id="missing-url"),
    pytest.param('url = "sqlite:///app.db"\ntable = "bad name"\n', [], ["table", "migrata.toml"], id="bad-table"),
    pytest.param(
        'url = "sqlite:///app.db"\nversions = "semver"\n', [], ["versions", "migrata.toml"], id="bad-versions"
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nallow_empty = "maybe"\n', [], ["allow_empty", "migrata.toml"], id="bad-bool"
    ),
    pytest.param(
        'url = "sqlite:///app.db"\nout_of_order = "sometimes"\n',
        [],
        ["out_of_order", "migrata.toml"],
        id="bad-out-of-order",
    ),
    pytest.param('url = ""\n', [], ["url", "migrata.toml"], id="empty-url"),
    pytest.param('url = "oracle://scott:tiger@db/x"\n', [], ["oracle", "migrata.toml"], id="unknown-scheme-origin"),
    pytest.param('url = "postgresql://u@h:notaport/x"\n', [], ["port", "migrata.toml"], id="bad-port"),
    pytest.param('url = "sqlite:///app.db"\nenv = "prod"\n', [], ["env", "migrata.toml"], id="env-not-a-table"),
    pytest.param(
        'url = "sqlite:///app.db"\n',
        ["--config", "nope.toml"],
        ["nope.toml", "--config"],
        id="missing-config-file",
    ),
]


@pytest.mark.parametrize(("toml", "flags", "fragments"), CONFIG_CASES)
@pytest.mark.parametrize("command", ["up", "status"])
def test_bad_configuration(project: Any, toml: str, flags: list[str], fragments: list[str], command: str) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    _config(project, toml)
    assert_error(project.run(*flags, command), 2, *fragments)
    assert not project.db.exists()
    assert not (project.root / "prod.db").exists()


def test_malformed_url_is_a_config_error(project: Any) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    _config(project, 'url = "postgresql://u@[::1/x"\n')
    error = assert_error(project.run("up"), 2, "migrata.toml")
    assert "internal error" not in error


def test_bad_setting_from_environment_names_the_variable(project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    monkeypatch.setenv("MIGRATA_LOCK_TIMEOUT", "a while")
    assert_error(project.run("up"), 2, "lock_timeout", "MIGRATA_LOCK_TIMEOUT")
    assert not project.db.exists()


def test_unknown_key_in_pyproject(tmp_path: Any) -> None:
    from migrata.testing import run_cli

    root = tmp_path / "py"
    (root / "migrations").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.migrata]\nurl = "sqlite:///app.db"\nurls = "x"\n', encoding="utf-8")
    assert_error(run_cli(["-C", str(root), "up"]), 2, "urls", "pyproject.toml", "did you mean 'url'")
    assert not (root / "app.db").exists()


# --- passwords never leak ---------------------------------------------------------------------

SECRET = "s3cret"
# port 1: nothing listens there, so no command can reach (and change) a real server
SECRET_URLS = [
    f"postgresql://app:{SECRET}@127.0.0.1:1/appdb",
    f"postgres://app:{SECRET}@127.0.0.1:1/appdb?sslmode=disable",
    f"mysql://app:{SECRET}@127.0.0.1:1/appdb",
    f"postgresql://app:{SECRET}@127.0.0.1:notaport/appdb",
    f"oracle://app:{SECRET}@127.0.0.1:1/appdb",
    f"postgresql://app:{SECRET}@[::1/appdb",
    # unencoded special characters: refused, and still masked (issue 16)
    f"postgresql://app:{SECRET}/1@127.0.0.1:1/appdb",
    f"mysql://app:{SECRET}#1@127.0.0.1:1/appdb",
    f"postgresql://app:{SECRET}?1@127.0.0.1:1/appdb",
    f"postgresql://app:{SECRET}@1@127.0.0.1:1/appdb",
]
COMMANDS = [
    ["up"],
    ["up", "--dry-run"],
    ["up", "--sql"],
    ["up", "--json"],
    ["down"],
    ["status"],
    ["status", "--json"],
    ["info"],
    ["check"],
    ["validate"],
    ["current"],
    ["history"],
    ["config"],
    ["config", "--json"],
    ["lock", "status"],
    ["repair"],
    ["stamp", "1"],
    ["up", "-v"],
    ["up", "--log-level", "debug"],
]


def _assert_no_secret(r: CliResult, what: str) -> None:
    assert SECRET not in r.stdout + r.stderr, f"{what} printed the password:\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("url", SECRET_URLS)
def test_password_in_url_never_printed(project: Any, url: str) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    for args in COMMANDS:
        r = project.run("--url", url, *args)
        _assert_no_secret(r, f"migrata --url ... {' '.join(args)}")
        if args[0] != "config":
            assert r.exit_code != 0, f"{args} succeeded against an unreachable database: {r.output}"


def test_password_from_config_and_environment_never_printed(project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    _config(project, f'url = "postgresql://app:{SECRET}@127.0.0.1:1/appdb"\n')
    for args in (["up"], ["status"], ["config"], ["config", "--json"], ["check", "--json"]):
        _assert_no_secret(project.run(*args), f"config file, {args}")
    _config(project, 'migrations = "migrations"\n')
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@127.0.0.1:1/appdb")
    for args in (["up"], ["status"], ["config"], ["config", "--json"]):
        _assert_no_secret(project.run(*args), f"DATABASE_URL, {args}")
    monkeypatch.delenv("DATABASE_URL")
    for name, value in {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": "1",
        "DB_USER": "app",
        "DB_PASSWORD": SECRET,
        "DB_NAME": "appdb",
    }.items():
        monkeypatch.setenv(name, value)
    for args in (["up"], ["status"], ["config"], ["config", "--json"]):
        _assert_no_secret(project.run(*args), f"DB_* variables, {args}")


def test_password_not_printed_with_debug_traceback(project: Any) -> None:
    """Even --debug tracebacks must not carry the password."""
    import subprocess

    project.write("1_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    for url in SECRET_URLS[:4]:
        p = subprocess.run(
            [sys.executable, "-m", "migrata", "-C", str(project.root), "--url", url, "--debug", "up"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode != 0
        assert SECRET not in p.stdout + p.stderr, f"--debug with {url.replace(SECRET, '***')} printed the password"
