"""Errors against real servers: one clear line each, the right exit code, and
never a password.

* Connection failures (refused, unknown host, unknown database, unknown role,
  bad password) exit 6 with one ``error:`` line (and at most one ``hint:``).
* A failing statement names file:line, the statement and the server's message.
* A missing driver exits 6 and says which extra to install.
* A password in the URL appears in no output of any command, success or
  failure, ``--json``, ``--sql`` or ``--debug``, nor in migrata's tables.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import (
    SERVERS,
    Server,
    error_lines,
    open_server,
)
from migrata.backends.base import DatabaseURL

pytestmark = pytest.mark.slow


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh database on each real server (skipped locally, failed in CI when it is down)."""
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


PASSWORD = "Pw_s3cret_Qx7"
BASE = {"postgresql": "postgresql://postgres:{pw}@{host}:{port}/{db}", "mysql": "mysql://root:{pw}@{host}:{port}/{db}"}
PORTS = {"postgresql": 5432, "mysql": 3306}


def assert_one_clear_line(proc: Any, code: int, *fragments: str, secret: str = PASSWORD) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, expected {code}: {out}"
    assert "Traceback" not in out, out
    errors = error_lines(proc.stderr)
    assert len(errors) == 1, proc.stderr
    others = [line for line in proc.stderr.splitlines() if not line.startswith(("error:", "hint:"))]
    assert not others, f"more than an error and a hint: {proc.stderr}"
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    assert secret not in out, f"the password leaked: {out}"
    return errors[0]


