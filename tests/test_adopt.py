"""Other tools' habits (issue 17, item 5), on every database.

* Relative targets as Alembic has them: ``down -1`` / ``down -N`` and
  ``up +N``, written as is on the command line and as strings in the
  library; ``down 1`` still means "to version 1"; a count beyond what is
  applied or pending is a clear error that changes nothing.
* ``migrata adopt --from golang-migrate|dbmate|flyway|goose``: from a
  database that tool left behind (its history table created and filled as
  the tool itself does it, beside the tables its migrations made), the
  versions it applied are recorded in migrata's history with one ``adopt``
  event; that table is left as it was; a second run does nothing and says
  so; ``--dry-run`` writes nothing; dirty golang-migrate state and failed
  Flyway rows are refused by name, and so is an applied version without a
  file. Afterwards ``status`` shows them applied and ``up`` runs only what
  is newer. Where the real dbmate binary is at hand (the benchmark peers),
  dbmate itself leaves the database behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import migrata
from _servers import driver_connect
from migrata.backends.base import DatabaseURL
from migrata.errors import UsageError
from migrata.ops.adopt import flyway_checksum
from migrata.testing import CliResult, run_cli
from migrata.testing.plugin import fresh_database, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent


# --- a database, read and written as another program would -------------------------------------


class Db:
    """A fresh database of one dialect, reached with its own driver."""

    def __init__(self, dialect: str, url: str, folder: Path) -> None:
        self.dialect, self.url, self.folder = dialect, url, folder
        self.migrations = folder / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)

    def connect(self) -> Any:
        return driver_connect(self.dialect, self.url)

    def sql(self, *statements: str) -> list[tuple[Any, ...]]:
        """Run ``statements``; the rows of the last one."""
        conn = self.connect()
        try:
            rows: list[tuple[Any, ...]] = []
            for statement in statements:
                cur = conn.cursor()
                cur.execute(statement)
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
                cur.close()
            return rows
        finally:
            conn.close()

    def tables(self) -> set[str]:
        if self.dialect == "sqlite":
            q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        else:
            schema = "current_schema()" if self.dialect == "postgresql" else "DATABASE()"
            q = f"SELECT table_name FROM information_schema.tables WHERE table_schema = {schema}"
        return {r[0] for r in self.sql(q)}

    def history(self) -> list[str]:
        if "migrata_history" not in self.tables():
            return []
        rows = self.sql("SELECT version, status FROM migrata_history WHERE kind <> 'ledger'")
        assert all(status == "applied" for _, status in rows), rows
        return sorted(v for v, _ in rows)

    def events(self, action: str) -> list[dict[str, Any]]:
        if "migrata_events" not in self.tables():
            return []
        rows = self.sql(f"SELECT detail FROM migrata_events WHERE action = '{action}' ORDER BY id")
        return [json.loads(d) if d else {} for (d,) in rows]

    def write(self, name: str, text: str) -> None:
        (self.migrations / name).write_text(text, encoding="utf-8")

    def cli(self, *args: str) -> CliResult:
        return run_cli(["--url", self.url, "--migrations", str(self.migrations), *args], cwd=self.folder)

    def ok(self, *args: str) -> CliResult:
        r = self.cli(*args)
        assert r.exit_code == 0, f"migrata {' '.join(args)} -> {r.exit_code}\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.output
        return r

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.ok("status", "--json").stdout)
        return data


@pytest.fixture
def db(migrata_dialect: str, tmp_path: Path) -> Iterator[Db]:
    with fresh_database(migrata_dialect, directory=tmp_path) as url:
        yield Db(migrata_dialect, url, tmp_path / "proj")


def pairs(db: Db, versions: list[str]) -> None:
    """``VERSION_tN.up.sql``/``.down.sql`` creating and dropping table ``tN``."""
    for n, version in enumerate(versions, 1):
        db.write(f"{version}_t{n}.up.sql", f"CREATE TABLE t{n} (id INT);\n")
        db.write(f"{version}_t{n}.down.sql", f"DROP TABLE t{n};\n")


def error_line(r: CliResult, code: int) -> str:
    assert r.exit_code == code, f"exit {r.exit_code}, expected {code}: {r.output}"
    assert "Traceback" not in r.output
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


# --- relative targets ------------------------------------------------------------------------------


def test_relative_targets_on_the_command_line(db: Db) -> None:
    pairs(db, ["000001", "000002", "000003", "000004"])
    r = db.ok("up", "+2")
    assert [s["version"] for s in db.status()["migrations"] if s["state"] == "applied"] == ["1", "2"]
    assert "t3" not in db.tables(), r.output
    db.ok("up", "+1")
    assert db.history() == ["1", "2", "3"]
    db.ok("down", "-1")  # as written: not an unknown option
    assert db.history() == ["1", "2"]
    db.ok("down", "-1", "--dry-run")  # before or after an option
    db.ok("down", "--dry-run", "-1")
    assert db.history() == ["1", "2"]
    db.ok("up")
    db.ok("down", "-2")
    assert db.history() == ["1", "2"]
    assert "t3" not in db.tables() and "t2" in db.tables()
    db.ok("down", "1")  # a plain number stays a version: down TO 1
    assert db.history() == ["1"]


def test_relative_counts_beyond_what_there_is_are_refused(db: Db) -> None:
    pairs(db, ["000001", "000002", "000003"])
    line = error_line(db.cli("up", "+4"), 2)
    assert "+4" in line and "only 3 pending" in line
    assert db.history() == []
    db.ok("up", "+2")
    line = error_line(db.cli("down", "-3"), 2)
    assert "-3" in line and "only 2 applied" in line
    wrong_way = db.cli("down", "+1")
    assert "points the other way" in error_line(wrong_way, 2) and "migrata up +1" in wrong_way.stderr
    assert "down -1" in db.cli("up", "-1").stderr  # the hint says which way
    error_line(db.cli("down", "-0"), 2)
    error_line(db.cli("down", "-1", "--steps", "1"), 2)
    error_line(db.cli("up", "+1", "--steps", "1"), 2)
    assert db.history() == ["1", "2"]


def test_relative_targets_in_the_library(db: Db) -> None:
    pairs(db, ["000001", "000002", "000003"])
    opts = {"migrations": str(db.migrations)}
    assert migrata.upgrade(db.url, "+2", **opts).after == "2"
    assert migrata.downgrade(db.url, "-1", **opts).after == "1"
    with pytest.raises(UsageError, match="only 1 applied"):
        migrata.downgrade(db.url, "-2", **opts)
    assert db.history() == ["1"]


# --- adopt: the databases other tools leave behind ---------------------------------------------


def bool_sql(db: Db, value: bool) -> str:
    return ("1" if value else "0") if db.dialect != "postgresql" else ("true" if value else "false")


def golang_migrate_left(db: Db, version: int, *, dirty: bool = False) -> None:
    """The table golang-migrate's sqlite3, postgres and mysql drivers create, at ``version``."""
    if db.dialect == "sqlite":
        db.sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)",
            "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)",
        )
    else:
        db.sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null)"
        )
    db.sql(f"INSERT INTO schema_migrations (version, dirty) VALUES ({version}, {bool_sql(db, dirty)})")


