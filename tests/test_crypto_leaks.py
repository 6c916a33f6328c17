"""Secrets never leak: keys, derived keys and plaintexts appear in no output,
log line (text or JSON, at debug level), event, metric, history row,
checkpoint, JSON result or error of any crypto path, the failing ones
included. Every command runs as a real ``migrata`` process; everything it
printed or wrote is then grepped for every secret of the test."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing.plugin import fresh_database

MIGRATION = '''
"""encrypt, rotate and check the secrets"""
transactional = False


def up(ctx):
    ctx.backfill("secrets", fn=ctx.crypto.encrypt_row("value"), batch_size=4)
    ctx.log.debug("crypto is %r", ctx.crypto)
    ctx.backfill("secrets", name="check", fn=lambda row: ctx.crypto.decrypt(row["value"]) and None)
'''

BROKEN = '''
"""decrypt a value no key knows: the error names no value"""
transactional = False


def up(ctx):
    for (value,) in ctx.query("SELECT value FROM strangers"):
        ctx.crypto.decrypt(value)
'''


def derived(passphrase: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()).decode()


def run(project: Path, env: dict[str, str], *args: str) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATA_")}
    res = subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project), "--debug", *args],
        capture_output=True,
        text=True,
        env={**full, **env},
        timeout=300,
    )
    return f"$ migrata {' '.join(args)} -> {res.returncode}\n{res.stdout}\n{res.stderr}\n"


def dump(url: str) -> str:
    """Every row of migrata's own tables, as text."""
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        text = []
        for table in ("migrata_history", "migrata_events", "migrata_backfills"):
            text += [repr(row) for row in backend.query(f"SELECT * FROM {table}")]
        return "\n".join(text)
    finally:
        backend.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_no_key_derived_key_or_plaintext_in_anything_migrata_writes(dialect: str, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "migrations").mkdir(parents=True)
    old_pass, new_pass, stranger = "old passphrase " * 3, "new passphrase " * 3, Fernet.generate_key().decode()
    plaintexts = [f"plaintext-secret-{i:03d}-{os.urandom(4).hex()}" for i in range(1, 13)]
    secrets = [old_pass.strip(), new_pass.strip(), derived(old_pass.strip()), derived(new_pass.strip()), stranger]
    secrets += plaintexts
    with fresh_database(dialect, directory=tmp_path) as url:
        (project / "migrata.toml").write_text(
            f'url = "{url}"\nlog_format = "json"\nlog_file = "migrata.log"\nmetrics_file = "metrics.prom"\n'
            '[crypto]\nkeys = ["env:T_KEY", "env:T_OLD"]\nderive = "sha256"\n'
        )
        (project / "migrations" / "000001_secrets.up.sql").write_text(
            "CREATE TABLE secrets (id INTEGER PRIMARY KEY, value TEXT);\n"
            "CREATE TABLE strangers (id INTEGER PRIMARY KEY, value TEXT);\n"
            + "".join(f"INSERT INTO secrets (id, value) VALUES ({i}, '{p}');\n" for i, p in enumerate(plaintexts, 1))
            + f"INSERT INTO strangers (id, value) VALUES (1, '{Fernet(stranger).encrypt(b'x').decode()}');\n"
        )
        (project / "migrations" / "000002_encrypt.py").write_text(MIGRATION)
        old = {"T_KEY": old_pass}
        rotated = {"T_KEY": new_pass, "T_OLD": old_pass}
        out = run(project, old, "up", "2", "--json")
        out += run(project, rotated, "crypto", "rotate", "--table", "secrets", "--column", "value", "--json")
        out += run(project, rotated, "crypto", "rotate", "--table", "secrets", "--column", "value")
        out += run(project, {"T_KEY": stranger}, "crypto", "rotate", "--table", "secrets", "--column", "value")
        out += run(project, {"T_KEY": "not a key"}, "crypto", "encrypt", "--table", "secrets", "--column", "value")
        (project / "migrations" / "000003_broken.py").write_text(BROKEN)
        out += run(project, rotated, "up", "--sql")  # refused: a Python migration
        out += run(project, rotated, "up")
        out += run(project, rotated, "history", "--json")
        out += run(project, rotated, "config", "--json")
        out += run(project, rotated, "status", "--json")
        written = dump(url)
    log_text = (project / "migrata.log").read_text()
    metrics = (project / "metrics.prom").read_text()
    # the flows ran: rotations counted, the broken migration failed with InvalidToken, logs and metrics written
    assert '"done": 12' in out and "InvalidToken" in out and "-> 1" in out and "--sql cannot write" in out
    assert "crypto-rotate" in written and "backfill" in log_text and "migration_success_total" in metrics
    everything = out + log_text + metrics + written
    leaked = [s[:12] + "..." for s in secrets if s in everything]
    assert not leaked, f"secrets found in migrata's output, logs, events or metrics: {leaked}"
