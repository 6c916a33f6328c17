"""The Backend contract: what a database must do for migrata.

A backend is one class per database family, registered by URL scheme
(``migrata.backends``). The engine (``migrata._core``) talks to databases only
through this interface; dialect differences are class attributes and
overridden methods, never ``isinstance`` checks in the engine.

Checklist for a backend (the shared suite in ``migrata.testing`` checks it):

1. ``connect()`` opens one connection in autocommit mode; migrata issues
   ``begin()``/``commit()``/``rollback()`` itself. Connection failures raise
   :class:`~migrata.errors.DatabaseError` with the URL masked.
2. ``acquire_lock(timeout)`` takes a database-wide lock tied to this process
   or session, so that a crashed holder frees it at once; it waits at most
   ``timeout`` seconds and then returns False (the engine raises
   :class:`~migrata.errors.LockTimeoutError` naming the holder).
   ``release_lock()`` frees it; ``lock_holder()`` reports who holds it
   without taking it; ``break_lock()`` ends the holder (after the CLI asked).
3. ``execute``/``query`` run one statement with parameters in the backend's
   ``placeholder`` style; ``run_statement`` runs one migration statement and
   turns a driver error into :class:`StatementError`.
4. ``split(sql)`` cuts a script into :class:`Statement` objects the way the
   database's own client does, keeping each one's line number.
5. ``transactional_ddl`` says whether DDL can be rolled back; if not, the
   runner journals statement by statement.
6. ``no_transaction_reason(stmt)`` names a statement that cannot run inside a
   transaction, ``manages_transaction(stmt)`` one that begins/ends one itself.
7. ``table_names()`` and ``schema_snapshot()`` describe the user's schema (for
   tests, drift checks and ``validate``); ``tables_present(names)`` says which
   of some tables exist (migrata's own), in one filtered query where the
   backend gives ``tables_sql``.
8. The ledger DDL types (``key_type``, ``text_type``, ``id_column``) let
   migrata create its own tables in this dialect.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from migrata._lazy import pattern
from migrata._record import field, record
from migrata.backends._sqltext import (
    SplitDialect,
    is_blank,
    leading_keywords,
    line_of,
    skip_space_and_comments,
    split_sql,
)
from migrata.errors import ConfigError, DatabaseError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

__all__ = [
    "Backend",
    "DatabaseURL",
    "LockHolder",
    "hostname",
    "SplitDialect",
    "Statement",
    "StatementError",
    "is_blank",
    "leading_keywords",
    "line_of",
    "mask_url",
    "poll",
    "run_tool",
    "skip_space_and_comments",
    "split_sql",
    "utc_iso",
]


@record(frozen=True)
class DatabaseURL:
    """A parsed database URL in SQLAlchemy's spelling.

    ``database`` is the database name, or for SQLite the file path (already
    resolved against ``base_dir`` when relative) or ``:memory:``.
    """

    scheme: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    @property
    def family(self) -> str:
        """The scheme without a ``+driver`` suffix (``postgresql+psycopg`` -> ``postgresql``)."""
        return self.scheme.split("+", 1)[0]

    @classmethod
    def parse(cls, url: str, base_dir: Path | None = None) -> DatabaseURL:
        if "://" not in url:
            if url.startswith("file:"):  # SQLite URI filename, as in DATABASE_URL=file:/path/db
                return cls._sqlite(url, "sqlite", url[len("file:") :], {}, base_dir)
            raise ConfigError(
                f"database URL {mask_url(url)!r} has no scheme",
                hint="write it as sqlite:///app.db, postgresql://user@host/db or mysql://user@host/db",
            )
        scheme, rest = url.split("://", 1)
        scheme = scheme.lower()
        if scheme.split("+", 1)[0] in ("sqlite", "sqlite3", "file"):
            if "@" in rest.split("/", 1)[0]:
                raise ConfigError(
                    f"the SQLite URL {mask_url(url)!r} has a user or password; SQLite takes none",
                    hint="write it as sqlite:///relative.db or sqlite:////absolute/path.db",
                )
            path, _, qs = rest.partition("?")
            query = dict(parse_qsl(qs))
            # sqlite:///rel.db -> "/rel.db" after the authority; sqlite:////abs.db -> "//abs.db"
            path = path[1:] if path.startswith("/") else path
            return cls._sqlite(url, "sqlite", path, query, base_dir)
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigError(f"database URL {mask_url(url)!r} is malformed: {exc}") from None
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(f"database URL {mask_url(url)!r} has a bad port") from None
        database = unquote(parts.path.lstrip("/")) or None
        return cls(
            scheme=scheme,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname,
            port=port,
            database=database,
            query=dict(parse_qsl(parts.query)),
            raw=url,
        )

    @classmethod
    def _sqlite(cls, raw: str, scheme: str, path: str, query: dict[str, str], base_dir: Path | None) -> DatabaseURL:
        path = unquote(path)
        if path in ("", ":memory:"):
            return cls(scheme=scheme, database=":memory:", query=query, raw=raw)
        p = Path(path).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        return cls(scheme=scheme, database=str(p), query=query, raw=raw)

    def masked(self) -> str:
        return mask_url(self.raw)

    def with_database(self, name: str) -> DatabaseURL:
        """The same server with another database (used by tests and ``db create``)."""
        return DatabaseURL(
            scheme=self.scheme,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.port,
            database=name,
            query=dict(self.query),
            raw=_replace_path(self.raw, name),
        )

    def __repr__(self) -> str:  # never show the password, even in a debugger or traceback
        return f"DatabaseURL({self.masked()!r})"


# the password runs to the last "@" of the authority, as urlsplit reads it
_PASSWORD_RE = pattern(r"(?P<head>[a-zA-Z][\w+.-]*://[^:/?#@\s]*:)(?P<pw>[^/?#\s]*)@")


_QUERY_SECRET_RE = pattern(r"(?P<head>[?&;](?:password|passwd|pwd|sslpassword)=)[^&;\s]*", re.I)


def mask_url(url: str) -> str:
    """Replace the password in every URL inside ``url`` with ``***`` (in the
    user-info part and in ``password=``-like query options)."""
    if "://" not in url and "=" not in url:  # neither pattern can match: most log lines
        return url
    masked = _PASSWORD_RE.sub(lambda m: f"{m.group('head')}***@", url)
    return _QUERY_SECRET_RE.sub(lambda m: f"{m.group('head')}***", masked)


def _replace_path(raw: str, name: str) -> str:
    parts = urlsplit(raw)
    return parts._replace(path="/" + quote(name)).geturl()


@record(frozen=True)
class Statement:
    """One statement of a migration script and where it starts."""

    sql: str
    line: int  # 1-based line in the script where the statement starts
    index: int = 0  # 0-based position in the script

    @property
    def first_line(self) -> str:
        for text in self.sql.strip().splitlines():
            if text.strip():
                return text.strip()
        return ""


class StatementError(Exception):
    """A migration statement failed in the database. Raised by ``run_statement``."""

    def __init__(
        self, db_message: str, *, position: int | None = None, line: int | None = None, index: int | None = None
    ) -> None:
        super().__init__(db_message)
        self.db_message = db_message
        self.position = position  # 1-based character offset the server reported, if any
        self.line = line  # 1-based line within the statement the server reported, if any
        self.index = index  # which statement of a batch failed (run_batch)


@record(frozen=True)
class LockHolder:
    """Who holds the migration lock, as far as the database can tell."""

    pid: int | None = None  # OS pid (SQLite) or server session/connection id
    host: str | None = None
    since: str | None = None  # ISO-8601 UTC
    detail: str | None = None

    def describe(self) -> str:
        bits = []
        if self.pid is not None:
            bits.append(f"pid {self.pid}")
        if self.host:
            bits.append(f"on {self.host}")
        if self.since:
            bits.append(f"since {self.since}")
        if self.detail:
            bits.append(f"({self.detail})")
        return " ".join(bits) or "an unknown holder"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "host": self.host, "since": self.since, "detail": self.detail}


def hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it, without
    loading :mod:`socket` where ``os.uname`` exists."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def utc_iso() -> str:
    """Now in UTC, to the second: ``2026-12-06T21:46:10Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def poll(attempt: Callable[[], bool], timeout: float, *, first: float = 0.005, most: float = 0.2) -> bool:
    """Call ``attempt`` until it returns True or ``timeout`` seconds pass,
    sleeping with exponential backoff in between. Returns the last result."""
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        if attempt():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, most)