def dbmate_left(db: Db, versions: list[str]) -> None:
    """dbmate's table: one row per applied migration."""
    tail = " character set latin1 collate latin1_bin" if db.dialect == "mysql" else ""
    db.sql(f"create table if not exists schema_migrations (version varchar(255) primary key){tail}")
    for v in versions:
        db.sql(f"insert into schema_migrations (version) values ('{v}')")


def goose_left(db: Db, events: list[tuple[int, bool]]) -> None:
    """goose's table: its own version 0 row, then one row per event."""
    if db.dialect == "sqlite":
        db.sql(
            "CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, "
            "is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')))"
        )
    else:
        db.sql(
            "CREATE TABLE goose_db_version (id serial NOT NULL, version_id bigint NOT NULL, "
            "is_applied boolean NOT NULL, tstamp timestamp NULL default now(), PRIMARY KEY(id))"
        )
    for version, applied in [(0, True), *events]:
        db.sql(f"INSERT INTO goose_db_version (version_id, is_applied) VALUES ({version}, {bool_sql(db, applied)})")


FLYWAY_DDL = {
    "sqlite": 'CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL PRIMARY KEY, '
    '"version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, '
    '"script" VARCHAR(1000) NOT NULL, "checksum" INT, "installed_by" VARCHAR(100) NOT NULL, '
    "\"installed_on\" TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f','now')), "
    '"execution_time" INT NOT NULL, "success" BOOLEAN NOT NULL)',
    "postgresql": 'CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL, "version" VARCHAR(50), '
    '"description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, '
    '"checksum" INTEGER, "installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(), '
    '"execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL, '
    'CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank"))',
    "mysql": "CREATE TABLE `flyway_schema_history` (`installed_rank` INT NOT NULL, `version` VARCHAR(50), "
    "`description` VARCHAR(200) NOT NULL, `type` VARCHAR(20) NOT NULL, `script` VARCHAR(1000) NOT NULL, "
    "`checksum` INT, `installed_by` VARCHAR(100) NOT NULL, "
    "`installed_on` TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, `execution_time` INT NOT NULL, "
    "`success` BOOL NOT NULL, CONSTRAINT `flyway_schema_history_pk` PRIMARY KEY (`installed_rank`)) ENGINE=InnoDB",
}


