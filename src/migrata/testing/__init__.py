"""Testing helpers, public so projects can test their own migrations.

* :func:`temporary_database` — a fresh, empty database for one test (SQLite
  file, or a database created and dropped on the PostgreSQL/MySQL server
  named by ``MIGRATA_TEST_POSTGRES_URL`` / ``MIGRATA_TEST_MYSQL_URL``).
  Its name is ``MIGRATA_TEST_DB_PREFIX`` (default ``migrata_test_``) plus a
  random part, so parallel test processes (pytest-xdist workers) never share
  one; give two copies of a suite running side by side different prefixes to
  tell their databases apart (and find leftovers of a killed run).
* :func:`database_name` — a new unique name with that prefix, for a test that
  creates a database of its own.
* :func:`wait_for` — poll until something is true, failing after a generous
  deadline: tests wait on events (a file appears, a row is visible), never on
  a sleep.
* :func:`run_cli` — run the ``migrata`` command in-process and capture its
  exit code and output.
* :func:`stairway` — apply every migration one at a time, roll each back and
  apply it again, checking that each down undoes its up exactly.
* ``migrata.testing.plugin`` — pytest fixtures (``migrata_url``...); enable
  with ``pytest_plugins = ["migrata.testing.plugin"]``.
* ``migrata.testing.suite`` — the shared backend suite every backend passes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CliResult",
    "DB_PREFIX_ENV",
    "SERVER_ENV",
    "ServerUnavailable",
    "database_name",
    "run_cli",
    "schema_of",
    "stairway",
    "temporary_database",
    "wait_for",
]

#: Environment variables naming the test servers, by dialect.
SERVER_ENV = {"postgresql": "MIGRATA_TEST_POSTGRES_URL", "mysql": "MIGRATA_TEST_MYSQL_URL"}
_DEFAULT_SERVERS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/mysql",
}
#: Environment variable holding the prefix of every test database's name.
DB_PREFIX_ENV = "MIGRATA_TEST_DB_PREFIX"
_DEFAULT_PREFIX = "migrata_test_"
# lower-case letters, digits and underscores: the same name on both servers,
# unquoted, and short enough that the unique part always fits (PostgreSQL
# keeps 63 characters of a name, MySQL 64)
_PREFIX_RE = re.compile(r"[a-z_][a-z0-9_]{0,39}")


class ServerUnavailable(RuntimeError):
    """The test server for a dialect cannot be reached (or its backend is absent)."""


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> CliResult:
    """Run ``migrata ARGS`` in this process; never raises SystemExit."""
    from migrata.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


def database_name() -> str:
    """A new database name: ``MIGRATA_TEST_DB_PREFIX`` (default
    ``migrata_test_``) followed by 12 random hex digits."""
    prefix = os.environ.get(DB_PREFIX_ENV) or _DEFAULT_PREFIX
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            f"{DB_PREFIX_ENV}={prefix!r}: use 1 to 40 lower-case letters, digits or underscores, "
            "not starting with a digit"
        )
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.01) -> None:
    """Call ``predicate`` until it returns something true; raise AssertionError
    naming ``what`` when ``timeout`` seconds pass first. Choose a timeout far
    beyond what the event needs on a busy machine: it only bounds a hang."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def server_url(dialect: str) -> str:
    """URL of the test server for ``dialect`` (from its environment variable)."""
    return os.environ.get(SERVER_ENV[dialect]) or _DEFAULT_SERVERS[dialect]


@contextlib.contextmanager
def temporary_database(dialect: str = "sqlite", *, directory: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """Yield the URL of a new empty database; drop it afterwards.

    On a server the database is named by :func:`database_name`; an SQLite
    file of that name is made in ``directory`` (default: a new temporary
    folder). Raises :class:`ServerUnavailable` when the server cannot be
    reached.
    """
    name = database_name()
    if dialect == "sqlite":
        with contextlib.ExitStack() as stack:
            folder = directory or stack.enter_context(tempfile.TemporaryDirectory(prefix="migrata-test-"))
            yield f"sqlite:///{Path(folder, f'{name}.db')}"
        return
    from migrata.backends.base import DatabaseURL
    from migrata.backends.registry import create_backend

    base = DatabaseURL.parse(server_url(dialect))
    try:
        admin = create_backend(base)
        admin.connect()
    except ServerUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        raise ServerUnavailable(f"{dialect} test server {base.masked()} unavailable: {exc}") from exc
    try:
        admin.create_database(name)
    finally:
        admin.close()
    try:
        yield base.with_database(name).raw
    finally:
        admin = create_backend(base)
        admin.connect()
        try:
            admin.drop_database(name)
        finally:
            admin.close()


def schema_of(url: str, *, exclude: Sequence[str] = ()) -> dict[str, Any]:
    """A comparable snapshot of a database's schema (migrata's own tables excluded)."""
    from migrata.backends.base import DatabaseURL
    from migrata.backends.registry import create_backend

    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        snap = backend.schema_snapshot()
    finally:
        backend.close()
    skip = {"migrata_history", "migrata_events", "migrata_backfills", *exclude}
    return _without(snap, skip)


def _without(snapshot: Any, skip: set[str]) -> Any:
    """Drop every entry that belongs to a table in ``skip``: the table itself
    (``name``, ``kind:name``), its columns (``table.column``) and anything
    whose ``table`` is one of them (indexes, constraints, owned sequences)."""
    if not isinstance(snapshot, dict):
        return snapshot

    def owned(key: str, value: Any) -> bool:
        name = key.split(":", 1)[-1]
        return name in skip or name.split(".", 1)[0] in skip or (isinstance(value, dict) and value.get("table") in skip)

    return {k: _without(v, skip) for k, v in snapshot.items() if not owned(k, v)}


def stairway(config: Any = None, **overrides: Any) -> list[str]:
    """Up one, down one, up again for every pending migration; return the versions checked.

    Fails with AssertionError when a down does not restore the schema exactly
    or a second up does not give the same schema as the first.
    """
    import migrata
    from migrata.session import resolve_settings

    settings = resolve_settings(config, **overrides)
    parsed = settings.database_url()
    url = f"sqlite:///{parsed.database}" if parsed.family == "sqlite" else parsed.raw
    checked = []
    for m in migrata.status(settings).pending:
        if m.kind == "repeatable":
            continue
        before = schema_of(url)
        migrata.upgrade(settings, m.version)
        after = schema_of(url)
        migrata.downgrade(settings, steps=1)
        assert schema_of(url) == before, f"the down part of {m.version} {m.name} did not undo its up part"
        migrata.upgrade(settings, m.version)
        assert schema_of(url) == after, f"applying {m.version} {m.name} again gave another schema"
        checked.append(m.version)
    return checked
