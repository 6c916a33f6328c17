"""Real-world migration sets, run on their real servers as their own tools run them.

The sets live in the shared corpus folder (``/work/shared/corpus``, its
README says which dialect each is and what makes it hard) and are read in
place, never modified. Each test configures migrata the way a user moving
such a project to migrata would (a project folder holding only a
``migrata.toml`` that points at the corpus), runs the files on a fresh
database and checks the schema, the history and the event log.

* ente (golang-migrate, PostgreSQL): everything applies; the rollback stops
  where ente's own down files stop being correct (93's down drops a function
  that 14 triggers use), exactly as golang-migrate would stop, with nothing
  half-done and a precise record.
* authelia (own runner; PostgreSQL, MySQL/MariaDB, SQLite): up, down to
  base, up again. On MySQL the down files break at V0007 (V0012's down
  recreates an index that V0007's down creates again): the mariadb client
  stops at the same line; migrata's journal records how far it got.

Tests marked ``xfail(strict=True, reason="BUG: ...")`` hold what migrata
should do and does not yet (``up --sql`` on MySQL procedures, the line of a
failure without an error position, same-named constraints in ``schema_of``).

A missing server skips locally and fails in CI, as ``migrata.testing.plugin``
does; so does a missing corpus.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata
from migrata.backends.base import DatabaseURL
from migrata.backends.registry import create_backend
from migrata.testing import run_cli, schema_of
from migrata.testing.plugin import fresh_database, skip_or_fail

CORPUS = Path(os.environ.get("MIGRATA_CORPUS_DIR", "/work/shared/corpus"))
ENTE = CORPUS / "ente" / "postgres"
AUTHELIA = CORPUS / "authelia"
AUTHELIA_FOLDERS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql"}
AUTHELIA_PATTERN = r"^V(?P<version>\d+)\.(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$"
OWN_TABLES = {"migrata_history", "migrata_events"}


# --- helpers -------------------------------------------------------------------------------
def _corpus(folder: Path, files: int) -> Path:
    if not folder.is_dir():
        skip_or_fail(f"corpus folder {folder} not found")
    found = len([p for p in folder.iterdir() if p.suffix == ".sql"])
    assert found == files, f"{folder} holds {found} .sql files, expected {files}: the corpus changed"
    return folder


@contextlib.contextmanager
def server_database(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of ``dialect``, dropped afterwards."""
    with fresh_database(dialect, directory=tmp_path) as url:
        yield url


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert "'" not in str(value)
    return f"'{value}'"  # a TOML literal string: backslashes stay as they are


def write_project(root: Path, url: str, migrations: Path, **settings: Any) -> Path:
    """A project folder holding only a migrata.toml that points at the corpus."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [f"url = {_toml(url)}", f"migrations = {_toml(str(migrations))}"]
    lines += [f"{key} = {_toml(value)}" for key, value in settings.items()]
    (root / "migrata.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a fresh connection, opened as migrata opens it."""
    backend = create_backend(DatabaseURL.parse(url))
    backend.connect()
    try:
        return [tuple(r) for r in backend.query(sql, params)]
    finally:
        backend.close()


