"""examples/prefab-gateway on a real MariaDB: the guide's db-init /
db-migrate / db-upgrade / downgrade -1 flow done with migrata's commands
(`db create` + `up`, `autogenerate`, `up`, `down -1`), as its README says."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from migrata.testing.plugin import fresh_database

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "prefab-gateway"


def migrata(project: Path, url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MIGRATA_DATABASE_URL", "MIGRATA_ENV")}
    env = {**base, **(env or {}), "DATABASE_URL": url}
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


def _guide_fernet(passphrase: str) -> Any:
    """The key as the guide derives it from ENCRYPTION_KEY."""
    from cryptography.fernet import Fernet

    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))


def test_prefab_gateway_secrets_encrypted_and_rotated(tmp_path: Path) -> None:
    """README, encrypted user secrets: load the plaintext secrets, encrypt
    them, rotate ENCRYPTION_KEY; every row decrypts with the new key alone."""
    project = tmp_path / "prefab-gateway"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    records = json.loads((EXAMPLE / "data" / "user_secrets.json").read_text())
    first, second = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with fresh_database("mysql", directory=tmp_path) as url:
        ok(migrata(project, url, "up"))
        out = ok(migrata(project, url, "data", "load", "data/user_secrets.json", "--table", "user_secrets"))
        assert "Loaded 5 row(s)" in out
        env = {"ENCRYPTION_KEY": first}
        res = migrata(project, url, "crypto", "encrypt", "--table", "user_secrets", "--column", "secret_value", env=env)
        assert "5 encrypted" in ok(res) and "OLD_ENCRYPTION_KEY is not set" in res.stderr
        stored = dict(sql(url, "SELECT id, secret_value FROM user_secrets"))
        assert {i: _guide_fernet(first).decrypt(v.encode()).decode() for i, v in stored.items()} == {
            r["id"]: r["secret_value"] for r in records
        }
        env = {"ENCRYPTION_KEY": second, "OLD_ENCRYPTION_KEY": first}
        out = ok(migrata(project, url, "crypto", "rotate", "--table", "user_secrets", "--column", "secret_value",
                         env=env))  # fmt: skip
        assert "5 re-encrypted, 0 skipped" in out
        new = _guide_fernet(second)
        for i, value in sql(url, "SELECT id, secret_value FROM user_secrets"):
            assert new.decrypt(value.encode()).decode() == records[int(i) - 1]["secret_value"]
        for output in (out, res.stdout, res.stderr):
            assert first not in output and second not in output
            assert not any(r["secret_value"] in output for r in records)


def sql(url: str, query: str) -> list[tuple[Any, ...]]:
    from migrata.backends.base import DatabaseURL
    from migrata.backends.registry import create_backend

    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        return backend.query(query)
    finally:
        backend.close()
