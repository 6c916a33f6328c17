"""The lock, backups, databases and the schema, on the backend itself."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import migrata
from migrata.backends.base import OBJECT_KINDS, DatabaseURL
from migrata.backends.registry import create_backend
from migrata.errors import UsageError
from migrata.testing.suite.checks import upgrade
from migrata.testing.suite.dialects import connected, facts, ids, write

__all__ = [
    "test_backup_and_restore_round_trip",
    "test_break_lock_ends_the_holder",
    "test_create_and_drop_database",
    "test_ensure_namespace",
    "test_has_object_finds_what_statements_leave",
    "test_ledger_tables_created_once",
    "test_lock_excludes_second_holder",
    "test_lock_freed_when_holder_dies",
    "test_lock_waits_bounded_and_blockers_named",
    "test_quote_ident_round_trips",
    "test_schema_snapshot_and_scratch",
]


# --- the lock ---------------------------------------------------------------------------


def test_lock_excludes_second_holder(migrata_url: str) -> None:
    with connected(migrata_url) as first, connected(migrata_url) as second:
        assert first.lock_holder() is None
        second.release_lock()  # not held: nothing to do
        assert first.acquire_lock(30.0)
        t0 = time.monotonic()
        assert not second.acquire_lock(0.3)
        assert time.monotonic() - t0 >= 0.25, "it waited its timeout"
        assert second.lock_holder() is not None
        first.release_lock()
        assert second.acquire_lock(30.0)
        second.release_lock()
        assert second.lock_holder() is None


# holds the lock; once told to go on (a line on stdin) says whether its session still works
_HOLD = """
import sys
from migrata.backends.registry import create_backend
from migrata.backends.base import OBJECT_KINDS, DatabaseURL
b = create_backend(DatabaseURL.parse(sys.argv[1])); b.connect()
assert b.acquire_lock(30)
print("locked", flush=True)
sys.stdin.readline()
try:
    b.query("SELECT 1")
    print("alive", flush=True)
except Exception:
    print("ended", flush=True)
"""


@contextlib.contextmanager
def _holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """A process of its own holding the lock (once this yields)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_lock_freed_when_holder_dies(migrata_url: str) -> None:
    with connected(migrata_url) as b, _holder(migrata_url) as proc:
        assert not b.acquire_lock(0.2)
        proc.kill()
        proc.wait()
        assert b.acquire_lock(30.0), "a killed holder must free the lock at once"
        b.release_lock()


