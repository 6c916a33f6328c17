"""Operating migrations (issue 4): hooks, verification, health checks, restore
on failure, Prometheus metrics, logs, doctor.

Everything runs the real ``migrata`` command (in this process, through the
``project`` fixture, or in a subprocess where another process is needed) and
checks the result in the database, the files and the HTTP servers themselves.
The HTTP servers (health check, Pushgateway) are tiny ``http.server``
instances on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from prometheus_client.parser import text_string_to_metric_families

from migrata.testing import run_cli, wait_for
from migrata.testing.plugin import fresh_database

SECRET = "s3cretPw"

#: A shell hook that records its phase (in order.txt) and every MIGRATA_ variable
#: it was given (in env_<phase>.txt). Single-quoted in TOML: no ' inside.
RECORD = (
    'echo "$MIGRATA_PHASE" >> order.txt; '
    'env | grep "^MIGRATA_" | grep -v "^MIGRATA_TEST_" | sort > "env_$MIGRATA_PHASE.txt"'
)

#: The variables every hook gets. The planned versions and the backup are not
#: MIGRATA_VERSIONS / MIGRATA_BACKUP: those spell the settings `versions` and
#: `backup`, and would reconfigure a migrata that a hook runs.
DOCUMENTED = {
    "MIGRATA_PHASE",
    "MIGRATA_COMMAND",
    "MIGRATA_DATABASE",
    "MIGRATA_DIALECT",
    "MIGRATA_PROJECT_DIR",
    "MIGRATA_CURRENT",
    "MIGRATA_TARGET",
    "MIGRATA_PLANNED",
    "MIGRATA_BACKUP_FILE",
}


# --- helpers -----------------------------------------------------------------------------


def configure(project: Any, text: str) -> None:
    """Append top-level settings to the project's migrata.toml."""
    path = project.root / "migrata.toml"
    path.write_text(path.read_text(encoding="utf-8") + text.strip() + "\n", encoding="utf-8")


def two_migrations(project: Any) -> None:
    project.pair(
        "000001",
        "create_items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL DEFAULT 0);\n"
        "INSERT INTO items (name, qty) VALUES ('apple', 3), ('pear', 5);\n",
        "DROP TABLE items;\n",
    )
    project.pair(
        "000002",
        "add_tags",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id), tag TEXT);\n"
        "INSERT INTO tags (item_id, tag) VALUES (1, 'fruit');\n",
        "DROP TABLE tags;\n",
    )


def order(project: Any) -> list[str]:
    path = project.root / "order.txt"
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def hook_env(project: Any, phase: str) -> dict[str, str]:
    lines = (project.root / f"env_{phase}.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def snapshot(db: Path) -> dict[str, Any]:
    """Schema, every row of every table and migrata_history; the event log
    (append-only, a restore adds to it) and sqlite_sequence left out."""
    conn = sqlite3.connect(db)
    try:
        schema = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(), key=repr)
        rows = {}
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if name in ("migrata_events", "sqlite_sequence"):
                continue
            rows[name] = sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
        return {"schema": schema, "rows": rows}
    finally:
        conn.close()


_CLOSED_PORTS: list[socket.socket] = []


def closed_port() -> int:
    """A port on 127.0.0.1 that refuses connections: bound by this process and
    never listened on, and kept bound until it exits, so that no other test or
    parallel worker can open a server on it meanwhile."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _CLOSED_PORTS.append(s)
    return s.getsockname()[1]


@contextlib.contextmanager
def http_server(handle: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 (random port) in a thread; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            handle(self)

        do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        block_on_close = False

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client that gave up (health timeout) is expected

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes = b"ok\n", delay: float = 0.0, release: threading.Event | None = None):
    def handle(h: BaseHTTPRequestHandler) -> None:
        if delay:
            (release or threading.Event()).wait(delay)
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


# --- hooks ------------------------------------------------------------------------------


def test_hooks_from_config_run_in_order_with_the_documented_variables(project: Any) -> None:
    two_migrations(project)
    configure(
        project,
        f"""
before_up = ['{RECORD}', 'echo second-before-hook >> order.txt']
after_up = '{RECORD}'
on_failure = '{RECORD}'
""",
    )
    r = project.run("up", "--backup", "--url", f"sqlite:///app.db?password={SECRET}")
    assert r.exit_code == 0, r.output
    assert order(project) == ["before_up", "second-before-hook", "after_up"]
    assert not (project.root / "env_on_failure.txt").exists()

    before = hook_env(project, "before_up")
    assert DOCUMENTED <= set(before)
    assert "MIGRATA_DONE" not in before and "MIGRATA_ERROR" not in before
    assert before["MIGRATA_PHASE"] == "before_up"
    assert before["MIGRATA_COMMAND"] == "up"
    assert before["MIGRATA_DATABASE"] == "sqlite:///app.db?password=***"
    assert before["MIGRATA_DIALECT"] == "sqlite"
    assert before["MIGRATA_CURRENT"] == "base"
    assert before["MIGRATA_TARGET"] == "2"
    assert before["MIGRATA_PLANNED"] == "1 2"
    assert Path(before["MIGRATA_PROJECT_DIR"]).resolve() == project.root.resolve()

    after = hook_env(project, "after_up")
    assert DOCUMENTED | {"MIGRATA_DONE"} <= set(after)
    assert after["MIGRATA_PHASE"] == "after_up"
    assert after["MIGRATA_CURRENT"] == "base"
    assert after["MIGRATA_TARGET"] == "2"
    assert after["MIGRATA_PLANNED"] == "1 2"
    assert after["MIGRATA_DONE"] == "1 2"
    # the backup taken before the run is named to the hooks after it
    backup = Path(after["MIGRATA_BACKUP_FILE"])
    assert backup.is_file() and backup.parent == project.root / "backups"
    assert project.history() == ["1", "2"]


def test_hooks_with_a_target_and_on_down(project: Any) -> None:
    two_migrations(project)
    configure(
        project,
        f"""
