"""What the shared suite needs to know of each dialect, and its helpers.

The tests speak standard SQL. What no standard spelling covers is in
``DIALECTS``, by ``Backend.dialect``: a backend of another package adds its
own :class:`Dialect` to it from its ``conftest.py`` (and gives a
``migrata_url`` fixture that makes a fresh database of its kind).
``KNOWN_BUGS`` lists the contract promises a backend breaks today: such a
test is expected to fail on that dialect, strictly (once the bug is fixed the
run fails until its line is struck).
"""

from __future__ import annotations

import contextlib
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from migrata.backends.base import Backend, DatabaseURL
from migrata.backends.registry import create_backend

__all__ = [
    "DIALECTS",
    "KNOWN_BUGS",
    "SECRET",
    "Dialect",
    "column_values",
    "connected",
    "facts",
    "ids",
    "migrata_known_bug",
    "user_tables",
    "write",
]


class Dialect(NamedTuple):
    """What the suite needs of a dialect that standard SQL does not say."""

    server: bool  # databases live on a server (else: one file each)
    sleep: str  # a statement that runs about {s} seconds
    no_tx: str | None  # a statement that cannot run inside a transaction (None: there is none)
    namespace: str | None  # URL option naming the schema migrata's tables live in (None: none)
    trigger: str  # statements with semicolons in their bodies: an insert into a logs two rows in a_log
    client: Callable[[DatabaseURL], list[str]]  # the database's own client, reading a script on stdin


_COUNT_UP = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {s} * 2500000) SELECT COUNT(*) FROM c"
)
_LOG_TWO = "INSERT INTO a_log (n) VALUES (1); INSERT INTO a_log (n) VALUES (2);"
DIALECTS = {
    "sqlite": Dialect(
        server=False,
        sleep=_COUNT_UP,
        no_tx="VACUUM",
        namespace=None,
        trigger=f"CREATE TRIGGER a_tr AFTER INSERT ON a BEGIN {_LOG_TWO} END;",
        client=lambda u: ["sqlite3", "-bail", str(u.database)],
    ),
    "postgresql": Dialect(
        server=True,
        sleep="SELECT pg_sleep({s})",
        no_tx="VACUUM",
        namespace="schema=suite_ns",
        trigger=f"CREATE FUNCTION a_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {_LOG_TWO} RETURN NEW; END $$;\n"
        "CREATE TRIGGER a_tr AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION a_f();",
        client=lambda u: [
            *"psql -X -q -v ON_ERROR_STOP=1".split(),
            f"--host={u.host}",
            f"--port={u.port or 5432}",
            f"--username={u.username or 'postgres'}",
            f"--dbname={u.database}",
        ],
    ),
    "mysql": Dialect(
        server=True,
        sleep="SELECT SLEEP({s})",
        no_tx=None,
        namespace=None,
        trigger=f"CREATE TRIGGER a_tr AFTER INSERT ON a FOR EACH ROW BEGIN {_LOG_TWO} END;",
        client=lambda u: [
            shutil.which("mariadb") or "mysql",
            f"--host={u.host}",
            f"--port={u.port or 3306}",
            f"--user={u.username or 'root'}",
            str(u.database),
        ],
    ),
}

#: (test, dialect) -> the contract promise that backend breaks today
KNOWN_BUGS: dict[tuple[str, str], str] = {}

#: a password that must never show in an error
SECRET = "suite-Secret-pw"


@pytest.fixture(autouse=True)
def migrata_known_bug(request: pytest.FixtureRequest) -> None:
    """Marks a test listed in KNOWN_BUGS as expected to fail, strictly, on its dialect."""
    callspec = getattr(request.node, "callspec", None)
    dialect = str(callspec.params.get("migrata_dialect", "")) if callspec is not None else ""
    reason = KNOWN_BUGS.get((request.node.originalname, dialect))
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def facts(b: Backend) -> Dialect:
    if b.dialect not in DIALECTS:
        pytest.fail(f"no Dialect for {b.dialect!r}: add one to migrata.testing.suite.DIALECTS (e.g. from conftest.py)")
    return DIALECTS[b.dialect]


@contextlib.contextmanager
def connected(url: str) -> Iterator[Backend]:
    b = create_backend(DatabaseURL.parse(url))
    b.connect()
    try:
        yield b
    finally:
        b.close()


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def user_tables(url: str) -> set[str]:
    with connected(url) as b:
        return {t.lower() for t in b.table_names()} - {"migrata_history", "migrata_events"}


def ids(b: Backend, table: str) -> list[int]:
    return column_values(b, f"SELECT id FROM {table} ORDER BY id")


def column_values(b: Backend, sql: str) -> list[int]:
    return [r[0] for r in b.query(sql)]