class Backend(ABC):
    """One database connection plus everything dialect-specific migrata needs."""

    #: Name used in results, ``ctx.dialect`` and the registry.
    dialect: ClassVar[str]
    #: URL schemes this backend serves (``postgresql``, ``postgres``...).
    schemes: ClassVar[tuple[str, ...]]
    #: Extra to install for the driver, named in DriverMissingError.
    extra: ClassVar[str | None] = None
    #: Whether DDL runs inside a transaction that can be rolled back.
    transactional_ddl: ClassVar[bool] = True
    #: DB-API placeholder for parameters.
    placeholder: ClassVar[str] = "%s"
    #: Column types for migrata's own tables.
    key_type: ClassVar[str] = "VARCHAR(255)"
    text_type: ClassVar[str] = "TEXT"
    id_column: ClassVar[str] = "id INTEGER PRIMARY KEY"
    #: Statement that opens a transaction for a migration.
    begin_sql: ClassVar[str] = "BEGIN"
    #: Whether a whole transactional step (BEGIN, the migration's SQL, the
    #: bookkeeping, COMMIT) can go to the database in one ``run_script`` call.
    step_in_one_call: ClassVar[bool] = False
    #: a journaled step's statements and journal writes go in one round trip (run_batch)
    journal_in_one_call: ClassVar[bool] = False
    #: journal writes inside deferred_commits() wait for the next commit (an
    #: implicit one of DDL, or the end of the step) instead of committing on
    #: their own: a progress mark before a statement that does not commit is
    #: then left out (it could never be committed apart from that statement)
    defers_journal_commits: ClassVar[bool] = False

    def __init__(self, url: DatabaseURL, *, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = dict(options or {})

    # --- connection -------------------------------------------------------
    @abstractmethod
    def connect(self) -> None:
        """Open the connection (autocommit). Raise DatabaseError, URL masked."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; never raises."""

    @property
    @abstractmethod
    def connection(self) -> Any:
        """The DB-API connection (for Python migrations)."""

    def server_version(self) -> str:
        return ""

    def state_probe(self) -> tuple[str, str, tuple[Any, ...]] | None:
        """``(module, function, arguments)`` of a cheap function that returns a
        value which changes whenever the database's committed state may have
        changed (None from it: cannot tell), computed without connecting and
        without importing this backend. The command line keeps the answers of
        ``status`` and ``check`` while it stays the same (see
        :mod:`migrata._fingerprint`). None (the default): this database cannot
        tell, its answers are never kept."""
        return None

    def change_marker(self) -> Any:
        """A value of the connected database that stays the same for as long
        as no other connection commits a change to it (this connection's own
        changes may or may not move it); None (the default) when the backend
        cannot tell. Taken before a read of the history and again later, an
        unchanged value lets the read stand instead of being made again."""
        return None

    def database_exists(self) -> bool:
        """False when the database is absent (read-only commands then create
        nothing and report everything as pending). Server backends find out by
        connecting: a connection that works is the one the command needs anyway."""
        try:
            self.connect()
        except DatabaseError as exc:
            if getattr(exc, "missing_database", False):
                return False
            raise
        return True

    def scratch(self) -> Backend | None:
        """A connected throwaway database holding this one's schema, to try SQL
        without touching this one; None where the backend cannot make one."""
        return None

    # --- transactions -------------------------------------------------------
    def begin(self) -> None:
        self.execute(self.begin_sql)

    def commit(self) -> None:
        self.execute("COMMIT")

    def in_transaction(self) -> bool:
        """True while a transaction is open on the connection."""
        return False

    def rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - rollback of a dead transaction must not mask the cause
            pass

    # --- statements ----------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> None:
        """Run one statement of migrata's own; errors raise DatabaseError."""

    @abstractmethod
    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query of migrata's own and return all rows."""

    def query_rows(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Like :meth:`query`, row by row where the driver allows (a long history
        is never held twice: raw rows and the objects made of them)."""
        yield from self.query(sql, params)

    @abstractmethod
    def run_statement(self, sql: str) -> None:
        """Run one statement of a migration; a failure raises StatementError."""

    def run_script(self, sql: str) -> None:
        """Run several statements in one call (only where ``step_in_one_call``).
        A failure raises StatementError with the server's ``position`` (1-based
        offset in ``sql``) where it reports one."""
        raise NotImplementedError

    def run_batch(self, statements: list[str], *, meanwhile: Callable[[], None] | None = None) -> None:
        """Run ``statements`` in order in one round trip (only where
        ``journal_in_one_call``), stopping at the first that fails: it raises
        StatementError with ``index``, its position in the list. Each statement
        must yield exactly one result. ``meanwhile`` is called once, while the
        server works on them if the driver can wait apart from sending (else
        before they are sent); the results are read even when it raises."""
        raise NotImplementedError

    def returns_several_results(self, stmt: Statement) -> bool:
        """Whether ``stmt`` may yield more than one result (a procedure call)."""
        return False

    def between_steps(self, *, others: bool = False, ahead: int = 1) -> None:  # noqa: B027 - optional hook
        """Called between two steps of a run: a backend holding something for
        more than one step may let others in here (``others``: the next step
        is one other sessions must be able to watch or join, a journaled or a
        Python migration; ``ahead``: the steps left, the next one included)."""

    def batch_timer_sql(self) -> str | None:
        """A statement that starts the clock ``elapsed_ms_sql`` reads in a batch."""
        return None

    def elapsed_ms_sql(self, started: str) -> str:
        """An SQL expression: milliseconds since ``started`` (ISO-8601 UTC), or
        since the transaction began, evaluated inside the step."""
        return "NULL"

    def render_statement(self, stmt: Statement) -> str:
        """``stmt`` as the database's own client must be given it in a script."""
        return stmt.sql if stmt.sql.rstrip().endswith(";") else stmt.sql + ";"

    @abstractmethod
    def split(self, sql: str) -> list[Statement]:
        """Cut a script into statements the way the database's client does."""

    @contextlib.contextmanager
    def statement_guard(self) -> Iterator[None]:
        """Around each statement a Python migration runs: enforce the timeout
        where the server does not (session settings cover the others)."""
        yield

    def transactional_statement(self, stmt: Statement) -> bool:
        """Whether ``stmt`` can be rolled back (where ``transactional_ddl`` is
        False, a migration of such statements only still runs in a transaction)."""
        return True

    @contextlib.contextmanager
    def deferred_commits(self) -> Iterator[None]:
        """Around a journaled run: where DDL commits implicitly, journal writes
        may wait for that commit instead of committing on their own."""
        yield

    def no_transaction_reason(self, stmt: Statement) -> str | None:
        """Why ``stmt`` cannot run inside a transaction, or None."""
        return None

    def manages_transaction(self, stmt: Statement) -> bool:
        """True when ``stmt`` itself begins/ends a transaction or changes a
        setting that is ignored inside one (so the script must run outside ours)."""
        return False

    def apply_timeout(self, seconds: float | None) -> None:  # noqa: B027 - optional hook
        """Bound each following statement to ``seconds`` (None: no bound)."""

    # --- locking -------------------------------------------------------------
    @abstractmethod
    def acquire_lock(self, timeout: float) -> bool:
        """Take the migration lock, waiting up to ``timeout`` seconds.
        Return False when it stayed busy; the caller then asks ``lock_holder()``."""

    @abstractmethod
    def release_lock(self) -> None:
        """Release the migration lock if this backend holds it."""

    @abstractmethod
    def lock_holder(self) -> LockHolder | None:
        """Who holds the lock now, or None when it is free."""

    def break_lock(self) -> LockHolder | None:
        """End the session/process holding the lock, wait until the lock is
        free, and return who held it (None when it was free)."""
        holder = self.lock_holder()
        if holder is None:
            return None
        self.end_holder(holder)
        poll(lambda: self.lock_holder() is None, 10.0)
        return holder

    def end_holder(self, holder: LockHolder) -> None:
        """End the session or process ``holder`` (used by ``break_lock``)."""
        raise UsageError(f"the {self.dialect} backend cannot end the lock's holder")

    # --- backups -------------------------------------------------------------
    #: Suffix of this backend's backup files ("" for SQLite's database copies).
    backup_suffix: ClassVar[str] = ""
    #: Client programs backups and restores need, with the package that has
    #: them; ``"a|b"`` means either program will do.
    backup_tools: ClassVar[dict[str, str]] = {}

    def backup_to(self, path: Path) -> None:
        """Write a consistent backup of the whole database (migrata's tables
        included) to ``path``, safely while other sessions write."""
        raise UsageError(f"the {self.dialect} backend cannot make backups")

    def check_backup(self, path: Path) -> str | None:
        """Read the backup at ``path`` through: None when it is complete and
        readable, otherwise what is wrong with it."""
        raise UsageError(f"the {self.dialect} backend cannot check backups")

    def restore_from(self, path: Path) -> None:
        """Replace everything in the database by the backup's content, exactly:
        objects created since the backup are gone afterwards."""
        raise UsageError(f"the {self.dialect} backend cannot restore backups")

    def size_estimate(self) -> int:
        """Roughly how many bytes a backup of the database takes."""
        return 0

    # --- databases -----------------------------------------------------------
    def ensure_namespace(self) -> None:  # noqa: B027 - optional hook
        """Create the schema/namespace migrata's tables live in, if the URL names one."""

    def create_database(self, name: str) -> None:
        """Create database ``name`` on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot create databases")

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot drop databases")

    def has_database(self, name: str) -> bool:
        """Whether database ``name`` exists on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot list databases")

    def admin(self) -> Backend:
        """A backend on the same server but not on this database (for
        creating and dropping it); not yet connected."""
        raise UsageError(f"the {self.dialect} backend has no server to administer")

    def create(self) -> bool:
        """Create the database of this URL (``migrata db create``); False when
        it already exists. Runs on a maintenance connection."""
        name = self.url.database or ""
        admin = self.admin()
        admin.connect()
        try:
            if admin.has_database(name):
                return False
            admin.create_database(name)
            return True
        finally:
            admin.close()

    def drop(self) -> bool:
        """Drop the database of this URL (``migrata db drop``); False when it
        did not exist."""
        name = self.url.database or ""
        admin = self.admin()
        admin.connect()
        try:
            if not admin.has_database(name):
                return False
            admin.drop_database(name)
            return True
        finally:
            admin.close()

    # --- introspection -------------------------------------------------------
    # a query of the user's table names that a name filter (``AND table_name IN
    # (...)``) or an ``ORDER BY table_name`` can end; None: the backend lists
    # them in table_names() and tables_present() filters that list
    tables_sql: str | None = None

    def table_names(self) -> list[str]:
        """Tables of the user's schema (migrata's own included), by name;
        through ``tables_sql`` unless the backend lists them itself."""
        if self.tables_sql is None:
            raise NotImplementedError
        return [r[0] for r in self.query(f"{self.tables_sql} ORDER BY table_name")]

    def tables_present(self, names: Collection[str]) -> set[str]:
        """Which of ``names`` (exactly as spelled) are tables of the user's schema:
        one query for those names, not a listing of a schema of many tables."""
        wanted = set(names)
        if self.tables_sql is None or not wanted:
            return set(self.table_names()) & wanted
        marks = ", ".join([self.placeholder] * len(wanted))
        return {r[0] for r in self.query(f"{self.tables_sql} AND table_name IN ({marks})", sorted(wanted))} & wanted

    def schema_snapshot(self) -> dict[str, Any]:
        """A comparable description of the schema; backends refine it."""
        return {"tables": sorted(self.table_names())}

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'


def run_tool(
    argv: list[str],
    *,
    package: str,
    env: dict[str, str] | None = None,
    stdin: Any = None,
    secrets: tuple[str, ...] = (),
) -> str:
    """Run a database client program; return its stdout. A missing program or
    a failure raises DatabaseError naming it (secrets and URLs masked)."""
    import shutil
    import subprocess

    program = shutil.which(argv[0])
    if program is None:
        raise DatabaseError(f"{argv[0]} is not installed", hint=f"install the {package} package")
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [program, *argv[1:]], env=full_env, stdin=stdin, capture_output=True, text=True, errors="replace"
    )
    if proc.returncode != 0:
        text = " ".join((proc.stderr or proc.stdout).split())[:500]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        raise DatabaseError(f"{argv[0]} failed (exit {proc.returncode}): {mask_url(text)}")
    return proc.stdout
