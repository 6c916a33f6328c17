"""Encrypted columns: ``[crypto]`` keys, ``ctx.crypto``, ``migrata crypto``.

Every key and plaintext here is made per test; the tests read the database
back with the ``cryptography`` package itself (not with migrata) to prove
which key a value is under. The kill test SIGKILLs a real ``migrata crypto
rotate`` at instants chosen by watching its checkpoint advance.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken

from _servers import kill_once_past
from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import run_cli, wait_for
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")
BLOB = {"sqlite": "BLOB", "postgresql": "BYTEA", "mysql": "BLOB"}
OWNER = "~crypto rotate secrets.value"


class Project:
    """A project folder (migrata.toml with a [crypto] table) and its database."""

    def __init__(self, dialect: str, url: str, root: Path, crypto: str | None = None) -> None:
        self.dialect, self.url, self.root = dialect, url, root
        (root / "migrations").mkdir(parents=True)
        crypto = crypto or 'keys = ["env:T_NEW_KEY", "env:T_OLD_KEY"]'
        (root / "migrata.toml").write_text(f'url = "{url}"\n\n[crypto]\n{crypto}\n', encoding="utf-8")
        self.backend = create_backend(DatabaseURL.parse(url))
        self.backend.connect()
        self.env: dict[str, str] = {}

    def write(self, name: str, text: str) -> None:
        (self.root / "migrations" / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def cli(self, *args: str, monkeypatch: pytest.MonkeyPatch) -> Any:
        for k, v in self.env.items():
            monkeypatch.setenv(k, v)
        return run_cli(["-C", str(self.root), *args])

    def popen(self, *args: str) -> subprocess.Popen[str]:
        env = {**os.environ, **self.env}
        env.pop("MIGRATA_DATABASE_URL", None)
        return subprocess.Popen(
            [sys.executable, "-m", "migrata", "-C", str(self.root), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def q(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        return self.backend.query(sql, params)

    def secrets(self, rows: list[tuple[int, Any]], blob: bool = False) -> None:
        kind = BLOB[self.dialect] if blob else "TEXT"
        self.backend.execute(f"CREATE TABLE secrets (id INTEGER PRIMARY KEY, value {kind})")
        ph = self.backend.placeholder
        cur = self.backend.connection.cursor()
        self.backend.begin()
        cur.executemany(f"INSERT INTO secrets (id, value) VALUES ({ph}, {ph})", rows)
        self.backend.commit()
        cur.close()

    def values(self) -> dict[int, Any]:
        return {
            int(i): (bytes(v) if isinstance(v, memoryview) else v) for i, v in self.q("SELECT id, value FROM secrets")
        }

    def processed(self) -> int:
        """Rows the rotation's checkpoint counts (-1: not readable now)."""
        sql = f"SELECT done + skipped + failed FROM migrata_backfills WHERE version = '{OWNER}'"
        if self.dialect == "sqlite":
            conn = sqlite3.connect(DatabaseURL.parse(self.url).database or "", timeout=0.002)
            try:
                rows = conn.execute(sql).fetchall()
            except sqlite3.OperationalError as exc:
                return 0 if "no such table" in str(exc) else -1
            finally:
                conn.close()
            return int(rows[0][0]) if rows else 0
        try:
            rows = self.q(sql)
        except Exception:  # noqa: BLE001 - the table appears with the first batch
            return 0
        return int(rows[0][0]) if rows else 0