def history_rows(url: str) -> dict[str, tuple[Any, ...]]:
    rows = query(
        url,
        "SELECT version, status, direction, progress, statements, error FROM migrata_history WHERE kind <> 'ledger'",
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def schema(url: str) -> dict[str, Any]:
    """``schema_of(url)``, with PostgreSQL constraints and triggers keyed by table too.

    schema_of keys them by name alone, but their names are unique per table only:
    ente has two ``fk_two_factor_user_id`` (and two ``fk_authenticator_key_user_id``),
    and which one schema_of keeps depends on the row order of its query (see
    test_schema_of_tells_same_named_constraints_apart).
    """
    snap = schema_of(url)
    if not url.startswith("postgresql"):
        return snap
    objects = {k: v for k, v in snap["objects"].items() if not k.startswith(("constraint:", "trigger:"))}
    for kind, table, name, definition in query(
        url,
        "SELECT 'constraint', r.relname, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
        "WHERE r.relnamespace = current_schema()::regnamespace AND r.relname NOT LIKE 'migrata\\_%' "
        "UNION ALL SELECT 'trigger', r.relname, t.tgname, pg_get_triggerdef(t.oid) "
        "FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND r.relnamespace = current_schema()::regnamespace",
    ):
        objects[f"{kind}:{table}.{name}"] = definition
    return {**snap, "objects": objects}


def events(project: Path) -> list[Any]:
    """The event log, oldest first."""
    return list(reversed(migrata.history(project, limit=None).events))


def leftovers(url: str, dialect: str) -> set[str]:
    """Every object of the user's schema that is not one of migrata's own."""
    if dialect == "sqlite":
        rows = query(url, "SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        return {f"{t}:{n}" for t, n, tbl in rows if tbl not in OWN_TABLES}
    if dialect == "postgresql":
        rows = query(
            url,
            "SELECT c.relkind::text, c.relname FROM pg_class c "
            "WHERE c.relnamespace = current_schema()::regnamespace "
            "AND NOT (c.relname LIKE 'migrata\\_%' AND c.relkind IN ('r', 'i', 'S')) "
            "UNION ALL SELECT 'function', proname::text FROM pg_proc "
            "WHERE pronamespace = current_schema()::regnamespace "
            "UNION ALL SELECT 'type', typname::text FROM pg_type "
            "WHERE typnamespace = current_schema()::regnamespace AND typtype IN ('e', 'd', 'c') "
            "AND typrelid = 0",
        )
        return {f"{k}:{n}" for k, n in rows}
    rows = query(
        url,
        "SELECT 'table', table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "UNION ALL SELECT routine_type, routine_name FROM information_schema.routines "
        "WHERE routine_schema = DATABASE() "
        "UNION ALL SELECT 'trigger', trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    )
    return {f"{k}:{n}" for k, n in rows if n not in OWN_TABLES}


# --- ente: golang-migrate files on PostgreSQL ---------------------------------------------------
# golang-migrate runs empty files as no-ops: nothing else is needed
ENTE_SETTINGS: dict[str, Any] = {"allow_empty": True}
ENTE_VERSIONS = [str(v) for v in range(1, 125)]
# Files with their own BEGIN;...COMMIT; (migrata notices them and runs them outside its
# transaction, with the journal) ...
ENTE_OWN_TRANSACTION = {"25", "26", "27", "36", "40", "83", "84", "90", "95"}
# ... and files whose one statement is CREATE/DROP INDEX CONCURRENTLY, without any directive
# (a file of statements that cannot run in a transaction runs without one, journaled).
ENTE_CONCURRENTLY = {"45", "79", "97", "123"}
ENTE_93_DOWN_ERROR = "cannot drop function trigger_updated_at_microseconds_column() because other objects depend on it"


@pytest.fixture
def ente(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(project folder, database URL) of ente's set on a fresh PostgreSQL database."""
    folder = _corpus(ENTE, 248)
    with server_database("postgresql", tmp_path) as url:
        yield write_project(tmp_path / "ente", url, folder, **ENTE_SETTINGS), url


def test_ente_applies_every_migration(ente: tuple[Path, str]) -> None:
    project, url = ente
    result = migrata.upgrade(project)

    assert (result.before, result.after) == (None, "124")
    assert [s.version for s in result.steps] == ENTE_VERSIONS
    assert {s.status for s in result.steps} == {"applied"}
    journaled = {s.version for s in result.steps if s.mode == "journal"}
    assert journaled == ENTE_OWN_TRANSACTION | ENTE_CONCURRENTLY

    status = migrata.status(project)
    assert (status.current, status.applied, status.pending, status.problems) == ("124", 124, [], [])
    assert status.up_to_date
    rows = history_rows(url)
    assert sorted(rows, key=int) == ENTE_VERSIONS
    assert {r[:2] for r in rows.values()} == {("applied", "up")}

    log = [e for e in events(project) if e.action == "up"]
    assert [(e.version, e.outcome) for e in log] == [(v, "ok") for v in ENTE_VERSIONS]
    assert {e.version for e in log if e.detail["mode"] == "journal"} == journaled

    # The schema is ente's: spot checks across the set.
    tables = {r[0] for r in query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"users", "files", "collections", "collection_files", "file_data", "emergency_contact", "events"} <= tables
    assert "location_tag" not in tables  # created by 22, dropped by 82
    enum = "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = %s::regtype"
    assert query(url, enum, ("object_type",)) == [("file,thumbnail,mldata,vid_preview,img_preview",)]  # 89 + 94
    assert query(url, enum, ("role_enum",)) == [("VIEWER,COLLABORATOR,OWNER,ADMIN",)]  # 109: ADD VALUE
    functions = dict(
        query(
            url,
            "SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang "
            "WHERE p.pronamespace = 'public'::regnamespace",
        )
    )
    assert functions["trigger_updated_at_microseconds_column"] == "plpgsql"
    assert "now_utc_micro_seconds" in functions
    triggers = dict(query(url, "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal"))
    assert triggers["update_events_updated_at"] == "events"  # 124
    assert triggers["update_emergency_recovery_updated_at"] == "families"  # 93 puts it there, as written
    # 25 (own BEGIN/COMMIT) widened the ids; 95 (own BEGIN/COMMIT) made its column NOT NULL
    column = "SELECT data_type, is_nullable FROM information_schema.columns WHERE table_name = %s AND column_name = %s"
    assert query(url, column, ("collections", "owner_id")) == [("bigint", "NO")]
    assert query(url, column, ("public_collection_tokens", "enable_join")) == [("boolean", "NO")]
    # the CONCURRENTLY indexes exist and are valid (not left INVALID by a failed build)
    concurrent = query(
        url,
        "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname IN ('collection_files_file_id_index', 'idx_queue_created_at_non_deleted', "
        "'idx_file_data_user_updated', 'temp_objects_expiration_time_idx')",
    )
    assert sorted(concurrent) == [
        ("collection_files_file_id_index", True),
        ("idx_file_data_user_updated", True),
        ("idx_queue_created_at_non_deleted", True),
        ("temp_objects_expiration_time_idx", True),
    ]


def test_ente_rollback_stops_at_93_with_nothing_half_done(ente: tuple[Path, str], tmp_path: Path) -> None:
    """124..94 roll back; 93's down fails on the server, as under golang-migrate.

    93's down ends with ``DROP FUNCTION trigger_updated_at_microseconds_column``,
    a function created by an earlier migration and used by 14 triggers. Like
    golang-migrate (one multi-statement query, which PostgreSQL runs as one
    implicit transaction) nothing of the file stays applied; unlike it, the
    version is not left dirty and the event log holds the failure.
    """
    project, url = ente
    migrata.upgrade(project)

    res = run_cli(["-C", str(project), "down", "base"])
    assert res.exit_code == 1, res.output
    rolled_back = re.findall(r"^rolled back (\d+) ", res.output, re.M)
    assert rolled_back == [str(v) for v in range(124, 93, -1)]
    error = re.search(r"^error: (.*)$", res.output, re.M)
    assert error is not None, res.output
    assert error.group(1).startswith("migration 93 emergency_contact failed at 93_emergency_contact.down.sql:")
    assert ENTE_93_DOWN_ERROR in res.output
    # the hint names what blocks the drop (the server's list of dependent objects)
    hint = next(line for line in res.output.splitlines() if line.startswith("hint:"))
    assert hint.startswith("hint: nothing of it was applied; trigger ") and "depends on function" in hint, hint

    # The record: 1..93 applied, nothing failed or running, 94..124 pending again.
    status = migrata.status(project)
    assert (status.current, status.applied, status.problems) == ("93", 93, [])
    assert [m.version for m in status.pending] == [str(v) for v in range(94, 125)]
    rows = history_rows(url)
    assert sorted(rows, key=int) == ENTE_VERSIONS[:93]
    assert {r[0] for r in rows.values()} == {"applied"}
    downs = [e for e in events(project) if e.action == "down"]
    assert [(e.version, e.outcome) for e in downs] == [(str(v), "ok") for v in range(124, 93, -1)] + [("93", "failed")]
    assert downs[-1].detail["error"].startswith(ENTE_93_DOWN_ERROR)
    assert downs[-1].detail["mode"] == "transaction"

    # The same again through the library: same error, still nothing changed.
    with pytest.raises(migrata.MigrationFailedError) as caught:
        migrata.downgrade(project)
    exc = caught.value
    assert (exc.exit_code, exc.version) == (1, "93")
    assert Path(exc.path or "") == ENTE / "93_emergency_contact.down.sql"
    assert (exc.db_error or "").startswith(ENTE_93_DOWN_ERROR)
    assert "trigger update_families_updated_at on table families depends on function" in (exc.db_error or "")
    assert (exc.hint or "").startswith("nothing of it was applied; trigger ") and "update_families" in (exc.hint or "")
    assert migrata.status(project).current == "93"

    # The real schema is what the history says: exactly ente at 93 (fresh database,
    # files 1..93 applied), except what 94's down cannot undo: PostgreSQL cannot
    # remove an enum value, so 'vid_preview' and 'img_preview' stay in object_type.
    with server_database("postgresql", tmp_path) as fresh:
        migrata.upgrade(write_project(tmp_path / "ente93", fresh, ENTE, **ENTE_SETTINGS), "93")
        expected = schema(fresh)
    assert expected["objects"]["type:object_type"]["sql"] == "file,thumbnail,mldata"
    expected["objects"]["type:object_type"]["sql"] = "file,thumbnail,mldata,vid_preview,img_preview"
    assert schema(url) == expected
    assert "function:trigger_updated_at_microseconds_column()" in expected["objects"]
    assert "trigger:families.update_emergency_recovery_updated_at" in expected["objects"]
    assert "constraint:emergency_contact.chk_encrypted_key_null" in expected["objects"]


def test_schema_of_tells_same_named_constraints_apart(ente: tuple[Path, str]) -> None:
    project, url = ente
    migrata.upgrade(project, "52")  # two_factor/temp_two_factor and authenticator_key/_entity
    constraints = set(
        query(
            url,
            "SELECT r.relname, c.conname FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
            "WHERE r.relnamespace = current_schema()::regnamespace AND r.relname NOT LIKE 'migrata\\_%'",
        )
    )
    assert ("two_factor", "fk_two_factor_user_id") in constraints
    assert ("temp_two_factor", "fk_two_factor_user_id") in constraints
    objects = schema_of(url)["objects"]
    # keys are "constraint:<table>.<name>": a name is unique per table only
    listed = {
        (v["table"], k.split(":", 1)[1].split(".", 1)[1]) for k, v in objects.items() if k.startswith("constraint:")
    }
    assert listed == constraints
    assert len([k for k in objects if k.startswith("constraint:")]) == len(constraints)


def _client(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    skip_or_fail(f"no {' or '.join(names)} client installed")


def test_ente_sql_script_runs_in_psql(ente: tuple[Path, str]) -> None:
    """`up --sql` renders what a DBA can run as it is: psql applies all of ente with it."""
    project, url = ente
    psql = _client("psql")
    res = run_cli(["-C", str(project), "up", "--sql"])
    assert res.exit_code == 0, res.output
    proc = subprocess.run(
        [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
        input=res.stdout,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    status = migrata.status(project)
    assert (status.current, status.applied, status.problems) == ("124", 124, [])
    assert {r[:2] for r in history_rows(url).values()} == {("applied", "up")}


def _ente_93_down_failure(project: Path) -> migrata.MigrationFailedError:
    migrata.upgrade(project, "93")
    with pytest.raises(migrata.MigrationFailedError) as caught:
        migrata.downgrade(project)
    return caught.value


def test_ente_93_down_failure_names_the_failing_statement(ente: tuple[Path, str]) -> None:
    project, _ = ente
    exc = _ente_93_down_failure(project)
    assert exc.statement == "DROP FUNCTION IF EXISTS trigger_updated_at_microseconds_column"
    assert exc.line == 12
    assert "failed at 93_emergency_contact.down.sql:12: " in exc.message
    assert "[statement 9: DROP FUNCTION IF EXISTS trigger_updated_at_microseconds_column]" in exc.message
    failed = [e for e in events(project) if e.outcome == "failed"]
    assert failed[-1].detail["line"] == 12


def test_ente_93_down_failure_message_is_one_line(ente: tuple[Path, str]) -> None:
    project, _ = ente
    exc = _ente_93_down_failure(project)
    assert ENTE_93_DOWN_ERROR in exc.message
    assert "\n" not in exc.message


# --- authelia: V0001.Name.up.sql files on all three dialects ------------------------------------
def authelia_project(root: Path, dialect: str, url: str) -> tuple[Path, str | None]:
    """(project folder, name of the hook module on SQLite) for authelia's files of ``dialect``."""
    folder = _corpus(AUTHELIA / AUTHELIA_FOLDERS[dialect], 52)
    settings: dict[str, Any] = {"file_pattern": AUTHELIA_PATTERN, "allow_empty": True}
    hooks = None
    if dialect == "sqlite":
        # authelia registers BIN2B64/B642BIN on its SQLite connections (V0002 calls them);
        # the hook also records each statement with the connection's transaction state.
        hooks = f"authelia_hooks_{uuid.uuid4().hex[:8]}"  # a fresh module: sys.modules caches by name
        root.mkdir(parents=True, exist_ok=True)
        (root / f"{hooks}.py").write_text(
            "import base64\n"
            "\n"
            "STATEMENTS = []\n"
            "\n"
            "\n"
            "def register(conn):\n"
            '    conn.create_function("BIN2B64", 1, lambda b: None if b is None else base64.b64encode(b).decode())\n'
            '    conn.create_function("B642BIN", 1, lambda s: None if s is None else base64.b64decode(s))\n'
            "    conn.set_trace_callback(lambda sql: STATEMENTS.append((sql, conn.in_transaction)))\n",
            encoding="utf-8",
        )
        settings["on_connect"] = [f"{hooks}:register"]
    return write_project(root, url, folder, **settings), hooks


@pytest.fixture
def hook_modules() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


AUTHELIA_VERSIONS = [str(v) for v in range(1, 27)]
# SQLite files that turn foreign keys off and on again around a table rebuild
PRAGMA_UP = ["5", "7", "10", "11", "16"]
PRAGMA_DOWN = ["16", "10", "7", "5"]  # V0011's down has no PRAGMA


def _assert_at_26(project: Path, url: str, result: migrata.MigrateResult) -> None:
    assert (result.before, result.after) == (None, "26")
    assert [s.version for s in result.steps] == AUTHELIA_VERSIONS
    assert {s.status for s in result.steps} == {"applied"}
    status = migrata.status(project)
    assert (status.current, status.applied, status.pending, status.problems) == ("26", 26, [], [])
    rows = history_rows(url)
    assert sorted(rows, key=int) == AUTHELIA_VERSIONS
    assert {r[:2] for r in rows.values()} == {("applied", "up")}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_authelia_up_down_base_up(dialect: str, tmp_path: Path, hook_modules: list[str]) -> None:
    with server_database(dialect, tmp_path) as url:
        project, hooks = authelia_project(tmp_path / "authelia", dialect, url)
        if hooks:
            hook_modules.append(hooks)

        first = migrata.upgrade(project)
        _assert_at_26(project, url, first)
        first_schema = schema(url)
        assert len(first_schema["objects"]) > 50

        down = migrata.downgrade(project, "base")
        assert (down.before, down.after) == ("26", None)
        assert [s.version for s in down.steps] == AUTHELIA_VERSIONS[::-1]
        assert {s.status for s in down.steps} == {"rolled back"}
        status = migrata.status(project)
        assert (status.current, status.applied, len(status.pending), status.problems) == (None, 0, 26, [])
        assert history_rows(url) == {}
        assert leftovers(url, dialect) == set()

        second = migrata.upgrade(project)
        _assert_at_26(project, url, second)
        assert schema(url) == first_schema

        log = events(project)
        assert [(e.action, e.outcome) for e in log].count(("up", "ok")) == 52
        assert [(e.action, e.outcome) for e in log].count(("down", "ok")) == 26

        if dialect != "sqlite":
            return
        # The PRAGMA foreign_keys files ran in journal mode, outside any transaction
        # (inside one SQLite ignores the PRAGMA), and no other file did.
        for result in (first, second):
            assert [s.version for s in result.steps if s.mode == "journal"] == PRAGMA_UP
        assert [s.version for s in down.steps if s.mode == "journal"] == PRAGMA_DOWN
        journaled = [(e.action, e.version) for e in log if e.detail.get("mode") == "journal"]
        expected = [("up", v) for v in PRAGMA_UP] + [("down", v) for v in PRAGMA_DOWN] + [("up", v) for v in PRAGMA_UP]
        assert journaled == expected
        traced = sys.modules[hooks or ""].STATEMENTS
        pragmas = [(sql, in_tx) for sql, in_tx in traced if re.match(r"\s*PRAGMA\s+foreign_keys\s*=", sql, re.I)]
        assert len(pragmas) == 2 * (len(PRAGMA_UP) * 2 + len(PRAGMA_DOWN))
        assert [in_tx for _, in_tx in pragmas] == [False] * len(pragmas)
        assert [sql.split("=")[1].strip(" ;").lower() for sql, _ in pragmas] == ["off", "on"] * (len(pragmas) // 2)
        # a fresh connection (migrata turns foreign keys on for each one) finds them on,
        # and the data consistent with them
        assert query(url, "PRAGMA foreign_keys") == [(1,)]
        assert query(url, "PRAGMA foreign_key_check") == []


def test_authelia_sqlite_needs_the_on_connect_functions(tmp_path: Path) -> None:
    """Without the hook, V0002 fails on SQLite's own 'no such function', nothing of it applied."""
    with server_database("sqlite", tmp_path) as url:
        folder = _corpus(AUTHELIA / "sqlite", 52)
        project = write_project(tmp_path / "bare", url, folder, file_pattern=AUTHELIA_PATTERN, allow_empty=True)
        with pytest.raises(migrata.MigrationFailedError) as caught:
            migrata.upgrade(project)
        exc = caught.value
        assert exc.version == "2"
        assert exc.db_error == "no such function: BIN2B64"
        assert Path(exc.path or "").name == "V0002.WebAuthn.up.sql"
        assert exc.statement is not None and "BIN2B64(key_handle)" in exc.statement
        assert migrata.status(project).current == "1"
        assert "webauthn_devices" not in {r[0] for r in query(url, "SELECT name FROM sqlite_master")}


# MySQL V0007 up: 73 plain statements and 2 CREATE PROCEDURE with BEGIN ... END bodies (no
# DELIMITER), each of them one statement however many ';' it holds; the CALLs that follow use them.
V0007_UP_STATEMENTS = 75


def test_authelia_mysql(tmp_path: Path) -> None:
    with server_database("mysql", tmp_path) as url:
        project, _ = authelia_project(tmp_path / "authelia", "mysql", url)

        first = migrata.upgrade(project)
        _assert_at_26(project, url, first)
        v7 = next(s for s in first.steps if s.version == "7")
        assert (v7.mode, v7.statements) == ("journal", V0007_UP_STATEMENTS)
        assert history_rows(url)["7"][2:4] == (V0007_UP_STATEMENTS, V0007_UP_STATEMENTS)
        # the procedures arrived whole, bodies included
        text = (AUTHELIA / "mysql" / "V0007.ConsistencyFixes.up.sql").read_text(encoding="utf-8")
        routines = dict(
            query(
                url,
                "SELECT routine_name, routine_definition FROM information_schema.routines "
                "WHERE routine_schema = DATABASE() AND routine_type = 'PROCEDURE'",
            )
        )
        assert sorted(routines) == ["PROC_DROP_FOREIGN_KEY", "PROC_DROP_INDEX"]
        for name, body in routines.items():
            m = re.search(rf"CREATE PROCEDURE {name}\(.*?\)\s*(BEGIN.*?\nEND);", text, re.S)
            assert m is not None
            assert " ".join(str(body).split()) == " ".join(m.group(1).split())
        first_schema = schema(url)

        # Down to 7 and up again: the downs of 26..8 undo their ups.
        down = migrata.downgrade(project, "7")
        assert [s.version for s in down.steps] == AUTHELIA_VERSIONS[7:][::-1]
        again = migrata.upgrade(project)
        assert [s.version for s in again.steps] == AUTHELIA_VERSIONS[7:]
        assert schema(url) == first_schema

        # Down to base: V0007's down breaks. V0012's down recreated webauthn_devices with
        # `UNIQUE KEY (kid)` (an index MariaDB names `kid`), and V0007's down creates an
        # index `kid` again at line 32 (the mariadb client stops there too). DDL commits
        # on MariaDB: statements 1-29 stay done, and the journal says so.
        with pytest.raises(migrata.MigrationFailedError) as caught:
            migrata.downgrade(project, "base")
        exc = caught.value
        assert exc.exit_code == 1
        assert exc.version == "7"
        assert Path(exc.path or "") == AUTHELIA / "mysql" / "V0007.ConsistencyFixes.down.sql"
        assert exc.line == 32
        assert exc.statement == "CREATE UNIQUE INDEX kid ON webauthn_devices (kid)"
        assert exc.db_error == "Duplicate key name 'kid' (error 1061)"
        assert "failed at V0007.ConsistencyFixes.down.sql:32: Duplicate key name 'kid' (error 1061)" in exc.message
        assert "[statement 30: CREATE UNIQUE INDEX kid ON webauthn_devices (kid)]" in exc.message
        assert (exc.hint or "").startswith("statements 1-29 of 42 completed;")
        assert "migrata repair" in (exc.hint or "")
        assert [s.version for s in exc.completed] == AUTHELIA_VERSIONS[7:][::-1]  # type: ignore[attr-defined]

        rows = history_rows(url)
        assert sorted(rows, key=int) == AUTHELIA_VERSIONS[:7]
        assert {rows[v][:2] for v in AUTHELIA_VERSIONS[:6]} == {("applied", "up")}
        status7, direction, progress, count, error = rows["7"]
        assert (status7, direction, progress, count) == ("failed", "down", 29, 42)
        assert "Duplicate key name 'kid'" in error
        status = migrata.status(project)
        assert [(p.code, p.version, p.severity) for p in status.problems] == [("failed", "7", "error")]
        assert [e.outcome for e in events(project) if e.action == "down"][-1] == "failed"

        # The real schema is what the journal says: statements 1-29 done, 30 on not.
        indexes = {
            (t, i)
            for t, i in query(
                url,
                "SELECT DISTINCT table_name, index_name FROM information_schema.statistics "
                "WHERE table_schema = DATABASE()",
            )
        }
        assert ("webauthn_devices", "webauthn_devices_kid_key") not in indexes  # statement 22 (line 22)
        assert ("user_preferences", "username") in indexes  # statement 29 (line 31)
        assert ("webauthn_devices", "kid") in indexes  # V0012's down made it
        fks = {
            r[0]
            for r in query(
                url,
                "SELECT constraint_name FROM information_schema.referential_constraints "
                "WHERE constraint_schema = DATABASE()",
            )
        }
        assert "oauth2_consent_session_subject_fkey" not in fks  # dropped by statement 1, re-added at line 42
        nullable = "SELECT is_nullable FROM information_schema.columns WHERE table_schema = DATABASE() "
        assert query(url, nullable + "AND table_name = 'webauthn_devices' AND column_name = 'aaguid'") == [("YES",)]

        # Every command that migrates now refuses until `repair` settles version 7.
        for command in ("up", "down"):
            res = run_cli(["-C", str(project), command])
            assert res.exit_code == 3, res.output
            assert (
                "error: the rollback of 7 ConsistencyFixes failed after 29 of 42 statements "
                "at V0007.ConsistencyFixes.down.sql:32: " in res.output
            )
            assert "hint: `migrata repair 7` shows the ways out" in res.output


def test_authelia_mysql_sql_script_runs_in_the_client(tmp_path: Path) -> None:
    """`up --sql` renders what a DBA can run as it is, procedures included."""
    client = _client("mariadb", "mysql")
    with server_database("mysql", tmp_path) as url:
        project, _ = authelia_project(tmp_path / "authelia", "mysql", url)
        res = run_cli(["-C", str(project), "up", "--sql"])
        assert res.exit_code == 0, res.output
        u = DatabaseURL.parse(url)
        args = [client, f"--host={u.host}", f"--port={u.port or 3306}", f"--user={u.username}"]
        if u.password:
            args.append(f"--password={u.password}")
        proc = subprocess.run([*args, str(u.database)], input=res.stdout, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        status = migrata.status(project)
        assert (status.current, status.applied, status.problems) == ("26", 26, [])


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_schema_of_is_empty_after_down_base(dialect: str, tmp_path: Path, hook_modules: list[str]) -> None:
    """schema_of excludes migrata's own tables, so a database at base has an empty schema."""
    with server_database(dialect, tmp_path) as url:
        project, hooks = authelia_project(tmp_path / "authelia", dialect, url)
        if hooks:
            hook_modules.append(hooks)
        migrata.upgrade(project, "1")
        migrata.downgrade(project, "base")
        assert leftovers(url, dialect) == set()
        assert schema_of(url) == {"columns": {}, "objects": {}}
