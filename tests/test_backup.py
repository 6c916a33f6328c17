"""Verified backups and restore on SQLite, PostgreSQL and MariaDB (issue 4).

Each test works on a fresh database (``migrata.testing.temporary_database``)
and reads it back with the plain driver, so what is compared is what the
database really holds, not what migrata says it holds:

* a round trip (migrate, back up, change schema and data, restore) gives back
  the schema, every row of every table and migrata's history exactly, also
  when the database was dropped (deleted) in between;
* ``up --backup`` / ``backup = true`` take a verified backup before changing
  anything (and none when there is nothing to do); a failing backup stops
  ``up`` before it changes anything;
* ``up --restore-on-failure`` leaves the database as it was before ``up``;
* a broken backup (truncated, a flipped byte) is refused by ``restore``; a
  backup that does not verify when it is taken is reported as failed;
* ``backup_keep`` prunes, ``restore`` without ``--yes`` asks, and a password
  never shows in outputs, sidecars, events, dumps or tool command lines.

A missing server skips locally and fails in CI (``CI=true``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from _servers import driver_connect
from migrata.testing import CliResult, run_cli, schema_of, server_url
from migrata.testing.plugin import fresh_database

DIALECTS = ("sqlite", "postgresql", "mysql")
SERVERS = ("postgresql", "mysql")
#: <database>.backup.YYYYMMDD_HHMMSS[anything], as issue 4 names them
BACKUP_NAME = re.compile(r"^(?P<stem>.+)\.backup\.(?P<date>\d{8})_(?P<time>\d{6})\S*$")

# --- migrations, per dialect ------------------------------------------------------------------

TABLES = {
    "sqlite": """
        CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, email TEXT,
                            avatar BLOB, edits INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX users_email ON users (email);
        CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
                            title TEXT NOT NULL, body TEXT);
        CREATE INDEX posts_user ON posts (user_id);
        CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        """,
    "postgresql": """
        CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT,
                            avatar BYTEA, edits INTEGER NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX users_email ON users (email);
        CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id),
                            title TEXT NOT NULL, body TEXT);
        CREATE INDEX posts_user ON posts (user_id);
        CREATE TABLE tags (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
        """,
    "mysql": """
        CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(100),
                            avatar LONGBLOB, edits INT NOT NULL DEFAULT 0) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        CREATE UNIQUE INDEX users_email ON users (email);
        CREATE TABLE posts (id INT PRIMARY KEY, user_id INT NOT NULL, title VARCHAR(100) NOT NULL, body TEXT,
                            CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id))
                            ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        CREATE INDEX posts_user ON posts (user_id);
        CREATE TABLE tags (id INT PRIMARY KEY, label VARCHAR(100) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
        """,
}

OBJECTS = {
    "sqlite": """
        CREATE VIEW user_posts AS SELECT u.name, p.title FROM users u JOIN posts p ON p.user_id = u.id;
        CREATE TRIGGER users_edits AFTER UPDATE OF name ON users
        BEGIN
          UPDATE users SET edits = edits + 1 WHERE id = NEW.id;
        END;
        """,
    "postgresql": """
        CREATE VIEW user_posts AS SELECT u.name, p.title FROM users u JOIN posts p ON p.user_id = u.id;
        CREATE FUNCTION count_edit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.edits := OLD.edits + 1;
          RETURN NEW;
        END
        $$;
        CREATE TRIGGER users_edits BEFORE UPDATE OF name ON users FOR EACH ROW EXECUTE FUNCTION count_edit();
        """,
    "mysql": """
        CREATE VIEW user_posts AS SELECT u.name, p.title FROM users u JOIN posts p ON p.user_id = u.id;
        CREATE TRIGGER users_edits BEFORE UPDATE ON users FOR EACH ROW SET NEW.edits = OLD.edits + 1;
        DELIMITER //
        CREATE FUNCTION greeting(who VARCHAR(100)) RETURNS VARCHAR(120) DETERMINISTIC
        BEGIN
          RETURN CONCAT('hello ', who);
        END//
        DELIMITER ;
        """,
}

#: bytes 00 ff 0a 27 5c 80: a NUL, a newline, a quote, a backslash, invalid UTF-8
BLOB = {"sqlite": "X'00FF0A275C80'", "mysql": "X'00FF0A275C80'", "postgresql": "'\\x00ff0a275c80'::bytea"}
EMPTY_BLOB = {"sqlite": "X''", "mysql": "X''", "postgresql": "''::bytea"}
BLOB_BYTES = b"\x00\xff\n'\\\x80"

SEED = """
    INSERT INTO users (name, email, avatar) VALUES
      ('Zoë Ångström', 'zoe@example.org', {blob}),
      ('李雷 🎉', 'li@example.org', NULL),
      ('O''Brien', NULL, {empty});
    INSERT INTO posts (id, user_id, title, body) VALUES
      (1, 1, 'Hello', 'naïve café — ünïcödé'),
      (2, 2, '你好，世界', NULL),
      (3, 1, 'two lines', 'line 1
    line 2');
    INSERT INTO tags (id, label) VALUES (1, 'ʇxǝʇ'), (2, 'plain');
    UPDATE users SET name = 'Zoë Å.' WHERE id = 1;
    """

#: what happens to the database after the backup: new table, dropped column
#: and table, updated/deleted/inserted rows
CHANGES = [
    "CREATE TABLE intruder (id INTEGER PRIMARY KEY, note VARCHAR(50))",
    "INSERT INTO intruder (id, note) VALUES (1, 'after the backup')",
    "ALTER TABLE posts DROP COLUMN body",
    "DROP TABLE tags",
    "UPDATE users SET name = 'renamed', avatar = NULL WHERE id = 1",
    "DELETE FROM posts WHERE id = 2",
    "INSERT INTO users (name) VALUES ('new user')",
]


# --- a project on a fresh database ------------------------------------------------------------


class Db:
    """A fresh database of one dialect and a migrata project (migrata.toml) using it."""

    def __init__(self, dialect: str, url: str, root: Path) -> None:
        self.dialect = dialect
        self.url = url
        self.root = root
        self.migrations = root / "migrations"
        self.migrations.mkdir(parents=True, exist_ok=True)
        self.backups = root / "backups"
        self.configure()

    # --- project ---------------------------------------------------------------------------
    def configure(self, **extra: Any) -> None:
        values: dict[str, Any] = {"url": self.url, "migrations": "migrations", "backup_dir": "backups", **extra}
        lines = [f"{k} = {json.dumps(v)}" for k, v in values.items()]
        (self.root / "migrata.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        (self.migrations / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def write_base(self, upto: int = 3) -> None:
        """000001 tables and indexes, 000002 view + trigger (+ function), 000003 rows."""
        parts = [
            ("000001_tables.up.sql", TABLES[self.dialect]),
            ("000002_objects.up.sql", OBJECTS[self.dialect]),
            ("000003_seed.up.sql", SEED.format(blob=BLOB[self.dialect], empty=EMPTY_BLOB[self.dialect])),
        ]
        for name, text in parts[:upto]:
            self.write(name, text)

    def migrate_base(self) -> None:
        self.write_base()
        self.ok("up")

    # --- the CLI ---------------------------------------------------------------------------
    def cli(self, *args: str) -> CliResult:
        """``migrata ARGS`` in this process."""
        return run_cli(["-C", str(self.root), *args])

    def ok(self, *args: str) -> CliResult:
        res = self.cli(*args)
        assert res.exit_code == 0, f"migrata {' '.join(args)} exited {res.exit_code}: {res.output}"
        return res

    def proc(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``migrata ARGS`` in a subprocess, stdin not a TTY."""
        return subprocess.run(
            [sys.executable, "-m", "migrata", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def backup(self) -> dict[str, Any]:
        res = self.ok("backup", "--json")
        data = json.loads(res.stdout)
        assert len(data["backups"]) == 1, data
        return data["backups"][0]

    def listed(self) -> list[dict[str, Any]]:
        return json.loads(self.ok("backups", "--json").stdout)["backups"]

    def backup_files(self) -> list[str]:
        return sorted(p.name for p in self.backups.iterdir()) if self.backups.is_dir() else []

    # --- the database, read with the plain driver ---------------------------------------------
    @property
    def path(self) -> Path:
        assert self.dialect == "sqlite"
        return Path(self.url[len("sqlite:///") :])

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        extra = {"charset": "utf8mb4"} if self.dialect == "mysql" else {}
        conn = driver_connect(self.dialect, self.url, **extra)
        try:
            yield conn
        finally:
            conn.close()

    def sql(self, *statements: str) -> list[tuple[Any, ...]]:
        """Run the statements; the rows of the last one."""
        rows: list[tuple[Any, ...]] = []
        with self.connect() as conn:
            cur = conn.cursor()
            for s in statements:
                cur.execute(s)
                rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
            cur.close()
        return rows

    def table_names(self) -> list[str]:
        if self.dialect == "sqlite":
            q = "SELECT name FROM sqlite_master WHERE type = 'table'"
        else:
            here = "current_schema()" if self.dialect == "postgresql" else "DATABASE()"
            q = (
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = {here} AND table_type = 'BASE TABLE'"
            )
        return sorted(r[0] for r in self.sql(q))

    def state(self) -> dict[str, Any]:
        """Schema, every row of every table (migrata_history included, the
        append-only event log left out) and the sequence/auto-increment counters."""
        data: dict[str, Any] = {"schema": schema_of(self.url)}
        with self.connect() as conn:
            cur = conn.cursor()
            tables = {}
            for t in self.table_names():
                if t == "migrata_events":
                    continue
                q = '"' + t + '"' if self.dialect != "mysql" else "`" + t + "`"
                cur.execute(f"SELECT * FROM {q}")
                cols = [d[0] for d in cur.description]
                rows = [tuple(_plain(v) for v in r) for r in cur.fetchall()]
                if t == "sqlite_sequence":  # the event log's counter moves with every event
                    rows = [r for r in rows if r[0] != "migrata_events"]
                tables[t] = (cols, sorted(rows, key=repr))
            data["tables"] = tables
            if self.dialect == "postgresql":
                cur.execute(
                    "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = current_schema() "
                    "AND sequencename NOT LIKE 'migrata%'"
                )
                data["counters"] = sorted(cur.fetchall())
            elif self.dialect == "mysql":
                cur.execute(
                    "SELECT table_name, auto_increment FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name NOT LIKE 'migrata%'"
                )
                data["counters"] = sorted(tuple(r) for r in cur.fetchall())
            cur.close()
        return data

    def history(self) -> list[str]:
        rows = self.sql("SELECT version FROM migrata_history WHERE kind <> 'ledger'")
        return sorted((r[0] for r in rows), key=int)

    def events(self) -> list[tuple[str, str | None, str, dict[str, Any]]]:
        rows = self.sql("SELECT action, version, outcome, detail FROM migrata_events ORDER BY id")
        return [(a, v, o, json.loads(d) if d else {}) for a, v, o, d in rows]

    def change_everything(self) -> None:
        """Change schema and data behind migrata's back, then apply one more migration."""
        self.sql(*CHANGES)
        self.write(
            "000004_later.up.sql", "CREATE TABLE later (id INTEGER PRIMARY KEY);\nINSERT INTO later (id) VALUES (1);\n"
        )
        self.ok("up")

    def drop(self) -> None:
        """The database gone entirely."""
        if self.dialect == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        else:
            self.ok("db", "drop", "--force")


def _plain(v: Any) -> Any:
    return bytes(v) if isinstance(v, (memoryview, bytearray)) else v


@contextlib.contextmanager
def fresh(dialect: str, tmp_path: Path) -> Iterator[Db]:
    with fresh_database(dialect, directory=tmp_path) as url:
        yield Db(dialect, url, tmp_path / "proj")


@pytest.fixture(params=DIALECTS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    with fresh(request.param, tmp_path) as d:
        yield d


@pytest.fixture(params=SERVERS)
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    with fresh(request.param, tmp_path) as d:
        yield d


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stem(db: Db) -> str:
    return db.path.name if db.dialect == "sqlite" else db.url.rsplit("/", 1)[1].split("?", 1)[0]


def check_backup_file(db: Db, info: dict[str, Any]) -> Path:
    """Named, placed, private, and its sidecar's SHA-256 is the file's."""
    path = Path(info["path"])
    assert path.parent == db.backups
    m = BACKUP_NAME.match(path.name)
    assert m and m["stem"] == stem(db), path.name
    assert path.is_file() and mode(path) == 0o600, oct(mode(path))
    side = path.with_name(path.name + ".json")
    assert side.is_file() and mode(side) == 0o600, oct(mode(side))
    recorded = json.loads(side.read_text(encoding="utf-8"))
    assert recorded["sha256"] == sha256(path) == info["sha256"]
    assert recorded["size"] == path.stat().st_size == info["size"]
    assert recorded["verified"] is True
    return path


# --- 1. the round trip ---------------------------------------------------------------------------


def test_backup_change_restore_gives_back_everything(db: Db) -> None:
    db.migrate_base()
    info = db.backup()
    path = check_backup_file(db, info)
    assert info["version"] == "3", info
    at_backup = db.state()
    assert at_backup["tables"]["users"][1], "the seed rows are there"
    assert any(BLOB_BYTES in r for r in at_backup["tables"]["users"][1]), "the binary value made it in"

    # the backup event carries the same SHA-256
    backup_events = [e for e in db.events() if e[0] == "backup"]
    assert backup_events and backup_events[-1][2] == "ok"
    assert backup_events[-1][3]["sha256"] == info["sha256"]
    assert backup_events[-1][3]["path"] == str(path)

    # `backups` lists it: size, age, version at backup time, verified
    (listed,) = db.listed()
    assert listed["path"] == str(path) and listed["size"] == path.stat().st_size
    assert listed["verified"] is True and listed["version"] == info["version"]
    assert 0 <= listed["age_seconds"] < 120
    table = db.ok("backups").stdout
    row = next(line for line in table.splitlines() if path.name in line)
    assert re.search(r"\s\d+(\.\d)? (B|KiB|MiB)\s+\d+[smhd]\s+3\s+yes\s", row), table

    db.change_everything()
    changed = db.state()
    assert changed["schema"] != at_backup["schema"]
    assert changed["tables"] != at_backup["tables"]
    assert "4" in db.history()

    res = db.ok("restore", "--yes")
    assert path.name in res.output
    assert db.state() == at_backup
    restores = [e for e in db.events() if e[0] == "restore"]
    assert restores and restores[-1][3]["sha256"] == info["sha256"], "the restore is recorded"
    # and migrata sees the database where the backup left it: 000004 pending again
    status = json.loads(db.ok("status", "--json").stdout)
    assert status["current"] == "3" and [m if isinstance(m, str) else m["version"] for m in status["pending"]] == [
        "4"
    ], status


def test_restore_into_a_dropped_database(db: Db) -> None:
    db.migrate_base()
    info = db.backup()
    at_backup = db.state()
    db.drop()
    res = db.cli("restore", "--yes", Path(info["path"]).name)
    assert res.exit_code == 0, res.output
    assert db.state() == at_backup


# --- 2. backup before up ------------------------------------------------------------------------


def test_up_backup_takes_a_verified_backup_first(db: Db) -> None:
    db.write_base(upto=1)
    db.ok("up")
    before = db.state()
    db.write_base(upto=3)
    res = db.ok("up", "--backup", "--json")
    taken = json.loads(res.stdout)["backup"]
    path = check_backup_file(db, taken)
    assert taken["version"] == "1", taken
    assert taken["reason"].startswith("before up")
    # the backup holds the state before the run: restoring it gives that state
    db.ok("restore", "--yes", path.name)
    assert db.state() == before
    db.ok("up")

    # nothing to apply: no backup
    files = db.backup_files()
    db.ok("up", "--backup")
    assert db.backup_files() == files

    # the setting does the same; --no-backup overrides it
    db.configure(backup=True)
    db.write("000004_more.up.sql", "CREATE TABLE more_things (id INTEGER PRIMARY KEY);\n")
    db.ok("up")
    assert len(db.backup_files()) == len(files) + 2, "one backup and its sidecar"
    newest = db.listed()[0]
    assert newest["verified"] is True and newest["reason"].startswith("before up")
    assert newest["version"] == "3"
    db.ok("up")
    assert len(db.backup_files()) == len(files) + 2, "nothing to apply: no backup"
    db.write("000005_even_more.up.sql", "CREATE TABLE even_more (id INTEGER PRIMARY KEY);\n")
    files = db.backup_files()
    db.ok("up", "--no-backup")
    assert db.backup_files() == files
    assert db.history()[-1] == "5"

    # down too
    db.configure()
    db.write("000005_even_more.down.sql", "DROP TABLE even_more;\n")
    at_5 = db.state()
    res = db.ok("down", "--backup", "--json")
    taken = json.loads(res.stdout)["backup"]
    assert taken and taken["version"] == "5" and taken["reason"].startswith("before down"), taken
    check_backup_file(db, taken)
    assert db.history()[-1] == "4"
    db.ok("restore", "--yes", Path(taken["path"]).name)
    assert db.state() == at_5


def block_backup_dir(db: Db, how: str) -> CliResult:
    """`up` with a backup_dir that cannot be created (a file is in the way)."""
    (db.root / "blocker").write_text("a file, not a folder\n")
    if how == "setting":
        db.configure(backup=True, backup_dir="blocker/backups")
        return db.cli("up")
    return db.cli("up", "--backup", "--backup-dir", str(db.root / "blocker" / "backups"))


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_up_refuses_when_backup_dir_is_unusable(db: Db, how: str) -> None:
    """backup_dir cannot be created: `up` refuses and nothing changes."""
    db.write_base(upto=1)
    db.ok("up")
    db.write_base(upto=3)
    before = db.state()
    res = block_backup_dir(db, how)
    assert res.exit_code != 0, res.output
    assert db.state() == before


def test_unusable_backup_dir_is_a_clear_backup_error(tmp_path: Path) -> None:
    with fresh("sqlite", tmp_path) as db:
        db.write_base(upto=1)
        db.ok("up")
        db.write_base(upto=3)
        res = block_backup_dir(db, "flag")
        assert res.exit_code == 7, res.output
        assert "internal error" not in res.output, res.output
        assert "blocker" in res.stderr and "backup" in res.stderr.lower(), res.stderr
        res = db.cli("backup", "--backup-dir", str(db.root / "blocker" / "backups"))
        assert res.exit_code == 7, res.output
        assert "internal error" not in res.output, res.output


TOOLS = {"postgresql": ("pg_dump", "postgresql-client"), "mysql": ("mariadb-dump", "mariadb-client")}


def test_up_refuses_when_the_backup_tool_is_missing(server_db: Db, tmp_path: Path) -> None:
    db = server_db
    db.write_base(upto=1)
    db.ok("up")
    db.write_base(upto=3)
    before = db.state()
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    proc = db.proc("up", "--backup", env=env)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    tool, package = TOOLS[db.dialect]
    assert tool in proc.stderr and package in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert db.state() == before
    assert db.backup_files() == [], "a failed backup leaves nothing behind"
    # `migrata backup` says the same
    proc = db.proc("backup", env=env)
    assert proc.returncode == 7 and package in proc.stderr, proc.stderr


# --- 3. --restore-on-failure --------------------------------------------------------------------

FAILING = {
    # statement 1 changes the schema, statement 2 fails: on MariaDB statement 1 stays
    "sqlite": "ALTER TABLE users ADD COLUMN nickname TEXT;\nINSERT INTO no_such_table VALUES (1);\n",
    "postgresql": "ALTER TABLE users ADD COLUMN nickname TEXT;\nINSERT INTO no_such_table VALUES (1);\n",
    "mysql": "ALTER TABLE users ADD COLUMN nickname VARCHAR(20);\nINSERT INTO no_such_table VALUES (1);\n",
}


def write_failing_run(db: Db) -> None:
    db.write(
        "000004_good.up.sql",
        "CREATE TABLE good (id INTEGER PRIMARY KEY);\nINSERT INTO good (id) VALUES (1);\n"
        "UPDATE users SET email = 'x@example.org' WHERE id = 3;\n",
    )
    db.write("000005_bad.up.sql", FAILING[db.dialect])
    db.write("000006_never.up.sql", "CREATE TABLE never (id INTEGER PRIMARY KEY);\n")


def test_restore_on_failure_leaves_the_database_as_before_up(db: Db) -> None:
    db.migrate_base()
    write_failing_run(db)
    before = db.state()
    res = db.cli("up", "--restore-on-failure")
    assert res.exit_code == 1, res.output
    assert "000005" in res.stderr
    assert "restored" in res.stderr, res.stderr
    assert db.state() == before
    assert db.history()[-1] == "3"

    # without it, the run leaves 000004 applied (and, on MariaDB, half of 000005)
    res = db.cli("up")
    assert res.exit_code == 1, res.output
    assert db.state() != before
    assert "4" in db.history()
    if db.dialect == "mysql":  # DDL is not transactional: half of 000005 stays
        assert "users.nickname" in db.state()["schema"]["columns"]


def test_verification_failure_with_restore_on_failure(db: Db) -> None:
    """Every migration applies, a verify script fails: the backup taken before `up` comes back."""
    db.migrate_base()
    db.write("000004_good.up.sql", "CREATE TABLE good (id INTEGER PRIMARY KEY);\nINSERT INTO good (id) VALUES (1);\n")
    db.write("000004_good.verify.sql", "SELECT COUNT(*) = 2 FROM good;\n")
    before = db.state()
    res = db.cli("up", "--verify", "--restore-on-failure")
    assert res.exit_code == 9, res.output
    assert "restored" in res.stderr, res.stderr
    assert db.state() == before


def test_restore_on_failure_setting(db: Db) -> None:
    db.migrate_base()
    write_failing_run(db)
    db.configure(restore_on_failure=True)
    before = db.state()
    res = db.cli("up")
    assert res.exit_code == 1, res.output
    assert "restored" in res.stderr, res.stderr
    assert db.state() == before


# --- 4. broken backups --------------------------------------------------------------------------


def truncate(path: Path, sidecar_too: bool) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    if sidecar_too:
        fix_sidecar(path)


def flip(path: Path, sidecar_too: bool) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if sidecar_too:
        fix_sidecar(path)


def fix_sidecar(path: Path) -> None:
    """Make the sidecar agree with the damaged file, so only reading the backup through can tell."""
    side = path.with_name(path.name + ".json")
    data = json.loads(side.read_text(encoding="utf-8"))
    data["sha256"], data["size"] = sha256(path), path.stat().st_size
    side.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "sidecar_too"),
    [(truncate, False), (truncate, True), (flip, False)],
    ids=["truncated", "truncated-sha-matches", "flipped-byte"],
)
def test_broken_backup_is_refused(db: Db, damage: Any, sidecar_too: bool) -> None:
    db.migrate_base()
    info = db.backup()
    db.sql("INSERT INTO users (name) VALUES ('written after the backup')")
    before = db.state()
    path = Path(info["path"])
    damage(path, sidecar_too)
    res = db.cli("restore", "--yes", path.name)
    assert res.exit_code == 7, res.output
    assert path.name in res.stderr, res.stderr
    assert db.state() == before, "a refused restore leaves the database untouched"
    # the newest-by-default restore refuses it too
    res = db.cli("restore", "--yes")
    assert res.exit_code == 7, res.output
    assert db.state() == before


@pytest.fixture
def damaging_tools(tmp_path: Path) -> dict[str, str]:
    """A PATH whose pg_dump/mariadb-dump run the real tool, then cut the file it wrote in half."""
    bin_dir = tmp_path / "damaging-bin"
    bin_dir.mkdir()
    for tool, flag in (("pg_dump", "--file="), ("mariadb-dump", "--result-file=")):
        real = shutil.which(tool)
        if real is None:
            continue
        script = bin_dir / tool
        script.write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                {real} "$@" || exit $?
                for a in "$@"; do
                  case "$a" in {flag}*) f="${{a#{flag}}}"; s=$(wc -c < "$f"); truncate -s $((s / 2)) "$f";; esac
                done
                """
            )
        )
        script.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.parametrize(
    "dialect",
    [
        "postgresql",
        "mysql",
    ],
)
def test_backup_that_fails_its_check_is_reported_failed(
    dialect: str, tmp_path: Path, damaging_tools: dict[str, str]
) -> None:
    with fresh(dialect, tmp_path) as db:
        check_failed_backup_is_reported(db, damaging_tools)


def check_failed_backup_is_reported(db: Db, damaging_tools: dict[str, str]) -> None:
    db.migrate_base()
    proc = db.proc("backup", env=damaging_tools)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "verif" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    # never listed or used as a good backup
    assert all(not b["verified"] for b in db.listed())
    assert [e[2] for e in db.events() if e[0] == "backup"] == ["failed"]
    res = db.cli("restore", "--yes")
    assert res.exit_code == 7, res.output
    # and `up --backup` with such a backup refuses
    db.write("000004_later.up.sql", "CREATE TABLE later (id INTEGER PRIMARY KEY);\n")
    before = db.state()
    proc = db.proc("up", "--backup", env=damaging_tools)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert db.state() == before


def test_sqlite_backup_that_fails_its_check_is_reported_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from migrata.backends.sqlite import SQLiteBackend

    real = SQLiteBackend.backup_to

    def damaged(self: SQLiteBackend, path: Path) -> None:  # a disk that loses half the copy
        real(self, path)
        truncate(path, sidecar_too=False)

    with fresh("sqlite", tmp_path) as db:
        db.migrate_base()
        monkeypatch.setattr(SQLiteBackend, "backup_to", damaged)
        res = db.cli("backup")
        assert res.exit_code == 7, res.output
        assert "verif" in res.stderr, res.stderr
        assert all(not b["verified"] for b in db.listed())
        assert [e[2] for e in db.events() if e[0] == "backup"] == ["failed"]
        db.write("000004_later.up.sql", "CREATE TABLE later (id INTEGER PRIMARY KEY);\n")
        before = db.state()
        res = db.cli("up", "--backup")
        assert res.exit_code == 7, res.output
        assert db.state() == before


MARKER = "-- Dump completed on 2024-01-01 12:00:00"


def test_mysql_dump_cut_after_a_row_that_looks_like_the_end_is_refused(tmp_path: Path) -> None:
    """A row whose text is mariadb-dump's last line must not make a cut dump look complete."""
    with fresh("mysql", tmp_path) as db:
        db.write(
            "000001_notes.up.sql",
            f"CREATE TABLE notes (id INT PRIMARY KEY, body TEXT);\nINSERT INTO notes VALUES (1, '{MARKER}');\n",
        )
        db.write("000002_more.up.sql", "CREATE TABLE z_more (id INT PRIMARY KEY);\nINSERT INTO z_more VALUES (1);\n")
        db.ok("up")
        info = db.backup()
        path = Path(info["path"])
        data = path.read_bytes()
        cut = data.index(MARKER.encode()) + len(MARKER) + 10  # the dump goes on: z_more, the history, events
        assert cut < len(data) - 500
        path.write_bytes(data[:cut])
        fix_sidecar(path)
        db.sql("INSERT INTO notes VALUES (2, 'after the backup')")
        before = db.state()
        res = db.cli("restore", "--yes", path.name)
        assert res.exit_code == 7, res.output
        assert "nothing was restored" in res.stderr or "broken" in res.stderr, res.stderr
        assert db.state() == before


def test_restore_never_takes_another_databases_backup(tmp_path: Path) -> None:
    shared = tmp_path / "shared-backups"
    dbs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        db = Db("sqlite", f"sqlite:///{folder / 'app.db'}", folder / "proj")
        db.configure(backup_dir=str(shared))
        db.write("000001_t.up.sql", f"CREATE TABLE t (who TEXT);\nINSERT INTO t VALUES ('{name}');\n")
        db.ok("up")
        db.backups = shared
        dbs.append(db)
    a, b = dbs
    a.backup()
    b.backup()  # the newest backup in the shared folder is b's
    a.sql("UPDATE t SET who = 'changed'")
    res = a.cli("restore", "--yes")
    assert res.exit_code in (0, 7), res.output
    assert a.sql("SELECT who FROM t") != [("b",)], "a's database now holds b's data"
    own = [x for x in a.listed() if x["reason"] != "before restore"]  # restore also keeps what it replaced
    assert len(own) == 1 and all(
        x["database"].endswith("a/app.db") or "a/app.db" in x["identity"] for x in a.listed()
    ), "only a's own backups are a's"


# --- 5. pruning ---------------------------------------------------------------------------------


def test_backup_keep_prunes_the_oldest(db: Db) -> None:
    db.configure(backup_keep=2)
    db.write_base(upto=1)
    db.ok("up")
    taken = [Path(db.backup()["path"]).name for _ in range(4)]
    assert len(set(taken)) == 4, taken
    assert db.backup_files() == sorted([*taken[2:], *(n + ".json" for n in taken[2:])])
    assert [Path(b["path"]).name for b in db.listed()] == taken[:1:-1]


# --- 6. confirmation ----------------------------------------------------------------------------


def test_restore_without_yes_and_no_tty_changes_nothing(db: Db) -> None:
    db.migrate_base()
    db.backup()
    db.change_everything()
    before = db.state()
    proc = db.proc("restore")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--yes" in proc.stderr
    assert db.state() == before


# --- 7. passwords -------------------------------------------------------------------------------

PASSWORD = "Pw#s3cret Qx7$"


@contextlib.contextmanager
def password_url(dialect: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL with a password, database name): a MariaDB user with a real password
    and its own database (both dropped afterwards); on PostgreSQL (trust) the
    password is sent and ignored, which still must not leak."""
    with fresh(dialect, tmp_path) as base:
        name = base.url.rsplit("/", 1)[1]
        if dialect == "postgresql":
            scheme, rest = base.url.split("://", 1)
            userinfo, where = rest.split("@", 1)
            user = userinfo.split(":", 1)[0]
            yield f"{scheme}://{user}:{quote(PASSWORD, safe='')}@{where}", name
            return
        user = f"migrata_pw_{uuid.uuid4().hex[:8]}"
        root_db = Db("mysql", server_url("mysql"), tmp_path / "root-proj")
        root_db.sql(
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'",
            f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{PASSWORD}'",
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'",
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'localhost'",
        )
        try:
            host = base.url.split("@", 1)[1]
            yield f"mysql://{user}:{quote(PASSWORD, safe='')}@{host}", name
        finally:
            root_db.sql(f"DROP USER IF EXISTS '{user}'@'%'", f"DROP USER IF EXISTS '{user}'@'localhost'")


@pytest.fixture
def recording_tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PATH whose database client tools write their command line to a log, then run the real tool."""
    bin_dir = tmp_path / "recording-bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    for tool in ("pg_dump", "pg_restore", "mariadb-dump", "mariadb", "mysqldump", "mysql"):
        real = shutil.which(tool)
        if real is None:
            continue
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\nexec {real} "$@"\n')
        script.chmod(0o755)
    tmp = tmp_path / "tool-tmp"
    tmp.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "TMPDIR": str(tmp)}
    return env, log


@pytest.mark.parametrize("dialect", SERVERS)
def test_password_never_shows(dialect: str, tmp_path: Path, recording_tools: tuple[dict[str, str], Path]) -> None:
    env, argv_log = recording_tools
    secrets = (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD))
    with password_url(dialect, tmp_path) as (url, _name):
        db = Db(dialect, url, tmp_path / "proj")
        db.write_base(upto=1)
        db.write("000003_seed.up.sql", SEED.format(blob=BLOB[dialect], empty=EMPTY_BLOB[dialect]))
        log_file = tmp_path / "migrata.log"
        outputs: list[str] = []

        def run(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
            proc = db.proc(*args, "--log-file", str(log_file), env=env)
            outputs.append(proc.stdout + proc.stderr)
            assert proc.returncode == code, f"migrata {' '.join(args)}: {proc.stdout}{proc.stderr}"
            return proc

        run("up", "--backup")
        run("backup")
        info = json.loads(run("backup", "--json", "--debug").stdout)["backups"][0]
        run("backups")
        run("backups", "--json")
        db.sql("INSERT INTO users (name) VALUES ('after')")
        run("restore", "--yes")
        run("restore", "--yes", "--json", "--debug", Path(info["path"]).name)
        # failures too, with --debug: a broken backup and a failing migration restored
        path = Path(info["path"])
        truncate(path, sidecar_too=True)
        run("restore", "--yes", "--debug", path.name, code=7)
        run("restore", "--yes", "--json", path.name, code=7)
        db.write("000004_bad.up.sql", "INSERT INTO no_such_table VALUES (1);\n")
        run("up", "--restore-on-failure", "--debug", code=1)
        run("up", "--restore-on-failure", "--json", code=1)

        assert "Traceback" in outputs[-2], "--debug printed the traceback (which must not hold the password either)"
        assert log_file.exists() and log_file.stat().st_size > 0
        stored = [json.dumps(e, default=str) for e in db.events()]
        stored += [repr(r) for r in db.sql("SELECT * FROM migrata_history")]
        files = [p for p in db.backups.iterdir()]
        assert len(files) >= 4
        texts = {
            "outputs": "\n".join(outputs),
            "log file": log_file.read_text(encoding="utf-8", errors="replace") if log_file.exists() else "",
            "events/history": "\n".join(stored),
            "tool command lines": argv_log.read_text(encoding="utf-8"),
            **{f.name: f.read_bytes().decode("utf-8", errors="replace") for f in files},
        }
        assert "dump" in texts["tool command lines"], "the tools ran through the recording PATH"
        for where, text in texts.items():
            for secret in secrets:
                assert secret not in text, f"the password shows in {where}"
        # the option file / environment carrying the password is gone
        leftovers = list(Path(env["TMPDIR"]).iterdir())
        assert not leftovers, leftovers


BACKSLASH_PASSWORD = "Pw\\b4ck\\slash"


def test_mysql_password_with_a_backslash_backs_up_and_restores(tmp_path: Path) -> None:
    with fresh("mysql", tmp_path) as base:
        name = base.url.rsplit("/", 1)[1]
        user = f"migrata_bs_{uuid.uuid4().hex[:8]}"
        root_db = Db("mysql", server_url("mysql"), tmp_path / "root-proj")
        escaped = BACKSLASH_PASSWORD.replace("\\", "\\\\")
        root_db.sql(
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{escaped}'",
            f"GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'%'",
        )
        try:
            host = base.url.split("@", 1)[1]
            db = Db("mysql", f"mysql://{user}:{quote(BACKSLASH_PASSWORD, safe='')}@{host}", tmp_path / "proj")
            db.write_base(upto=1)
            db.ok("up")  # the driver gets the password right
            info = db.backup()
            db.sql("DROP TABLE posts")
            db.ok("restore", "--yes", Path(info["path"]).name)
            assert "posts" in db.table_names()
        finally:
            root_db.sql(f"DROP USER IF EXISTS '{user}'@'%'")


# --- the lock during a restore ------------------------------------------------------------------


@pytest.fixture
def pausing_restore(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """A PATH whose pg_restore/mariadb pause before replaying a backup into the
    database (after migrata dropped and recreated it) until told to go on."""
    bin_dir = tmp_path / "pausing-bin"
    bin_dir.mkdir()
    started, go = tmp_path / "restore-started", tmp_path / "restore-go"
    for tool, pattern in (("pg_restore", "*--dbname=*"), ("mariadb", "*--default-character-set=*")):
        real = shutil.which(tool)
        if real is None:
            continue
        script = bin_dir / tool
        script.write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                case "$*" in {pattern})
                  touch {started}
                  i=0
                  while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done;;
                esac
                exec {real} "$@"
                """
            )
        )
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return env, started, go


@pytest.mark.parametrize("dialect", SERVERS)
def test_no_migration_runs_while_a_restore_is_under_way(
    dialect: str, tmp_path: Path, pausing_restore: tuple[dict[str, str], Path, Path]
) -> None:
    env, started, go = pausing_restore
    with fresh(dialect, tmp_path) as db:
        db.migrate_base()
        info = db.backup()
        at_backup = db.state()
        db.write("000004_later.up.sql", "CREATE TABLE later (id INTEGER PRIMARY KEY);\n")
        restore = subprocess.Popen(
            [sys.executable, "-m", "migrata", "-C", str(db.root), "restore", "--yes", Path(info["path"]).name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        try:
            for _ in range(600):
                if started.exists() or restore.poll() is not None:
                    break
                time.sleep(0.05)
            assert started.exists(), "the restore reached its replay step"
            up = db.proc("up", "--lock-timeout", "1s")
        finally:
            go.touch()
            out, err = restore.communicate(timeout=60)
        assert up.returncode == 4, f"`up` during a restore: exit {up.returncode}: {up.stdout}{up.stderr}"
        assert restore.returncode == 0, out + err
        assert db.state() == at_backup