def migrata(*args: str, cwd: Any = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "migrata", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


# --- connection failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
@pytest.mark.parametrize(
    ("kind", "host", "port", "expected"),
    [
        ("refused", "127.0.0.1", 1, "connection refused"),
        ("unknown-host", "nosuch.invalid", None, "unknown host"),
    ],
)
def test_unreachable_server(tmp_path: Any, dialect: str, kind: str, host: str, port: int | None, expected: str) -> None:
    url = BASE[dialect].format(pw=PASSWORD, host=host, port=port or PORTS[dialect], db="app")
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_a.up.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    for command in (["up"], ["status"], ["history", "--json"]):
        proc = migrata("--url", url, "--migrations", str(tmp_path / "migrations"), *command, cwd=tmp_path)
        line = assert_one_clear_line(proc, 6, expected, f"{host}:{port or PORTS[dialect]}")
        assert "cannot connect" in line, line


@pytest.fixture
def mysql_user(server: Server) -> Iterator[tuple[str, str]]:
    """A throwaway MariaDB user with a real password and rights on the test database."""
    if server.pg:
        yield "postgres", PASSWORD  # trust authentication accepts any password
        return
    user = f"migrata_pw_{uuid.uuid4().hex[:8]}"
    server.sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
    try:
        server.sql(f"GRANT ALL ON `{server.name}`.* TO '{user}'@'%'")
        yield user, PASSWORD
    finally:
        server.sql(f"DROP USER IF EXISTS '{user}'@'%'")


def with_credentials(s: Server, user: str, password: str, database: str | None = None) -> str:
    u = DatabaseURL.parse(s.url)
    scheme = "postgresql" if s.pg else "mysql"
    return f"{scheme}://{user}:{password}@{u.host}:{u.port or PORTS[s.dialect]}/{database or s.name}"


def test_server_rejects_connection(server: Server, mysql_user: tuple[str, str]) -> None:
    s = server
    user, password = mysql_user
    s.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    where = f"{DatabaseURL.parse(s.url).host}:{PORTS[s.dialect]}"
    server_url = (with_credentials(s, "postgres", password) if s.pg else s.url).rsplit("/", 1)[0]
    # (what, url, expected words of the error line, the name it must show)
    cases = [("unknown database", server_url + "/migrata_no_such_db", "does not exist", "migrata_no_such_db")]
    if s.pg:
        cases.append(("unknown role", with_credentials(s, "migrata_no_such_role", password), "does not exist", None))
    else:
        cases.append(("bad password", with_credentials(s, user, "Wrong_pw_9Zy"), "access denied", user))
        cases.append(("unknown user", with_credentials(s, "migrata_no_such_user", password), "access denied", None))
        # a user without rights on a database is told "access denied", as the server tells it
        no_rights = with_credentials(s, user, password, "migrata_no_such_db")
        cases.append(("database without rights", no_rights, "access denied", user))
    for what, url, expected, name in cases:
        name = name or url.split("//", 1)[1].split(":", 1)[0]
        for command in (["up"], ["up", "--json"], ["down"]):
            proc = s.cli(*command, url=url)
            if what == "unknown database" and command == ["down"]:
                continue  # nothing applied in a database that does not exist: nothing to roll back
            line = assert_one_clear_line(proc, 6, where, "cannot connect")
            assert expected in line.lower(), f"{what}: {line}"
            assert name in line, f"{what}: {line}"
            assert "Wrong_pw_9Zy" not in proc.stdout + proc.stderr, what
        if what == "unknown database":
            # read-only commands report a database that is not created yet, creating nothing
            st = s.cli("status", url=url)
            assert st.returncode == 0 and "not created yet" in st.stdout, st.stdout + st.stderr
        else:
            st = s.cli("status", url=url)
            line = assert_one_clear_line(st, 6, where, "cannot connect")
            assert expected in line.lower(), f"{what}: {line}"
    assert s.tables() == set(), "a failed connection created something"


# --- failing statements ------------------------------------------------------------------------------

TYPO = """\
CREATE TABLE ok1 (x INTEGER);
INSERT INTO ok1 (x) VALUES (1);
CREAT TABLE oops (x INTEGER);
CREATE TABLE ok2 (x INTEGER);
"""


def test_failing_statement_names_file_line_statement_and_server_message(server: Server) -> None:
    s = server
    s.write("001_typo.up.sql", TYPO)
    proc = s.cli("up")
    server_says = 'syntax error at or near "CREAT"' if s.pg else "You have an error in your SQL syntax"
    line = assert_one_clear_line(proc, 1, "001_typo.up.sql:3", "CREAT TABLE oops (x INTEGER)", server_says)
    if not s.pg:
        assert "(error 1064)" in line, line
    if s.pg:
        assert s.tables() == set() and s.history() == {}, "a failed PostgreSQL migration left something behind"
        assert "nothing of it was applied" in proc.stderr
    else:
        assert s.tables() == {"ok1"}
        assert s.history() == {"1": ("failed", 2, 4)}
        assert "statements 1-2 of 4 completed" in proc.stderr, proc.stderr
    failed = [e for e in s.events() if e[0] == "up"]
    assert len(failed) == 1 and failed[0][2] == "failed" and failed[0][4].get("line") == 3, failed


INNER = """\
CREATE TABLE ok3 (x INTEGER);
INSERT INTO ok3 (x)
VALUES (1),
       (2,,);
"""


@pytest.mark.parametrize(
    "server",
    ["postgresql", "mysql"],
    indirect=True,
)
def test_error_inside_a_multiline_statement_names_its_line(server: Server) -> None:
    s = server
    s.write("001_inner.up.sql", INNER)
    proc = s.cli("up")
    assert_one_clear_line(proc, 1, "001_inner.up.sql:4", "[statement 2: INSERT INTO ok3")


# --- missing driver ----------------------------------------------------------------------------------

NO_DRIVER = "import sys; sys.modules[sys.argv.pop(1)] = None; from migrata.cli import main; main(sys.argv[1:])"


@pytest.mark.parametrize(
    ("module", "url", "hint"),
    [
        ("psycopg", f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/app", "pip install 'migrata[postgres]'"),
        ("pymysql", f"mysql://root:{PASSWORD}@127.0.0.1:3306/app", "pip install 'migrata[mysql]'"),
    ],
)
def test_missing_driver(tmp_path: Any, module: str, url: str, hint: str) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "001_a.up.sql").write_text("CREATE TABLE a (x INTEGER);\n")
    for command in (["up"], ["status"], ["lock", "status"], ["up", "--debug"]):
        proc = subprocess.run(
            [sys.executable, "-c", NO_DRIVER, module, "--url", url, "--migrations", "migrations", *command],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        if "--debug" in command:
            assert proc.returncode == 6 and hint in proc.stderr and PASSWORD not in proc.stderr, proc.stderr
            continue
        assert_one_clear_line(proc, 6, "driver", "not installed")
        assert f"hint: {hint}" in proc.stderr, proc.stderr


# --- passwords ----------------------------------------------------------------------------------------

BROKEN = "CREATE TABLE b (x INTEGER);\nSELECT nosuch FROM b;\n"


def secret_free(s: Server, proc: Any, what: str, *secrets: str) -> None:
    out = proc.output if hasattr(proc, "output") else proc.stdout + proc.stderr
    for secret in secrets:
        assert secret not in out, f"`migrata {what}` printed the password: {out}"


def test_password_never_shown(server: Server, mysql_user: tuple[str, str]) -> None:
    s = server
    user, password = mysql_user
    url = with_credentials(s, user, password)
    s.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    s.write("002_b.up.sql", BROKEN)
    commands = [
        ["up", "1"],
        ["up", "--sql"],
        ["up", "--dry-run", "-v"],
        ["up", "--debug"],  # 2 fails
        ["up", "--json"],
        ["up", "--debug"],
        ["status"],
        ["status", "--json"],
        ["info"],
        ["info", "--json"],
        ["history"],
        ["history", "--json"],
        ["current", "--json"],
        ["check"],
        ["validate", "--json"],
        ["config"],
        ["config", "--json"],
        ["lock", "status"],
        ["lock", "status", "--json"],
        ["repair", "2"],
        ["repair", "2", "--forget", "--json", "--debug"],
        ["up", "--debug", "--json"],
    ]
    for args in commands:
        if args[:2] == ["up", "--debug"] and "--json" in args:
            s.sql("DROP TABLE IF EXISTS b")  # undone by hand after --forget (MariaDB kept it)
        res = s.run(*args, url=url)
        # every command reached the database (exit 6 would mean it never connected)
        assert res.exit_code in (0, 1, 2, 3, 5), f"`migrata {' '.join(args)}` exited {res.exit_code}: {res.output}"
        if args[0] in ("status", "config") or args[:2] == ["lock", "status"]:
            assert f"{user}:***@" in res.output, f"`migrata {' '.join(args)}` did not show the masked URL"
        secret_free(s, res, " ".join(args), password)
    assert s.history()["1"][0] == "applied"
    # a subprocess, as users run it: a failure with --debug (traceback) and a bad connection
    for args in (["up", "--debug"], ["status", "--debug"]):
        secret_free(s, s.cli(*args, url=url), " ".join(args), password)
    bad = with_credentials(s, user, password, "migrata_no_such_db")
    for args in (["up", "--debug"], ["up", "--json"], ["status", "--json", "--debug"], ["down", "--debug"]):
        proc = s.cli(*args, url=bad)
        assert proc.returncode in (0, 6), proc.stderr
        secret_free(s, proc, " ".join(args), password)
    # nor in migrata's own tables
    for table in ("migrata_history", "migrata_events"):
        for row in s.sql(f"SELECT * FROM {table}"):
            assert password not in repr(row), f"{table} stores the password: {row}"


def test_password_with_at_sign_is_masked(server: Server) -> None:
    """`user:ab@cd...@host` is a URL the parser accepts (the password runs to
    the last '@') and the connection works; every output must hide all of it."""
    s = server
    tail = "cd_Secret_9"
    password = "ab@" + tail
    user = "postgres"
    with contextlib.ExitStack() as stack:
        if not s.pg:
            user = f"migrata_at_{uuid.uuid4().hex[:8]}"
            s.sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
            stack.callback(s.sql, f"DROP USER IF EXISTS '{user}'@'%'")
            s.sql(f"GRANT ALL ON `{s.name}`.* TO '{user}'@'%'")
        url = with_credentials(s, user, password)
        s.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
        up = s.run("up", url=url)
        assert up.exit_code == 0, "the URL does not connect: " + up.output.replace(tail, "...")
        for args in (["status"], ["config"], ["lock", "status", "--json"]):
            res = s.run(*args, url=url)
            assert tail not in res.output, f"`migrata {' '.join(args)}` showed part of the password: {res.output}"


def test_password_in_url_query_is_masked(server: Server, mysql_user: tuple[str, str]) -> None:
    """`?password=` connects (libpq and PyMySQL both take it) and is never shown."""
    s = server
    user, secret = mysql_user
    base = DatabaseURL.parse(with_credentials(s, user, secret))
    url = f"{base.scheme}://{user}@{base.host}:{base.port}/{base.database}?password={secret}"
    s.write("001_a.up.sql", "CREATE TABLE a (x INTEGER);\n")
    for args in (["up", "--json"], ["status"], ["config", "--json"], ["lock", "status", "--json"]):
        res = s.run(*args, url=url)
        assert res.exit_code == 0, res.output.replace(secret, "...")
        assert secret not in res.output, f"`migrata {' '.join(args)}` printed the password: {res.output}"