def flyway_left(db: Db, runs: list[tuple[str | None, str, str, int | None, bool]]) -> None:
    """Flyway's table; ``runs``: (version, type, script, checksum, success) in installed order."""
    db.sql(FLYWAY_DDL[db.dialect])
    for rank, (version, kind, script, checksum, success) in enumerate(runs, 1):
        v = "NULL" if version is None else f"'{version}'"
        c = "NULL" if checksum is None else str(checksum)
        db.sql(
            "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
            f"installed_by, execution_time, success) VALUES ({rank}, {v}, '{script}', '{kind}', '{script}', {c}, "
            f"'app', 12, {bool_sql(db, success)})"
        )


def flyway_files(db: Db) -> dict[str, int]:
    """V1, V1_1, V2 and V3 (tables t1..t4) and a repeatable view; their Flyway checksums."""
    for n, version in enumerate(["1", "1_1", "2", "3"], 1):
        db.write(f"V{version}__t{n}.sql", f"-- table t{n}\r\nCREATE TABLE t{n} (id INT);\r\n")
    db.write("R__v1.sql", "CREATE VIEW v1 AS SELECT id FROM t1;\n")
    return {p.name: flyway_checksum(p) for p in db.migrations.iterdir()}


def left_behind(db: Db, tool: str) -> tuple[str, list[str]]:
    """A database ``tool`` migrated up to its third migration (tables t1..t3
    and its history table) and a set of four migrations in that tool's file
    layout; returns the tool's table and the versions it applied."""
    for n in (1, 2, 3):
        db.sql(f"CREATE TABLE t{n} (id INT)")
    if tool == "golang-migrate":
        pairs(db, ["000001", "000002", "000003", "000004"])
        golang_migrate_left(db, 3)
        return "schema_migrations", ["1", "2", "3"]
    if tool == "dbmate":
        stamps = ["20240101120000", "20240102120000", "20240103120000", "20240104120000"]
        for n, v in enumerate(stamps, 1):
            db.write(
                f"{v}_t{n}.sql", f"-- migrate:up\nCREATE TABLE t{n} (id INT);\n\n-- migrate:down\nDROP TABLE t{n};\n"
            )
        dbmate_left(db, stamps[:3])
        return "schema_migrations", stamps[:3]
    if tool == "goose":
        pairs(db, ["00001", "00002", "00003", "00004"])
        goose_left(db, [(1, True), (2, True), (3, True)])
        return "goose_db_version", ["1", "2", "3"]
    sums = flyway_files(db)
    db.sql("CREATE VIEW v1 AS SELECT id FROM t1")
    flyway_left(
        db,
        [
            ("1", "SQL", "V1__t1.sql", sums["V1__t1.sql"], True),
            ("1.1", "SQL", "V1_1__t2.sql", sums["V1_1__t2.sql"], True),
            ("2", "SQL", "V2__t3.sql", sums["V2__t3.sql"], True),
            (None, "SQL", "R__v1.sql", sums["R__v1.sql"], True),
        ],
    )
    return "flyway_schema_history", ["1", "1.1", "2", "R__v1"]


