"""Envelope encryption: data keys in ``kms_data_keys``, as the kratos guide
keeps them, generated, rotated and retired by ``migrata crypto``.

The kratos example runs end to end on PostgreSQL (its README section 6);
the same commands run on SQLite with a provider hook as the KEK. Values are
read back here with ``cryptography`` itself: the data key unwrapped with the
root key, checked against ``key_hash``, then AES-256-GCM.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import run_cli
from migrata.testing.plugin import fresh_database

KRATOS = Path(__file__).resolve().parent.parent / "examples" / "kratos"


def migrata(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("MIGRATA_DATABASE_URL", "MIGRATA_ENV", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project), *args],
        capture_output=True,
        text=True,
        env={**full, **env},
        timeout=300,
    )


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in backend.query(sql)]
    finally:
        backend.close()


def data_keys(url: str, root: bytes) -> dict[int, bytes]:
    """Every data key, unwrapped with the root key and checked against key_hash."""
    keys = {}
    for version, wrapped, key_hash in query(url, "SELECT version, encrypted_key, key_hash FROM kms_data_keys"):
        plain = Fernet(root).decrypt(bytes(wrapped))
        assert hashlib.sha256(plain).hexdigest() == key_hash
        keys[int(version)] = plain
    return keys


def open_value(keys: dict[int, bytes], blob: bytes) -> tuple[int, bytes]:
    """(data-key version, plaintext) of an envelope value."""
    assert blob[:1] == b"\x01"
    version = int.from_bytes(blob[1:5], "big")
    return version, AESGCM(keys[version]).decrypt(blob[5:17], blob[17:], blob[:5])


def test_kratos_example_generates_rotates_and_retires_data_keys(tmp_path: Path) -> None:
    project = tmp_path / "kratos"
    shutil.copytree(KRATOS, project)
    root = Fernet.generate_key()
    with fresh_database("postgresql", directory=tmp_path) as url:
        env = {"DATABASE_URL": url, "KMS_ROOT_KEY": root.decode()}
        toml = (project / "migrata.toml").read_text().replace('url = "postgresql://postgres@127.0.0.1:5432/kratos"', "")
        (project / "migrata.toml").write_text(toml)
        ok(migrata(project, env, "up"))
        people = {i: (f"user{i}@example.com", f"+86 138 0000 {i:04d}") for i in range(1, 201)}
        backend = create_backend(DatabaseURL.parse(url))
        backend.connect()
        try:
            for i, (email, phone) in people.items():
                backend.execute(
                    "INSERT INTO users (id, username, password, email_encrypted, phone_encrypted) "
                    "VALUES (%s, %s, 'x', %s, %s)",
                    (i, f"u{i}", email.encode(), phone.encode()),
                )
        finally:
            backend.close()

        first = json.loads(ok(migrata(project, env, "crypto", "rotate-data-key", "--json")))
        assert first["created"] == 1 and first["active"] == 1
        assert first["keys"][0]["expires_at"]  # data_key_lifetime
        for column in ("email_encrypted", "phone_encrypted"):
            res = json.loads(ok(migrata(project, env, "crypto", "encrypt", "--envelope", "--table", "users",
                                        "--column", column, "--batch-size", "64", "--json")))  # fmt: skip
            assert (res["done"], res["skipped"], res["failed"]) == (200, 0, 0)
        second = json.loads(ok(migrata(project, env, "crypto", "rotate-data-key", "--json")))
        assert second["active"] == 2
        assert {k["version"]: k["status"] for k in second["keys"]} == {1: "inactive", 2: "active"}

        kept = json.loads(ok(migrata(project, env, "crypto", "retire-data-keys", "--column", "users.email_encrypted",
                                     "--json")))  # fmt: skip
        assert kept["retired"] == [] and kept["kept"] == {"1": 200}  # still needed: not retired

        unknown = b"\x01" + (99).to_bytes(4, "big") + os.urandom(40)
        backend = create_backend(DatabaseURL.parse(url))
        backend.connect()
        try:
            backend.execute("UPDATE users SET email_encrypted = %s WHERE id = 7", (unknown,))
        finally:
            backend.close()
        for column in ("email_encrypted", "phone_encrypted"):
            out = migrata(project, env, "crypto", "rotate", "--envelope", "--table", "users", "--column", column,
                          "--json")  # fmt: skip
            res = json.loads(ok(out))
            if column == "email_encrypted":
                assert (res["done"], res["failed"], res["failed_keys"]) == (199, 1, [7])
                assert "InvalidToken" in out.stderr
            else:
                assert (res["done"], res["skipped"], res["failed"]) == (200, 0, 0)

        stats = dict(query(url, "SELECT status, key_count FROM kms_key_stats"))
        assert stats == {"active": 1, "inactive": 1}
        both = ("--column", "users.email_encrypted", "--column", "users.phone_encrypted")
        retired = json.loads(ok(migrata(project, env, "crypto", "retire-data-keys", *both, "--json")))
        assert retired["retired"] == [1] and retired["kept"] == {}
        assert dict(query(url, "SELECT version, status FROM kms_data_keys")) == {1: "revoked", 2: "active"}

        keys = data_keys(url, root)
        newest = {2: keys[2]}  # the newest data key alone decrypts every value
        for i, email, phone in query(url, "SELECT id, email_encrypted, phone_encrypted FROM users ORDER BY id"):
            assert open_value(newest, phone) == (2, people[i][1].encode())
            if i == 7:
                assert email == unknown  # reported, not lost
            else:
                assert open_value(newest, email) == (2, people[i][0].encode())

        wrong = {**env, "KMS_ROOT_KEY": Fernet.generate_key().decode()}
        bad = migrata(
            project, wrong, "crypto", "rotate", "--envelope", "--table", "users", "--column", "phone_encrypted"
        )
        assert bad.returncode == 2 and "does not unwrap with the key-encryption key" in bad.stderr
        assert "Traceback" not in bad.stderr


PROVIDER = """
import os