@pytest.fixture(params=DIALECTS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    with fresh_database(request.param, directory=tmp_path) as url:
        p = Project(request.param, url, tmp_path / "proj")
        try:
            yield p
        finally:
            p.backend.close()


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    with fresh_database("sqlite", directory=tmp_path) as url:
        p = Project("sqlite", url, tmp_path / "proj")
        try:
            yield p
        finally:
            p.backend.close()


def keys() -> tuple[bytes, bytes, bytes]:
    """A new key, an old key, and one no config knows."""
    return Fernet.generate_key(), Fernet.generate_key(), Fernet.generate_key()


def tok(key: bytes, text: str) -> str:
    return Fernet(key).encrypt(text.encode()).decode()


def under(key: bytes, value: Any) -> str | None:
    """The plaintext if ``key`` alone decrypts ``value``, else None."""
    try:
        raw = value if isinstance(value, bytes) else value.encode()
        return Fernet(key).decrypt(raw).decode()
    except InvalidToken:
        return None


# --- rotation ---------------------------------------------------------------------------


def test_rotate_counts_done_skipped_failed_and_loses_nothing(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    new, old, stranger = keys()
    project.env = {"T_NEW_KEY": new.decode(), "T_OLD_KEY": old.decode()}
    rows: list[tuple[int, Any]] = []
    for i in range(1, 41):
        key = old if i <= 20 else new if i <= 35 else stranger
        rows.append((i, tok(key, f"plain-{i}")))
    rows += [(41, None), (42, "not a token at all")]
    project.secrets(rows)
    before = project.values()
    res = project.cli("crypto", "rotate", "--table", "secrets", "--column", "value", "--batch-size", "7", "--json",
                      monkeypatch=monkeypatch)  # fmt: skip
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["done"], out["skipped"], out["failed"]) == (20, 16, 6)
    assert sorted(out["failed_keys"]) == [36, 37, 38, 39, 40, 42]
    assert out["keys"] == ["env:T_NEW_KEY", "env:T_OLD_KEY"]
    assert "InvalidToken" in res.stderr and "36, 37, 38, 39, 40, 42" in res.stderr
    after = project.values()
    for i in range(1, 36):  # every row a key knew decrypts with the newest key alone, same plaintext
        assert under(new, after[i]) == f"plain-{i}"
    for i in range(21, 36):  # already on the newest key: not rewritten
        assert after[i] == before[i]
    for i in (36, 37, 38, 39, 40, 41, 42):  # unknown key, NULL, garbage: untouched, not lost
        assert after[i] == before[i]
    assert under(stranger, after[36]) == "plain-36"
    again = json.loads(
        project.cli(
            "crypto", "rotate", "--table", "secrets", "--column", "value", "--json", monkeypatch=monkeypatch
        ).stdout  # fmt: skip
    )
    assert (again["done"], again["skipped"], again["failed"]) == (0, 36, 6)  # a finished rotation starts over


def test_rotate_binary_column_and_envelope_keys_never_printed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, old, _ = keys()
    project.env = {"T_NEW_KEY": new.decode(), "T_OLD_KEY": old.decode()}
    project.secrets([(i, Fernet(old).encrypt(f"b-{i}".encode())) for i in range(1, 6)], blob=True)
    res = project.cli("crypto", "rotate", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.stderr
    assert "5 re-encrypted" in res.output
    values = project.values()
    assert all(isinstance(v, bytes) and under(new, v) == f"b-{i}" for i, v in values.items())


def test_encrypt_with_keys_derived_as_the_prefab_gateway_guide(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = sqlite_project
    (p.root / "migrata.toml").write_text(
        f'url = "{p.url}"\n[crypto]\nkeys = ["env:T_PASS", "file:old.key"]\nderive = "sha256"\n', encoding="utf-8"
    )
    (p.root / "old.key").write_text("old passphrase of 32 bytes or more!!\n", encoding="utf-8")
    p.env = {"T_PASS": "your-32-byte-encryption-key-change-in-production-!!"}
    guide = base64.urlsafe_b64encode(hashlib.sha256(p.env["T_PASS"].encode()).digest())  # the guide's derivation
    old = base64.urlsafe_b64encode(hashlib.sha256(b"old passphrase of 32 bytes or more!!").digest())
    p.secrets([(1, "sk-live-1"), (2, None), (3, tok(old, "sk-old-3")), (4, "sk-live-4")])
    res = p.cli("crypto", "encrypt", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.stderr
    assert "2 encrypted, 2 skipped" in res.output  # the NULL, and the value an old key already encrypts
    values = p.values()
    assert under(guide, values[1]) == "sk-live-1" and under(guide, values[4]) == "sk-live-4"
    assert under(old, values[3]) == "sk-old-3"
    res = p.cli("crypto", "rotate", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert "1 re-encrypted" in res.output and under(guide, p.values()[3]) == "sk-old-3"


CTX_MIGRATION = '''
"""encrypt the plaintext secrets, then check them"""
transactional = False


def up(ctx):
    report = ctx.backfill("secrets", fn=ctx.crypto.encrypt_row("value"), batch_size=3)
    ctx.log.info("encrypted %d", report.done)
    for (value,) in ctx.query("SELECT value FROM secrets WHERE value IS NOT NULL"):
        assert ctx.crypto.decrypt(value).startswith("plain-")
    assert ctx.crypto.rotate(ctx.crypto.encrypt("y")) is None
    assert ctx.crypto.decrypt(ctx.crypto.encrypt("x")) == "x"
    assert "env:T_NEW_KEY" in repr(ctx.crypto)


def down(ctx):
    def plain(row):
        return {"value": ctx.crypto.decrypt(row["value"])} if row["value"] else None

    ctx.backfill("secrets", name="decrypt", fn=plain)
'''


def test_ctx_crypto_encrypts_a_column_in_a_migration(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    new, old, _ = keys()
    project.env = {"T_NEW_KEY": new.decode(), "T_OLD_KEY": old.decode()}
    project.secrets([(i, f"plain-{i}") for i in range(1, 11)] + [(11, None), (12, tok(old, "plain-12"))])
    project.write("000001_encrypt.py", CTX_MIGRATION)
    res = project.cli("up", monkeypatch=monkeypatch)
    assert res.exit_code == 0, res.stderr
    values = project.values()
    assert all(under(new, values[i]) == f"plain-{i}" for i in range(1, 11))
    assert under(old, values[12]) == "plain-12"  # already encrypted: left alone
    assert project.cli("down", "--steps", "1", monkeypatch=monkeypatch).exit_code == 0
    assert project.values()[3] == "plain-3" and project.values()[12] == "plain-12"


def test_up_sql_refuses_a_crypto_migration(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    new, old, _ = keys()
    sqlite_project.env = {"T_NEW_KEY": new.decode(), "T_OLD_KEY": old.decode()}
    sqlite_project.write("000001_encrypt.py", CTX_MIGRATION)
    res = sqlite_project.cli("up", "--sql", monkeypatch=monkeypatch)
    assert res.exit_code == 2
    assert "--sql cannot write" in res.stderr
    assert new.decode() not in res.output + res.stderr and old.decode() not in res.output + res.stderr


# --- a rotation killed midway -------------------------------------------------------------


def _kill_midway_and_finish(project: Project, n: int, batch: int, kills: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    args = ("crypto", "rotate", "--table", "secrets", "--column", "value", "--batch-size", str(batch))
    killed = 0
    for _ in range(kills):
        wait_for(lambda: project.processed() >= 0, 60, "a readable checkpoint")
        start = max(0, project.processed())
        if start >= n - 2 * batch:
            break
        target = min(n - batch, start + rng.randrange(batch, max(batch + 1, (n - start) // 3)))
        proc = project.popen(*args)
        killed += kill_once_past(proc, lambda: project.processed() >= target, 300, f"rotation past {target}")  # noqa: B023
    assert killed >= 2, "the rotation finished before it could be killed"
    final = subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project.root), *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **project.env},
        timeout=600,
    )
    assert final.returncode == 0, final.stderr
    result: dict[str, Any] = json.loads(final.stdout)
    return result


def _rotation_survives_kills(project: Project, n: int, batch: int) -> None:
    new, old, stranger = keys()
    project.env = {"T_NEW_KEY": new.decode(), "T_OLD_KEY": old.decode()}
    f_old, f_stranger = Fernet(old), Fernet(stranger)
    lost = {n // 2, n - 3}
    rows = [(i, (f_stranger if i in lost else f_old).encrypt(b"s%d" % i).decode()) for i in range(1, n + 1)]
    project.secrets(rows)
    res = _kill_midway_and_finish(project, n, batch, kills=4, seed=n)
    assert res["resumed_after"] > 0
    # every row rotated exactly once: none re-walked (it would count skipped), none missed
    assert (res["done"], res["skipped"], res["failed"]) == (n - 2, 0, 2)
    assert set(res["failed_keys"]) <= lost  # the keys this run saw; a run killed earlier saw the others
    again = subprocess.run(
        [sys.executable, "-m", "migrata", "-C", str(project.root), "crypto", "rotate", "--table", "secrets",
         "--column", "value", "--batch-size", "5000", "--json"],
        capture_output=True, text=True, env={**os.environ, **project.env}, timeout=600,
    )  # fmt: skip
    check = json.loads(again.stdout)  # a finished rotation starts over: all on the newest key now
    assert (check["done"], check["skipped"], check["failed"]) == (0, n - 2, 2)
    assert sorted(check["failed_keys"]) == sorted(lost)
    f_new = Fernet(new)
    for i, value in project.values().items():
        if i in lost:
            assert f_stranger.decrypt(value.encode()) == b"s%d" % i  # reported, not lost
        else:
            assert f_new.decrypt(value.encode()) == b"s%d" % i  # the newest key alone decrypts it


def test_a_killed_rotation_resumes(project: Project) -> None:
    n, batch = (30_000, 300) if project.dialect == "sqlite" else (12_000, 200)
    _rotation_survives_kills(project, n, batch)


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["sqlite", "mysql"])
def test_rotation_of_100000_secrets_killed_midway_resumes(dialect: str, tmp_path: Path) -> None:
    with fresh_database(dialect, directory=tmp_path) as url:
        p = Project(dialect, url, tmp_path / "proj")
        try:
            _rotation_survives_kills(p, 100_000, 1000)
        finally:
            p.backend.close()


# --- configuration and its errors --------------------------------------------------------


def test_a_missing_key_is_named_never_shown(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    p = sqlite_project
    p.secrets([(1, "x")])
    monkeypatch.delenv("T_NEW_KEY", raising=False)
    res = p.cli("crypto", "rotate", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert res.exit_code == 2
    assert "env:T_NEW_KEY" in res.stderr and "T_NEW_KEY is not set" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_passphrase_given_as_a_raw_key_is_refused_with_the_derive_hint(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = sqlite_project
    p.secrets([(1, "x")])
    p.env = {"T_NEW_KEY": "correct horse battery staple", "T_OLD_KEY": Fernet.generate_key().decode()}
    res = p.cli("crypto", "encrypt", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert res.exit_code == 2
    assert "env:T_NEW_KEY is not a Fernet key" in res.stderr and 'derive = "sha256"' in res.stderr
    assert "correct horse" not in res.output + res.stderr


def test_a_key_written_inline_is_refused_without_echoing_it(tmp_path: Path) -> None:
    secret = Fernet.generate_key().decode()
    (tmp_path / "migrata.toml").write_text(f'url = "sqlite:///a.db"\n[crypto]\nkeys = ["{secret}"]\n')
    res = run_cli(["-C", str(tmp_path), "config", "--json"])
    assert res.exit_code == 2
    assert "never the key itself" in res.stderr
    assert secret not in res.output + res.stderr


def test_without_cryptography_the_extra_is_named(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    p = sqlite_project
    p.secrets([(1, "x")])
    p.env = {"T_NEW_KEY": Fernet.generate_key().decode(), "T_OLD_KEY": Fernet.generate_key().decode()}
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import cryptography.* now fails
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)
    res = p.cli("crypto", "rotate", "--table", "secrets", "--column", "value", monkeypatch=monkeypatch)
    assert res.exit_code == 2
    assert "migrata[crypto]" in res.stderr and "Traceback" not in res.stderr


def test_ctx_crypto_outside_migrata_is_a_usage_error(sqlite_project: Project) -> None:
    from migrata.context import MigrationContext
    from migrata.errors import UsageError

    ctx = MigrationContext(sqlite_project.backend, "1", "x", "up")
    with pytest.raises(UsageError, match="ctx.crypto works only"):
        ctx.crypto.encrypt("x")


def test_crypto_settings_parse_and_refuse(tmp_path: Path) -> None:
    from migrata.config import load_settings
    from migrata.errors import ConfigError

    s = load_settings(directory=tmp_path, environ={"MIGRATA_CRYPTO": "env:A, file:k.key"}, dotenv=False)
    assert s.crypto["keys"] == ["env:A", "file:k.key"] and s.crypto["derive"] == "none"
    assert s.to_dict()["crypto"]["keys"] == ["env:A", "file:k.key"]
    cases = {
        'keys = ["env:A"]\nderive = "md5"': "derive must be",
        'keys = ["env:A"]\npassword = "x"': "unknown [crypto] setting 'password'",
        'kek = "hunter2hunter2"': "never the key itself",
        'keys = ["env:A"]\ndata_key_lifetime = "soon"': "data_key_lifetime",
    }
    for body, message in cases.items():
        (tmp_path / "migrata.toml").write_text(f"[crypto]\n{body}\n")
        with pytest.raises(ConfigError, match=re.escape(message)) as info:
            load_settings(directory=tmp_path, environ={}, dotenv=False)
        assert "hunter2" not in str(info.value) + (info.value.hint or "")
