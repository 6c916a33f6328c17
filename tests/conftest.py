from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata.testing
from _secrets import assert_no_leak, assert_no_leak_in_files
from migrata.testing import CliResult

pytest_plugins = ["migrata.testing.plugin"]

_run_cli = migrata.testing.run_cli


def run_cli(args: Any, *more: Any, **kwargs: Any) -> CliResult:
    """``migrata.testing.run_cli``, checking that no test password shows in
    the command's output (the test modules import this one: it replaces the
    library's for the whole suite)."""
    result = _run_cli(args, *more, **kwargs)
    assert_no_leak(result.stdout + result.stderr, "the output of `migrata ...`")
    return result


migrata.testing.run_cli = run_cli  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    """The Ctrl-C tests send SIGINT, to the test process or to a `migrata`
    it started. A suite started as a background job of a script inherits
    SIGINT ignored, and so would every process it starts: Python's own
    handler is put back (children then start with SIGINT's default)."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_password_in_written_files(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: no log, metrics file, JSON, SQLite database (history
    and events) or backup that migrata wrote holds a test password."""
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is not None:
        assert_no_leak_in_files(root)


# The servers every development and CI machine runs (DESIGN.md, Testing).
os.environ.setdefault("MIGRATA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
os.environ.setdefault("MIGRATA_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql")
# Our own suite runs on every dialect; a missing server skips locally and fails in CI.
os.environ.setdefault("MIGRATA_TEST_BACKENDS", "sqlite,postgresql,mysql")
for _var in ("DATABASE_URL", "MIGRATA_DATABASE_URL", "DB_HOST", "DB_NAME", "MIGRATA_ENV"):
    os.environ.pop(_var, None)


class Project:
    """A throwaway migrata project: a folder, a migrata.toml, a migrations folder."""

    def __init__(self, root: Path, url: str | None = None) -> None:
        self.root = root
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)
        self.db = root / "app.db"
        self.url = url or "sqlite:///app.db"
        (root / "migrata.toml").write_text(f'url = "{self.url}"\nmigrations = "migrations"\n', encoding="utf-8")

    def write(self, name: str, text: str) -> Path:
        path = self.migrations / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def pair(self, version: str, name: str, up: str, down: str | None = None) -> None:
        self.write(f"{version}_{name}.up.sql", up)
        if down is not None:
            self.write(f"{version}_{name}.down.sql", down)

    def run(self, *args: str) -> CliResult:
        return run_cli(["-C", str(self.root), *args])

    def popen(self, *args: str, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen[str]:
        """``migrata ARGS`` as a process of its own (its log on ``stderr``)."""
        return subprocess.Popen(
            [sys.executable, "-m", "migrata", "-C", str(self.root), *args],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )

    def sql(self, query: str) -> list[tuple]:
        import sqlite3

        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query).fetchall()
        finally:
            conn.close()

    def sql_write(self, statement: str) -> None:
        """Change the database as another program would (its own connection)."""
        conn = sqlite3.connect(self.db)
        try:
            conn.execute(statement)
            conn.commit()
        finally:
            conn.close()

    def tables(self) -> set[str]:
        if not self.db.exists():
            return set()
        rows = self.sql("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        return {r[0] for r in rows} - {"migrata_history", "migrata_events"}

    def history(self) -> list[str]:
        if not self.db.exists():
            return []
        try:
            rows = self.sql("SELECT version, status FROM migrata_history WHERE kind != 'ledger'")
        except sqlite3.Error:
            return []
        return sorted(v for v, _ in rows)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "proj")
