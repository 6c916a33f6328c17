"""pytest plugin: database fixtures for testing migrations.

Enable it in a ``conftest.py``::

    pytest_plugins = ["migrata.testing.plugin"]

Fixtures:

* ``migrata_dialect`` — parametrised over the dialects chosen with
  ``--migrata-backends`` or ``MIGRATA_TEST_BACKENDS`` (default: ``sqlite``).
* ``migrata_url`` — a fresh empty database of that dialect, dropped after
  the test. An unreachable server skips the test locally and fails it when
  ``CI`` is set: in CI a missing server is an error, never a skip.

Helpers, for fixtures and tests of your own:

* :func:`fresh_database` — ``migrata.testing.temporary_database`` with that
  rule applied: the one way to set up a database in a test.
* :func:`skip_or_fail` — the rule itself, for anything else a test needs
  from the machine (a server, a client program, a driver): skip locally,
  fail in CI.
* :func:`in_ci` — whether ``CI`` is set (``1``, ``true`` or ``yes``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from migrata.testing import ServerUnavailable, temporary_database

__all__ = ["DIALECTS", "fresh_database", "in_ci", "selected_dialects", "skip_or_fail"]

DIALECTS = ("sqlite", "postgresql", "mysql")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migrata")
    group.addoption(
        "--migrata-backends",
        default=None,
        help="comma-separated dialects for migrata_url (sqlite,postgresql,mysql)",
    )


def selected_dialects(config: pytest.Config) -> list[str]:
    raw = config.getoption("--migrata-backends") or os.environ.get("MIGRATA_TEST_BACKENDS") or "sqlite"
    chosen = [d.strip() for d in raw.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DIALECTS]
    if unknown:
        raise pytest.UsageError(f"unknown migrata backend(s): {', '.join(unknown)}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "migrata_dialect" in metafunc.fixturenames:
        metafunc.parametrize("migrata_dialect", selected_dialects(metafunc.config), scope="session")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str, *, allow_module_level: bool = False) -> NoReturn:
    """Skip the current test because something it needs is missing; in CI
    (``CI`` set) fail it instead, since there a missing server or tool is a
    broken machine, not a reason to test less."""
    if in_ci():
        pytest.fail(f"{reason} (CI: a missing server or tool is a failure)")
    pytest.skip(reason, allow_module_level=allow_module_level)


@contextlib.contextmanager
def fresh_database(dialect: str, *, directory: str | os.PathLike[str] | None = None) -> Iterator[str]:
    """Yield the URL of a new empty database of ``dialect``, dropped afterwards
    (see ``migrata.testing.temporary_database``); a server that cannot be
    reached skips the test, or fails it in CI (:func:`skip_or_fail`)."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(temporary_database(dialect, directory=directory))
        except ServerUnavailable as exc:
            skip_or_fail(str(exc))
        yield url


@pytest.fixture
def migrata_url(migrata_dialect: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL of the current dialect."""
    with fresh_database(migrata_dialect, directory=tmp_path) as url:
        yield url