from cryptography.fernet import Fernet


class Client:
    calls = 0

    def __init__(self):
        self._f = Fernet(os.environ["T_KMS_SECRET"])

    def encrypt(self, data):
        return self._f.encrypt(data)

    def decrypt(self, data):
        return self._f.decrypt(data)


def client():
    return Client()
"""

KEYS_TABLE = """
CREATE TABLE kms_data_keys (
    id VARCHAR(36) PRIMARY KEY, version INTEGER NOT NULL, algorithm VARCHAR(50) NOT NULL DEFAULT 'AES-256-GCM',
    encrypted_key BLOB NOT NULL, key_hash VARCHAR(64) NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, expires_at TIMESTAMP NULL
);
CREATE TABLE notes (id INTEGER PRIMARY KEY, body BLOB);
"""


@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_a_provider_hook_wraps_the_data_keys(dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    (project / "migrations").mkdir(parents=True)
    (project / "kmshook.py").write_text(PROVIDER)
    (project / "migrations" / "000001_keys.up.sql").write_text(KEYS_TABLE)
    secret = Fernet.generate_key()
    monkeypatch.setenv("T_KMS_SECRET", secret.decode())
    with fresh_database(dialect, directory=tmp_path) as url:
        (project / "migrata.toml").write_text(f'url = "{url}"\n[crypto]\nkek_provider = "kmshook:client"\n')
        args = ["-C", str(project)]
        assert run_cli([*args, "up"]).exit_code == 0
        no_key = run_cli([*args, "crypto", "encrypt", "--envelope", "--table", "notes", "--column", "body"])
        assert no_key.exit_code == 2 and "no active data key" in no_key.stderr and "rotate-data-key" in no_key.stderr
        backend = create_backend(DatabaseURL.parse(url))
        backend.connect()
        try:
            ph = backend.placeholder
            for i in range(1, 31):
                backend.execute(f"INSERT INTO notes (id, body) VALUES ({ph}, {ph})", (i, f"note {i}".encode()))
        finally:
            backend.close()
        assert run_cli([*args, "crypto", "rotate-data-key"]).exit_code == 0
        res = run_cli([*args, "crypto", "encrypt", "--envelope", "--table", "notes", "--column", "body", "--json"])
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["done"] == 30
        assert "Created data key version 2" in run_cli([*args, "crypto", "rotate-data-key"]).stdout
        res = run_cli([*args, "crypto", "rotate", "--envelope", "--table", "notes", "--column", "body", "--json"])
        assert json.loads(res.stdout)["done"] == 30
        dry = run_cli([*args, "crypto", "retire-data-keys", "--column", "notes.body", "--dry-run"])
        assert "Would retire data key(s): v1." in dry.stdout
        assert [r[0] for r in query(url, "SELECT status FROM kms_data_keys ORDER BY version")] == ["inactive", "active"]
        retired = run_cli([*args, "crypto", "retire-data-keys", "--column", "notes.body"])
        assert "Retired data key(s): v1." in retired.stdout
        keys = data_keys(url, secret)
        for i, body in query(url, "SELECT id, body FROM notes"):
            assert open_value({2: keys[2]}, body) == (2, f"note {i}".encode())
