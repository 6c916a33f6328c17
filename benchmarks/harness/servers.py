"""The three databases: fresh ones for every run, URLs for every tool, schema checks.

Every server database the harness creates is named
``migbench_<pid>_<counter>`` and dropped when its cycle ends (and at exit);
a later run drops leftovers whose process is gone, so an interrupted run
leaves nothing behind for long. SQLite databases are files in the run's
temporary folder.

Server URLs come from ``MIGRATA_TEST_POSTGRES_URL`` / ``MIGRATA_TEST_MYSQL_URL``
(as in the test suite), defaulting to the local servers.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from . import proc
from .workload import table

DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/postgres",
    "mysql": "mysql://root@127.0.0.1:3306/mysql",
}
ENV_URLS = {"postgresql": "MIGRATA_TEST_POSTGRES_URL", "mysql": "MIGRATA_TEST_MYSQL_URL"}
PREFIX = "migbench_"
_counter = itertools.count(1)


@dataclass
class Counts:
    """What the schema holds: bench tables, their indexes, rows in the newest one."""

    tables: int
    indexes: int
    rows: int | None

    def as_dict(self) -> dict[str, int | None]:
        return {"tables": self.tables, "indexes": self.indexes, "rows": self.rows}


@dataclass
class Database:
    """One fresh database: its name, and how each tool reaches it."""

    server: Server
    name: str
    path: Path | None = None

    def url(self, tool: str) -> str:
        return self.server.url_for(self, tool)

    def client(self, sql_file: Path) -> tuple[list[str], Path | None]:
        return self.server.client_command(self, sql_file)

    def counts(self, highest: int) -> Counts:
        return self.server.counts(self, highest)


class Server:
    dialect = ""

    def __init__(self) -> None:
        self.problem: str | None = None

    def url_for(self, db: Database, tool: str) -> str:
        raise NotImplementedError

    def client_command(self, db: Database, sql_file: Path) -> tuple[list[str], Path | None]:
        raise NotImplementedError

    def counts(self, db: Database, highest: int) -> Counts:
        raise NotImplementedError

    def client_env(self) -> dict[str, str]:
        """Variables the client (and the tools) need beside the URL, e.g. a password."""
        return {}

    def secrets(self) -> list[str]:
        """What must never be shown: the password, as given and as a URL spells it."""
        return []

    def check(self) -> str | None:
        """None when usable, else why not."""
        raise NotImplementedError

    def version(self) -> str:
        raise NotImplementedError

    def client_version(self) -> str:
        raise NotImplementedError

    @contextlib.contextmanager
    def fresh(self, folder: Path) -> Iterator[Database]:
        raise NotImplementedError
        yield  # pragma: no cover

    def cleanup_leftovers(self) -> list[str]:
        return []


class SQLiteServer(Server):
    dialect = "sqlite"

    def check(self) -> str | None:
        return None if shutil.which("sqlite3") else "the sqlite3 client is missing"

    def version(self) -> str:
        return sqlite3.sqlite_version + " (Python's sqlite3 module)"

    def client_version(self) -> str:
        out = proc.quick(["sqlite3", "--version"]).stdout.split()
        return "sqlite3 " + (out[0] if out else "?")

    def url_for(self, db: Database, tool: str) -> str:
        assert db.path is not None
        if tool == "dbmate":
            return f"sqlite:{db.path}"
        return f"sqlite:///{db.path}"  # an absolute path: sqlite:////tmp/...

    def client_command(self, db: Database, sql_file: Path) -> tuple[list[str], Path | None]:
        return ["sqlite3", "-bail", str(db.path)], sql_file

    def counts(self, db: Database, highest: int) -> Counts:
        assert db.path is not None
        if not db.path.exists():
            return Counts(0, 0, None)
        conn = sqlite3.connect(db.path)
        try:
            q = "SELECT count(*) FROM sqlite_master WHERE type = ? AND name LIKE ? ESCAPE '\\'"
            tables = conn.execute(q, ("table", "bench\\_%")).fetchone()[0]
            indexes = conn.execute(q, ("index", "ix\\_bench\\_%")).fetchone()[0]
            rows = None
            if conn.execute(q.replace("LIKE ? ESCAPE '\\'", "= ?"), ("table", table(highest))).fetchone()[0]:
                rows = conn.execute(f"SELECT count(*) FROM {table(highest)}").fetchone()[0]
            return Counts(tables, indexes, rows)
        finally:
            conn.close()

    @contextlib.contextmanager
    def fresh(self, folder: Path) -> Iterator[Database]:
        name = f"{PREFIX}{os.getpid()}_{next(_counter)}"
        path = folder / f"{name}.db"
        try:
            yield Database(self, name, path)
        finally:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            for lock in folder.glob(f"{name}*lock*"):
                lock.unlink(missing_ok=True)


class _NetServer(Server):
    """What PostgreSQL and MariaDB share: a server URL, a client, created databases."""

    admin_db = ""

    def __init__(self) -> None:
        super().__init__()
        raw = os.environ.get(ENV_URLS[self.dialect]) or DEFAULT_URLS[self.dialect]
        parts = urlsplit(raw)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.admin_db = parts.path.lstrip("/") or self.admin_db
        self.created: set[str] = set()
        atexit.register(self._drop_all)

    def secrets(self) -> list[str]:
        from urllib.parse import quote

        return [self.password, quote(self.password, safe="")] if self.password else []

    def auth(self) -> str:
        from urllib.parse import quote

        user = quote(self.user, safe="")
        return f"{user}:{quote(self.password, safe='')}@" if self.password else f"{user}@"

    def sql(self, statement: str, database: str | None = None) -> list[list[str]]:
        raise NotImplementedError

    def create(self, name: str) -> None:
        raise NotImplementedError

    def drop(self, name: str) -> None:
        raise NotImplementedError

    def list_databases(self) -> list[str]:
        raise NotImplementedError

    def _drop_all(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(name)

    @contextlib.contextmanager
    def fresh(self, folder: Path) -> Iterator[Database]:
        name = f"{PREFIX}{os.getpid()}_{next(_counter)}"
        self.create(name)
        self.created.add(name)
        try:
            yield Database(self, name)
        finally:
            self.drop(name)
            self.created.discard(name)

    def cleanup_leftovers(self) -> list[str]:
        dropped = []
        for name in self.list_databases():
            if not name.startswith(PREFIX):
                continue
            try:
                pid = int(name[len(PREFIX) :].split("_", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _alive(pid):
                self.drop(name)
                dropped.append(name)
        return dropped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresServer(_NetServer):
    dialect = "postgresql"
    admin_db = "postgres"

    def client_env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password} if self.password else {}

    def env(self) -> dict[str, str]:
        return dict(os.environ, PGCONNECT_TIMEOUT="5", **self.client_env())

    def _psql(self, database: str) -> list[str]:
        return [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            self.host,
            "-p",
            str(self.port or 5432),
            "-U",
            self.user or "postgres",
            "-d",
            database,
        ]

    def sql(self, statement: str, database: str | None = None) -> list[list[str]]:
        done = proc.quick([*self._psql(database or self.admin_db), "-At", "-F", "\t", "-c", statement], env=self.env())
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def check(self) -> str | None:
        if not shutil.which("psql"):
            return "the psql client is missing (apt-get install postgresql-client)"
        try:
            self.sql("SELECT 1")
        except (RuntimeError, OSError) as exc:
            return f"PostgreSQL at {self.host}:{self.port or 5432} unavailable: {exc}"
        return None

    def version(self) -> str:
        return "PostgreSQL " + self.sql("SHOW server_version")[0][0]

    def client_version(self) -> str:
        return proc.quick(["psql", "--version"]).stdout.strip()

    def create(self, name: str) -> None:
        self.sql(f'CREATE DATABASE "{name}"')

    def drop(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def list_databases(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT datname FROM pg_database")]

    def url_for(self, db: Database, tool: str) -> str:
        where = f"{self.host}:{self.port or 5432}/{db.name}"
        if tool == "dbmate":
            return f"postgres://{self.auth()}{where}?sslmode=disable"
        if tool in ("alembic", "yoyo"):
            return f"postgresql+psycopg://{self.auth()}{where}"
        return f"postgresql://{self.auth()}{where}"

    def client_command(self, db: Database, sql_file: Path) -> tuple[list[str], Path | None]:
        return [*self._psql(db.name), "-f", str(sql_file)], None

    def counts(self, db: Database, highest: int) -> Counts:
        t = table(highest)
        row = self.sql(
            "SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename LIKE 'bench\\_%'),"
            " (SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname LIKE 'ix\\_bench\\_%'),"
            f" (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = '{t}')",
            db.name,
        )[0]
        rows = int(self.sql(f"SELECT count(*) FROM {t}", db.name)[0][0]) if int(row[2]) else None
        return Counts(int(row[0]), int(row[1]), rows)


class MySQLServer(_NetServer):
    dialect = "mysql"
    admin_db = "mysql"

    def client_env(self) -> dict[str, str]:
        return {"MYSQL_PWD": self.password} if self.password else {}

    def env(self) -> dict[str, str]:
        return dict(os.environ, **self.client_env())

    def _client(self, database: str | None) -> list[str]:
        exe = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
        cmd = [
            exe,
            "--batch",
            "--connect-timeout=5",
            "-h",
            self.host,
            "-P",
            str(self.port or 3306),
            "-u",
            self.user or "root",
        ]
        return [*cmd, database] if database else cmd

    def sql(self, statement: str, database: str | None = None) -> list[list[str]]:
        done = proc.quick([*self._client(database), "-N", "-e", statement], env=self.env())
        if done.returncode != 0:
            raise RuntimeError(f"mariadb: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def check(self) -> str | None:
        if not (shutil.which("mariadb") or shutil.which("mysql")):
            return "the mariadb client is missing (apt-get install mariadb-client)"
        try:
            self.sql("SELECT 1")
        except (RuntimeError, OSError) as exc:
            return f"MariaDB at {self.host}:{self.port or 3306} unavailable: {exc}"
        return None

    def version(self) -> str:
        v = self.sql("SELECT VERSION()")[0][0]
        return v if "mariadb" in v.lower() else f"MySQL {v}"

    def client_version(self) -> str:
        text = proc.quick([self._client(None)[0], "--version"]).stdout.strip()
        return " ".join(text.replace(",", "").split()[:5]).replace(str(Path(self._client(None)[0]).parent) + "/", "")

    def create(self, name: str) -> None:
        self.sql(f"CREATE DATABASE `{name}`")

    def drop(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS `{name}`")

    def list_databases(self) -> list[str]:
        return [r[0] for r in self.sql("SHOW DATABASES")]

    def url_for(self, db: Database, tool: str) -> str:
        where = f"{self.host}:{self.port or 3306}/{db.name}"
        if tool == "alembic":
            return f"mysql+pymysql://{self.auth()}{where}"
        return f"mysql://{self.auth()}{where}"

    def client_command(self, db: Database, sql_file: Path) -> tuple[list[str], Path | None]:
        return self._client(db.name), sql_file

    def counts(self, db: Database, highest: int) -> Counts:
        t = table(highest)
        row = self.sql(
            "SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
            " AND table_name LIKE 'bench\\_%'),"
            " (SELECT count(DISTINCT table_name, index_name) FROM information_schema.statistics"
            " WHERE table_schema = DATABASE() AND index_name LIKE 'ix\\_bench\\_%'),"
            " (SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
            f" AND table_name = '{t}')",
            db.name,
        )[0]
        rows = int(self.sql(f"SELECT count(*) FROM {t}", db.name)[0][0]) if int(row[2]) else None
        return Counts(int(row[0]), int(row[1]), rows)


SERVERS: dict[str, type[Server]] = {"sqlite": SQLiteServer, "postgresql": PostgresServer, "mysql": MySQLServer}
