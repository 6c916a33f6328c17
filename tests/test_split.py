"""Statement splitting, as each database's own client does it (pure, no server)."""

from __future__ import annotations

import pytest

from migrata.backends._sqltext import SplitDialect, leading_keywords, split_sql
from migrata.backends.base import DatabaseURL
from migrata.backends.sqlite import SQLiteBackend

PG = SplitDialect(dollar_quotes=True, nested_comments=True, begin_atomic=True, parentheses=True)
MY = SplitDialect(
    hash_comments=True, backslash_escapes=True, backticks=True, delimiter_command=True, compound_blocks=True
)


def sqlite_split(sql: str) -> list[tuple[str, int]]:
    return [(s.sql, s.line) for s in SQLiteBackend(DatabaseURL.parse("sqlite://")).split(sql)]


def test_sqlite_comments_strings_and_triggers() -> None:
    sql = (
        "-- leading comment; with semicolon\n"
        "CREATE TABLE a (x TEXT DEFAULT 'a;b', \"c;d\" INT);\n"
        "/* block; comment */\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
        "  UPDATE a SET x = 'y;' WHERE rowid = NEW.rowid;\n"
        "  SELECT 1;\n"
        "END;\n"
        "INSERT INTO a (x) VALUES ('it''s;'); SELECT 2\n"
    )
    out = sqlite_split(sql)
    assert [line for _, line in out] == [2, 4, 8, 8]
    assert out[1][0].startswith("CREATE TRIGGER") and out[1][0].endswith("END;")
    assert out[2][0] == "INSERT INTO a (x) VALUES ('it''s;');"
    assert out[3][0] == "SELECT 2"


def test_sqlite_blank_scripts() -> None:
    assert sqlite_split("") == []
    assert sqlite_split("-- nothing\n;\n;  /* x */\n") == []


def test_postgres_dollar_quotes_do_blocks_and_nested_comments() -> None:
    sql = (
        "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n  NEW.t = now(); -- x;\n"
        "  RETURN NEW;\nEND;\n$$ LANGUAGE plpgsql;\n"
        "DO $body$ BEGIN RAISE NOTICE 'x;y'; END $body$;\n"
        "SELECT E'a\\';b';\n"
        "/* a /* nested; */ still; */ SELECT 2;\n"
        "SELECT $1::int;\n"
        "SELECT 'price$5;';\n"
    )
    out = split_sql(sql, PG)
    assert [line for _, line in out] == [1, 7, 8, 9, 10, 11]
    assert out[0][0].endswith("$$ LANGUAGE plpgsql")
    assert out[3][0] == "SELECT 2"


def test_postgres_begin_atomic_bodies() -> None:
    sql = (
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n"
        "  SELECT CASE WHEN true THEN 1 END;\nEND;\nBEGIN;\nCOMMIT;\n"
    )
    out = split_sql(sql, PG)
    assert [s for s, _ in out][1:] == ["BEGIN", "COMMIT"]
    assert out[0][0].endswith("END")


def test_postgres_semicolons_inside_parentheses_stay_in_the_statement() -> None:
    """As psql: a rule's several actions are one statement; quoted or
    commented parentheses do not count."""
    sql = (
        "CREATE RULE r AS ON INSERT TO t DO ALSO (\n"
        "  INSERT INTO a VALUES (1, ')');\n"
        "  INSERT INTO b VALUES (2) -- (\n"
        ");\n"
        "SELECT (1);\n"
    )
    out = split_sql(sql, PG)
    assert [line for _, line in out] == [1, 5]
    assert out[0][0].endswith(")") and "INSERT INTO b" in out[0][0]
    assert out[1][0] == "SELECT (1)"


def test_postgres_begin_atomic_only_in_functions_and_procedures() -> None:
    sql = (
        "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO t VALUES (1);\nEND;\n"
        'create table begin_end ("begin" int, atomic int, "end" text default \'end;\');\n'
        "CREATE INDEX ix ON begin_end (atomic);\n"
    )
    out = split_sql(sql, PG)
    assert [line for _, line in out] == [1, 5, 6]
    assert out[0][0].endswith("END")
    assert out[1][0].startswith("create table begin_end")


def test_mysql_delimiter_hash_comments_and_escapes() -> None:
    sql = (
        "# comment;\n"
        "DELIMITER //\n"
        "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; END//\n"
        "DELIMITER ;\n"
        "INSERT INTO a VALUES ('it\\'s;', \"q;\");\n"
        "/*!40101 SET NAMES utf8mb4 */;\n"
        "SELECT `a;b` FROM t\n"
    )
    out = split_sql(sql, MY)
    assert [line for _, line in out] == [3, 5, 6, 7]
    assert out[0][0].endswith("END")
    assert out[2][0] == "/*!40101 SET NAMES utf8mb4 */"


def test_mysql_double_dash_is_a_comment_only_before_whitespace() -> None:
    """As the mysql client and server: `x--1` is `x - -1`; `-- ` and `--`
    before a tab or the end of the input start a comment. PostgreSQL needs
    no space."""
    sql = "UPDATE t SET x = x--1;\nSELECT 2;\n--\tnot a statement;\nSELECT 3; --"
    out = split_sql(sql, MY)
    assert out == [("UPDATE t SET x = x--1", 1), ("SELECT 2", 2), ("SELECT 3", 4)]
    assert leading_keywords("--1\nSELECT", 1, hash_comments=True) == []
    assert leading_keywords("-- 1\nSELECT", 1, hash_comments=True) == ["SELECT"]
    assert [line for _, line in split_sql("SELECT 1--1;\nSELECT 2;", PG)] == [1]


def test_mysql_routines_without_delimiter() -> None:
    sql = (
        "CREATE PROCEDURE p()\nBEGIN\n  DECLARE x INT;\n  IF x > 0 THEN SELECT 1; END IF;\n"
        "  WHILE x < 3 DO SET x = x + 1; END WHILE;\n"
        "  SELECT CASE WHEN 1 THEN 'a' END;\n  BEGIN SELECT 2; END;\nEND;\n"
        "CALL p();\n"
        "DROP PROCEDURE p;\n"
        "CREATE TRIGGER t2 BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 2;\n"
        "BEGIN;\nCOMMIT;\n"
    )
    out = [s for s, _ in split_sql(sql, MY)]
    assert out[0].startswith("CREATE PROCEDURE") and out[0].endswith("END")
    assert out[1:] == [
        "CALL p()",
        "DROP PROCEDURE p",
        "CREATE TRIGGER t2 BEFORE INSERT ON a FOR EACH ROW SET NEW.x = 2",
        "BEGIN",
        "COMMIT",
    ]


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("-- c\n/* d */ create  index concurrently x", ["CREATE", "INDEX", "CONCURRENTLY"]),
        ("  begin;", ["BEGIN"]),
        ("", []),
    ],
)
def test_leading_keywords(sql: str, words: list[str]) -> None:
    assert leading_keywords(sql) == words
