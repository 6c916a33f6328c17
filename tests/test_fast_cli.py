"""status, check and current answer without click: same parsing rules, same
output, same exit codes as the click commands."""

from __future__ import annotations

import contextlib
import io

import pytest

from migrata.cli import _run_click
from migrata.cli.argv import parse_reporting
from migrata.cli.fast import run as run_fast


def test_parses_options_before_and_after_the_command() -> None:
    assert parse_reporting(["--url", "a", "status", "--url", "b", "--json"]) == ("status", {"url": "b"}, True)
    assert parse_reporting(["-C/tmp", "--migrations=m", "check"]) == (
        "check",
        {"directory": "/tmp", "migrations": "m"},
        False,
    )
    assert parse_reporting(["-q", "version", "-qv"]) == ("current", {"quiet": 2, "verbose": 1}, False)
    assert parse_reporting(["status", "--log-level", "INFO", "--no-backup"]) == (
        "status",
        {"log_level": "info", "backup": False},
        False,
    )
    assert parse_reporting(["--file-pattern", "a", "status", "--file-pattern", "b", "--file-pattern", "c"]) == (
        "status",
        {"file_pattern": ["b", "c"]},
        False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["up"],
        ["status", "--help"],
        ["--version"],
        ["status", "extra"],
        ["--json", "status"],  # --json belongs to the command: click's message
        ["status", "--url"],
        ["status", "--log-format", "xml"],
        ["status", "--verify=yes"],
        ["status", "--no-such-option"],
        [],
    ],
)
def test_anything_else_goes_to_click(args: list[str]) -> None:
    assert parse_reporting(args) is None


def _capture(fn, args: list[str]) -> tuple[int | None, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = fn(args)
        except Exception as exc:  # noqa: BLE001 - compared between the two paths
            code = None
            err.write(f"{type(exc).__name__}: {exc}")
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["status", "check", "current", "version"])
@pytest.mark.parametrize("as_json", [False, True])
@pytest.mark.parametrize("state", ["empty", "pending", "applied", "broken"])
def test_fast_path_prints_what_click_prints(project, command: str, as_json: bool, state: str) -> None:
    if state != "empty":
        project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
        project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
    if state in ("applied", "broken"):
        assert project.run("up", "1").exit_code == 0
    if state == "broken":
        project.write("0003_three.up.sql", "")  # an empty migration
    args = ["-C", str(project.root), command] + (["--json"] if as_json else [])
    fast = _capture(run_fast, args)
    slow = _capture(_run_click, args)
    assert fast == slow
    if state == "pending" and command == "check":
        assert fast[0] == 5


def test_errors_go_through_the_same_handler(project) -> None:
    res = project.run("status", "--url", "nosuch://x")
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ")
    assert "Traceback" not in res.stderr


def test_status_loads_neither_click_nor_logging(project) -> None:
    import json
    import subprocess
    import sys

    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    probe = (
        "import sys\nfrom migrata.cli import main\n"
        f"sys.argv = ['migrata', '-C', {str(project.root)!r}, 'status']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json\nprint(json.dumps(sorted({'click', 'logging', 'rich'} & set(sys.modules))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "Pending:  1" in out
    assert json.loads(out.strip().splitlines()[-1]) == []


def test_logging_still_reaches_stderr_when_a_command_logs(project) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    res = project.run("-v", "up")
    assert res.exit_code == 0
    assert "applied 1 one" in res.stderr
