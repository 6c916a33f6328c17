"""pytest plugin: database fixtures for testing migrations.

Enable it in a ``conftest.py``::

    pytest_plugins = ["migrata.testing.plugin"]

Fixtures:

* ``migrata_dialect`` — parametrised over the dialects chosen with
  ``--migrata-backends`` or ``MIGRATA_TEST_BACKENDS`` (default: ``sqlite``).
* ``migrata_url`` — a fresh empty database of that dialect, dropped after
  the test. An unreachable server skips the test locally and fails it when
  ``CI`` is set: in CI a missing server is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrata.testing import ServerUnavailable, temporary_database

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


@pytest.fixture
def migrata_url(migrata_dialect: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL of the current dialect."""
    try:
        with temporary_database(migrata_dialect, directory=tmp_path) as url:
            yield url
    except ServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI: a missing server is a failure)")
        pytest.skip(str(exc))