before_up = '{RECORD}'
after_up = '{RECORD}'
before_down = '{RECORD}'
after_down = '{RECORD}'
""",
    )
    assert project.run("up", "1").exit_code == 0
    env = hook_env(project, "after_up")
    assert (env["MIGRATA_CURRENT"], env["MIGRATA_TARGET"], env["MIGRATA_PLANNED"], env["MIGRATA_DONE"]) == (
        "base",
        "1",
        "1",
        "1",
    )
    assert project.run("up").exit_code == 0
    env = hook_env(project, "before_up")
    assert (env["MIGRATA_CURRENT"], env["MIGRATA_TARGET"], env["MIGRATA_PLANNED"]) == ("1", "2", "2")

    r = project.run("down", "1")
    assert r.exit_code == 0, r.output
    for phase in ("before_down", "after_down"):
        env = hook_env(project, phase)
        assert env["MIGRATA_COMMAND"] == "down"
        assert env["MIGRATA_PHASE"] == phase
        assert env["MIGRATA_CURRENT"] == "2"
        assert env["MIGRATA_TARGET"] == "1"
        assert env["MIGRATA_PLANNED"] == "2"
    assert hook_env(project, "after_down")["MIGRATA_DONE"] == "2"

    r = project.run("down", "base")
    assert r.exit_code == 0, r.output
    env = hook_env(project, "after_down")
    assert (env["MIGRATA_CURRENT"], env["MIGRATA_TARGET"], env["MIGRATA_DONE"]) == ("1", "base", "1")
    assert order(project) == ["before_up", "after_up"] * 2 + ["before_down", "after_down"] * 2


@pytest.mark.parametrize("args", [(), ("--steps", "1")], ids=["down", "steps"])
def test_before_down_hooks_get_the_target_of_a_default_rollback(project: Any, args: tuple[str, ...]) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    r = project.run("down", *args, "--before-down", RECORD, "--after-down", RECORD)
    assert r.exit_code == 0, r.output
    assert hook_env(project, "after_down")["MIGRATA_TARGET"] == "1"
    assert hook_env(project, "before_down")["MIGRATA_TARGET"] == "1"


def test_a_hook_can_run_migrata_itself(project: Any) -> None:
    """The hook variables must not reconfigure a migrata the hook runs."""
    two_migrations(project)
    nested = f"{sys.executable} -m migrata -C {project.root} status > nested_$MIGRATA_PHASE.txt 2>&1"
    r = project.run("up", "1", "--backup", "--before-up", nested, "--after-up", nested)
    assert r.exit_code == 0, r.output
    assert "Current:  base" in (project.root / "nested_before_up.txt").read_text()
    assert "Current:  1 create_items" in (project.root / "nested_after_up.txt").read_text()


def test_hooks_from_flags_run_in_the_order_given(project: Any) -> None:
    two_migrations(project)
    r = project.run(
        "up",
        "--before-up",
        "echo stop-service >> order.txt",
        "--before-up",
        "echo drain >> order.txt",
        "--after-up",
        RECORD,
        "--after-up",
        "echo start-service >> order.txt",
    )
    assert r.exit_code == 0, r.output
    assert order(project) == ["stop-service", "drain", "after_up", "start-service"]
    assert hook_env(project, "after_up")["MIGRATA_DONE"] == "1 2"


def test_python_hooks_get_the_variables_as_a_dict(project: Any) -> None:
    two_migrations(project)
    module = f"ophooks_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "import json\n"
        "from pathlib import Path\n\n"
        "def record(env):\n"
        "    assert isinstance(env, dict)\n"
        "    folder = Path(env['MIGRATA_PROJECT_DIR'])\n"
        "    with open(folder / 'order.txt', 'a') as fh:\n"
        "        fh.write('py-' + env['MIGRATA_PHASE'] + '\\n')\n"
        "    (folder / ('py_' + env['MIGRATA_PHASE'] + '.json')).write_text(json.dumps(env))\n",
        encoding="utf-8",
    )
    configure(
        project,
        f"""
before_up = ['python:{module}:record', 'echo shell >> order.txt']
after_up = 'python:{module}:record'
""",
    )
    r = project.run("up")
    assert r.exit_code == 0, r.output
    assert order(project) == ["py-before_up", "shell", "py-after_up"]
    before = json.loads((project.root / "py_before_up.json").read_text())
    after = json.loads((project.root / "py_after_up.json").read_text())
    assert DOCUMENTED <= set(before)
    assert before["MIGRATA_PLANNED"] == "1 2" and before["MIGRATA_DATABASE"] == "sqlite:///app.db"
    assert after["MIGRATA_DONE"] == "1 2" and after["MIGRATA_TARGET"] == "2"


def test_no_hook_runs_when_there_is_nothing_to_do(project: Any) -> None:
    two_migrations(project)
    configure(
        project,
        f"""
