"""PostgreSQL backend: psycopg 3 (``pip install 'migrata[postgres]'``).

* A transactional migration goes to the server as one string with no
  parameters: psycopg sends it with the simple query protocol, the server
  parses ``$$`` bodies, ``DO`` blocks and everything else, and reports an
  error position from which migrata derives the line.
* The migration lock is a session-level advisory lock
  (``pg_try_advisory_lock``), freed by the server the moment the holding
  session ends. The holder advertises its pid, host and start time in its
  ``application_name``, so ``lock status`` and a timeout can name it.
* Timeouts map to ``statement_timeout`` and ``lock_timeout``;
  ``ddl_lock_timeout`` to ``SET LOCAL lock_timeout`` first in a migration's
  transaction (in the same string), and to the session's ``lock_timeout``
  around a journaled statement. Who blocks a waiting session:
  ``pg_blocking_pids`` and ``pg_stat_activity``.
* The ``schema`` URL option (``?schema=app``) sets the ``search_path``;
  migrata's own tables live there too.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from migrata.backends._objects import postgres_lookup
from migrata.backends._sqltext import SplitDialect, leading_keywords, split_sql
from migrata.backends.base import Backend, LockHolder, Statement, StatementError, StatementInterrupted
from migrata.errors import ConnectionLostError, DatabaseError, DriverMissingError
from migrata.util import hostname, poll, run_tool, utc_iso

__all__ = ["PostgresBackend"]

_DIALECT = SplitDialect(dollar_quotes=True, nested_comments=True, begin_atomic=True, parentheses=True)
_LOCK_CLASS = 0x6D696772  # "migr"
_OWN_OPTIONS = {"schema"}
# duplicate_table, duplicate_object, duplicate_schema, duplicate_function, duplicate_database
_EXISTS = {"42P07", "42710", "42P06", "42723", "42P04"}
_ADD_VALUE_RE = re.compile(r"\bADD\s+VALUE\b", re.I)
_NO_TX = {
    ("CREATE", "DATABASE"): "CREATE DATABASE cannot run inside a transaction",
    ("DROP", "DATABASE"): "DROP DATABASE cannot run inside a transaction",
    ("CREATE", "TABLESPACE"): "CREATE TABLESPACE cannot run inside a transaction",
    ("DROP", "TABLESPACE"): "DROP TABLESPACE cannot run inside a transaction",
    ("ALTER", "SYSTEM"): "ALTER SYSTEM cannot run inside a transaction",
}


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise DriverMissingError(
            "the PostgreSQL backend needs the psycopg driver, which is not installed",
            hint="pip install 'migrata[postgres]'",
        ) from None
    return psycopg


class PostgresBackend(Backend):
    dialect = "postgresql"
    transactional_ddl = True
    placeholder = "%s"
    key_type = "VARCHAR(255)"
    text_type = "TEXT"
    id_column = "id BIGSERIAL PRIMARY KEY"
    step_in_one_call = True
    commits_in_one_call = True

    def __init__(self, url: Any, *, options: dict[str, Any] | None = None) -> None:
        super().__init__(url, options=options)
        self._conn: Any = None
        self._locked = False
        self._timeout: float | None = None
        self._lock_bound: float | None = None  # bound_lock_waits()
        self._lock_ms = 0  # the session's lock_timeout as last set
        self._rollback_on_close = False

    @property
    def schema(self) -> str | None:
        return self.url.query.get("schema") or None

    # --- connection -----------------------------------------------------------------
    def _connect_kwargs(self, dbname: str | None = None) -> dict[str, Any]:
        u = self.url
        kwargs: dict[str, Any] = {
            "host": u.host or os.environ.get("PGHOST") or "localhost",
            "dbname": dbname or u.database or os.environ.get("PGDATABASE") or "postgres",
            "application_name": "migrata",
            "connect_timeout": 10,
            "autocommit": True,
            # a migration's packet is sent once: psycopg need not count the
            # texts it sees to prepare the ones that repeat
            "prepare_threshold": None,
        }
        if u.port:
            kwargs["port"] = u.port
        if u.username:
            kwargs["user"] = u.username
        if u.password is not None:
            kwargs["password"] = u.password
        for key, value in u.query.items():
            if key not in _OWN_OPTIONS:
                kwargs[key] = value
        return kwargs

    def connect(self) -> None:
        if self._conn is not None:
            return
        psycopg = _psycopg()
        try:
            self._conn = psycopg.connect(**self._connect_kwargs())
        except psycopg.Error as exc:
            raise DatabaseError(
                self._connect_message(exc),
                hint=self._connect_hint(exc),
                missing_database=bool(re.search(r'database "[^"]+" does not exist', str(exc))),
            ) from None
        if self.schema:
            self.execute("SELECT set_config('search_path', %s, false)", (self._quoted_schema(),))

    def _quoted_schema(self) -> str:
        return '"' + (self.schema or "").replace('"', '""') + '"'

    def _connect_message(self, exc: Exception) -> str:
        text = " ".join(str(exc).split())
        where = f"PostgreSQL at {self.url.host or 'localhost'}:{self.url.port or 5432}"
        if "Connection refused" in text:
            return f"cannot connect to {where}: connection refused"
        if "resolve host" in text or "could not translate host name" in text:
            return f"cannot connect to {where}: unknown host"
        if "password authentication failed" in text:
            return f"cannot connect to {where}: password authentication failed for user {self.url.username!r}"
        m = re.search(r'database "([^"]+)" does not exist', text)
        if m:
            return f"cannot connect to {where}: database {m.group(1)!r} does not exist"
        m = re.search(r'role "([^"]+)" does not exist', text)
        if m:
            return f"cannot connect to {where}: role {m.group(1)!r} does not exist"
        if "timeout expired" in text:
            return f"cannot connect to {where}: timed out"
        return f"cannot connect to {where}: {_strip_prefix(text)}"

    def _connect_hint(self, exc: Exception) -> str | None:
        text = str(exc)
        if "does not exist" in text and "database" in text:
            return "create it with `migrata db create` (or set create_database = true: `migrata up` creates it)"
        if "Connection refused" in text:
            return "is the server running, and is the host/port in the URL right?"
        return None

    def close(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            if self._rollback_on_close:
                self._conn.execute("ROLLBACK")
            self.release_lock()
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None

    @property
    def connection(self) -> Any:
        if self._conn is None:
            self.connect()
        return self._conn

    def server_version(self) -> str:
        v = self.connection.info.server_version
        return f"{v // 10000}.{v % 10000}"

    def in_transaction(self) -> bool:
        if self._conn is None:
            return False
        from psycopg.pq import TransactionStatus

        return self._conn.info.transaction_status != TransactionStatus.IDLE

    # --- statements ---------------------------------------------------------------------
    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        psycopg = _psycopg()
        try:
            return int(self.connection.execute(sql, tuple(params) if params else None).rowcount)
        except psycopg.Error as exc:
            raise self._lost(exc) or DatabaseError(
                f"PostgreSQL error in migrata's own statement: {_message(exc)}"
            ) from exc

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        psycopg = _psycopg()
        try:
            return self.connection.execute(sql, tuple(params) if params else None).fetchall()
        except psycopg.Error as exc:
            raise self._lost(exc) or DatabaseError(f"PostgreSQL error in migrata's own query: {_message(exc)}") from exc

    def run_statement(self, sql: str) -> None:
        self.run_script(sql)

    def literal(self, value: Any) -> str:
        """psycopg's own quoting (a string with a backslash becomes an
        ``E''`` literal, right whatever ``standard_conforming_strings`` says)."""
        from psycopg import sql

        if isinstance(value, bool):
            value = int(value)
        return sql.Literal(value).as_string(self._conn).strip()

    def elapsed_ms_sql(self, started: str) -> str:
        return "CAST(EXTRACT(EPOCH FROM clock_timestamp() - transaction_timestamp()) * 1000 AS INTEGER)"

    def run_script(self, sql: str, tail: Sequence[str] = ()) -> list[int]:
        """Run one or more statements, then ``tail``, in one round trip
        (simple query protocol). The server answers each statement with its
        own result: the last ``len(tail)`` are those of ``tail``."""
        psycopg = _psycopg()
        text = sql + "".join(f"{statement};\n" for statement in tail)
        try:
            with self.connection.cursor() as cur:
                cur.execute(text)
                counts = [int(cur.rowcount)]
                while cur.nextset():
                    counts.append(int(cur.rowcount))
            return counts[len(counts) - len(tail) :] if tail else []
        except KeyboardInterrupt:  # psycopg cancelled the statement on the server
            raise StatementInterrupted() from None
        except psycopg.Error as exc:
            lost = self._lost(exc)
            if lost is not None:
                raise lost from None
            position = None
            diag = getattr(exc, "diag", None)
            if diag is not None and diag.statement_position:
                with contextlib.suppress(ValueError):
                    position = int(diag.statement_position)
            state = getattr(exc, "sqlstate", None)
            raise StatementError(
                self._statement_message(exc),
                position=position,
                lock_timeout=state == "55P03",  # gave up waiting for a lock: it did not run
                exists=state in _EXISTS,
                hint=_dependents(exc),
            ) from None

    def _lost(self, exc: Any) -> ConnectionLostError | None:
        """The server ended this session (pg_terminate_backend, `migrata lock
        release --force`, a restart), or it is gone; None for other errors."""
        state = getattr(exc, "sqlstate", None)
        if state not in ("57P01", "57P02", "57P03") and not (self._conn is not None and self._conn.closed):
            return None
        return ConnectionLostError(f"PostgreSQL: {_message(exc)}", hint="run the command again")

    def _statement_message(self, exc: Any) -> str:
        state = getattr(exc, "sqlstate", None)
        if state == "57014" and self._timeout:
            return f"statement cancelled: it ran longer than its timeout of {self._timeout:g}s"
        if state == "55P03" and self._timeout:
            return (
                f"statement cancelled: it waited longer than its timeout of {self._timeout:g}s "
                f"for a lock held by another session"
            )
        if state == "25001":
            return _message(exc) + " (add '-- migrata:no-transaction' to run it outside a transaction)"
        return _message(exc)

    def apply_timeout(self, seconds: float | None) -> None:
        if seconds == self._timeout:
            return
        ms = int(seconds * 1000) if seconds else 0
        self.execute(f"SET statement_timeout = {ms}")
        self._timeout = seconds
        self._set_lock_timeout()

    def _statement_lock_ms(self) -> int:
        """The lock bound a statement timeout implies: a little shorter, so a
        statement that only waits for a lock says so (0: none)."""
        return max(1, int(self._timeout * 950)) if self._timeout else 0

    def _set_lock_timeout(self) -> None:
        bounds = [ms for ms in (self._statement_lock_ms(), _ms(self._lock_bound)) if ms]
        ms = min(bounds) if bounds else 0
        if ms != self._lock_ms:
            self.execute(f"SET lock_timeout = {ms}")
            self._lock_ms = ms

    def bound_lock_waits(self, seconds: float | None) -> None:
        self._lock_bound = seconds
        self._set_lock_timeout()

    def ddl_lock_sql(self, seconds: float) -> str | None:
        bounds = [ms for ms in (self._statement_lock_ms(), _ms(seconds)) if ms]
        return f"SET LOCAL lock_timeout = {min(bounds)}" if bounds else None

    def session_id(self) -> Any:
        return self.connection.info.backend_pid

    def lock_blockers(self, session: Any) -> list[LockHolder]:
        rows = self.query(
            "SELECT a.pid, host(a.client_addr), a.state, a.query, COALESCE(a.xact_start, a.backend_start) "
            "FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids(%s)) ORDER BY a.pid",
            (int(session),),
        )
        return [
            LockHolder(
                pid=pid,
                host=client or "local socket",
                since=started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if started else None,
                detail=f"{state or 'unknown state'}, last query: {' '.join(str(query or '').split())[:200]}",
            )
            for pid, client, state, query, started in rows
        ]

    def split(self, sql: str) -> list[Statement]:
        return [Statement(text, line, i) for i, (text, line) in enumerate(split_sql(sql, _DIALECT))]

    def manages_transaction(self, stmt: Statement) -> bool:
        words = leading_keywords(stmt.sql, 2)
        if not words:
            return False
        if words[0] in ("BEGIN", "START", "COMMIT", "END", "ABORT"):
            return True
        return words[0] == "ROLLBACK" and words[1:2] not in (["TO"], ["PREPARED"])

    def no_transaction_reason(self, stmt: Statement) -> str | None:
        words = leading_keywords(stmt.sql, 4)
        if not words:
            return None
        if "CONCURRENTLY" in words and words[0] in ("CREATE", "DROP", "REINDEX"):
            head = [w for w in words[: words.index("CONCURRENTLY") + 1] if w != "UNIQUE"]
            return f"{' '.join(head)} cannot run inside a transaction"
        if words[0] == "VACUUM":
            return "VACUUM cannot run inside a transaction"
        if words[:2] == ["ALTER", "TYPE"] and _ADD_VALUE_RE.search(stmt.sql) and self._before_12():
            return "ALTER TYPE ... ADD VALUE cannot run inside a transaction before PostgreSQL 12"
        return _NO_TX.get(tuple(words[:2]))  # type: ignore[arg-type]

    def _before_12(self) -> bool:
        """Whether the server is older than 12, which allows ``ALTER TYPE ...
        ADD VALUE`` in a transaction (unknown before connecting: no)."""
        return self._conn is not None and self._conn.info.server_version < 120000

    # --- locking ------------------------------------------------------------------------
    def _lock_key(self) -> int:
        name = f"{self.schema or ''}.{self.options.get('lock_name', 'migrata')}"
        value = zlib.crc32(name.encode())
        return value - (1 << 32) if value >= (1 << 31) else value

    def acquire_lock(self, timeout: float) -> bool:
        if self._locked:
            return True
        key = self._lock_key()

        def attempt() -> bool:
            # the session says who it is first, in the same statement: whoever
            # sees the lock held sees the holder's pid, host and since when
            tag = f"migrata pid={os.getpid()} host={hostname()} since={utc_iso()}"[:63]
            sql = "SELECT set_config('application_name', %s, false), pg_try_advisory_lock(%s, %s)"
            return bool(self.query(sql, (tag, _LOCK_CLASS, key))[0][1])

        if not poll(attempt, timeout):
            return False
        self._locked = True
        return True

    def release_lock(self) -> None:
        if not self._locked or self._conn is None:
            return
        self._locked = False
        with contextlib.suppress(Exception):
            self.execute("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_CLASS, self._lock_key()))
            self.execute("SELECT set_config('application_name', 'migrata', false)")

    def lock_holder(self) -> LockHolder | None:
        rows = self.query(
            "SELECT a.pid, host(a.client_addr), a.application_name, a.backend_start "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (_LOCK_CLASS, self._lock_key() & 0xFFFFFFFF),
        )
        if not rows:
            return None
        sid, client, app, started = rows[0]
        info = dict(re.findall(r"(\w+)=(\S+)", app or ""))
        if "pid" in info:  # migrata's tag, set when it took the lock
            return LockHolder(
                pid=int(info["pid"]),
                host=info.get("host"),
                since=info.get("since"),
                since_what="lock taken",
                session=sid,
                detail=f"migrata process, connected from {client or 'the local socket'}",
            )
        return LockHolder(  # another client: what the server knows of it
            host=client or "local socket",
            since=started.strftime("%Y-%m-%dT%H:%M:%SZ") if started else None,
            since_what="session connected",
            session=sid,
            detail=f"application_name {app or '(none)'}",
        )

    def end_holder(self, holder: LockHolder) -> None:
        self.execute("SELECT pg_terminate_backend(%s)", (holder.session,))

    # --- databases ------------------------------------------------------------------------
    def create_database(self, name: str) -> None:
        self.execute(f"CREATE DATABASE {self.quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {self.quote_ident(name)} WITH (FORCE)")

    def has_database(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))

    def admin(self) -> PostgresBackend:
        return PostgresBackend(self.url.with_database("postgres"), options=self.options)

    # --- backups --------------------------------------------------------------------------
    backup_suffix = ".pgdump"
    backup_tools = {"pg_dump": "postgresql-client", "pg_restore": "postgresql-client"}

    def _tool_env(self) -> dict[str, str]:
        """libpq environment for pg_dump/pg_restore: the password never goes on a command line."""
        kwargs = self._connect_kwargs()
        env = {"PGHOST": str(kwargs["host"]), "PGDATABASE": str(kwargs["dbname"]), "PGAPPNAME": "migrata"}
        names = {"port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD", "sslmode": "PGSSLMODE",
                 "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
                 "connect_timeout": "PGCONNECT_TIMEOUT"}  # fmt: skip
        for key, var in names.items():
            if key in kwargs:
                env[var] = str(kwargs[key])
        return env

    def _run(self, argv: list[str]) -> str:
        return run_tool(argv, package="postgresql-client", env=self._tool_env(), secrets=(self.url.password or "",))

    def backup_to(self, path: Path) -> None:
        self._run(["pg_dump", "--format=custom", "--no-password", f"--file={path}"])

    def run_dump(self, args: list[str], tables: Sequence[str] = ()) -> str:
        only = [f"--table={self.quote_ident(t)}" for t in tables]
        return self._run(["pg_dump", "--no-password", *args, *only])

    def check_backup(self, path: Path) -> str | None:
        with open(path, "rb") as fh:
            if fh.read(5) != b"PGDMP":
                return "not a pg_dump custom-format archive"
        try:
            # reading the whole archive back catches a truncated or damaged file
            self._run(["pg_restore", "--file=/dev/null", str(path)])
        except DatabaseError as exc:
            return exc.message
        return None

    def restore_from(self, path: Path) -> None:
        """Empty the database (every schema dropped, ``public`` recreated as new)
        from this session, which keeps holding the migration lock, then
        pg_restore into it. A database that is gone is created first."""
        name = self.url.database or "postgres"
        if self.database_exists():
            schemas = self.query(
                "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
            )
            for (schema,) in schemas:
                self.execute(f"DROP SCHEMA {self.quote_ident(schema)} CASCADE")
            self.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
            self.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        else:
            admin = self.admin()
            admin.connect()
            try:
                admin.create_database(name)
            finally:
                admin.close()
        self._run(["pg_restore", "--no-password", "--exit-on-error", "--no-owner", f"--dbname={name}", str(path)])

    def size_estimate(self) -> int:
        return int(self.query("SELECT pg_database_size(current_database())")[0][0])

    def scratch(self) -> PostgresBackend:
        """The same database inside a transaction that is rolled back on close."""
        copy = PostgresBackend(self.url, options=self.options)
        copy.connect()
        copy.begin()
        copy._rollback_on_close = True
        return copy

    def ensure_namespace(self) -> None:
        if self.schema:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self._quoted_schema()}")

    # --- introspection ------------------------------------------------------------------------
    tables_sql = (
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    )
    primary_key_sql = (
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
        "ORDER BY array_position(i.indkey::int2[], a.attnum)"
    )
    # on a primary the replay functions are NULL: no lag; on a standby, none while it has replayed all it received
    replica_lag_query = (
        "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
        "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END",
        None,
    )

    def has_object(self, kind: str, name: str, *, table: str | None = None) -> bool | None:
        return bool(self.query(*postgres_lookup(kind, name, table)))

    def schema_snapshot(self) -> dict[str, Any]:
        q = self.query
        return {
            "columns": {
                f"{t}.{c}": [typ, nullable, default]
                for t, c, typ, nullable, default in q(
                    "SELECT table_name, column_name, data_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = current_schema()"
                )
            },
            "objects": {
                f"{kind}:{name}": {"table": table, "sql": " ".join((sql or "").split())}
                for kind, name, table, sql in q(
                    "SELECT 'index', indexname::text, tablename::text, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() "
                    "UNION ALL SELECT 'view', viewname, viewname, definition FROM pg_views "
                    "WHERE schemaname = current_schema() "
                    "UNION ALL SELECT 'constraint', r.relname::text || '.' || c.conname::text, r.relname, "
                    "pg_get_constraintdef(c.oid) "
                    "FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid "
                    "WHERE r.relnamespace = current_schema()::regnamespace "
                    "UNION ALL SELECT 'trigger', r.relname::text || '.' || t.tgname::text, r.relname, "
                    "pg_get_triggerdef(t.oid) "
                    "FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
                    "WHERE NOT t.tgisinternal AND r.relnamespace = current_schema()::regnamespace "
                    "UNION ALL SELECT 'function', "
                    "p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', "
                    "NULL, md5(pg_get_functiondef(p.oid)) FROM pg_proc p "
                    "WHERE p.pronamespace = current_schema()::regnamespace AND p.prokind IN ('f', 'p') "
                    "UNION ALL SELECT 'type', t.typname, NULL, "
                    "(SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e "
                    "WHERE e.enumtypid = t.oid) FROM pg_type t "
                    "WHERE t.typnamespace = current_schema()::regnamespace AND t.typtype IN ('e', 'd') "
                    "UNION ALL SELECT 'sequence', s.relname, t.relname, NULL FROM pg_class s "
                    "LEFT JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i') "
                    "AND d.classid = 'pg_class'::regclass "
                    "LEFT JOIN pg_class t ON t.oid = d.refobjid "
                    "WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
                )
            },
        }


def _ms(seconds: float | None) -> int:
    return max(1, int(seconds * 1000)) if seconds else 0


def _message(exc: Any) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or " ".join(str(exc).split())
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    return f"{text} ({detail})" if detail else text


def _dependents(exc: Any) -> str | None:
    """The way out of "cannot drop ... because other objects depend on it",
    naming those objects (the server lists them in the detail)."""
    diag = getattr(exc, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    if getattr(exc, "sqlstate", None) != "2BP01" or not detail:
        return None
    objects = "; ".join(line.strip() for line in detail.splitlines() if line.strip())
    return (
        f"{objects}: drop or change those first (where another migration, e.g. a repeatable one, "
        "creates them), or use DROP ... CASCADE"
    )


def _strip_prefix(text: str) -> str:
    return re.sub(r"^connection failed: (connection to server at \S+ \(\S+\), port \d+ failed: )?", "", text)
