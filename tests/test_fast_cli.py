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


def _normalized(result: tuple[int | None, str, str], root: str) -> tuple[int | None, str, str]:
    import os
    import re

    def clean(text: str) -> str:
        text = text.replace(root, "ROOT").replace(os.path.relpath(root), "ROOT")  # dry-run tables print paths relative
        text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z?", "TIME", text)
        text = re.sub(r"\bin \d+\.\d\ds\b", "in Ts", text)
        text = re.sub(r"\(\d+ ms\)", "(T ms)", text)
        return re.sub(r'"(duration_ms|lock_wait_ms)": \d+', r'"\1": 0', text)

    code, out, err = result
    return code, clean(out), clean(err)


@pytest.mark.parametrize(
    "args",
    [
        ["up"],
        ["up", "1"],
        ["up", "--steps", "1"],
        ["-q", "up"],
        ["up", "--dry-run"],
        ["up", "--sql"],
        ["up", "--json"],
        ["migrate"],
        ["down", "--applied"],  # (marker: both migrations applied first)
        ["down", "base", "--applied"],
        ["down", "--steps", "2", "--dry-run", "--applied"],
        ["rollback", "--json", "--applied"],
        ["up", "nosuch"],
    ],
)
def test_up_and_down_print_what_click_prints(tmp_path, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    from conftest import Project

    applied = "--applied" in args
    args = [a for a in args if a != "--applied"]
    results = []
    for which, fn in (("fast", run_fast), ("click", _run_click)):
        project = Project(tmp_path / which / "proj")
        project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
        project.pair("2", "two", "CREATE TABLE two (id INTEGER);", "DROP TABLE two;")
        if applied:
            assert project.run("up").exit_code == 0
        results.append((project, _normalized(_capture(fn, ["-C", str(project.root), *args]), str(project.root))))
    (fast_project, fast), (click_project, slow) = results
    assert fast == slow
    assert fast_project.history() == click_project.history()


@pytest.mark.parametrize(
    "args",
    [["up", "1", "2"], ["up", "--steps", "0"], ["up", "--steps=1"], ["up", "--help"], ["down", "--force"]],
)
def test_up_and_down_leave_the_rest_to_click(args: list[str]) -> None:
    from migrata.cli.argv import parse_fast

    assert parse_fast(args) is None


def test_up_loads_no_click(project) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    probe = (
        "import sys\nfrom migrata.cli import main\n"
        f"sys.argv = ['migrata', '-C', {str(project.root)!r}, 'up']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import json\nprint(json.dumps(sorted({'click', 'rich'} & set(sys.modules))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "Applied 1 migration(s)" in out
    assert json.loads(out.strip().splitlines()[-1]) == []
    assert project.history() == ["1"]
