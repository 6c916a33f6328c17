"""URL options of the server backends, and how statements are cut, on the real servers."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

import migrata
from migrata.testing import database_name
from migrata.testing.plugin import fresh_database


@pytest.fixture
def pg_url():
    with fresh_database("postgresql") as url:
        yield url


@pytest.fixture
def my_url():
    with fresh_database("mysql") as url:
        yield url


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


def test_postgres_rule_with_several_actions_runs_statement_by_statement(pg_url: str, tmp_path: Path) -> None:
    """A journaled (no-transaction) migration runs its statements one by one:
    a rule's parenthesised actions, semicolons and all, are one statement,
    as psql sends them."""
    import psycopg

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_rule.up.sql").write_text(
        "-- migrata:no-transaction\n"
        "CREATE TABLE src (id INTEGER);\n"
        "CREATE TABLE log_a (id INTEGER);\n"
        "CREATE TABLE log_b (id INTEGER);\n"
        "CREATE RULE copy_twice AS ON INSERT TO src DO ALSO (\n"
        "    INSERT INTO log_a VALUES (NEW.id);\n"
        "    INSERT INTO log_b VALUES (NEW.id * 2)\n"
        ");\n"
        "INSERT INTO src VALUES (21);\n"
    )
    res = migrata.upgrade(pg_url, migrations=folder)
    assert res.steps[0].mode == "journal"
    row = migrata.info(pg_url, migrations=folder).migrations[0]
    assert (row.state, row.progress, row.statements) == ("applied", 5, 5)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT (SELECT id FROM log_a), (SELECT id FROM log_b)").fetchone() == (21, 42)


def test_mysql_double_dash_without_a_space_is_an_operator(my_url: str, tmp_path: Path) -> None:
    """`5--1` is 5 - (-1) on MariaDB, not a comment that hides the end of the
    statement: the journal counts three statements and the server runs them."""
    import pymysql

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "1_dash.up.sql").write_text(
        "CREATE TABLE dash (n INTEGER); -- a comment; with a semicolon\n"
        "INSERT INTO dash VALUES (5--1);\n"
        "INSERT INTO dash VALUES (7);\n"
    )
    migrata.upgrade(my_url, migrations=folder)
    row = migrata.info(my_url, migrations=folder).migrations[0]
    assert (row.state, row.progress, row.statements) == ("applied", 3, 3)
    u = urlsplit(my_url)
    conn = pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root", password=u.password or "",
                           database=u.path.lstrip("/"))  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT n FROM dash ORDER BY n")
            assert [r[0] for r in cur.fetchall()] == [6, 7]
    finally:
        conn.close()


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


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_db_create_and_drop(dialect: str, tmp_path: Path) -> None:
    """`db create` makes the database (utf8mb4 on MariaDB), is a no-op when it
    exists; `db drop` needs --force and is a no-op when it is gone."""
    from migrata.backends.base import DatabaseURL
    from migrata.testing import run_cli, server_url

    with fresh_database(dialect):
        pass  # the server is there (else: skipped locally, failed in CI)
    url = DatabaseURL.parse(server_url(dialect)).with_database(database_name()).raw
    try:
        created = run_cli(["--url", url, "db", "create"])
        assert created.exit_code == 0 and created.stdout.startswith("created"), created.output
        again = run_cli(["--url", url, "db", "create", "--json"])
        assert again.exit_code == 0 and '"action": "exists"' in again.stdout
        if dialect == "mysql":
            import pymysql

            conn = pymysql.connect(host="127.0.0.1", user="root")
            try:
                with conn.cursor() as cur:
                    cur.execute(
                        "SELECT default_character_set_name FROM information_schema.schemata WHERE schema_name = %s",
                        (DatabaseURL.parse(url).database,),
                    )
                    assert cur.fetchone() == ("utf8mb4",)
            finally:
                conn.close()
        refused = run_cli(["--url", url, "db", "drop"])
        assert refused.exit_code == 2 and "--force" in refused.stderr
        assert migrata.status(url, migrations=tmp_path).database_exists
    finally:
        dropped = run_cli(["--url", url, "db", "drop", "--force"])
    assert dropped.exit_code == 0 and dropped.stdout.startswith("dropped"), dropped.output
    gone = run_cli(["--url", url, "db", "drop", "--force"])
    assert gone.exit_code == 0 and "does not exist" in gone.stdout
    assert not migrata.status(url, migrations=tmp_path).database_exists