before_up = '{RECORD}'
after_up = '{RECORD}'
before_down = '{RECORD}'
after_down = '{RECORD}'
on_failure = '{RECORD}'
""",
    )
    # a dry run or --sql runs no hook either
    for args in (("up", "--dry-run"), ("up", "--sql")):
        r = project.run(*args)
        assert r.exit_code == 0, r.output
    assert order(project) == []
    assert project.run("up").exit_code == 0
    assert order(project) == ["before_up", "after_up"]
    r = project.run("up")
    assert r.exit_code == 0 and "Nothing to apply" in r.stdout
    assert project.run("down", "base").exit_code == 0
    r = project.run("down")
    assert r.exit_code == 0, r.output
    assert order(project) == ["before_up", "after_up", "before_down", "after_down"]


@pytest.mark.parametrize("kind", ["shell", "python"])
def test_a_failing_before_hook_leaves_the_database_untouched(project: Any, kind: str) -> None:
    two_migrations(project)
    assert project.run("up", "1").exit_code == 0
    before_bytes = project.db.read_bytes()
    module = f"ophooks_{uuid.uuid4().hex[:8]}"
    (project.root / f"{module}.py").write_text(
        "def stop(env):\n    raise RuntimeError('cannot stop quota-proxy')\n", encoding="utf-8"
    )
    failing = (
        "echo stop >> order.txt; echo 'cannot stop quota-proxy' >&2; exit 1"
        if kind == "shell"
        else f"python:{module}:stop"
    )
    r = project.run(
        "up",
        "--backup",
        "--before-up",
        failing,
        "--after-up",
        "echo after >> order.txt",
        "--on-failure",
        RECORD,
        "--on-failure",
        "echo start >> order.txt",
    )
    assert r.exit_code == 8, r.output
    errors = error_lines(r.stderr)
    assert len(errors) == 1, r.stderr
    assert "before_up" in errors[0] and "cannot stop quota-proxy" in errors[0]
    assert "Traceback" not in r.output
    # nothing changed: not one byte of the database, no backup taken, no after hook
    assert project.db.read_bytes() == before_bytes
    assert project.history() == ["1"]
    assert not (project.root / "backups").exists()
    # the on_failure hooks still ran, to start the stopped service again
    expected = (["stop"] if kind == "shell" else []) + ["on_failure", "start"]
    assert order(project) == expected
    env = hook_env(project, "on_failure")
    assert "before_up" in env["MIGRATA_ERROR"] and "cannot stop quota-proxy" in env["MIGRATA_ERROR"]
    assert env["MIGRATA_COMMAND"] == "up" and env["MIGRATA_PLANNED"] == "2"
    assert "MIGRATA_DONE" not in env and env["MIGRATA_BACKUP_FILE"] == ""


def test_a_failing_before_hook_on_a_new_database_creates_nothing(project: Any) -> None:
    two_migrations(project)
    r = project.run("up", "--before-up", "exit 1")
    assert r.exit_code == 8, r.output
    assert len(error_lines(r.stderr)) == 1
    assert not project.db.exists()


def test_a_failing_before_down_hook_rolls_nothing_back(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    before = project.db.read_bytes()
    r = project.run("down", "--before-down", "exit 4", "--after-down", "echo after >> order.txt")
    assert r.exit_code == 8, r.output
    assert "before_down" in error_lines(r.stderr)[0]
    assert project.db.read_bytes() == before
    assert order(project) == []


def test_a_failing_after_hook_reports_exit_8_with_the_migrations_applied(project: Any) -> None:
    two_migrations(project)
    r = project.run(
        "up",
        "--after-up",
        "echo 'health endpoint is down' >&2; exit 3",
        "--on-failure",
        RECORD,
    )
    assert r.exit_code == 8, r.output
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and "after_up" in errors[0] and "health endpoint is down" in errors[0]
    assert project.history() == ["1", "2"]
    assert project.tables() == {"items", "tags"}
    env = hook_env(project, "on_failure")
    assert env["MIGRATA_DONE"] == "1 2"
    assert "after_up" in env["MIGRATA_ERROR"]


# --- verify scripts ------------------------------------------------------------------------

VERIFY_CASES = [
    ("SELECT name FROM items", True),
    ("SELECT COUNT(*) > 0 FROM items", True),
    ("SELECT 'yes'", True),
    ("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items'", True),
    ("SELECT 0;\nSELECT qty FROM items WHERE name = 'pear'", True),
    ("SELECT 0", False),
    ("SELECT NULL", False),
    ("SELECT 1 = 0", False),
    ("SELECT COUNT(*) FROM items WHERE qty > 100", False),
    ("SELECT name FROM items WHERE qty > 100", False),
    ("SELECT 1;\nSELECT name FROM items WHERE qty > 100", False),
    ("SELECT * FROM no_such_table", False),
    ("SELECT * FROM no_such_table;\nSELECT 1", False),
    ("-- nothing but a comment", False),
]


@pytest.mark.parametrize(("script", "passes"), VERIFY_CASES, ids=[c[0][:40] for c in VERIFY_CASES])
def test_verify_script_verdicts(project: Any, script: str, passes: bool) -> None:
    two_migrations(project)
    assert project.run("up", "1").exit_code == 0
    project.write("000001_create_items.verify.sql", script + "\n")
    r = project.run("verify")
    assert r.exit_code == (0 if passes else 9), r.output
    assert "000001_create_items.verify.sql" in r.output
    if not passes:
        assert len(error_lines(r.stderr)) == 1 and "Traceback" not in r.output
    r = project.run("verify", "--json")
    assert r.exit_code == (0 if passes else 9), r.output
    data = json.loads(r.stdout)
    assert data["ok"] is passes
    assert [(c["name"], c["ok"]) for c in data["checks"]] == [("000001_create_items.verify.sql", passes)]


def test_verify_scripts_never_change_anything(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    project.write(
        "000001_create_items.verify.sql",
        """
        DELETE FROM tags;
        DELETE FROM items;
        INSERT INTO items (name) VALUES ('intruder');
        UPDATE migrata_history SET status = 'failed';
        CREATE TABLE scratch (x INTEGER);
        SELECT COUNT(*) FROM items;
        """,
    )
    # fails half-way, after changing things
    project.write(
        "000002_add_tags.verify.sql",
        "DROP TABLE tags;\nDELETE FROM items;\nSELECT * FROM no_such_table;\n",
    )
    before = snapshot(project.db)
    r = project.run("verify")
    assert r.exit_code == 9, r.output
    assert "ok  " in r.stdout and "FAIL" in r.stdout
    assert snapshot(project.db) == before
    r = project.run("up", "--verify")  # nothing to apply: nothing verified, nothing changed
    assert r.exit_code == 0
    assert snapshot(project.db) == before


def test_a_verify_script_cannot_commit_its_changes(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    project.write("000001_create_items.verify.sql", "DELETE FROM tags;\nCOMMIT;\nSELECT 1;\n")
    before = snapshot(project.db)
    project.run("verify")
    assert snapshot(project.db) == before


def test_verify_runs_only_the_scripts_of_applied_migrations(project: Any) -> None:
    two_migrations(project)
    project.write("000001_create_items.verify.sql", "SELECT COUNT(*) = 2 FROM items;\n")
    project.write("000002_add_tags.verify.sql", "SELECT COUNT(*) FROM tags;\n")
    r = project.run("verify")
    assert r.exit_code == 0 and "Nothing to verify" in r.stdout
    assert project.run("up", "1").exit_code == 0
    r = project.run("verify", "--json")
    assert r.exit_code == 0, r.output
    assert [c["name"] for c in json.loads(r.stdout)["checks"]] == ["000001_create_items.verify.sql"]


def test_up_verify(project: Any) -> None:
    two_migrations(project)
    project.write("000001_create_items.verify.sql", "SELECT COUNT(*) = 2 FROM items;\n")
    project.write("000002_add_tags.verify.sql", "SELECT tag FROM tags WHERE tag = 'fruit';\n")
    r = project.run("up", "1", "--verify")
    assert r.exit_code == 0, r.output
    assert "Verified: 1 check(s) passed." in r.stdout
    # a failing check after up: exit 9, the migration stays applied, the hint says how back
    project.write("000002_add_tags.verify.sql", "SELECT tag FROM tags WHERE tag = 'vegetable';\n")
    r = project.run("up", "--verify")
    assert r.exit_code == 9, r.output
    errors = error_lines(r.stderr)
    assert len(errors) == 1 and "000002_add_tags.verify.sql" in errors[0]
    assert "restore" in r.stderr
    assert project.history() == ["1", "2"]
    # verify from the config file
    configure(project, "verify = true")
    project.pair("000003", "more", "INSERT INTO items (name) VALUES ('plum');\n")
    project.write("000003_more.verify.sql", "SELECT 1 FROM items WHERE name = 'kiwi';\n")
    r = project.run("up")
    assert r.exit_code == 9, r.output
    assert "000003_more.verify.sql" in r.stderr


# --- health check -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204])
def test_health_check_passes_on_2xx(project: Any, status: int) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    with http_server(answer(status, b"" if status == 204 else b"ok\n")) as base:
        r = project.run("verify", "--health-url", base + "/healthz")
        assert r.exit_code == 0, r.output
        assert f"HTTP {status}" in r.stdout and "/healthz" in r.stdout


def test_health_check_fails_on_500_and_on_a_closed_port(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    with http_server(answer(500, b"database unavailable\n")) as base:
        r = project.run("verify", "--health-url", base + "/healthz", "--health-timeout", "500ms")
    assert r.exit_code == 9, r.output
    assert "HTTP 500" in r.output
    assert len(error_lines(r.stderr)) == 1
    r = project.run(
        "verify", "--health-url", f"http://127.0.0.1:{closed_port()}/healthz", "--health-timeout", "500ms", "--json"
    )
    assert r.exit_code == 9, r.output
    [check] = json.loads(r.stdout)["checks"]
    assert check["ok"] is False and "no answer" in check["detail"]


def test_health_timeout_is_honoured(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    release = threading.Event()
    # the endpoint answers 200 only when released, after verify returned: a verify
    # that waited for the answer would hang there, then pass
    with http_server(answer(200, delay=300.0, release=release)) as base:
        configure(project, f'health_url = "{base}/healthz"\nhealth_timeout = "300ms"')
        t0 = time.monotonic()
        r = project.run("verify")
        elapsed = time.monotonic() - t0
        release.set()
    assert r.exit_code == 9, r.output
    # 300 ms asked for, 10 s by default: half the default tells them apart on the busiest machine
    assert elapsed < 5.0, f"the health check waited {elapsed:.1f}s despite health_timeout = 300ms"
    # a slow but timely answer passes
    with http_server(answer(200, delay=0.2)) as base:
        r = project.run("verify", "--health-url", base + "/healthz", "--health-timeout", "5s")
    assert r.exit_code == 0, r.output


def test_up_verify_runs_the_health_check(project: Any) -> None:
    two_migrations(project)
    with http_server(answer(200)) as base:
        r = project.run("up", "1", "--verify", "--health-url", base + "/healthz")
        assert r.exit_code == 0, r.output
        assert "Verified: 1 check(s) passed." in r.stdout
    with http_server(answer(503)) as base:
        r = project.run("up", "--verify", "--health-url", base + "/healthz", "--health-timeout", "500ms")
    assert r.exit_code == 9, r.output
    assert "HTTP 503" in r.stderr
    assert project.history() == ["1", "2"]


def test_health_check_runs_after_the_after_up_hooks(project: Any) -> None:
    two_migrations(project)
    stopped = project.root / "service.stopped"

    def handle(h: BaseHTTPRequestHandler) -> None:
        answer(503 if stopped.exists() else 200)(h)

    with http_server(handle) as base:
        r = project.run(
            "up",
            "--verify",
            "--health-url",
            base + "/healthz",
            "--before-up",
            "touch service.stopped",
            "--after-up",
            "rm service.stopped",
            "--on-failure",
            "rm -f service.stopped",
            "--health-timeout",
            "2s",
        )
    assert r.exit_code == 0, r.output
    assert "Verified: 1 check(s) passed." in r.stdout


# --- restore on failure ---------------------------------------------------------------------


def _three_steps(project: Any) -> dict[str, Any]:
    two_migrations(project)
    assert project.run("up", "1").exit_code == 0
    conn = sqlite3.connect(project.db)
    conn.execute("INSERT INTO items (name, qty) VALUES ('written by the app', 42)")
    conn.commit()
    conn.close()
    project.pair(
        "000003",
        "reprice",
        "ALTER TABLE items ADD COLUMN price INTEGER;\nUPDATE items SET qty = qty * 10, price = 1;\n"
        "DELETE FROM items WHERE name = 'pear';\n",
    )
    return snapshot(project.db)


def test_restore_on_failure_after_a_failing_verify_script(project: Any) -> None:
    before = _three_steps(project)
    project.write("000003_reprice.verify.sql", "SELECT 1 FROM items WHERE name = 'pear';\n")
    r = project.run("up", "--verify", "--restore-on-failure", "--on-failure", RECORD)
    assert r.exit_code == 9, r.output
    assert snapshot(project.db) == before
    assert project.history() == ["1"]
    assert "restored" in r.stderr
    assert len(error_lines(r.stderr)) == 1
    # on_failure ran after the restore, and knows the backup
    env = hook_env(project, "on_failure")
    assert Path(env["MIGRATA_BACKUP_FILE"]).is_file()
    assert env["MIGRATA_DONE"] == "2 3"


def test_restore_on_failure_after_a_failing_health_check(project: Any) -> None:
    before = _three_steps(project)
    with http_server(answer(500)) as base:
        configure(
            project,
            f'health_url = "{base}/healthz"\nhealth_timeout = "500ms"\nverify = true\nrestore_on_failure = true',
        )
        r = project.run("up")
    assert r.exit_code == 9, r.output
    assert snapshot(project.db) == before
    assert "restored" in r.stderr


def test_restore_on_failure_after_a_failing_migration(project: Any) -> None:
    before = _three_steps(project)
    project.pair("000004", "broken", "CREATE TABLE t4 (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")
    r = project.run("up", "--restore-on-failure")
    assert r.exit_code == 1, r.output
    assert "000004_broken.up.sql" in r.stderr
    assert "restored" in r.stderr
    # 2 and 3 had been applied in this run: the restore undid them too
    assert snapshot(project.db) == before
    # and the database works on
    project.write("000004_broken.up.sql", "CREATE TABLE t4 (x INTEGER);\n")
    r = project.run("up")
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2", "3", "4"]


def test_verify_failure_without_restore_keeps_the_migrations(project: Any) -> None:
    _three_steps(project)
    project.write("000003_reprice.verify.sql", "SELECT 1 FROM items WHERE name = 'pear';\n")
    r = project.run("up", "--verify", "--backup")
    assert r.exit_code == 9, r.output
    assert project.history() == ["1", "2", "3"]
    assert "restored" not in r.stderr
    # the backup taken before the run brings the state back on demand
    r = project.run("restore", "--yes")
    assert r.exit_code == 0, r.output
    assert project.history() == ["1"]


# --- metrics ----------------------------------------------------------------------------------

METRICS = ("migration_success_total", "migration_failure_total", "migration_rollback_total")


def parse_metrics(text: str) -> dict[str, Any]:
    """{'types': {family: type}, 'values': {(sample, database, version): value}}"""
    types: dict[str, str] = {}
    values: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            if s.name in (*METRICS, "migration_duration_seconds"):
                values[(s.name, s.labels["database"], s.labels["version"])] = s.value
    return {"types": types, "values": values}


def counts(values: dict[tuple[str, str, str], float], metric: str) -> dict[str, float]:
    return {v: value for (name, _db, v), value in values.items() if name == metric}


def test_metrics_file_counts_success_failure_and_rollback(project: Any) -> None:
    two_migrations(project)
    metrics = project.root / "textfile" / "migrata.prom"  # its folder does not exist yet

    r = project.run("up", "--metrics-file", str(metrics))
    assert r.exit_code == 0, r.output
    m = parse_metrics(metrics.read_text())
    assert m["types"]["migration_success"] == "counter"
    assert m["types"]["migration_duration_seconds"] == "gauge"
    assert {db for (_n, db, _v) in m["values"]} == {"app.db"}
    assert counts(m["values"], "migration_success_total") == {"1": 1, "2": 1}
    assert counts(m["values"], "migration_failure_total") == {}
    assert counts(m["values"], "migration_rollback_total") == {}
    durations = counts(m["values"], "migration_duration_seconds")
    assert set(durations) == {"1", "2"} and all(0 <= d < 10 for d in durations.values())

    # a failure
    project.pair("000003", "broken", "INSERT INTO no_such_table VALUES (1);\n", "SELECT 1;\n")
    r = project.run("up", "--metrics-file", str(metrics))
    assert r.exit_code == 1
    m = parse_metrics(metrics.read_text())
    assert counts(m["values"], "migration_success_total") == {"1": 1, "2": 1}
    assert counts(m["values"], "migration_failure_total") == {"3": 1}
    assert "3" in counts(m["values"], "migration_duration_seconds")

    # failures outside a migration count as version "run": a before-hook, a verification
    assert project.run("up", "--metrics-file", str(metrics), "--before-up", "exit 1").exit_code == 8
    assert counts(parse_metrics(metrics.read_text())["values"], "migration_failure_total") == {"3": 1, "run": 1}

    # a rollback
    (project.migrations / "000003_broken.up.sql").unlink()
    (project.migrations / "000003_broken.down.sql").unlink()
    r = project.run("down", "--metrics-file", str(metrics))
    assert r.exit_code == 0, r.output
    m = parse_metrics(metrics.read_text())
    assert counts(m["values"], "migration_rollback_total") == {"2": 1}
    assert counts(m["values"], "migration_success_total") == {"1": 1, "2": 1}
    assert counts(m["values"], "migration_failure_total") == {"3": 1, "run": 1}

    # counters accumulate across runs
    assert project.run("up", "--metrics-file", str(metrics)).exit_code == 0
    assert project.run("down", "--metrics-file", str(metrics)).exit_code == 0
    configure(project, f'metrics_file = "{metrics}"')
    assert project.run("up").exit_code == 0
    m = parse_metrics(metrics.read_text())
    assert counts(m["values"], "migration_success_total") == {"1": 1, "2": 3}
    assert counts(m["values"], "migration_rollback_total") == {"2": 2}
    assert counts(m["values"], "migration_failure_total") == {"3": 1, "run": 1}
    # nothing to do: nothing counted
    assert project.run("up").exit_code == 0
    assert counts(parse_metrics(metrics.read_text())["values"], "migration_success_total") == {"1": 1, "2": 3}


def test_metrics_file_shared_by_two_databases_keeps_both(project: Any) -> None:
    two_migrations(project)
    metrics = project.root / "migrata.prom"
    assert project.run("up", "--metrics-file", str(metrics)).exit_code == 0
    assert project.run("up", "--metrics-file", str(metrics), "--url", "sqlite:///other.db").exit_code == 0
    assert project.run("down", "--metrics-file", str(metrics)).exit_code == 0
    values = parse_metrics(metrics.read_text())["values"]
    assert values[("migration_success_total", "app.db", "1")] == 1
    assert values[("migration_success_total", "other.db", "2")] == 1
    assert values[("migration_rollback_total", "app.db", "2")] == 1
    assert ("migration_rollback_total", "other.db", "2") not in values


class FakeGateway:
    """Records what is pushed (PUT replaces a group, POST replaces the pushed
    metric families in it) and serves GET /metrics as a Pushgateway does: every
    sample with its group's labels (job, grouping key) added."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, str, str]] = []
        self.groups: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self.lock = threading.Lock()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.command in ("PUT", "POST"):
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode("utf-8")
            parts = [unquote(p) for p in h.path.split("/")[2:]]
            labels = tuple(zip(parts[0::2], parts[1::2], strict=True))
            with self.lock:
                self.pushes.append((h.command, h.path, body))
                self.push(labels, body, replace=h.command == "PUT")
            h.send_response(200)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        with self.lock:
            text = self.exposition().encode("utf-8")
        h.send_response(200 if h.path == "/metrics" else 404)
        h.send_header("Content-Type", "text/plain; version=0.0.4")
        h.send_header("Content-Length", str(len(text)))
        h.end_headers()
        h.wfile.write(text)

    def push(self, labels: tuple[tuple[str, str], ...], body: str, *, replace: bool) -> None:
        group = {} if replace else self.groups.get(labels, {})
        for family in text_string_to_metric_families(body):
            group[family.name] = family
        self.groups[labels] = group

    def exposition(self) -> str:
        lines = []
        for labels, group in self.groups.items():
            for family in group.values():
                lines.append(f"# TYPE {family.name} {family.type}")
                for s in family.samples:
                    full = {**s.labels, **dict(labels), "instance": ""}
                    text = ",".join(f'{k}="{v}"' for k, v in sorted(full.items()))
                    lines.append(f"{s.name}{{{text}}} {s.value}")
            base = ",".join(f'{k}="{v}"' for k, v in sorted({**dict(labels), "instance": ""}.items()))
            lines.append(f"push_time_seconds{{{base}}} {time.time()}")
        return "\n".join(lines) + "\n"


