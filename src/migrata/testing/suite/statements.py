"""Connection, transactions, statements and timeouts, on the backend itself."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from migrata.backends.base import Backend, DatabaseURL, Statement, StatementError
from migrata.backends.registry import create_backend
from migrata.errors import DatabaseError
from migrata.testing.suite.dialects import SECRET, column_values, connected, facts, ids

__all__ = [
    "test_connect_and_close",
    "test_connect_and_introspect",
    "test_connection_errors_mask_the_password",
    "test_ddl_rollback_matches_capability",
    "test_deferred_commits_match_capability",
    "test_elapsed_ms_sql_counts_inside_a_step_sent_at_once",
    "test_rendered_statements_run_in_the_client",
    "test_run_batch_matches_capability",
    "test_run_script_matches_capability",
    "test_split_and_render_keep_quoted_semicolons_and_lines",
    "test_statement_classification",
    "test_statement_error_is_reported",
    "test_timeout_cancels_a_slow_statement",
    "test_transactions",
]


# --- connection ----------------------------------------------------------------------


def test_connect_and_close(migrata_url: str) -> None:
    b = create_backend(DatabaseURL.parse(migrata_url))
    b.connect()
    assert b.database_exists()
    conn = b.connection
    b.connect()  # a second connect keeps the connection
    assert conn is not None and b.connection is conn
    if type(b).server_version is not Backend.server_version:  # the default "" says: unknown
        assert re.search(r"\d+\.\d+", b.server_version())
    b.close()
    b.close()  # never raises
    b.connect()  # and the backend connects again
    assert b.query("SELECT 1") == [(1,)]
    b.close()


def test_connection_errors_mask_the_password(migrata_url: str, tmp_path: Path) -> None:
    url = DatabaseURL.parse(migrata_url)
    with connected(migrata_url) as b:
        server = facts(b).server
    absent = url.with_database(f"{url.database}_absent" if server else str(tmp_path / "absent.db"))
    assert not create_backend(absent).database_exists()
    assert not create_backend(absent).database_exists(), "asking created nothing"
    if server:  # a URL with a password, to a port where nothing listens
        parts = urlsplit(migrata_url)
        broken = parts._replace(netloc=f"{parts.username}:{SECRET}@{parts.hostname}:1").geturl()
    else:  # a database in a folder that does not exist
        broken = f"sqlite:///{tmp_path / 'no_such_folder' / 'x.db'}"
    with pytest.raises(DatabaseError) as info:
        create_backend(DatabaseURL.parse(broken)).connect()
    err = info.value
    assert SECRET not in f"{err} {err!r} {err.hint} {err.to_dict()}"


def test_transactions(migrata_url: str) -> None:
    with connected(migrata_url) as b, connected(migrata_url) as other:
        b.execute("CREATE TABLE suite_tx (id INTEGER)")
        b.rollback()  # with no transaction open: never raises
        assert not b.in_transaction()
        b.begin()
        assert b.in_transaction()
        b.execute("INSERT INTO suite_tx (id) VALUES (1)")
        b.rollback()
        assert not b.in_transaction() and ids(b, "suite_tx") == []
        b.begin()
        b.execute("INSERT INTO suite_tx (id) VALUES (2)")
        b.commit()
        assert not b.in_transaction() and ids(other, "suite_tx") == [2]


def test_connect_and_introspect(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        p = b.placeholder
        b.execute("CREATE TABLE suite_t (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        b.execute(f"INSERT INTO suite_t (id, name) VALUES ({p}, {p})", (1, "o'ne;"))
        assert b.query(f"SELECT id, name FROM suite_t WHERE name = {p}", ["o'ne;"]) == [(1, "o'ne;")]
        with pytest.raises(DatabaseError):  # migrata's own statements fail with DatabaseError
            b.execute("INSERT INTO suite_missing (id) VALUES (1)")
        with pytest.raises(DatabaseError):
            b.query("SELECT id FROM suite_missing")
        assert "suite_t" in [t.lower() for t in b.table_names()]
        # the ledger asks for its own tables by name, not by listing the schema
        b.execute("CREATE VIEW suite_v AS SELECT id FROM suite_t")
        assert b.tables_present(["suite_t", "suite_missing", "suite_v"]) == {"suite_t"}
        assert b.tables_present(["suite_missing"]) == set()
        assert b.tables_present([]) == set()


# --- statements ------------------------------------------------------------------------


def test_split_and_render_keep_quoted_semicolons_and_lines(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        script = (
            "-- a comment; with a semicolon\nCREATE TABLE a (x VARCHAR(10));\n\n"
            "INSERT INTO a VALUES ('p;q');\n/* c; */ SELECT 1"
        )
        stmts = b.split(script)
        assert [(s.line, s.index) for s in stmts] == [(2, 0), (4, 1), (5, 2)]
        assert "'p;q'" in stmts[1].sql
        assert b.split("-- only a comment\n;\n") == []
        # rendered for the database's client, each statement reads back as itself
        again = b.split("\n".join(b.render_statement(s) for s in stmts))
        assert [s.sql.rstrip(";") for s in again] == [s.sql.rstrip(";") for s in stmts]
        for s in stmts:
            b.run_statement(s.sql)
        assert b.query("SELECT x FROM a") == [("p;q",)]


def test_rendered_statements_run_in_the_client(migrata_url: str) -> None:
    """``render_statement`` gives each statement as the database's own client
    needs it in a script (a body with semicolons of its own included)."""
    with connected(migrata_url) as b:
        trigger = facts(b).trigger
        tables = "CREATE TABLE a (x VARCHAR(10));\nCREATE TABLE a_log (n INTEGER);\n"
        script = f"{tables}{trigger}\nINSERT INTO a VALUES ('p;q');"
        stmts = b.split(script)
        assert len(stmts) == 4 + trigger.count(";\n"), [s.sql for s in stmts]
        rendered = "\n".join(b.render_statement(s) for s in stmts) + "\n"
        url = DatabaseURL.parse(migrata_url)
        env = {**os.environ, "PGPASSWORD": url.password or "", "MYSQL_PWD": url.password or ""}
        run = subprocess.run(facts(b).client(url), input=rendered, env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert b.query("SELECT x FROM a") == [("p;q",)]
        assert column_values(b, "SELECT n FROM a_log ORDER BY n") == [1, 2]


def test_statement_error_is_reported(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        with pytest.raises(StatementError) as info:
            b.run_statement("SELECT * FROM no_such_table_here")
        assert "no_such_table_here" in str(info.value)
        sql = "SELECT 1\n  , 2\n  , 3 FROM FROM"  # the error is on the statement's third line
        with pytest.raises(StatementError) as info:
            b.run_statement(sql)
        err = info.value
        assert err.db_message and err.index is None
        assert err.line in (None, 3), "the line the server names"
        assert err.position is None or sql.count("\n", 0, err.position - 1) == 2, "the offset the server names"


def test_ddl_rollback_matches_capability(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        create = "CREATE TABLE suite_rb (id INTEGER)"
        assert b.transactional_statement(Statement(create, 1)) is b.transactional_ddl
        b.begin()
        b.run_statement(create)
        b.rollback()
        present = "suite_rb" in [t.lower() for t in b.table_names()]
        assert present is (not b.transactional_ddl)


def test_statement_classification(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        for sql in ("BEGIN", "COMMIT", "ROLLBACK"):
            assert b.manages_transaction(Statement(sql, 1)), sql
        create = "CREATE TABLE suite_cl (id INTEGER)"  # needs no special handling anywhere
        for sql in (create, "INSERT INTO suite_cl (id) VALUES (1)", "ROLLBACK TO SAVEPOINT s1"):
            stmt = Statement(sql, 1)
            assert not b.manages_transaction(stmt), sql
            assert b.no_transaction_reason(stmt) is None, sql
            assert not b.returns_several_results(stmt), sql
            assert b.render_statement(stmt) == sql + ";"
        assert b.transactional_statement(Statement("INSERT INTO suite_cl (id) VALUES (1)", 1))
        no_tx = facts(b).no_tx
        if no_tx is None:  # the dialect has no such statement: nothing is named one
            assert b.no_transaction_reason(Statement("VACUUM", 1)) is None
            return
        assert b.no_transaction_reason(Statement(no_tx, 1))
        b.begin()
        with pytest.raises(StatementError):  # the reason is real
            b.run_statement(no_tx)
        b.rollback()
        b.run_statement(no_tx)


def test_run_script_matches_capability(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        if not b.step_in_one_call:
            with pytest.raises(NotImplementedError):
                b.run_script("SELECT 1;\nSELECT 2;")
            return
        b.run_script(f"{b.begin_sql};\nCREATE TABLE suite_rs (id INTEGER);\nINSERT INTO suite_rs VALUES (1);\nCOMMIT;")
        assert ids(b, "suite_rs") == [1] and not b.in_transaction()
        bad = f"{b.begin_sql};\nINSERT INTO suite_rs VALUES (2);\nSELECT * FROM suite_missing;\nCOMMIT;"
        with pytest.raises(StatementError) as info:
            b.run_script(bad)
        position = info.value.position
        assert position is None or bad[position - 1 :].startswith("suite_missing"), position
        b.rollback()
        assert ids(b, "suite_rs") == [1] and not b.in_transaction()


def test_run_batch_matches_capability(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        b.execute("CREATE TABLE suite_rb (id INTEGER)")
        ins = "INSERT INTO suite_rb (id) VALUES ({})".format
        if not b.journal_in_one_call:
            with pytest.raises(NotImplementedError):
                b.run_batch([ins(1)])
            return
        b.run_batch([ins(1), ins(2)])
        assert ids(b, "suite_rb") == [1, 2]
        with pytest.raises(StatementError) as info:
            b.run_batch([ins(3), ins(4), "INSERT INTO suite_missing (id) VALUES (5)", ins(6)])
        assert info.value.index == 2 and ids(b, "suite_rb") == [1, 2, 3, 4]


def test_deferred_commits_match_capability(migrata_url: str) -> None:
    with connected(migrata_url) as b, connected(migrata_url) as other:
        b.execute("CREATE TABLE suite_dc (id INTEGER)")
        with b.deferred_commits():
            b.execute("INSERT INTO suite_dc (id) VALUES (1)")
            assert ids(other, "suite_dc") == ([] if b.defers_journal_commits else [1])
            b.run_statement("CREATE TABLE suite_dc2 (id INTEGER)")  # commits the writes before it
            assert ids(other, "suite_dc") == [1]
            b.execute("INSERT INTO suite_dc (id) VALUES (2)")
        assert ids(other, "suite_dc") == [1, 2] and not b.in_transaction()
        b.execute("INSERT INTO suite_dc (id) VALUES (3)")
        assert ids(other, "suite_dc") == [1, 2, 3], "each write commits again"
        with pytest.raises(RuntimeError), b.deferred_commits():
            b.execute("INSERT INTO suite_dc (id) VALUES (4)")
            raise RuntimeError("the step failed")
        assert ids(other, "suite_dc") == ([1, 2, 3] if b.defers_journal_commits else [1, 2, 3, 4])
        assert not b.in_transaction()


def test_elapsed_ms_sql_counts_inside_a_step_sent_at_once(migrata_url: str) -> None:
    """The expression is evaluated where the runner uses it: inside a step
    sent in one call (``run_script``) or one batch (``run_batch``)."""
    with connected(migrata_url) as b:
        b.execute("CREATE TABLE suite_el (ms INTEGER)")
        started = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        insert = f"INSERT INTO suite_el (ms) VALUES ({b.elapsed_ms_sql(started)})"
        if b.step_in_one_call:
            b.run_script(f"{b.begin_sql};\n{insert};\nCOMMIT;")
        elif b.journal_in_one_call:
            b.run_batch([insert])
        else:
            b.execute(insert)
        value = b.query("SELECT ms FROM suite_el")[0][0]
        if type(b).elapsed_ms_sql is Backend.elapsed_ms_sql:  # the default: the database cannot tell
            assert value is None
        else:
            assert isinstance(value, int) and 0 <= value < 600_000, value


def test_timeout_cancels_a_slow_statement(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        sleep = facts(b).sleep
        b.apply_timeout(0.2)
        with pytest.raises(StatementError, match=r"timeout of 0\.2s"):
            b.run_statement(sleep.format(s=30))
        assert b.query("SELECT 1") == [(1,)], "the session outlives the cancelled statement"
        # a Python migration's own cursor: the guard (or the session setting) bounds it too
        with pytest.raises(Exception, match=r"(?i)time"), b.statement_guard():
            cur = b.connection.cursor()
            cur.execute(sleep.format(s=30))
            cur.fetchall()
        b.apply_timeout(None)  # no bound any more
        b.run_statement(sleep.format(s=0.5))
