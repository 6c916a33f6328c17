"""examples/prefab-gateway on a real MariaDB: the guide's db-init /
db-migrate / db-upgrade / downgrade -1 flow done with migrata's commands
(`db create` + `up`, `autogenerate`, `up`, `down -1`), as its README says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from migrata.testing.plugin import fresh_database

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "prefab-gateway"


def migrata(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MIGRATA_DATABASE_URL", "MIGRATA_ENV")}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_prefab_gateway_flow(tmp_path: Path) -> None:
    project = tmp_path / "prefab-gateway"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    with fresh_database("mysql", directory=tmp_path) as url:
        ok(migrata(project, url, "up"))  # db-init
        out = ok(migrata(project, url, "autogenerate", "add_webhook_events"))  # db-migrate
        assert "table webhook_events: only in models" in out
        up_sql = (project / "migrations" / "000002_add_webhook_events.up.sql").read_text()
        assert "CREATE TABLE webhook_events" in up_sql and "JSON" in up_sql
        ok(migrata(project, url, "up"))  # db-upgrade
        diff = json.loads(ok(migrata(project, url, "diff", "--json")))
        assert diff["drift"] is False and len(diff["comparisons"]) == 2
        columns = migrata(project, url, "status", "--json")
        assert json.loads(ok(columns))["current"] == "2"
        ok(migrata(project, url, "down", "-1"))  # alembic downgrade -1
        assert json.loads(ok(migrata(project, url, "status", "--json")))["current"] == "1"
        again = json.loads(migrata(project, url, "diff", "--json").stdout)
        assert again["comparisons"][0]["differences"] == []  # the database is back at 000001
        assert again["drift"] is False  # and the migrations (000002 included) still match the models
