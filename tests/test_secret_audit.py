"""No test password shows anywhere (issue 16, "How we will know").

* The suite-wide check (conftest.py, tests/_secrets.py) looks at the output
  of every command the suite runs and at every file migrata writes in a
  test's folder; the first tests here prove the check can fail.
* The battery: every command that prints, with ``--json``, ``-v``/``--debug``
  logs, a JSON log file and a metrics file, a failing migration, a backup
  and its listing, against a real PostgreSQL and MariaDB database that logs
  in with a password holding ``/``, ``#``, ``?`` or ``@`` (each alone, then
  all at once); then the output, the files, and migrata's history and
  event rows are searched for every piece of the password.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import migrata.testing
from _secrets import TEST_SECRETS, assert_no_leak, assert_no_leak_in_files, leaks
from migrata.testing import run_cli
from test_config_inputs import SPECIAL_PASSWORDS, _query, url_with_password

# --- the check itself --------------------------------------------------------------------------


def test_the_suite_checks_every_command_it_runs(tmp_path: Path) -> None:
    import conftest

    assert migrata.testing.run_cli is conftest.run_cli
    assert run_cli is conftest.run_cli
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / f"1_{TEST_SECRETS[2]}.up.sql").write_text("SELECT 1;\n", encoding="utf-8")
    with pytest.raises(AssertionError) as caught:  # `status` names the migration: the check fires
        run_cli(["-C", str(tmp_path), "--url", "sqlite:///app.db", "status"])
    assert TEST_SECRETS[2] not in str(caught.value)  # the report masks what it found


def test_the_check_finds_a_password_in_a_written_file(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "m.log").write_text(f"connected with {SPECIAL_PASSWORDS[0]}\n", encoding="utf-8")
    with pytest.raises(AssertionError):
        assert_no_leak_in_files(tmp_path)
    (tmp_path / "logs" / "m.log").unlink()
    assert leaks(SPECIAL_PASSWORDS[-1]) and not leaks("Xk9q")


# --- the battery --------------------------------------------------------------------------------

PRINTING = [
    ["up", "--json", "--dry-run"],
    ["up", "--sql"],
    ["-v", "up", "--json"],
    ["status"],
    ["status", "--json"],
    ["info", "--json"],
    ["current"],
    ["history", "--json"],
    ["config"],
    ["config", "--json"],
    ["lock", "status", "--json"],
    ["validate", "--json"],
    ["check", "--json"],
    ["doctor", "--json"],
    ["verify", "--json"],
    ["backup", "--json"],
    ["backups", "--json"],
    ["--debug", "-v", "down", "--json"],
    ["repair", "--json"],
]


def run_battery(root: Path, url: str) -> list[str]:
    """Every printing command against ``url``, then a failing migration with
    --debug and -v; the outputs."""
    log, metrics = root / "logs" / "migrata.log", root / "metrics" / "migrata.prom"
    metrics.parent.mkdir(exist_ok=True)
    common = ["--url", url, "--log-file", str(log), "--log-format", "json", "--metrics-file", str(metrics)]
    outputs = []
    for args in PRINTING:
        r = run_cli(["-C", str(root), *common, *args])
        assert r.exit_code in (0, 3), f"{args}: exit {r.exit_code}"  # doctor may miss a backup tool
        outputs.append(r.stdout + r.stderr)
    (root / "migrations" / "3_c.up.sql").write_text("SELECT * FROM no_such_table;\n", encoding="utf-8")
    for args in (["--debug", "up", "--json"], ["-v", "up"], ["status", "--json"], ["repair"]):
        r = run_cli(["-C", str(root), *common, *args])
        assert r.exit_code in (0, 1, 3), f"{args}: exit {r.exit_code}"  # up fails; the others report
        outputs.append(r.stdout + r.stderr)
    return outputs


@pytest.mark.parametrize("password", SPECIAL_PASSWORDS, ids=["slash", "hash", "question", "at", "all"])
@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_no_output_log_event_or_file_shows_the_password(tmp_path: Path, dialect: str, password: str) -> None:
    root = tmp_path / "proj"
    (root / "migrations").mkdir(parents=True)
    (root / "migrata.toml").write_text('migrations = "migrations"\nbackup_dir = "backups"\n', encoding="utf-8")
    for version, table in (("1", "a"), ("2", "b")):
        (root / "migrations" / f"{version}_{table}.up.sql").write_text(f"CREATE TABLE {table} (x INTEGER);\n")
        (root / "migrations" / f"{version}_{table}.down.sql").write_text(f"DROP TABLE {table};\n")
    with url_with_password(dialect, password) as url:
        outputs = run_battery(root, url)
        rows: list[Any] = _query(url, "SELECT * FROM migrata_events") + _query(url, "SELECT * FROM migrata_history")
    assert len(rows) > 6, "the commands left no events or history"
    joined = "\n".join(outputs)
    assert "***" in joined, "the URL is shown masked somewhere"
    for text in (joined, repr(rows)):
        assert_no_leak(text, "the battery")
    assert "***" in json.loads(outputs[PRINTING.index(["status", "--json"])])["database"]
    log = (root / "logs" / "migrata.log").read_text(encoding="utf-8")
    assert log.strip(), "the log file is empty"
    assert_no_leak(log, "the log file")
    assert any((root / "backups").iterdir()), "no backup was written"
    assert_no_leak_in_files(root)