TOOLS = ["golang-migrate", "dbmate", "flyway", "goose"]


@pytest.mark.parametrize("tool", TOOLS)
def test_adopt_takes_over_what_the_tool_applied(db: Db, tool: str) -> None:
    table, applied = left_behind(db, tool)
    theirs = db.sql(f"SELECT * FROM {table}")
    before = db.tables()

    dry = db.ok("adopt", "--from", tool, "--dry-run")
    assert "would record 3" in dry.stdout or "would record 4" in dry.stdout, dry.output
    assert db.tables() == before  # nothing written, migrata's tables not even created

    r = db.ok("adopt", "--from", tool)
    assert f"adopted from {tool} ({table}): {len(applied)} version(s)" in r.stdout, r.output
    assert db.history() == sorted(applied)
    [event] = db.events("adopt")
    assert (event["tool"], event["table"], event["count"]) == (tool, table, len(applied))
    assert db.sql(f"SELECT * FROM {table}") == theirs  # the other tool's table is untouched

    st = db.status()
    assert st["applied"] == 3 and [m["name"] for m in st["migrations"] if m["state"] != "applied"] == ["t4"], st
    assert not st["problems"], st["problems"]

    again = db.ok("adopt", "--from", tool)
    assert "nothing to adopt" in again.stdout and "already in migrata's history" in again.stdout, again.output
    assert len(db.events("adopt")) == 1 and db.history() == sorted(applied)

    up = json.loads(db.ok("up", "--json").stdout)
    assert [s["name"] for s in up["steps"]] == ["t4"], up  # only what is newer
    assert "t4" in db.tables()


@pytest.mark.parametrize("tool", TOOLS)
def test_adopt_refuses_an_applied_version_without_a_file(db: Db, tool: str) -> None:
    left_behind(db, tool)
    gone = {"golang-migrate": "000003_t3", "dbmate": "20240102120000_t2", "goose": "00002_t2", "flyway": "V1_1__t2"}
    for path in db.migrations.glob(f"{gone[tool]}*"):
        path.unlink()
    line = error_line(db.cli("adopt", "--from", tool), 3)
    expected = {"golang-migrate": "3", "dbmate": "20240102120000", "goose": "2", "flyway": "1.1"}[tool]
    assert "no migration file" in line and expected in line, line
    assert db.history() == []


def test_adopt_refuses_a_dirty_golang_migrate_state(db: Db) -> None:
    pairs(db, ["000001", "000002"])
    golang_migrate_left(db, 2, dirty=True)
    line = error_line(db.cli("adopt", "--from", "golang-migrate"), 3)
    assert "dirty" in line and "version 2" in line
    assert "migrate force 2" in db.cli("adopt", "--from", "golang-migrate").stderr
    assert "migrata_history" not in db.tables()


def test_adopt_refuses_failed_flyway_rows(db: Db) -> None:
    sums = flyway_files(db)
    flyway_left(
        db,
        [("1", "SQL", "V1__t1.sql", sums["V1__t1.sql"], True), ("1.1", "SQL", "V1_1__t2.sql", None, False)],
    )
    line = error_line(db.cli("adopt", "--from", "flyway"), 3)
    assert "failed" in line and "1.1" in line
    assert "migrata_history" not in db.tables()


def test_adopt_reads_each_tools_history_as_that_tool_does(db: Db) -> None:
    # goose: the newest event of a version decides (a rollback recorded as is_applied = false)
    pairs(db, ["00001", "00002", "00003"])
    goose_left(db, [(1, True), (2, True), (3, True), (3, False)])
    db.ok("adopt", "--from", "goose")
    assert db.history() == ["1", "2"]
    # a table under another name
    db.sql("CREATE TABLE gm_versions (version bigint not null primary key, dirty boolean not null)")
    db.sql(f"INSERT INTO gm_versions (version, dirty) VALUES (3, {bool_sql(db, False)})")
    db.ok("adopt", "--from", "golang-migrate", "--from-table", "gm_versions")
    assert db.history() == ["1", "2", "3"]
    line = error_line(db.cli("adopt", "--from", "dbmate"), 2)
    assert "no dbmate history table schema_migrations" in line


