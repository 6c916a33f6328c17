"""The test suite's passwords, and the check that none ever shows (issue 16:
"grep of all output, logs, events and JSON of the test suite for the test
passwords finds nothing").

Every password a test logs in with, or hands to migrata in a URL, a config
file or the environment, holds one of ``TEST_SECRETS`` (those with ``/``,
``#``, ``?`` and ``@`` are built from the ``test_config_inputs`` pieces).
conftest.py checks every command the suite runs through ``run_cli`` and
``_servers.Server.cli``, and, after each test, the files migrata writes
into the test's folder: logs, metrics, JSON, SQLite databases (history and
events) and backups.
"""

from __future__ import annotations

from pathlib import Path

# Each at least 9 characters: the check reads databases holding 100,000 rows of
# random ciphertext (tests/test_crypto.py), where a 5-character piece turns up by
# chance in about one run in twelve.
TEST_SECRETS = ("s3cret", "cd_Secret_9", "Xk9qTe4Ru", "Wm3zRb8Lk", "Pv7tQh2Wd", "Rj2sNc6Yp", "Lh5nBf9Gt")

# what migrata writes (the inputs a test writes, migrata.toml, .env and
# migration files, hold the passwords on purpose)
WRITTEN = {".log", ".prom", ".json", ".jsonl", ".db", ".sqlite", ".sqlite3", ".dump", ".gz", ".out"}
LIMIT = 64 * 1024 * 1024


def masked(text: str) -> str:
    for secret in TEST_SECRETS:
        text = text.replace(secret, "<" + "*" * len(secret) + ">")
    return text


def leaks(text: str | bytes) -> list[str]:
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [s for s in TEST_SECRETS if s.encode() in data]


def assert_no_leak(text: str, what: str) -> None:
    found = leaks(text)
    assert not found, f"{what} shows a test password ({len(found)} of them):\n{masked(text)[-3000:]}"


def written_files(root: Path) -> list[Path]:
    """The files under ``root`` that migrata may have written (backups: every
    file in a ``backups`` folder)."""
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix in WRITTEN or "backups" in path.parts or path.name.endswith(("-wal", "-journal")):
            found.append(path)
    return found


def assert_no_leak_in_files(root: Path) -> None:
    for path in written_files(root):
        try:
            if path.stat().st_size > LIMIT:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        found = leaks(data)
        assert not found, f"{path} (written by migrata) holds a test password"
