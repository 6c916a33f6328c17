"""The battery of bad inputs (issue 16): broken files, configs, URLs,
targets and flags, each fed to every command that reads it.

Every case must end in a short error that names the culprit (file and line,
setting and its source, version, host), with the documented exit code
(docs/exit-codes.md), no traceback, and nothing lost: the database is
byte-for-byte what it was before (schema, history, events), or was never
created.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from migrata.testing import CliResult

MAX_ERROR = 400  # characters of the error line: "short"

Setup = Callable[[Any], None]


@dataclass
class Case:
    """``setup`` breaks the project; each of ``commands`` must exit ``code``
    with an error line holding every one of ``culprit``."""

    setup: Setup
    commands: list[list[str]]
    code: int
    culprit: list[str]
    flags: list[str] = field(default_factory=list)


def files(**named: str | bytes) -> Setup:
    def setup(project: Any) -> None:
        for name, text in named.items():
            path = project.migrations / name.replace("__DOT__", ".")
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")

    return setup


def config(text: str, **extra: str) -> Setup:
    def setup(project: Any) -> None:
        (project.root / "migrata.toml").write_text(text, encoding="utf-8")
        for name, body in extra.items():
            (project.root / name.replace("__DOT__", ".")).write_text(body, encoding="utf-8")

    return setup


def nothing(project: Any) -> None:
    """The input is on the command line."""


def dangling_symlink(project: Any) -> None:
    (project.migrations / "2_gone.up.sql").symlink_to(project.root / "nowhere.sql")


def directory_named_like_a_file(project: Any) -> None:
    (project.migrations / "2_dir.up.sql").mkdir()
    (project.migrations / "2_dir.up.sql" / "x.sql").write_text("SELECT 1;\n", encoding="utf-8")


def migrations_is_a_file(project: Any) -> None:
    (project.root / "notadir").write_text("x\n", encoding="utf-8")
    (project.root / "migrata.toml").write_text(f'url = "{project.url}"\nmigrations = "notadir"\n', encoding="utf-8")


def bad_dotenv(project: Any) -> None:
    (project.root / ".env").write_text("APP=1\nDATABASE_URL sqlite:///prod.db\n", encoding="utf-8")


def config_not_utf8(project: Any) -> None:
    (project.root / "migrata.toml").write_bytes(b'url = "sqlite:///app.db"\n# caf\xe9\n')


def config_is_a_directory(project: Any) -> None:
    (project.root / "conf.toml").mkdir()


READERS = [["up"], ["status"], ["validate"], ["check"], ["info"], ["up", "--dry-run"], ["up", "--sql"]]
READERS_DOWN = [["down"], ["down", "--dry-run"], ["down", "--sql"]]
CONFIG_READERS = [["up"], ["status"], ["config"], ["check"], ["doctor"]]
URL_READERS = [["up"], ["status"], ["info"], ["doctor"]]

UP = "CREATE TABLE t2 (x INTEGER);\n"
PG = "postgresql://postgres@127.0.0.1:5432"

CASES: dict[str, Case] = {
    # --- files -------------------------------------------------------------------------
    "nul-byte": Case(
        files(**{"2_a.up.sql": "CREATE TABLE a (x INTEGER);\nSELECT '\x00';\n"}), READERS, 3, ["2_a.up.sql:2", "NUL"]
    ),
    "nul-byte-down-pending": Case(
        files(**{"2_a.up.sql": UP, "2_a.down.sql": "DROP TABLE t2;\x00\n"}),
        [["up"], ["up", "--dry-run"], ["up", "--sql"], ["validate"]],
        3,
        ["2_a.down.sql:1"],
    ),
    "nul-byte-down-applied": Case(
        files(**{"1_base.down.sql": "DROP TABLE base;\x00\n"}), [["validate"], *READERS_DOWN], 3, ["1_base.down.sql:1"]
    ),
    "not-utf8-down": Case(
        files(**{"1_base.down.sql": b"DROP TABLE caf\xe9;\n"}),
        READERS_DOWN,
        3,
        ["1_base.down.sql", "UTF-8"],
    ),
    "duplicate-version-zeros": Case(
        files(**{"2_a.up.sql": UP, "0002_b.up.sql": "CREATE TABLE b (x INTEGER);\n"}),
        READERS,
        3,
        ["duplicate version 2"],
    ),
    "dangling-symlink": Case(dangling_symlink, READERS, 3, ["2_gone.up.sql"]),
    "directory-named-like-a-file": Case(directory_named_like_a_file, READERS, 3, ["2_dir.up.sql"]),
    "python-syntax-error": Case(
        files(**{"2_a.py": "def up(ctx):\n    ctx.execute(\n"}), READERS, 3, ["2_a.py:2", "SyntaxError"]
    ),
    "python-down-not-callable": Case(
        files(**{"2_a.py": "def up(ctx):\n    pass\n\ndown = 'no'\n"}), READERS, 3, ["2_a.py", "down"]
    ),
    "repeatable-empty": Case(files(**{"R__views.sql": "-- later\n"}), READERS, 3, ["R__views.sql", "empty"]),
    "repeatable-bad-name": Case(files(**{"R_views.sql": "SELECT 1;\n"}), READERS, 3, ["R_views.sql", "does not parse"]),
    "directive-bad-timeout": Case(
        files(**{"2_a.up.sql": "-- migrata:timeout -5s\n" + UP}), READERS, 3, ["2_a.up.sql:1", "-5s"]
    ),
    "migrations-folder-missing": Case(nothing, READERS, 3, ["nope", "does not exist"], ["--migrations", "nope"]),
    "migrations-is-a-file": Case(migrations_is_a_file, READERS, 3, ["notadir", "not a folder"]),
    # --- configuration ------------------------------------------------------------------
    "migrations-wrong-type": Case(
        config('url = "sqlite:///app.db"\nmigrations = 5\n'), CONFIG_READERS, 2, ["migrations", "migrata.toml"]
    ),
    "table-empty": Case(config('url = "sqlite:///app.db"\ntable = ""\n'), CONFIG_READERS, 2, ["table", "migrata.toml"]),
    "statement-timeout-negative": Case(
        config('url = "sqlite:///app.db"\nstatement_timeout = "-1s"\n'),
        CONFIG_READERS,
        2,
        ["statement_timeout", "migrata.toml"],
    ),
    "file-pattern-bad-regex": Case(
        config('url = "sqlite:///app.db"\nfile_pattern = "(unclosed"\n'),
        READERS,
        2,
        ["file_pattern", "(unclosed", "migrata.toml"],
    ),
    "file-pattern-without-version": Case(
        config('url = "sqlite:///app.db"\nfile_pattern = "^x_(?P<name>.+)\\\\.sql$"\n'),
        READERS,
        2,
        ["file_pattern", "version"],
    ),
    "ddl-retries-word": Case(
        config('url = "sqlite:///app.db"\nddl_retries = "many"\n'), CONFIG_READERS, 2, ["ddl_retries", "migrata.toml"]
    ),
    "unset-variable": Case(
        config('url = "sqlite:///${NO_SUCH_VAR_X1}"\n'), CONFIG_READERS, 2, ["NO_SUCH_VAR_X1", "migrata.toml"]
    ),
    "dotenv-no-equals": Case(bad_dotenv, CONFIG_READERS, 2, [".env", "line 2"]),
    "config-not-utf8": Case(config_not_utf8, CONFIG_READERS, 2, ["migrata.toml"]),
    "config-is-a-directory": Case(config_is_a_directory, CONFIG_READERS, 2, ["conf.toml"], ["--config", "conf.toml"]),
    "pyproject-bad-type": Case(
        config("", **{"pyproject__DOT__toml": '[tool.migrata]\nurl = "sqlite:///app.db"\nlock_timeout = [1]\n'}),
        [["up"], ["status"]],
        2,
        ["lock_timeout", "pyproject.toml"],
        ["--config", "pyproject.toml"],
    ),
    "env-var-bad-setting": Case(nothing, CONFIG_READERS, 2, ["--lock-timeout"], ["--lock-timeout", "-3s"]),
    # --- URLs ---------------------------------------------------------------------------
    "sqlite-missing-directory": Case(
        nothing, [["up"], ["doctor"]], 6, ["no_such_dir"], ["--url", "sqlite:///no_such_dir/x/app.db"]
    ),
    "postgres-refused": Case(nothing, URL_READERS, 6, ["127.0.0.1:1"], ["--url", "postgresql://u@127.0.0.1:1/x"]),
    "mysql-unknown-host": Case(
        nothing, URL_READERS, 6, ["no-such-host.invalid"], ["--url", "mysql://u@no-such-host.invalid/x"]
    ),
    "port-out-of-range": Case(nothing, URL_READERS, 2, ["port", "99999"], ["--url", "postgresql://u@h:99999/x"]),
    "mysql-no-database": Case(
        nothing, URL_READERS, 2, ["database", "--url"], ["--url", "mysql://root@127.0.0.1:3306/"]
    ),
    "postgres-missing-database": Case(
        nothing, [["up"], ["doctor"]], 6, ["no_such_db_x1", "does not exist"], ["--url", f"{PG}/no_such_db_x1"]
    ),
    "mysql-bad-password": Case(
        nothing,
        URL_READERS,
        6,
        ["127.0.0.1:3306", "access denied"],
        ["--url", "mysql://root:wrong%2Fpw@127.0.0.1:3306/mysql"],
    ),
    "mysql-bad-charset": Case(
        nothing,
        URL_READERS,
        2,
        ["charset=bogus", "not valid"],
        ["--url", "mysql://root@127.0.0.1:3306/mysql?charset=bogus"],
    ),
    "mysql-bad-timeout-option": Case(
        nothing,
        URL_READERS,
        2,
        ["connect_timeout=abc"],
        ["--url", "mysql://root@127.0.0.1:3306/mysql?connect_timeout=abc"],
    ),
    "mysql-missing-ssl-ca": Case(
        nothing, URL_READERS, 2, ["ssl_ca=/no/ca.pem"], ["--url", "mysql://root@127.0.0.1:3306/mysql?ssl_ca=/no/ca.pem"]
    ),
    "unknown-scheme": Case(nothing, URL_READERS, 2, ["oracle", "--url"], ["--url", "oracle://scott@db/x"]),
    "no-scheme": Case(nothing, URL_READERS, 2, ["--url"], ["--url", "app.db"]),
    # --- targets ------------------------------------------------------------------------
    "up-target-not-a-version": Case(nothing, [["up", "abc"]], 2, ["abc"]),
    "up-target-unknown": Case(nothing, [["up", "99"]], 2, ["99"]),
    "down-target-unknown": Case(nothing, [["down", "99"]], 2, ["99"]),
    "repair-unknown": Case(nothing, [["repair", "99"]], 2, ["99"]),
    # --- flags --------------------------------------------------------------------------
    "lock-timeout-flag": Case(nothing, [["up"], ["down"]], 2, ["--lock-timeout", "soon"], ["--lock-timeout", "soon"]),
    "ddl-retries-flag": Case(nothing, [["up"]], 2, ["--ddl-retries"], ["--ddl-retries", "-2"]),
    "table-flag": Case(nothing, [["up"], ["status"]], 2, ["--table"], ["--table", "a;drop"]),
    "on-connect-missing-module": Case(
        nothing, [["up"], ["status"]], 2, ["on_connect", "no_such_mod_x1"], ["--on-connect", "no_such_mod_x1:f"]
    ),
    "health-url-not-http": Case(
        nothing,
        [["up", "--verify"], ["verify"], ["status"]],
        2,
        ["health_url", "notaurl", "--health-url"],
        ["--health-url", "notaurl"],
    ),
    "pushgateway-without-scheme": Case(
        config('url = "sqlite:///app.db"\npushgateway = "gateway:9091"\n'),
        [["up"], ["down"]],
        2,
        ["pushgateway", "migrata.toml"],
    ),
    "env-without-config": Case(
        config("", **{"x__DOT__txt": ""}), [["up"]], 2, ["staging", "migrata.toml"], ["--env", "staging"]
    ),
}


def dump(project: Any) -> list[str] | None:
    if not project.db.exists():
        return None
    conn = sqlite3.connect(project.db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def check(r: CliResult, case: Case, what: str, doctor: bool) -> None:
    """The documented exit code, no traceback, one short error (``doctor``:
    one failed check, exit 3) that names the culprit."""
    out = r.stdout + r.stderr
    doctor = doctor and r.exit_code == 3  # else doctor stopped at the input, as any command
    code = 3 if doctor else case.code
    assert r.exit_code == code, f"{what}: exit {r.exit_code}, expected {code}:\n{out}"
    assert "Traceback" not in out and "internal error" not in out, f"{what}:\n{out}"
    if doctor:  # a report: one `fail` line per failed check
        errors = [line for line in out.splitlines() if line.startswith("fail ")]
    else:  # validate and check list their problems as indented `error:` lines
        errors = [line.strip() for line in r.stderr.splitlines() if line.lstrip().startswith("error:")]
        errors += [line.strip() for line in r.stdout.splitlines() if line.lstrip().startswith("error:")]
    assert len(errors) == 1, f"{what}: one error expected:\n{out}"
    error = errors[0]
    assert len(error) <= MAX_ERROR, f"{what}: error line of {len(error)} characters:\n{error}"
    missing = [c for c in case.culprit if c not in error]
    assert not missing, f"{what}: the error does not name {missing}:\n{error}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(project: Any, name: str) -> None:
    case = CASES[name]
    project.pair("1", "base", "CREATE TABLE base (id INTEGER PRIMARY KEY);\n", "DROP TABLE base;\n")
    assert project.run("up").exit_code == 0
    before = dump(project)
    case.setup(project)
    for command in case.commands:
        r = project.run(*case.flags, *command)
        check(r, case, f"{name}: migrata {' '.join([*case.flags, *command])}", command == ["doctor"])
        assert dump(project) == before, f"{name}: {command} changed the database"
    assert not (project.root / "prod.db").exists()


# --- the broken files again, on the servers: nothing lost there either --------------------------

FILE_CASES = [
    name for name, case in CASES.items() if case.setup.__name__ in ("setup", "dangling_symlink") and case.code == 3
]


def server_state(server: Any) -> tuple[Any, ...]:
    from _servers import LEDGER

    tables = sorted(server.all_tables() - LEDGER)
    history = server.sql("SELECT version, status, checksum FROM migrata_history ORDER BY version")
    events = server.sql("SELECT COUNT(*) FROM migrata_events WHERE action <> 'lock-wait'")
    return tables, history, events


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_broken_files_on_the_servers(tmp_path: Any, dialect: str) -> None:
    from _servers import open_server

    with open_server(dialect, tmp_path / "proj") as server:
        server.write("1_base.up.sql", "CREATE TABLE base (id INTEGER PRIMARY KEY);\n")
        server.write("1_base.down.sql", "DROP TABLE base;\n")
        assert server.run("up").exit_code == 0
        before = server_state(server)
        shim = type("P", (), {"migrations": server.migrations, "root": server.root})()
        for name in FILE_CASES:
            for path in list(server.migrations.iterdir()):
                if not path.name.startswith("1_base."):
                    path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
            server.write("1_base.down.sql", "DROP TABLE base;\n")
            CASES[name].setup(shim)
            for command in [c for c in CASES[name].commands if c in (["up"], ["down"])]:
                check(server.run(*command), CASES[name], f"{dialect} {name}: migrata {command[0]}", False)
                assert server_state(server) == before, f"{dialect} {name}: {command} changed the database"