def test_adopt_flyway_baseline_undo_and_repeatables(db: Db) -> None:
    sums = flyway_files(db)
    db.write("R__v1.sql", "CREATE VIEW v1 AS SELECT id FROM t1 WHERE id > 0;\n")  # edited since Flyway ran it
    flyway_left(
        db,
        [
            ("1.1", "BASELINE", "<< Flyway Baseline >>", None, True),  # V1 and V1_1 count, files or not
            ("2", "SQL", "V2__t3.sql", sums["V2__t3.sql"], True),
            ("3", "SQL", "V3__t4.sql", sums["V3__t4.sql"], True),
            ("3", "UNDO_SQL", "U3__t4.sql", None, True),  # taken back
            (None, "SQL", "R__v1.sql", sums["R__v1.sql"], True),
        ],
    )
    r = db.ok("adopt", "--from", "flyway")
    assert db.history() == ["1", "1.1", "2"]
    assert "R__v1.sql changed since Flyway last ran it" in r.stdout
    st = db.status()
    assert st["pending"] == ["3", "R__v1"], st


def test_flyway_checksum_is_crc32_over_lines() -> None:
    import tempfile
    import zlib

    with tempfile.TemporaryDirectory() as folder:
        a, b, c = Path(folder, "a.sql"), Path(folder, "b.sql"), Path(folder, "c.sql")
        a.write_bytes(b"CREATE TABLE t (id INT);\nSELECT 1;\n")
        b.write_bytes(b"\xef\xbb\xbfCREATE TABLE t (id INT);\r\nSELECT 1;")  # BOM, CRLF, no final break
        c.write_bytes(b"")
        expected = zlib.crc32(b"CREATE TABLE t (id INT);SELECT 1;")
        expected = expected - (1 << 32) if expected >= 1 << 31 else expected
        assert flyway_checksum(a) == flyway_checksum(b) == expected
        assert flyway_checksum(c) == 0


# --- the real dbmate, where it is installed ----------------------------------------------------------


def _dbmate() -> str | None:
    peers = Path(os.environ.get("MIGRATA_BENCH_PEERS") or ROOT / "benchmarks" / ".peers")
    found = sorted(peers.glob("npm/node_modules/@dbmate/*/bin/dbmate"))
    return str(found[0]) if found else shutil.which("dbmate")


@pytest.mark.peers
def test_adopt_after_the_real_dbmate(db: Db) -> None:
    """Runs in .ci/run's step after the benchmark smoke test, which installs
    dbmate into benchmarks/.peers (`pytest -m peers`)."""
    binary = _dbmate()
    if binary is None:
        skip_or_fail("the dbmate binary is not installed (benchmarks/.peers or PATH): run `pytest -m benchmark` first")
    for n, v in enumerate(["20240101120000", "20240102120000"], 1):
        db.write(f"{v}_t{n}.sql", f"-- migrate:up\nCREATE TABLE t{n} (id INT);\n\n-- migrate:down\nDROP TABLE t{n};\n")
    u = DatabaseURL.parse(db.url)
    url = {
        "sqlite": f"sqlite:{db.url.removeprefix('sqlite:///')}",
        "postgresql": f"postgres://{u.username}@{u.host}:{u.port or 5432}/{u.database}?sslmode=disable",
        "mysql": f"mysql://{u.username or 'root'}@{u.host}:{u.port or 3306}/{u.database}",
    }[db.dialect]
    subprocess.run(
        [binary, "--url", url, "--migrations-dir", str(db.migrations), "--no-dump-schema", "up"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    db.write("20240103120000_t3.sql", "-- migrate:up\nCREATE TABLE t3 (id INT);\n\n-- migrate:down\nDROP TABLE t3;\n")
    db.ok("adopt", "--from", "dbmate")
    assert db.history() == ["20240101120000", "20240102120000"]
    up = json.loads(db.ok("up", "--json").stdout)
    assert [s["name"] for s in up["steps"]] == ["t3"]