def test_pushgateway_counters_accumulate(project: Any) -> None:
    two_migrations(project)
    gateway = FakeGateway()
    # another job's series with the same names must not be carried over
    gateway.push(
        (("job", "other"), ("database", "app.db")),
        '# TYPE migration_success_total counter\nmigration_success_total{database="app.db",version="1"} 7\n',
        replace=True,
    )
    with http_server(gateway.handle) as base:
        r = project.run("up", "--pushgateway", base)
        assert r.exit_code == 0, r.output
        assert len(gateway.pushes) == 1
        method, path, body = gateway.pushes[0]
        assert method in ("PUT", "POST") and path.startswith("/metrics/job/migrata")
        pushed = parse_metrics(body)["values"]
        assert counts(pushed, "migration_success_total") == {"1": 1, "2": 1}
        assert set(counts(pushed, "migration_duration_seconds")) == {"1", "2"}

        assert project.run("down", "--pushgateway", base).exit_code == 0
        assert project.run("up", "--pushgateway", base).exit_code == 0
        project.pair("000003", "broken", "INSERT INTO no_such_table VALUES (1);\n")
        assert project.run("up", "--pushgateway", base).exit_code == 1

        pushed = parse_metrics(gateway.pushes[-1][2])["values"]
        assert counts(pushed, "migration_success_total") == {"1": 1, "2": 2}
        assert counts(pushed, "migration_rollback_total") == {"2": 1}
        assert counts(pushed, "migration_failure_total") == {"3": 1}
        # what the gateway serves parses too, our job's series as pushed
        with __import__("urllib.request").request.urlopen(base + "/metrics", timeout=5) as resp:
            served = resp.read().decode()
    ours: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(served):
        for s in family.samples:
            if s.labels.get("job") == "migrata" and s.name in METRICS:
                ours[(s.name, s.labels["version"])] = s.value
    assert ours == {
        ("migration_success_total", "1"): 1,
        ("migration_success_total", "2"): 2,
        ("migration_rollback_total", "2"): 1,
        ("migration_failure_total", "3"): 1,
    }


