"""URL options of the server backends, on the real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

import migrata
from migrata.testing import ServerUnavailable, temporary_database
from migrata.testing.plugin import in_ci


@pytest.fixture
def pg_url():
    try:
        with temporary_database("postgresql") as url:
            yield url
    except ServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI: a missing server is a failure)")
        pytest.skip(str(exc))


@pytest.fixture
def my_url():
    try:
        with temporary_database("mysql") as url:
            yield url
    except ServerUnavailable as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI: a missing server is a failure)")
        pytest.skip(str(exc))


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_a.up.sql").write_text("CREATE TABLE a (id INTEGER PRIMARY KEY);")
    (folder / "1_a.down.sql").write_text("DROP TABLE a;")
    return folder


def test_postgres_schema_option_puts_everything_in_that_schema(pg_url: str, tmp_path: Path) -> None:
    import psycopg

    folder = _project(tmp_path)
    url = pg_url + "?schema=app&sslmode=disable&connect_timeout=5&application_name=ignored"
    res = migrata.upgrade(url, migrations=folder)
    assert res.after == "1"
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 2"
        ).fetchall()
    assert rows == [("app", "a"), ("app", "migrata_events"), ("app", "migrata_history")]
    assert migrata.status(url, migrations=folder).current == "1"
    # the same database without the option sees an empty public schema
    assert migrata.status(pg_url, migrations=folder).current is None


def test_mysql_charset_and_url_spellings(my_url: str, tmp_path: Path) -> None:
    folder = _project(tmp_path)
    for url in (
        my_url + "?charset=utf8mb4",
        my_url.replace("mysql://", "mysql+pymysql://"),
        my_url.replace("mysql://", "mariadb://"),
    ):
        assert migrata.status(url, migrations=folder).dialect == "mysql"
    assert migrata.upgrade(my_url + "?charset=utf8mb4&connect_timeout=5", migrations=folder).after == "1"


def test_postgres_url_spellings(pg_url: str, tmp_path: Path) -> None:
    folder = _project(tmp_path)
    for scheme in ("postgres://", "postgresql+psycopg://", "pgsql://"):
        url = pg_url.replace("postgresql://", scheme, 1)
        assert migrata.status(url, migrations=folder).dialect == "postgresql"
