"""MySQL / MariaDB backend: PyMySQL (``pip install 'migrata[mysql]'``).

* DDL commits implicitly on MySQL and MariaDB, so a migration with DDL runs
  in the journal mode: a ``running`` row, one ``progress`` update per
  statement, then ``applied``. Autocommit is off while it runs, so each
  journal write is committed by the implicit commit of the DDL statement
  that follows it: the journal costs one commit per migration, not one per
  statement. A migration of data statements only (INSERT, UPDATE...) runs in
  one transaction like on PostgreSQL.
* ``DELIMITER`` is handled as the ``mysql``/``mariadb`` client handles it;
  ``CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT`` bodies with ``BEGIN ... END``
  need no DELIMITER. ``#`` and ``/*! ... */`` comments are understood.
* The migration lock is ``GET_LOCK``: a named lock owned by the migrating
  connection, freed by the server the moment that connection ends.
* Timeouts map to ``max_statement_time`` (MariaDB) or
  ``max_execution_time`` (MySQL), ``lock_wait_timeout`` and
  ``innodb_lock_wait_timeout``; ``ddl_lock_timeout`` to the session's
  ``lock_wait_timeout`` (whole seconds). Who blocks: :mod:`._mysqlwaits`.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from migrata.backends._ctrl_c import CtrlC
from migrata.backends._mysql_errors import bad_options, connect_hint, connect_message, lost, message
from migrata.backends._mysqlwaits import blockers, lock_holder
from migrata.backends._objects import mysql_dependents, mysql_load_trigger, mysql_lookup, mysql_snapshot
from migrata.backends._sqltext import SplitDialect, leading_keywords, near_own_text, split_sql
from migrata.backends.base import Backend, LockHolder, Statement, StatementError, StatementInterrupted
from migrata.errors import DatabaseError, DriverMissingError, MigrationFailedError
from migrata.util import run_tool

__all__ = ["MySQLBackend"]

_DIALECT = SplitDialect(
    hash_comments=True, backslash_escapes=True, backticks=True, delimiter_command=True, compound_blocks=True
)
_DML = {"INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "WITH", "DO", "VALUES", "TABLE"}
_CONNECT_OPTIONS = {
    "charset": str,
    "connect_timeout": int,
    "read_timeout": int,
    "write_timeout": int,
    "unix_socket": str,
    "init_command": str,
}

# the clock elapsed_ms_sql() reads, started by run_batch
_CLOCK = "@migrata_t0 = UTC_TIMESTAMP(6)"


def _pymysql() -> Any:
    try:
        import pymysql
    except ImportError:
        raise DriverMissingError(
            "the MySQL/MariaDB backend needs the PyMySQL driver, which is not installed",
            hint="pip install 'migrata[mysql]'",
        ) from None
    return pymysql


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def _multi_statements() -> int:
    from pymysql.constants import CLIENT

    return int(CLIENT.MULTI_STATEMENTS)


class MySQLBackend(Backend):
    dialect = "mysql"
    needs_database = True
    transactional_ddl = False
    id_column = "id BIGINT AUTO_INCREMENT PRIMARY KEY"
    begin_sql = "START TRANSACTION"
    # the client's own character set may be narrower than the connection's utf8mb4
    script_header = "SET NAMES utf8mb4;"
    journal_in_one_call = True
    defers_journal_commits = True
    upsert_style = "duplicate_key"
    replica_lag_query = ("SHOW REPLICA STATUS", "seconds_behind_master|seconds_behind_source")

    def __init__(self, url: Any, *, options: dict[str, Any] | None = None) -> None:
        super().__init__(url, options=options)
        self._conn: Any = None
        self._locked = False
        self._session: int | None = None  # this connection's id, learnt with the lock
        self._timeout: float | None = None
        self._lock_bound: float | None = None  # bound_lock_waits()
        self._lock_wait: int | None = None  # lock_wait_timeout as last set (None: the server's)
        self._mariadb = True
        self._drop_on_close: str | None = None
        # deferred_commits(): None outside; "pending" until the first write
        # switches autocommit off; "off" while it is; "done" when a batch has
        # committed and switched it back on within its own packet
        self._defer: str | None = None

    # --- connection ---------------------------------------------------------------------
    def _connect_kwargs(self, database: str | None) -> dict[str, Any]:
        u = self.url
        kwargs: dict[str, Any] = {
            "host": u.host or "localhost",
            "port": u.port or 3306,
            "user": u.username or "root",
            "password": u.password if u.password is not None else u.query.get("password", ""),
            "charset": "utf8mb4",
            "autocommit": True,
            "connect_timeout": 10,
            "client_flag": _multi_statements(),  # run_batch: a journaled step in one round trip
        }
        if database:
            kwargs["database"] = database
        ssl: dict[str, str] = {}
        for key, value in u.query.items():
            if key in _CONNECT_OPTIONS:
                kwargs[key] = _CONNECT_OPTIONS[key](value)
            elif key in ("ssl_ca", "ssl_cert", "ssl_key"):
                ssl[key[4:]] = value
            elif key in ("ssl", "ssl_disabled") and value.lower() in ("0", "false", "true", "1"):
                kwargs["ssl_disabled"] = (key == "ssl") == (value.lower() in ("0", "false"))
        if ssl:
            kwargs["ssl"] = ssl
        elif "ssl_disabled" not in kwargs and (kwargs.get("unix_socket") or _loopback(kwargs["host"])):
            # PyMySQL otherwise tries TLS without verifying anything, after loading
            # the system's CA certificates (~17 ms per connection); over the
            # loopback interface TLS protects nothing. `ssl=true` asks for it.
            kwargs["ssl_disabled"] = True
        return kwargs

    def connect(self) -> None:
        if self._conn is not None:
            return
        pymysql = _pymysql()
        try:
            self._conn = pymysql.connect(**self._connect_kwargs(self.url.database))
        except pymysql.err.MySQLError as exc:
            raise DatabaseError(
                connect_message(self.url, exc),
                hint=connect_hint(exc),
                missing_database=bool(exc.args) and exc.args[0] == 1049,
            ) from None
        except (ValueError, TypeError, AttributeError, LookupError, OSError) as exc:  # an option PyMySQL refused
            raise bad_options(self.url, exc) from None
        self._mariadb = "mariadb" in self._conn.get_server_info().lower()

    def close(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            self.release_lock()
        scratch = self._drop_on_close
        with contextlib.suppress(Exception):
            if scratch:
                self.execute(f"DROP DATABASE IF EXISTS {self.quote_ident(scratch)}")
        with contextlib.suppress(Exception):
            self._conn.close()
        self._conn = None

    @property
    def connection(self) -> Any:
        if self._conn is None:
            self.connect()
        return self._conn

    def server_version(self) -> str:
        return str(self.connection.get_server_info()).replace("5.5.5-", "")

    def in_transaction(self) -> bool:
        if self._conn is None:
            return False
        return bool(self._conn.server_status & 1)  # SERVER_STATUS_IN_TRANS

    def quote_ident(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    # --- statements --------------------------------------------------------------------
    def _autocommit_off(self) -> None:
        """Inside deferred_commits(): switch autocommit off before the first write."""
        if self._defer in ("pending", "done"):
            self.connection.autocommit(False)
            self._defer = "off"

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> int:
        pymysql = _pymysql()
        if self._defer is not None:
            self._autocommit_off()
        try:
            with self.connection.cursor() as cur:
                return int(cur.execute(sql, tuple(params) if params else None))
        except pymysql.err.MySQLError as exc:
            raise lost(exc) or DatabaseError(f"MySQL error in migrata's own statement: {message(exc)}") from exc

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        pymysql = _pymysql()
        try:
            with self.connection.cursor() as cur:
                cur.execute(sql, tuple(params) if params else None)
                return [tuple(r) for r in cur.fetchall()]
        except pymysql.err.MySQLError as exc:
            raise lost(exc) or DatabaseError(f"MySQL error in migrata's own query: {message(exc)}") from exc

    def run_statement(self, sql: str) -> None:
        pymysql = _pymysql()
        if self._defer is not None:
            self._autocommit_off()
        try:
            with self.connection.cursor() as cur:
                cur.execute(sql)
                while cur.nextset():
                    pass
        except KeyboardInterrupt:
            self._abandon()
            raise StatementInterrupted() from None
        except pymysql.err.MySQLError as exc:
            raise lost(exc) or self._statement_error(exc, sent=sql) from None

    def run_batch(self, statements: list[str]) -> list[int]:
        """One multi-statement packet; the server stops at the first error (or
        Ctrl-C, :meth:`_kill`), and the results read before it say which
        statement that was. It starts with the clock ``elapsed_ms_sql`` reads.
        A newline before each separator keeps a trailing comment from swallowing it.

        Inside deferred_commits() with nothing written yet, the packet itself switches autocommit off
        first and commits and switches it back on last (switching autocommit on commits, on MySQL and
        MariaDB): the whole step is one round trip."""
        pymysql = _pymysql()
        framed = self._defer == "pending"
        if framed:
            packet = [f"SET autocommit = 0, {_CLOCK}", *statements, "SET autocommit = 1"]
            self._defer = "off"  # until the packet has run to its end
        else:
            packet = [f"SET {_CLOCK}", *statements]
        counts: list[int] = []  # each result's affected rows, in order
        ctrl_c = CtrlC(self._kill)  # Ctrl-C ends the session; the results read then say where it stopped
        try:
            with ctrl_c.watching(), self.connection.cursor() as cur:
                cur.execute("\n;\n".join(packet))
                counts.append(int(cur.rowcount))
                while cur.nextset():
                    counts.append(int(cur.rowcount))
        except (KeyboardInterrupt, pymysql.err.MySQLError) as exc:
            if isinstance(exc, KeyboardInterrupt) or ctrl_c.pressed:  # a KeyboardInterrupt: not killed yet
                self._abandon(kill=isinstance(exc, KeyboardInterrupt))
                raise StatementInterrupted(index=len(counts) - 1 if counts else None) from None
            done = len(counts)
            sent = packet[done] if done < len(packet) else ""
            raise lost(exc, index=done - 1) or self._statement_error(exc, index=done - 1, sent=sent) from None
        if ctrl_c.pressed:  # the packet had ended: it completed, and then the session
            self._abandon(kill=False)
            raise KeyboardInterrupt
        if framed:
            self._defer = "done"
        return counts[1 : 1 + len(statements)]

    def _kill(self) -> bool:
        """End the session on the server (statement, transaction, lock), as the
        mysql client does on Ctrl-C; False when that failed."""
        try:
            killer = self.admin()
            killer.connect()
            try:
                killer.execute(f"KILL CONNECTION {int(self._conn.thread_id())}")
            finally:
                killer.close()
        except Exception:  # noqa: BLE001 - the caller falls back on KeyboardInterrupt
            return False
        return True

    def _abandon(self, *, kill: bool = True) -> None:
        """Ctrl-C mid-statement: end the session (:meth:`_kill`, unless done) and forget the connection."""
        if self._conn is None:
            return
        if kill:
            self._kill()
        conn, self._conn, self._locked = self._conn, None, False
        with contextlib.suppress(Exception):
            conn.close()

    def literal(self, value: Any) -> str:
        """The driver's own quoting: on a connection, with the server's
        ``NO_BACKSLASH_ESCAPES`` mode as the session has it; without one, by
        the default rules (backslashes escaped)."""
        if isinstance(value, bool):
            value = int(value)
        if self._conn is not None:
            with self._conn.cursor() as cur:
                return str(cur.mogrify("%s", (value,)))
        from pymysql.converters import escape_item

        return str(escape_item(value, "utf8mb4"))

    def returns_several_results(self, stmt: Statement) -> bool:
        words = leading_keywords(stmt.sql, 1, hash_comments=True)
        return bool(words) and words[0] in ("CALL", "EXECUTE")

    def elapsed_ms_sql(self, started: str) -> str:
        return "CAST(TIMESTAMPDIFF(MICROSECOND, @migrata_t0, UTC_TIMESTAMP(6)) DIV 1000 AS SIGNED)"

    def _statement_error(self, exc: Any, *, index: int | None = None, sent: str = "") -> StatementError:
        """A server error of the migration statement ``sent``, with the line it
        names; a syntax error quotes only ``sent`` (a packet runs on past it)."""
        text = str(exc.args[1]) if len(exc.args) > 1 else ""
        m = re.search(r" at line (\d+)$", text)
        exists = bool(exc.args) and exc.args[0] in (1050, 1061, 1304, 1359, 1826, 1007)  # ... already exists
        lock_timeout = bool(exc.args) and exc.args[0] == 1205
        return StatementError(
            near_own_text(self._statement_message(exc), sent),
            line=int(m.group(1)) if m else None,
            index=index,
            lock_timeout=lock_timeout,
            exists=exists,
        )

    def _statement_message(self, exc: Any) -> str:
        code = exc.args[0] if exc.args else None
        if self._timeout and code in (1969, 3024, 1317):
            return (
                f"statement cancelled: it ran longer than its timeout of {self._timeout:g}s "
                f"(or was blocked that long by another session's lock)"
            )
        if self._timeout and code == 1205:
            return (
                f"statement cancelled: it waited longer than its timeout of {self._timeout:g}s "
                f"for a lock held by another session"
            )
        return message(exc)

    def apply_timeout(self, seconds: float | None) -> None:
        if seconds == self._timeout:
            return
        if self._mariadb:
            self.execute(f"SET SESSION max_statement_time = {seconds or 0:g}")
        else:
            self.execute(f"SET SESSION max_execution_time = {int((seconds or 0) * 1000)}")
        # lock waits are bounded in whole seconds (never below the statement bound)
        wait = max(1, math.ceil(seconds)) if seconds else 31536000
        self.execute(f"SET SESSION innodb_lock_wait_timeout = {min(wait, 1073741824) if seconds else 50}")
        self._timeout = seconds
        self._set_lock_wait()

    def _set_lock_wait(self) -> None:
        """``lock_wait_timeout``: the statement bound's and ``bound_lock_waits``'s, the shorter."""
        bounds = [max(1, math.ceil(s)) for s in (self._timeout, self._lock_bound) if s]
        wait = min(bounds) if bounds else 31536000
        if wait != self._lock_wait:
            self.execute(f"SET SESSION lock_wait_timeout = {wait}")
            self._lock_wait = wait

    def bound_lock_waits(self, seconds: float | None) -> None:
        self._lock_bound = seconds
        if seconds or self._lock_wait is not None:
            self._set_lock_wait()

    def session_id(self) -> Any:
        return self.connection.thread_id()

    def lock_blockers(self, session: Any) -> list[LockHolder]:
        return blockers(self.query, int(session))

    def split(self, sql: str) -> list[Statement]:
        return [Statement(text, line, i) for i, (text, line) in enumerate(split_sql(sql, _DIALECT))]

    def render_statement(self, stmt: Statement) -> str:
        """A body with its own semicolons (procedures, triggers) goes between
        DELIMITER lines, as the mysql/mariadb client needs it."""
        if ";" not in stmt.sql:
            return stmt.sql + ";"
        return f"DELIMITER $$\n{stmt.sql}$$\nDELIMITER ;"

    def transactional_statement(self, stmt: Statement) -> bool:
        words = leading_keywords(stmt.sql, 1, hash_comments=True)
        return bool(words) and words[0] in _DML

    def manages_transaction(self, stmt: Statement) -> bool:
        words = leading_keywords(stmt.sql, 3, hash_comments=True)
        if not words:
            return False
        if words[0] in ("BEGIN", "START", "COMMIT") or (words[0] == "ROLLBACK" and words[1:2] != ["TO"]):
            return True
        return words[0] == "SET" and "AUTOCOMMIT" in words

    @contextlib.contextmanager
    def deferred_commits(self) -> Iterator[None]:
        """Autocommit off: journal writes ride on the next DDL's implicit commit.

        It is switched off by the first write (a batch does it in its own
        packet, and commits there too), so a step costs no round trip of its own."""
        conn = self.connection
        self._defer = "pending"
        try:
            yield
            if self._defer == "off":
                conn.commit()
        except BaseException as exc:
            if self._defer == "off":
                with contextlib.suppress(Exception):
                    conn.commit() if isinstance(exc, MigrationFailedError) else conn.rollback()
            raise
        finally:
            self._defer = None
            with contextlib.suppress(Exception):
                conn.autocommit(True)  # pymysql sends it only when the server has it off

    # --- locking ----------------------------------------------------------------------------
    def _lock_name(self) -> str:
        return f"migrata:{self.url.database or ''}:{self.options.get('lock_name', 'migrata')}"[:64]

    def acquire_lock(self, timeout: float) -> bool:
        if self._locked:
            return True
        deadline = time.monotonic() + timeout
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            # GET_LOCK waits server-side; whole seconds, so finish sub-second waits by polling
            wait = int(remaining) if remaining >= 1 else 0
            got, self._session = self.query("SELECT GET_LOCK(%s, %s), CONNECTION_ID()", (self._lock_name(), wait))[0]
            if got == 1:
                self._locked = True
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def release_lock(self) -> None:
        if not self._locked or self._conn is None:
            return
        self._locked = False
        with contextlib.suppress(Exception):
            self.query("SELECT RELEASE_LOCK(%s)", (self._lock_name(),))

    def lock_holder(self) -> LockHolder | None:
        conn_id = self.query("SELECT IS_USED_LOCK(%s)", (self._lock_name(),))[0][0]
        return None if conn_id is None else lock_holder(self.query, int(conn_id))

    lock_names_client = False

    def lock_session(self) -> int | None:
        return self._session if self._locked else None

    def end_holder(self, holder: LockHolder) -> None:
        self.execute(f"KILL CONNECTION {int(holder.session or 0)}")

    # --- databases -------------------------------------------------------------------------------
    def create_database(self, name: str) -> None:
        self.execute(f"CREATE DATABASE {self.quote_ident(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    def drop_database(self, name: str) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {self.quote_ident(name)}")

    def has_database(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (name,)))

    def admin(self) -> MySQLBackend:
        return MySQLBackend(self.url.with_database(""), options=self.options)

    # --- backups -----------------------------------------------------------------------------
    backup_suffix = ".sql"
    backup_tools = {"mariadb-dump|mysqldump": "mariadb-client", "mariadb|mysql": "mariadb-client"}

    @contextlib.contextmanager
    def _option_file(self) -> Iterator[str]:
        """A private client option file: the password never goes on a command line."""
        import os
        import tempfile

        kw = self._connect_kwargs(None)
        lines = ["[client]", f"host={kw['host']}", f"port={kw['port']}", f"user={kw['user']}"]
        if kw.get("password"):
            escaped = str(kw["password"]).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'password="{escaped}"')
        if kw.get("unix_socket"):
            lines.append(f"socket={kw['unix_socket']}")
        fd, name = tempfile.mkstemp(prefix="migrata-", suffix=".cnf")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write("\n".join(lines) + "\n")
            yield name
        finally:
            os.unlink(name)

    def _client(self, *names: str) -> str:
        import shutil

        return next((n for n in names if shutil.which(n)), names[0])

    def _run(self, argv: list[str], stdin: Any = None) -> str:
        return run_tool(argv, package="mariadb-client", stdin=stdin, secrets=(self.url.password or "",))

    def backup_to(self, path: Path) -> None:
        dump = self._client("mariadb-dump", "mysqldump")
        with self._option_file() as cnf:
            self._run(
                [
                    dump,
                    f"--defaults-extra-file={cnf}",
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--events",
                    "--hex-blob",
                    "--default-character-set=utf8mb4",
                    f"--result-file={path}",
                    self.url.database or "",
                ]
            )

    def run_dump(self, args: list[str], tables: Sequence[str] = ()) -> str:
        with self._option_file() as cnf:
            dump = self._client("mariadb-dump", "mysqldump")
            return self._run([dump, f"--defaults-extra-file={cnf}", *args, self.url.database or "", *tables])

    def check_backup(self, path: Path) -> str | None:
        with open(path, "rb") as fh:
            head = fh.read(1000)
            fh.seek(max(0, path.stat().st_size - 4096))
            tail = fh.read()
        if not re.search(rb"^-- (MariaDB|MySQL) dump", head, re.M):
            return "not a mariadb-dump/mysqldump file"
        last = next((ln for ln in reversed(tail.splitlines()) if ln.strip()), b"")
        if not last.startswith(b"-- Dump completed"):
            return "incomplete: the dump does not end with its '-- Dump completed' line"
        return None

    def restore_from(self, path: Path) -> None:
        """Drop and recreate the database (utf8mb4), then replay the dump."""
        name = self.url.database or ""
        # our own connection stays open: it holds the migration lock (GET_LOCK
        # belongs to the connection, not to the database being replaced)
        admin = self.admin()
        admin.connect()
        try:
            admin.drop_database(name)
            admin.create_database(name)
        finally:
            admin.close()
        client = self._client("mariadb", "mysql")
        with self._option_file() as cnf, open(path, "rb") as dump:
            self._run([client, f"--defaults-extra-file={cnf}", "--default-character-set=utf8mb4", name], stdin=dump)

    def size_estimate(self) -> int:
        rows = self.query(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        )
        return int(rows[0][0])

    def scratch(self) -> MySQLBackend:
        """A new database holding a copy of this one's schema, dropped on close."""
        name = f"migrata_scratch_{uuid.uuid4().hex[:12]}"
        self.create_database(name)
        copy = MySQLBackend(self.url.with_database(name), options=self.options)
        copy.connect()
        copy._drop_on_close = name
        copy.execute("SET FOREIGN_KEY_CHECKS = 0")
        views = []
        for table, kind in self.query(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE()"
        ):
            if kind == "VIEW":
                views.append(self.query(f"SHOW CREATE VIEW {self.quote_ident(table)}")[0][1])
            else:
                copy.execute(self.query(f"SHOW CREATE TABLE {self.quote_ident(table)}")[0][1])
        for ddl in views:
            with contextlib.suppress(DatabaseError):
                copy.execute(re.sub(r"DEFINER=\S+ ", "", ddl))
        copy.execute("SET FOREIGN_KEY_CHECKS = 1")
        return copy

    # --- introspection ---------------------------------------------------------------------------
    tables_sql = (
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
    )
    primary_key_sql = (
        "SELECT column_name FROM information_schema.key_column_usage WHERE table_schema = DATABASE() "
        "AND table_name = %s AND constraint_name = 'PRIMARY' ORDER BY ordinal_position"
    )

    def schema_snapshot(self) -> dict[str, Any]:
        return mysql_snapshot(self.query)

    def has_object(self, kind: str, name: str, *, table: str | None = None) -> bool | None:
        """A trigger found is read from disk again (see :func:`mysql_load_trigger`)."""
        present = bool(self.query(*mysql_lookup(kind, name, table)))
        if present and kind == "trigger":
            mysql_load_trigger(self, name)
        return present

    def dependents(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        return mysql_dependents(self, tables)