def test_an_unreachable_pushgateway_does_not_fail_the_run(project: Any) -> None:
    two_migrations(project)
    r = project.run("up", "--pushgateway", f"http://127.0.0.1:{closed_port()}")
    assert r.exit_code == 0, r.output
    assert project.history() == ["1", "2"]
    assert "push" in r.stderr.lower()


# --- logs -------------------------------------------------------------------------------------


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            obj = json.loads(line)
            assert isinstance(obj, dict), line
            out.append(obj)
    return out


def test_log_format_json_gives_one_object_per_stderr_line(project: Any) -> None:
    two_migrations(project)
    r = project.run("up", "--log-format", "json", "--before-up", "echo stopping quota-proxy")
    assert r.exit_code == 0, r.output
    records = json_lines(r.stderr)
    assert len(records) >= 3
    for rec in records:
        assert {"time", "level", "message"} <= set(rec)
        assert rec["time"].endswith("Z") and "T" in rec["time"]
        assert rec["level"] in ("debug", "info", "warning", "error")
    messages = " | ".join(rec["message"] for rec in records)
    assert "stopping quota-proxy" in messages
    assert "1" in messages and "create_items" in messages
    # stdout stays the human result
    assert "Applied 2 migration(s)" in r.stdout


def test_log_format_json_error_lines_are_json_too(project: Any) -> None:
    two_migrations(project)
    project.pair("000003", "broken", "INSERT INTO no_such_table VALUES (1);\n")
    r = project.run("up", "--log-format", "json")
    assert r.exit_code == 1
    records = json_lines(r.stderr)
    assert any(rec["level"] == "error" and "000003_broken.up.sql" in rec["message"] for rec in records)


