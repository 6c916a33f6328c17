"""Which statements of a journaled MySQL/MariaDB step get no progress mark
(:func:`migrata._core.doubt.unmarked`): pure, no server needed.

Each mark before DDL costs a commit of its own there. A mark is left out
only where ``repair --resume`` can still tell, from the schema alone, which
statements a crash let complete."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from migrata._core.doubt import unmarked
from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend

MYSQL = create_backend(DatabaseURL.parse("mysql://root@127.0.0.1:3306/never_connected"))
SQLITE = create_backend(DatabaseURL.parse("sqlite:///never_connected.db"))


def skipped(sql: str, *, backend=MYSQL, start: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    item = SimpleNamespace(statements=backend.split(sql))
    return sorted(unmarked(backend, item, start))  # type: ignore[arg-type]


def test_create_table_then_its_index_share_one_mark() -> None:
    assert skipped("CREATE TABLE t (id INT PRIMARY KEY, v INT); CREATE INDEX t_v ON t (v);") == [1]


def test_a_change_inside_the_first_ones_table_leaves_it_visible() -> None:
    assert skipped("CREATE TABLE t (id INT); ALTER TABLE t ADD COLUMN c INT;") == [1]
    assert skipped("ALTER TABLE t ADD COLUMN c INT; ALTER TABLE t DROP COLUMN c;") == []


def test_at_most_two_ddl_between_marks() -> None:
    sql = "CREATE TABLE a (id INT); CREATE TABLE b (id INT); CREATE TABLE c (id INT); CREATE TABLE d (id INT);"
    assert skipped(sql) == [1, 3]
    assert skipped(sql, start=1) == [2], "a resumed run's first statement counts as marked"


@pytest.mark.parametrize(
    "second",
    [
        "DROP TABLE t",  # the first one's object gone again
        "ALTER TABLE t RENAME TO u",
        "RENAME TABLE t TO u",
        "DROP TABLE `T`",  # names compared without quotes and case
        "ALTER TABLE t ENGINE = InnoDB",  # a change the recogniser does not see
    ],
)
def test_ddl_that_touches_what_the_first_made_keeps_its_mark(second: str) -> None:
    assert skipped(f"CREATE TABLE t (id INT); {second};") == []


@pytest.mark.parametrize(
    "first",
    [
        "CREATE TABLE IF NOT EXISTS t (id INT)",  # harmless to run again: it proves nothing
        "ALTER TABLE t ENGINE = InnoDB",  # nothing to see
        "ALTER TABLE t ADD PRIMARY KEY (id)",  # unnamed
    ],
)
def test_a_first_statement_the_schema_cannot_show_keeps_the_mark(first: str) -> None:
    assert skipped(f"{first}; CREATE TABLE other (id INT);") == []


def test_data_changes_have_no_mark_and_end_a_pair() -> None:
    sql = "CREATE TABLE t (id INT); INSERT INTO t VALUES (1); CREATE INDEX t_id ON t (id); CREATE TABLE u (id INT);"
    assert skipped(sql) == [1, 3]


def test_where_each_mark_commits_by_itself_every_statement_has_one() -> None:
    assert skipped("CREATE TABLE t (id INT); CREATE INDEX t_id ON t (id);", backend=SQLITE) == []