def test_break_lock_ends_the_holder(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        assert b.break_lock() is None  # free: nobody to end
        with _holder(migrata_url) as proc:
            holder = b.lock_holder()
            assert holder is not None and holder.describe() != "an unknown holder"
            broken = b.break_lock()
            assert broken is not None and broken.pid == holder.pid
            assert b.lock_holder() is None
            assert b.acquire_lock(30.0)
            out, _ = proc.communicate("go on\n", timeout=60)
            assert "alive" not in out, "the holder's process or session was ended"
            b.release_lock()


# --- backups and databases -----------------------------------------------------------------


def test_backup_and_restore_round_trip(migrata_url: str, tmp_path: Path) -> None:
    with connected(migrata_url) as b, connected(migrata_url) as other:
        for programs, package in b.backup_tools.items():
            assert any(shutil.which(p) for p in programs.split("|")), f"{programs} (package {package}) is missing"
        assert b.backup_suffix == "" or b.backup_suffix.startswith(".")
        b.execute("CREATE TABLE suite_bk (id INTEGER, note VARCHAR(200))")
        for i in range(1, 51):
            b.execute(f"INSERT INTO suite_bk (id, note) VALUES ({i}, '{'x' * 200}')")
        assert b.size_estimate() > 0
        path = tmp_path / f"backup{b.backup_suffix}"
        b.backup_to(path)
        assert b.check_backup(path) is None
        b.execute("INSERT INTO suite_bk (id) VALUES (51)")
        b.execute("CREATE TABLE suite_after (id INTEGER)")
        assert b.acquire_lock(5.0)
        b.restore_from(path)
        assert not other.acquire_lock(0), "the restoring session keeps the migration lock"
        b.release_lock()
        assert ids(b, "suite_bk") == list(range(1, 51))
        assert b.tables_present(["suite_bk", "suite_after"]) == {"suite_bk"}, "written after the backup: gone"
        data = path.read_bytes()
        truncated = tmp_path / f"truncated{b.backup_suffix}"
        truncated.write_bytes(data[: len(data) // 2])
        assert b.check_backup(truncated), "a truncated backup is reported"


def _exists(url: DatabaseURL) -> bool:
    b = create_backend(url)
    try:
        return b.database_exists()
    finally:
        b.close()


def test_create_and_drop_database(migrata_url: str, tmp_path: Path) -> None:
    url = DatabaseURL.parse(migrata_url)
    with connected(migrata_url) as b:
        server = facts(b).server
    new = url.with_database(f"{url.database}_new" if server else str(tmp_path / "new.db"))
    b = create_backend(new)
    try:
        assert not _exists(new)
        assert b.create() is True and b.create() is False
        assert _exists(new)
        if server:
            admin = b.admin()
            admin.connect()
            try:
                assert admin.has_database(str(new.database))
                admin.create_database(f"{new.database}_2")
                assert admin.has_database(f"{new.database}_2")
                admin.drop_database(f"{new.database}_2")
                assert not admin.has_database(f"{new.database}_2")
            finally:
                admin.close()
        else:  # one file per database: no server to administer
            assert Path(str(new.database)).is_file()
            with pytest.raises(UsageError):
                b.admin()
        assert b.drop() is True and b.drop() is False
        assert not _exists(new)
    finally:
        with contextlib.suppress(Exception):
            b.drop()


def test_ensure_namespace(migrata_url: str, tmp_path: Path) -> None:
    with connected(migrata_url) as b:
        b.ensure_namespace()
        b.ensure_namespace()  # the URL names none: nothing to create, twice
        assert b.table_names() == []
        option = facts(b).namespace
    if option is None:  # the dialect has no such option
        return
    spaced = migrata_url + ("&" if "?" in migrata_url else "?") + option
    folder = tmp_path / "migrations"
    write(folder, "1_a.up.sql", "CREATE TABLE suite_ns_t (id INTEGER);")
    upgrade(spaced, migrations=folder)  # creates the namespace, then its tables there
    with connected(spaced) as inside, connected(migrata_url) as outside:
        names = ["migrata_history", "suite_ns_t"]
        assert inside.tables_present(names) == set(names)
        assert outside.tables_present(names) == set()


# --- the schema -------------------------------------------------------------------------------


def test_schema_snapshot_and_scratch(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        b.execute("CREATE TABLE suite_s (id INTEGER PRIMARY KEY, name VARCHAR(20))")
        b.execute("CREATE INDEX suite_s_name ON suite_s (name)")
        before = b.schema_snapshot()
        assert b.schema_snapshot() == before
        copy = b.scratch()
        assert copy is not None
        try:
            assert copy.schema_snapshot() == before, "equal schemas, equal snapshots"
            copy.execute("ALTER TABLE suite_s ADD COLUMN extra INTEGER")
            copy.execute("CREATE TABLE suite_s2 (id INTEGER)")
            assert copy.schema_snapshot() != before
        finally:
            copy.close()
        assert b.schema_snapshot() == before, "the scratch copy left the original untouched"
        assert [t.lower() for t in b.table_names()] == ["suite_s"]
        b.execute("ALTER TABLE suite_s ADD COLUMN extra INTEGER")
        assert b.schema_snapshot() != before, "a column added changes the snapshot"


def test_lock_waits_bounded_and_blockers_named(migrata_url: str) -> None:
    """``bound_lock_waits``: a statement waiting for another session's lock
    gives up (StatementError with ``lock_timeout``) and did not run;
    ``lock_blockers``, asked on a third connection meanwhile, names the
    holder by its ``session_id``. A backend without ``session_id`` (SQLite)
    promises neither."""
    import threading

    from migrata.backends.base import StatementError
    from migrata.testing import wait_for

    with connected(migrata_url) as b, connected(migrata_url) as holder, connected(migrata_url) as watcher:
        if b.session_id() is None:
            return
        b.execute("CREATE TABLE suite_w (id INTEGER PRIMARY KEY)")
        holder.begin()
        holder.query("SELECT * FROM suite_w")
        b.bound_lock_waits(2.0)
        failed: list[StatementError] = []

        def alter() -> None:
            try:
                b.run_statement("ALTER TABLE suite_w ADD COLUMN extra INTEGER")
            except StatementError as exc:
                failed.append(exc)

        waiter = threading.Thread(target=alter)
        waiter.start()
        try:
            wait_for(
                lambda: holder.session_id() in [h.pid for h in watcher.lock_blockers(b.session_id())],
                30,
                "lock_blockers to name the holder",
            )
        finally:
            waiter.join(60)
            holder.rollback()
        assert failed and failed[0].lock_timeout, "the ALTER gave up waiting for its lock"
        b.bound_lock_waits(None)
        assert [c.lower() for c in b.schema_snapshot()["columns"]] == ["suite_w.id"], "it did not run"


def test_has_object_finds_what_statements_leave(migrata_url: str) -> None:
    """``has_object`` sees each kind of object a DDL statement leaves, by the
    name as the statement writes it, and its absence once dropped."""
    with connected(migrata_url) as b:
        q = b.quote_ident
        for sql in (
            "CREATE TABLE a (id INTEGER PRIMARY KEY, n INTEGER, CONSTRAINT a_n_ck CHECK (n > 0))",
            "CREATE TABLE a_log (id INTEGER PRIMARY KEY, n INTEGER)",
            f"CREATE TABLE {q('Mixed Case')} (id INTEGER)",
            "CREATE INDEX a_n_ix ON a (n)",
            "CREATE VIEW a_v AS SELECT id FROM a",
            "ALTER TABLE a ADD COLUMN extra INTEGER",
            *[s for s in facts(b).trigger.split(";\n") if s.strip()],
        ):
            b.run_statement(sql)
        present = {
            ("table", "a", None),
            ("table", q("a"), None),
            ("table", q("Mixed Case"), None),
            ("view", "a_v", None),
            ("index", "a_n_ix", "a"),
            ("index", "a_n_ix", None),
            ("column", "extra", "a"),
            ("column", q("n"), q("a")),
            ("trigger", "a_tr", "a"),
        }
        absent = {
            ("table", "a_v", None),  # a view is not a table
            ("table", "nothing", None),
            ("view", "a", None),
            ("index", "no_ix", "a"),
            ("column", "extra", "a_log"),
            ("column", "nothing", "a"),
            ("trigger", "a_tr", "a_log"),
            ("routine", "no_such_routine", None),
            ("sequence", "no_such_sequence", None),
        }
        for kind, name, table in present | absent:
            assert b.has_object(kind, name, table=table) is ((kind, name, table) in present), (kind, name, table)
        if "FUNCTION a_f" in facts(b).trigger:  # the trigger's function
            assert b.has_object("routine", "a_f") and b.has_object("routine", q("a_f"))
        assert b.has_object("constraint", "a_n_ck", table="a") in (True, None)
        assert b.has_object("constraint", "no_ck", table="a") in (False, None)
        b.run_statement("DROP VIEW a_v")
        b.run_statement("DROP INDEX a_n_ix" + (" ON a" if b.dialect == "mysql" else ""))
        assert not b.has_object("view", "a_v") and not b.has_object("index", "a_n_ix", table="a")
        assert {k for k in OBJECT_KINDS if b.has_object(k, "a", table="a") is not None} >= {"table", "view"}
        with pytest.raises(ValueError):
            b.has_object("galaxy", "a")


def test_quote_ident_round_trips(migrata_url: str) -> None:
    with connected(migrata_url) as b:
        name, column = 'suite "odd` name', "col'\"`x"
        table = b.quote_ident(name)
        b.execute(f"CREATE TABLE {table} ({b.quote_ident(column)} INTEGER)")
        b.execute(f"INSERT INTO {table} ({b.quote_ident(column)}) VALUES (1)")
        assert b.query(f"SELECT {b.quote_ident(column)} FROM {table}") == [(1,)]
        assert b.table_names() == [name] and b.tables_present([name, "suite"]) == {name}
        assert b.schema_snapshot() != {}
        b.execute(f"DROP TABLE {table}")
        assert b.table_names() == []


def test_ledger_tables_created_once(migrata_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    folder.mkdir()
    assert upgrade(migrata_url, migrations=folder).steps == []  # nothing to do: nothing created
    with connected(migrata_url) as b:
        assert b.tables_present(["migrata_history", "migrata_events"]) == set()
    long_name = "n" * 200  # key_type holds it whole
    write(folder, f"1_{long_name}.up.sql", "CREATE TABLE suite_once (id INTEGER);")
    upgrade(migrata_url, migrations=folder)
    upgrade(migrata_url, migrations=folder)
    with connected(migrata_url) as b:
        assert b.tables_present(["migrata_history", "migrata_events"]) == {"migrata_history", "migrata_events"}
    st = migrata.status(migrata_url, migrations=folder)
    assert st.current == "1" and st.migrations[0].name == long_name
    message = "it's a long failure ü\\ " * 100  # text_type holds it whole
    write(folder, "2_fail.py", f"def up(ctx):\n    raise RuntimeError({message!r})\n")
    with pytest.raises(migrata.MigrationFailedError):
        upgrade(migrata_url, migrations=folder)
    events = migrata.history(migrata_url, migrations=folder, limit=None).events
    assert [e.detail.get("error") for e in events if e.outcome == "failed"] == [message]
    numbers = [e.id for e in events]  # id_column numbers the events in order (newest first here)
    assert all(isinstance(i, int) for i in numbers) and numbers == sorted(set(numbers), reverse=True)