def test_log_file_is_appended_and_private(project: Any) -> None:
    two_migrations(project)
    log = project.root / "logs" / "migrata.log"
    r = project.run("up", "1", "--log-file", str(log))
    assert r.exit_code == 0, r.output
    assert log.stat().st_mode & 0o777 == 0o600
    first = log.read_text(encoding="utf-8")
    assert "applied 1" in first and "INFO" in first
    configure(project, f'log_file = "{log}"\nlog_format = "json"')
    r = project.run("up")
    assert r.exit_code == 0, r.output
    text = log.read_text(encoding="utf-8")
    assert text.startswith(first)
    new = json_lines(text[len(first) :])
    assert any("2" in rec["message"] and "add_tags" in rec["message"] for rec in new)
    assert log.stat().st_mode & 0o777 == 0o600


def test_log_file_records_the_error_of_a_failed_run(project: Any) -> None:
    two_migrations(project)
    project.pair("000003", "broken", "INSERT INTO no_such_table VALUES (1);\n")
    log = project.root / "migrata.log"
    r = project.run("up", "--log-file", str(log))
    assert r.exit_code == 1
    assert "000003_broken.up.sql" in log.read_text(encoding="utf-8")


def test_a_relative_log_file_is_relative_to_the_project_directory(
    project: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_migrations(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = project.run("up", "--log-file", "logs/migrata.log", "--metrics-file", "migrata.prom")
    assert r.exit_code == 0, r.output
    assert (project.root / "migrata.prom").is_file()
    assert not (elsewhere / "logs").exists()
    assert "applied 1" in (project.root / "logs" / "migrata.log").read_text(encoding="utf-8")


def _no_secret_anywhere(root: Path, *outputs: str) -> None:
    for text in outputs:
        assert SECRET not in text
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the password is in {path}"


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_server_password_appears_in_no_output_log_or_metrics(project: Any, scheme: str) -> None:
    two_migrations(project)
    project.write("000001_create_items.verify.sql", "SELECT 1;\n")
    url = f"{scheme}://app:{SECRET}@127.0.0.1:{closed_port()}/quota"
    outputs = []
    for command in (["up"], ["status"], ["doctor"], ["verify"], ["backup"], ["down"], ["up", "--json"]):
        r = project.run(
            *command,
            "--url",
            url,
            "--log-file",
            str(project.root / "logs" / "migrata.log"),
            "--metrics-file",
            "metrics.prom",
            "--on-failure",
            'echo "failed on $MIGRATA_DATABASE"',
        )
        assert r.exit_code != 0, (command, r.output)
        assert "Traceback" not in r.output
        outputs += [r.stdout, r.stderr]
    _no_secret_anywhere(project.root, *outputs)
    # the masked URL is still shown, so the user knows which database
    assert any("127.0.0.1:" in out for out in outputs)


def test_a_password_appears_in_no_output_log_metrics_hook_or_event(project: Any) -> None:
    two_migrations(project)
    project.write("000002_add_tags.verify.sql", "SELECT COUNT(*) FROM tags;\n")
    url = f"sqlite:///app.db?password={SECRET}"
    outputs = []
    with http_server(answer(200)) as base:
        health = base + f"/healthz?password={SECRET}"
        args = [
            "--url",
            url,
            "--log-file",
            str(project.root / "migrata.log"),
            "--metrics-file",
            "migrata.prom",
            "--health-url",
            health,
            "--pushgateway",
            f"http://push:{SECRET}@127.0.0.1:{closed_port()}",
        ]
        for command in (
            ["up", "--backup", "--verify", "--before-up", 'echo "stopping, db $MIGRATA_DATABASE"'],
            ["status"],
            ["history"],
            ["info", "--json"],
            ["verify"],
            ["doctor", "--json"],
            ["backup"],
            ["backups", "--json"],
            ["down", "--after-down", f'echo "done with postgresql://app:{SECRET}@db/quota"'],
            ["up", "--log-format", "json", "--after-up", 'echo "$MIGRATA_DATABASE"; exit 1'],
        ):
            r = project.run(*command, *args)
            outputs += [r.stdout, r.stderr]
        r = project.run("restore", "--yes", *args)
        assert r.exit_code == 0, r.output
        outputs += [r.stdout, r.stderr]
    joined = "\n".join(outputs)
    assert "password=***" in joined
    assert "stopping, db sqlite:///app.db?password=***" in joined
    _no_secret_anywhere(project.root, *outputs)
    events = project.sql("SELECT * FROM migrata_events")
    assert "restore" in {e[2] for e in events} and SECRET not in repr(events)


def test_config_masks_a_password_in_the_health_url(project: Any) -> None:
    r = project.run("config", "--health-url", f"http://monitor:{SECRET}@127.0.0.1:8787/healthz")
    assert r.exit_code == 0, r.output
    assert "monitor:***@127.0.0.1:8787" in r.stdout
    assert SECRET not in r.output


def test_health_check_with_credentials_in_the_url(project: Any) -> None:
    import base64

    expected = "Basic " + base64.b64encode(f"monitor:{SECRET}".encode()).decode()

    def handle(h: BaseHTTPRequestHandler) -> None:
        answer(200 if h.headers.get("Authorization") == expected else 401)(h)

    with http_server(handle) as base:
        url = base.replace("http://", f"http://monitor:{SECRET}@") + "/healthz"
        r = project.run("verify", "--health-url", url, "--health-timeout", "1s")
    assert r.exit_code == 0, r.output
    assert SECRET not in r.output


# --- doctor ---------------------------------------------------------------------------------

CHECKS = ["config", "connection", "privileges", "backup tools", "disk", "lock", "migrations"]


def doctor(project: Any, *args: str) -> tuple[int, dict[str, Any], dict[str, dict[str, str]]]:
    r = project.run("doctor", "--json", *args)
    data = json.loads(r.stdout)
    return r.exit_code, data, {c["name"]: c for c in data["checks"]}


def test_doctor_on_sqlite_all_ok(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    r = project.run("doctor")
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(CHECKS) + 1
    for line, name in zip(lines, CHECKS, strict=False):
        assert line.startswith("ok") and name in line, line
    assert lines[-1] == "ready to migrate"
    code, data, checks = doctor(project)
    assert code == 0
    assert data["ready"] is True and data["database"] == "sqlite:///app.db"
    assert list(checks) == CHECKS
    assert all(c["status"] == "ok" for c in checks.values())
    assert "sqlite" in checks["connection"]["detail"]
    assert "at 2, 0 pending" in checks["migrations"]["detail"]


def test_doctor_reports_pending_edited_and_failed_migrations(project: Any) -> None:
    two_migrations(project)
    assert project.run("up", "1").exit_code == 0
    # pending migrations are what a deploy brings: reported, not a failure
    code, data, checks = doctor(project)
    assert code == 0 and data["ready"] is True
    assert checks["migrations"]["status"] == "ok" and "1 pending" in checks["migrations"]["detail"]
    # an applied file edited afterwards: not ready
    path = project.migrations / "000001_create_items.up.sql"
    path.write_text(path.read_text() + "-- edited\n")
    r = project.run("doctor")
    assert r.exit_code == 3, r.output
    [fail] = [line for line in r.stdout.splitlines() if line.startswith("fail")]
    assert "migrations" in fail and "1 create_items" in fail and "edited" in fail
    assert r.stdout.strip().endswith("NOT ready to migrate")
    code, data, checks = doctor(project)
    assert code == 3 and data["ready"] is False and checks["migrations"]["status"] == "fail"


def test_doctor_reports_a_failed_run(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    project.write(
        "000003_half.up.sql",
        "-- migrata:no-transaction\nCREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
    )
    assert project.run("up").exit_code == 1
    code, data, checks = doctor(project)
    assert code == 3 and data["ready"] is False
    assert checks["migrations"]["status"] == "fail" and "3" in checks["migrations"]["detail"]


def test_doctor_changes_nothing(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    before = project.db.read_bytes()
    assert project.run("doctor").exit_code == 0
    assert project.db.read_bytes() == before


def test_doctor_on_a_new_project_creates_no_database(project: Any) -> None:
    two_migrations(project)
    r = project.run("doctor")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("ready to migrate")
    code, data, checks = doctor(project)
    assert code == 0 and data["ready"] is True
    assert checks["connection"]["status"] == "warn" and "does not exist" in checks["connection"]["detail"]
    assert not project.db.exists()
    assert project.run("up").exit_code == 0


HOLDER = '''
"""holds the migration lock until told to stop"""
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def up(ctx):
    ctx.execute("CREATE TABLE held (x INTEGER)")
    # written whole, then renamed: whoever sees the file can read the pid
    (ROOT / "holder-started.tmp").write_text(str(os.getpid()))
    (ROOT / "holder-started.tmp").rename(ROOT / "holder-started")
    deadline = time.monotonic() + 60
    while not (ROOT / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
'''


@contextlib.contextmanager
def lock_held(project: Any) -> Iterator[subprocess.Popen[str]]:
    """Another process running `migrata up`, inside a migration, holding the lock."""
    project.write("000003_hold.py", HOLDER)
    proc = project.popen("up")
    try:
        started = project.root / "holder-started"
        wait_for(lambda: started.exists() or proc.poll() is not None, 60, "the lock holder to start")
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        yield proc
    finally:
        (project.root / "release").touch()
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stderr:
                proc.stderr.close()


def test_doctor_warns_when_the_lock_is_held(project: Any) -> None:
    two_migrations(project)
    assert project.run("up").exit_code == 0
    configure(project, 'lock_timeout = "1s"')
    with lock_held(project) as proc:
        code, data, checks = doctor(project)
    assert checks["lock"]["status"] == "warn"
    assert f"pid {proc.pid}" in checks["lock"]["detail"]
    assert proc.returncode == 0


def test_doctor_with_the_lock_held_answers_at_once(project: Any) -> None:
    """doctor reports the holder instead of waiting for the lock: it answers
    while the holding migration still runs, though lock_timeout would let it
    wait ten minutes (the holder gives up after one: a doctor that waited
    finds migration 3 applied)."""
    two_migrations(project)
    assert project.run("up").exit_code == 0
    configure(project, 'lock_timeout = "600s"')
    with lock_held(project) as proc:
        code, data, checks = doctor(project)
        assert proc.poll() is None and "3" not in project.history(), "doctor waited for the running migration"
    assert checks["lock"]["status"] == "warn"
    assert checks["privileges"]["status"] in ("skip", "warn"), checks["privileges"]
    assert code == 0 and data["ready"] is True


# --- doctor on the servers ---------------------------------------------------------------------

TOOLS = {"postgresql": ("pg_dump", "postgresql-client"), "mysql": ("mariadb-dump", "mariadb-client")}


@pytest.fixture(params=["postgresql", "mysql"])
def server_url(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param) as url:
        yield request.param, url


def _server_doctor(root: Path, url: str, *args: str) -> tuple[int, dict[str, Any], dict[str, dict[str, str]]]:
    r = run_cli(["-C", str(root), "--url", url, "doctor", "--json", *args])
    data = json.loads(r.stdout)
    return r.exit_code, data, {c["name"]: c for c in data["checks"]}


def _server_tables(dialect: str, url: str) -> set[str]:
    if dialect == "postgresql":
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            ).fetchall()
    else:
        import pymysql

        from migrata.backends.base import DatabaseURL

        u = DatabaseURL.parse(url)
        conn = pymysql.connect(host=u.host, port=u.port or 3306, user=u.username or "root", database=u.database)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
                rows = cur.fetchall()
        finally:
            conn.close()
    return {r[0] for r in rows}


def test_doctor_on_a_server(project: Any, server_url: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    dialect, url = server_url
    project.pair("000001", "create_items", "CREATE TABLE items (id INTEGER PRIMARY KEY);\n", "DROP TABLE items;\n")
    code, data, checks = _server_doctor(project.root, url)
    assert code == 0, data
    assert list(checks) == CHECKS
    assert all(c["status"] == "ok" for c in checks.values()), checks
    assert dialect in checks["connection"]["detail"]
    tool, package = TOOLS[dialect]
    assert tool in checks["backup tools"]["detail"]
    assert "at base, 1 pending" in checks["migrations"]["detail"]
    # the privilege probe left nothing behind
    assert _server_tables(dialect, url) == set()

    # without the client tools on PATH: a warning naming the package; a failure when backups are on
    empty = project.root / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, data, checks = _server_doctor(project.root, url)
    assert code == 0 and checks["backup tools"]["status"] == "warn"
    assert tool in checks["backup tools"]["detail"] and package in checks["backup tools"]["detail"]
    code, data, checks = _server_doctor(project.root, url, "--backup")
    assert code == 3 and data["ready"] is False
    assert checks["backup tools"]["status"] == "fail" and package in checks["backup tools"]["detail"]
    r = run_cli(["-C", str(project.root), "--url", url, "doctor", "--restore-on-failure"])
    assert r.exit_code == 3 and package in r.stdout and "NOT ready to migrate" in r.stdout


def test_doctor_on_an_unreachable_server(project: Any) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:{closed_port()}/quota"
    r = project.run("doctor", "--url", url)
    assert r.exit_code == 3, r.output
    assert r.stdout.splitlines()[1].startswith("fail") and "connection" in r.stdout
    assert r.stdout.strip().endswith("NOT ready to migrate")
    assert SECRET not in r.output


def test_doctor_on_postgresql_without_create_privilege(project: Any) -> None:
    with fresh_database("postgresql") as url:
        import psycopg

        role = f"migrata_ro_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {role}")
        try:
            ro_url = url.replace("postgres@", f"{role}@", 1)
            assert ro_url != url
            code, data, checks = _server_doctor(project.root, ro_url)
            assert checks["connection"]["status"] == "ok"
            assert checks["privileges"]["status"] == "fail", checks["privileges"]
            assert code == 3 and data["ready"] is False
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
                conn.execute(f"DROP ROLE {role}")
