"""The Backend contract: everything a database must do for migrata.

A backend is one class per database family, registered by URL scheme in
:mod:`migrata.backends.registry` (third parties: the ``migrata.backends``
entry-point group). The engine talks to databases only through this class;
dialect differences are the class attributes and overridden methods below,
never ``isinstance`` checks in the engine. ``migrata.testing.suite`` checks
every promise here on a real database: a new backend is done when that suite
passes on it.

Checklist for whoever adds a database (each item names the methods; their
docstrings say the details):

Connection
  1. ``connect()`` opens one connection in autocommit mode and is a no-op
     when already connected; migrata issues ``begin()``/``commit()``/
     ``rollback()`` itself. A failure raises :class:`DatabaseError` with the
     URL masked; ``missing_database`` is True when the server says the
     database does not exist. ``close()`` never raises and frees the lock.
     ``connection`` is the DB-API connection (Python migrations use it),
     ``server_version()`` names the server, ``database_exists()`` answers
     without creating anything.

Running SQL
  2. ``execute``/``query`` run one statement of migrata's own with
     parameters in the ``placeholder`` style; errors raise DatabaseError.
  3. ``run_statement`` runs one statement of a migration; a failure raises
     :class:`StatementError` with the server's message and, where the server
     tells it, the position or line.
  4. ``split(sql)`` cuts a script into :class:`Statement` objects the way the
     database's own client does, each with its line; ``render_statement``
     writes one back as that client must be given it in a script (``--sql``),
     after ``script_header`` (what the client must be told first).
  5. ``literal(value)`` renders a value as an SQL literal by the driver's
     own quoting rules for this connection (backslashes, quotes, NULL,
     numbers): the ONE way migrata writes a value into SQL text (steps sent
     in one call, journal batches, ``--sql``).
  6. Capabilities, as class attributes:
     ``transactional_ddl`` (DDL can be rolled back; else the runner journals
     DDL statement by statement), ``step_in_one_call`` (``run_script`` runs
     BEGIN, a migration, its bookkeeping and COMMIT in one call and reports
     an error position), ``journal_in_one_call`` (``run_batch`` runs a list
     of statements in one round trip and says which one failed),
     ``defers_journal_commits`` (inside ``deferred_commits()`` journal writes
     are committed by the next statement that commits implicitly),
     ``commits_in_one_call`` (a step sent with ``run_script`` ends with its
     COMMIT in the same call; otherwise the runner commits after reading
     the counts). ``execute``, ``run_script`` and ``run_batch`` return the
     row count the driver reports with each statement's own result (never
     an extra query): a step counts as done only when its history write
     says it wrote its row.
  7. ``transactional_statement``, ``no_transaction_reason``,
     ``manages_transaction`` and ``returns_several_results`` classify one
     statement; ``elapsed_ms_sql()`` is an SQL expression of the step's
     running time that ``run_script``/``run_batch`` can evaluate.
  8. ``apply_timeout(seconds)`` bounds each following statement;
     ``ddl_lock_sql(seconds)`` (first in a migration's transaction) and
     ``bound_lock_waits(seconds)`` (the session, for journaled statements)
     bound how long a statement waits for a lock another session holds
     (``ddl_lock_timeout``); a statement that gave up waiting raises
     StatementError with ``lock_timeout`` set, and did not run.
     ``lock_blockers(session)``, asked on a second connection while the
     connection ``session_id()`` names waits, says who holds that lock;
     ``statement_guard()`` enforces it around a Python migration's own
     statements where the server does not. ``run_of_transactions(count)``
     surrounds a run of steps that each commit one transaction: a backend
     may make those commits cheaper there at the same durability, and leaves
     the database's settings as it found them.

Locking
  9. ``acquire_lock(timeout)`` takes a database-wide lock tied to this
     connection or process, so a crashed holder frees it at once; it waits
     at most ``timeout`` seconds and returns False when it stayed busy.
     ``release_lock()`` frees it; ``lock_holder()`` says who holds it
     without taking it (the client's pid and host, its server session, and
     since when, saying what that time measures); a lock that cannot name
     its client (``lock_names_client`` False) gives ``lock_session()``, and
     migrata records the client beside it as a ``lock`` event;
     ``break_lock()`` ends the holder through ``end_holder()`` and waits
     until the lock is free.

Backups and databases
  10. ``backup_to``/``check_backup``/``restore_from`` (with ``backup_suffix``,
      ``backup_tools`` and ``size_estimate``) take a consistent backup, read
      it back through, and put the database back exactly.
  11. ``admin()`` is a backend on the same server for ``create_database``/
      ``drop_database``/``has_database``; ``create()``/``drop()`` do that for
      this URL's database. ``ensure_namespace()`` creates the schema the URL
      names; ``scratch()`` is a throwaway copy of the schema to try SQL on.

Introspection
  12. ``table_names()``, ``tables_present(names)`` and ``schema_snapshot()``
      describe the user's schema; ``quote_ident`` quotes a name;
      ``has_object(kind, name, table=)`` looks up one object of a kind in
      ``OBJECT_KINDS`` by the name a statement gives it (``repair --resume``
      settles a statement in doubt with it).
  13. ``key_type``, ``text_type`` and ``id_column`` let migrata create its
      own tables in this dialect.

Data (:mod:`migrata.data`)
  14. ``primary_key(table)`` names the primary key's columns in order
      (``primary_key_sql``); ``upsert_sql`` writes an insert-or-update keyed
      on unique columns (``upsert_style``); ``replica_lag()`` says how far
      this connection's server lags behind its primary, in seconds
      (``replica_lag_query``; 0 on a server that replicates nothing).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from migrata.backends.records import LockHolder, Statement, StatementError, StatementInterrupted
from migrata.errors import DatabaseError, UsageError
from migrata.util import DatabaseURL, poll

__all__ = [
    "OBJECT_KINDS",
    "Backend",
    "DatabaseURL",
    "LockHolder",
    "Statement",
    "StatementError",
    "StatementInterrupted",
]

#: What ``Backend.has_object`` looks up: what a DDL statement leaves present or absent.
OBJECT_KINDS = ("table", "view", "index", "column", "constraint", "routine", "trigger", "sequence")


class Backend(ABC):
    """One database connection plus everything dialect-specific migrata needs."""

    #: Name used in results, ``ctx.dialect`` and the registry.
    dialect: ClassVar[str]
    #: DB-API placeholder for parameters.
    placeholder: ClassVar[str] = "%s"
    #: Column types for migrata's own tables.
    key_type: ClassVar[str] = "VARCHAR(255)"
    text_type: ClassVar[str] = "TEXT"
    id_column: ClassVar[str] = "id INTEGER PRIMARY KEY"
    #: Statement that opens a transaction for a migration.
    begin_sql: ClassVar[str] = "BEGIN"
    #: First line of a script for the database's own client (``--sql``).
    script_header: ClassVar[str] = ""
    #: Capabilities (checklist item 6).
    transactional_ddl: ClassVar[bool] = True
    step_in_one_call: ClassVar[bool] = False
    #: The URL must name a database (MySQL/MariaDB: the server has no default one).
    needs_database: ClassVar[bool] = False
    journal_in_one_call: ClassVar[bool] = False
    defers_journal_commits: ClassVar[bool] = False
    commits_in_one_call: ClassVar[bool] = False
    #: Suffix of this backend's backup files ("" for SQLite's database copies).
    backup_suffix: ClassVar[str] = ""
    #: Client programs backups and restores need, with the package that has
    #: them; ``"a|b"`` means either program will do.
    backup_tools: ClassVar[dict[str, str]] = {}
    #: A query of the user's table names that ``AND table_name IN (...)`` or
    #: ``ORDER BY table_name`` can end; None: the backend lists its tables
    #: in ``table_names()`` itself.
    tables_sql: ClassVar[str | None] = None
    #: Connecting creates a missing database (SQLite's file); elsewhere
    #: ``create()`` does, when ``create_database`` is set.
    connect_creates: ClassVar[bool] = False

    def dependents(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        """The objects that depend on ``tables`` (lower-case names) where the
        database would drop the tables anyway, breaking them (views) or
        refuse it with no names (foreign keys): ``(name, "view v depends on
        table t")``. Checked before a rollback runs. Default: none (the
        server refuses such a drop itself, naming them: PostgreSQL)."""
        return []

    def cannot_create(self) -> str | None:
        """Why connecting cannot create the missing database (``connect_creates``
        backends: e.g. SQLite's folder does not exist); None: it can."""
        return None

    #: The primary key's column names, in order, of the table named by the one parameter.
    primary_key_sql: ClassVar[str | None] = None
    #: "on_conflict" (INSERT ... ON CONFLICT (k) DO UPDATE) or "duplicate_key" (ON DUPLICATE KEY UPDATE).
    upsert_style: ClassVar[str] = "on_conflict"
    #: (query, lag column): the replication lag in seconds. With a column (names
    #: separated by |) the query lists replication channels: no row, no lag; a
    #: row whose lag is NULL, replication stopped. None: the database cannot say.
    replica_lag_query: ClassVar[tuple[str, str | None] | None] = None

    def __init__(self, url: DatabaseURL, *, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = dict(options or {})

    # --- connection (1) ------------------------------------------------------------
    @abstractmethod
    def connect(self) -> None:
        """Open the connection (autocommit); a no-op when open. Raise DatabaseError, URL masked."""

    @abstractmethod
    def close(self) -> None:
        """Release the lock and close the connection; never raises."""

    @property
    @abstractmethod
    def connection(self) -> Any:
        """The DB-API connection (connecting on first use)."""

    @abstractmethod
    def server_version(self) -> str:
        """The server's version, as its users would write it."""

    def database_exists(self) -> bool:
        """False when the database is absent (read-only commands then create
        nothing and report everything as pending). Server backends find out by
        connecting: a connection that works is the one the command needs anyway."""
        try:
            self.connect()
        except DatabaseError as exc:
            if exc.missing_database:
                return False
            raise
        return True

    # --- transactions --------------------------------------------------------------
    def begin(self) -> None:
        self.execute(self.begin_sql)

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction; never raises (a dead transaction
        must not hide the error that ended it)."""
        with contextlib.suppress(Exception):
            self.execute("ROLLBACK")

    @abstractmethod
    def in_transaction(self) -> bool:
        """True while a transaction is open on the connection."""

    # --- running SQL (2-8) --------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        """Run one statement of migrata's own; errors raise DatabaseError.
        Returns the driver's row count for it (``cursor.rowcount``; -1: none)."""

    @abstractmethod
    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query of migrata's own and return all rows."""

    @abstractmethod
    def run_statement(self, sql: str) -> None:
        """Run one statement of a migration; a failure raises StatementError."""

    def run_script(self, sql: str, tail: Sequence[str] = ()) -> list[int]:
        """Run several statements, then those of ``tail`` (migrata's own), in
        one call (only where ``step_in_one_call``); return the row count of
        each statement of ``tail``, from its own result. A failure raises
        StatementError with the server's ``position`` (1-based offset in
        ``sql``) where it reports one."""
        raise NotImplementedError(f"the {self.dialect} backend does not run scripts in one call")

    def run_batch(self, statements: list[str]) -> list[int]:
        """Run ``statements`` in order in one round trip (only where
        ``journal_in_one_call``), stopping at the first that fails: it raises
        StatementError with ``index``, its position in the list. Each statement
        must yield exactly one result; returns the row count of each."""
        raise NotImplementedError(f"the {self.dialect} backend does not run batches")

    @abstractmethod
    def split(self, sql: str) -> list[Statement]:
        """Cut a script into statements the way the database's client does."""

    def render_statement(self, stmt: Statement) -> str:
        """``stmt`` as the database's own client must be given it in a script."""
        return stmt.sql if stmt.sql.rstrip().endswith(";") else stmt.sql + ";"

    def literal(self, value: Any) -> str:
        """``value`` (None, bool, int, float or str) as an SQL literal. This
        default is standard SQL: quotes doubled, backslashes plain."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (int, float)):
            return repr(value)
        return "'" + str(value).replace("'", "''") + "'"

    def transactional_statement(self, stmt: Statement) -> bool:
        """Whether ``stmt`` can be rolled back (where ``transactional_ddl`` is
        False, a migration of such statements only still runs in a transaction)."""
        return True

    def no_transaction_reason(self, stmt: Statement) -> str | None:
        """Why ``stmt`` cannot run inside a transaction, or None."""
        return None

    def manages_transaction(self, stmt: Statement) -> bool:
        """True when ``stmt`` itself begins/ends a transaction or changes a
        setting that is ignored inside one (so the script must run outside ours)."""
        return False

    def returns_several_results(self, stmt: Statement) -> bool:
        """Whether ``stmt`` may yield more than one result (a procedure call)."""
        return False

    def elapsed_ms_sql(self, started: str) -> str:
        """An SQL expression: milliseconds since the step began (``started``,
        ISO-8601 UTC, or the database's own start of the transaction or
        batch), evaluated inside ``run_script``/``run_batch``."""
        return "NULL"

    @contextlib.contextmanager
    def deferred_commits(self) -> Iterator[None]:
        """Around a journaled run: where ``defers_journal_commits``, journal
        writes wait for the next implicit commit instead of committing on
        their own; what is still pending is committed at the end."""
        yield

    @abstractmethod
    def apply_timeout(self, seconds: float | None) -> None:
        """Bound each following statement to ``seconds`` (None: no bound)."""

    def ddl_lock_sql(self, seconds: float) -> str | None:
        """A statement that, run first in a migration's transaction, bounds
        every lock wait of that transaction to ``seconds`` (None: the
        database has no such bound; ``ddl_lock_timeout`` does nothing there)."""
        return None

    def bound_lock_waits(self, seconds: float | None) -> None:  # noqa: B027 - optional
        """Bound the lock waits of the following statements of the session
        (journaled statements) to ``seconds`` (None: as ``apply_timeout`` left
        them). Sends nothing when the bound does not change."""

    def twin(self) -> Backend:
        """A new, unconnected backend on the same database and options (a
        second connection: ``lock_blockers`` is asked on one)."""
        return type(self)(self.url, options=self.options)

    def session_id(self) -> Any:
        """The server's id of this connection's session (None: the database
        cannot say who blocks it, and ``lock_blockers`` is never asked)."""
        return None

    def lock_blockers(self, session: Any) -> list[LockHolder]:
        """Asked on another connection while ``session`` waits for a lock:
        the sessions holding it (pid, what they ran last in ``detail``, since
        when ``since``), as far as the server can tell."""
        return []

    @contextlib.contextmanager
    def run_of_transactions(self, count: int) -> Iterator[None]:
        """Around ``count`` steps (SQL, each in one transaction) run under the
        migration lock; the default changes nothing."""
        yield

    @contextlib.contextmanager
    def statement_guard(self) -> Iterator[None]:
        """Around each statement a Python migration runs: enforce the timeout
        where the server does not (session settings cover the others)."""
        yield

    # --- locking (9) ---------------------------------------------------------------
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

    #: Whether ``lock_holder()`` names the holder's client process (pid and
    #: host) by itself; when False migrata records them as a ``lock`` event.
    lock_names_client: ClassVar[bool] = True

    def lock_session(self) -> int | None:
        """The server session holding the lock through this backend (None
        where the lock names its client by itself)."""
        return None

    def break_lock(self) -> LockHolder | None:
        """End the session/process holding the lock, wait until the lock is
        free, and return who held it (None when it was free)."""
        holder = self.lock_holder()
        if holder is None:
            return None
        self.end_holder(holder)
        poll(lambda: self.lock_holder() is None, 10.0)
        return holder

    @abstractmethod
    def end_holder(self, holder: LockHolder) -> None:
        """End the session or process ``holder`` (used by ``break_lock``)."""

    # --- backups (10) --------------------------------------------------------------
    @abstractmethod
    def backup_to(self, path: Path) -> None:
        """Write a consistent backup of the whole database (migrata's tables
        included) to ``path``, safely while other sessions write."""

    def run_dump(self, args: list[str], tables: Sequence[str] = ()) -> str:
        """Run the server's dump program (pg_dump, mariadb-dump) on this
        database with ``args`` (only ``tables``, when given) and return what
        it printed; the password goes through the environment or an option
        file, never the command line."""
        raise DatabaseError(f"{self.dialect} has no dump program")

    @abstractmethod
    def check_backup(self, path: Path) -> str | None:
        """Read the backup at ``path`` through: None when it is complete and
        readable, otherwise what is wrong with it."""

    @abstractmethod
    def restore_from(self, path: Path) -> None:
        """Replace everything in the database by the backup's content, exactly:
        objects created since the backup are gone afterwards."""

    @abstractmethod
    def size_estimate(self) -> int:
        """Roughly how many bytes a backup of the database takes."""

    # --- databases (11) ------------------------------------------------------------
    def ensure_namespace(self) -> None:  # noqa: B027 - optional: only where URLs name a schema
        """Create the schema/namespace migrata's tables live in, if the URL names one."""

    def admin(self) -> Backend:
        """A backend on the same server but not on this database (for
        creating and dropping it); not yet connected."""
        raise UsageError(f"the {self.dialect} backend has no server to administer")

    def create_database(self, name: str) -> None:
        """Create database ``name`` on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot create databases")

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot drop databases")

    def has_database(self, name: str) -> bool:
        """Whether database ``name`` exists on this backend's server."""
        raise UsageError(f"the {self.dialect} backend cannot list databases")

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

    @abstractmethod
    def scratch(self) -> Backend:
        """A connected throwaway database holding this one's schema, to try SQL
        on without touching this one; dropped (or rolled back) on close."""

    # --- introspection (12) ----------------------------------------------------------
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

    @abstractmethod
    def schema_snapshot(self) -> dict[str, Any]:
        """A comparable description of the schema: equal for equal schemas."""

    def quote_ident(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    @abstractmethod
    def has_object(self, kind: str, name: str, *, table: str | None = None) -> bool | None:
        """Whether the user's schema holds the ``kind`` (one of ``OBJECT_KINDS``)
        named ``name``, both names as a statement writes them (quoted or not,
        schema-qualified or not: the database's own rules for case and the
        search path apply). ``table`` is the table a column, constraint,
        trigger or index belongs to (None: any table, where names are per
        table). None when this database cannot tell; a kind it does not have
        is never present. Unknown kinds raise ValueError. An object found is
        one the server can use: where a killed session can leave one it
        cannot load (MariaDB's triggers), the backend has it read again."""

    # --- data (14) ---------------------------------------------------------------------
    def primary_key(self, table: str) -> list[str]:
        """The primary key columns of ``table`` in key order ([] when it has none)."""
        if self.primary_key_sql is None:
            raise NotImplementedError
        return [str(r[0]) for r in self.query(self.primary_key_sql, (table,))]

    def upsert_sql(self, table: str, columns: list[str], keys: list[str]) -> str:
        """An INSERT of ``columns`` (placeholders) that updates the other
        columns of the row whose ``keys`` (a unique key) match instead."""
        q = self.quote_ident
        marks = ", ".join([self.placeholder] * len(columns))
        head = f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES ({marks})"
        rest = [c for c in columns if c not in keys]
        if self.upsert_style == "duplicate_key":
            sets = ", ".join(f"{q(c)} = VALUES({q(c)})" for c in rest) or f"{q(keys[0])} = {q(keys[0])}"
            return f"{head} ON DUPLICATE KEY UPDATE {sets}"
        target = ", ".join(q(k) for k in keys)
        if not rest:
            return f"{head} ON CONFLICT ({target}) DO NOTHING"
        return f"{head} ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in rest)

    def replica_lag(self) -> float | None:
        """Seconds this server lags behind its primary (0.0: none, or not a
        replica; ``inf``: replication stopped; None: cannot tell)."""
        if self.replica_lag_query is None:
            return None
        sql, column = self.replica_lag_query
        cur = self.connection.cursor()
        try:
            cur.execute(sql)
            row = cur.fetchone()
            names = [str(d[0]).lower() for d in cur.description or []]
        finally:
            cur.close()
        if row is None:
            return 0.0
        if column is None:
            return float(row[0] or 0.0)
        found = [names.index(c) for c in column.split("|") if c in names]
        value = row[found[0]] if found else None
        return float("inf") if value is None else float(value)
