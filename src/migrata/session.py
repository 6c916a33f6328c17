"""One command's view of a project: settings, migration files, database, lock.

:mod:`migrata.api` opens a :class:`Session` per command and closes it when
the command returns; the operations (:mod:`migrata.ops`) work on it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata._core.ledger import Ledger
from migrata._core.model import RUNNING, AppliedMigration, MigrationState, Problem
from migrata._core.report import build_report
from migrata._core.source import Source, load_source
from migrata.backends.base import Backend, LockHolder
from migrata.backends.registry import create_backend
from migrata.config import Settings, load_settings
from migrata.errors import ConfigError, ConnectionLostError, DatabaseError, LockTimeoutError, MigrataError
from migrata.util import DatabaseURL, elapsed_ms, hostname, utcnow

if TYPE_CHECKING:
    from migrata._core.placeholders import Placeholders
    from migrata._core.runner import Runner

__all__ = ["ConfigLike", "MalformedSpec", "Session", "call_user", "resolve_settings", "session"]

log = logging.getLogger("migrata")

ConfigLike = Settings | str | os.PathLike[str] | None


def resolve_settings(config: ConfigLike = None, **overrides: Any) -> Settings:
    """Settings from whatever the caller has: Settings, a database URL, a
    config file or project folder, or None (found from the working directory)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(config, Settings):
        return config.with_overrides(**overrides) if overrides else config
    if config is None:
        return load_settings(**overrides)
    text = os.fspath(config)
    if "://" in text or text.startswith("file:"):
        settings = Settings(url=text, origins={"url": "argument config"}, url_base=Path.cwd())
        settings.migrations = Path.cwd() / "migrations"
        settings.backup_dir = Path.cwd() / "backups"
        return settings.with_overrides(**overrides) if overrides else settings
    path = Path(text)
    if path.is_dir():
        return load_settings(directory=path, **overrides)
    return load_settings(path, **overrides)


class Session:
    """One command's view of a project: its settings, files and database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._source: Source | None = None
        self._backend: Backend | None = None  # connected, hooks run
        self._spare: Backend | None = None  # created, maybe connected by database_exists()
        self._ledger: Ledger | None = None
        self.lock_wait_ms = 0
        self._crypto: Any = None  # ctx.crypto and `migrata crypto`: read on first use
        self._services: Any = None  # the backfills of the last runner (their replica connection)

    # --- files ---------------------------------------------------------------------
    @property
    def source(self) -> Source:
        """The migration files, read and checked as a set on first use."""
        if self._source is None:
            s = self.settings
            try:
                self._source = load_source(
                    s.migrations, patterns=s.file_pattern, allow_empty=s.allow_empty, ordering=s.ordering
                )
            except ConfigError as exc:  # a file_pattern: say where it was set
                origin = s.origins.get("file_pattern")
                if not origin or not exc.message.startswith("file_pattern"):
                    raise
                raise ConfigError(f"{exc.message} (from {origin})", hint=exc.hint) from None
        return self._source

    def has_source(self) -> bool:
        """Whether the migration set was loaded (it loads on first use)."""
        return self._source is not None

    def use_source(self, source: Source) -> None:
        self._source = source

    # --- database ------------------------------------------------------------------
    @property
    def database(self) -> str:
        return self.settings.masked_url

    @property
    def backend(self) -> Backend:
        """The connected backend (connecting on first use)."""
        if self._backend is None:
            backend = self.unconnected_backend()
            backend.connect()  # a no-op when database_exists() already connected it
            self._backend, self._spare = backend, None
            self._run_connect_hooks(backend)
        return self._backend

    def unconnected_backend(self) -> Backend:
        """The backend object, not necessarily connected (one per session)."""
        if self._backend is not None:
            return self._backend
        if self._spare is None:
            self._spare = self._new_backend()
        return self._spare

    def _new_backend(self) -> Backend:
        url = self.settings.database_url()
        origin = self.settings.origins.get("url")
        try:
            backend = create_backend(url, busy_timeout=self.settings.lock_timeout)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (from {origin})" if origin else exc.message, hint=exc.hint) from None
        if backend.needs_database and not url.database:
            raise ConfigError(
                f"database URL {url.masked()} names no database" + (f" (from {origin})" if origin else ""),
                hint=f"add its name at the end: {url.scheme}://user@host:port/DBNAME",
            )
        return backend

    def _run_connect_hooks(self, backend: Backend) -> None:
        for spec in self.settings.on_connect:
            try:
                call_user(spec, self.settings.project_dir, backend.connection)
            except MalformedSpec:
                raise ConfigError(f"on_connect {spec!r} must be written module:function") from None
            except MigrataError:
                raise
            except Exception as exc:  # noqa: BLE001 - the hook is user code
                raise ConfigError(f"on_connect hook {spec} failed: {type(exc).__name__}: {exc}") from exc

    @property
    def ledger(self) -> Ledger:
        """migrata's tables on the connected database."""
        if self._ledger is None:
            self._ledger = Ledger(self.backend, self.settings.table, ordering=self.settings.ordering)
        return self._ledger

    def database_exists(self) -> bool:
        return self.unconnected_backend().database_exists()

    def ensure_database(self) -> bool:
        """With ``create_database`` set, create the database when it does not
        exist (as `migrata db create` does); True when it was created."""
        if not self.settings.create_database or self.database_exists():
            return False
        created = self.unconnected_backend().create()
        if created:
            log.warning("created the database %s (create_database is set)", self.database)
        return created

    def rows(self) -> list[AppliedMigration]:
        """The history rows, read now; an absent database or table reads as
        empty, creating nothing."""
        if not self.database_exists():
            return []
        return self.ledger.read()

    def report(self, rows: list[AppliedMigration] | None = None) -> tuple[list[MigrationState], list[Problem]]:
        """Every migration's state and the problems found, from the files and
        ``rows`` (read now when not given)."""
        rows = self.rows() if rows is None else rows
        return build_report(
            self.source,
            rows,
            out_of_order=self.settings.out_of_order,
            sequential=self.settings.versions == "sequential",
        )

    def needs_operations(self, direction: str) -> bool:
        """Whether hooks, backups, verification or metrics wrap a run in
        ``direction`` (their modules are imported only then)."""
        s = self.settings
        return bool(
            getattr(s, f"before_{direction}")
            or getattr(s, f"after_{direction}")
            or s.on_failure
            or s.backup
            or s.restore_on_failure
            or (direction == "up" and s.verify)
            or s.metrics_file
            or s.pushgateway
        )

    def in_progress(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` with each ``running`` row whose migrator still holds
        the lock marked in progress (a warning), not interrupted."""
        running = [p for p in problems if p.code == RUNNING]
        holder = self.backend.lock_holder() if running else None
        if holder is None:
            return problems
        for p in running:
            p.code = "in-progress"
            p.severity = "warning"
            p.message = p.message.replace("was interrupted", "is running now") + f" (lock held by {holder.describe()})"
            p.hint = "wait for it; `migrata lock status` shows the migrator"
        return problems

    @contextlib.contextmanager
    def locked(self, deadline: float | None = None, *, ensure: bool = True) -> Iterator[None]:
        """Hold the migration lock (waiting up to lock_timeout, or the deadline);
        ``ensure`` creates migrata's tables once it is held."""
        backend = self.backend
        timeout = self.settings.lock_timeout
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        t0 = time.perf_counter()
        waited = not backend.acquire_lock(0)
        holder = self.lock_holder() if waited else None
        for _ in range(3):  # the holder may have let go between the try and the look: try again
            if not waited or holder is not None:
                break
            waited = not backend.acquire_lock(0)
            holder = self.lock_holder() if waited else None
        if waited:
            log.warning(
                "waiting for the migration lock, held by %s", holder.describe() if holder else "another migrator"
            )
            if not backend.acquire_lock(timeout):
                holder = self.lock_holder()
                raise lock_timeout_error(holder.describe() if holder else "another migrator", timeout, self.database)
        self.lock_wait_ms = elapsed_ms(t0)
        since = utcnow()
        try:
            if ensure:
                self.ledger.ensure()
                self._record_lock(waited)
            yield
        except ConnectionLostError as exc:
            self._name_killer(exc, since)
            raise
        finally:
            backend.release_lock()

    def _record_lock(self, waited: bool) -> None:
        """The events of taking the lock: how long it was awaited (when it
        was), and who took it where the lock cannot name its client."""
        ops = []
        if waited and self.lock_wait_ms >= 50:
            ops.append(self.ledger.event("lock-wait", duration_ms=self.lock_wait_ms))
        sid = self.backend.lock_session()
        if sid is not None:
            ops.append(self.ledger.event("lock", detail={"session": sid, "pid": os.getpid(), "host": hostname()}))
        self.ledger.run(*ops)

    def lock_holder(self) -> LockHolder | None:
        """Who holds the migration lock: the backend's answer, completed with
        the client process that recorded taking it (a ``lock`` event) where
        the lock itself cannot name it."""
        holder = self.backend.lock_holder()
        if holder is None or self.backend.lock_names_client or holder.pid is not None or holder.session is None:
            return holder
        led = self.ledger
        try:
            rows = self.backend.query(
                f"SELECT at, detail FROM {led.events_table} WHERE action = {led.ph} ORDER BY id DESC LIMIT 50",
                ("lock",),
            )
        except DatabaseError:  # no events table (yet)
            return holder
        for at, detail in rows:
            data = json.loads(detail) if detail else {}
            if data.get("session") == holder.session:
                host = data.get("host") or holder.host
                return replace(holder, pid=data.get("pid"), host=host, since=at, since_what="lock taken")
        return holder

    def _name_killer(self, exc: ConnectionLostError, since: str) -> None:
        """Say who ended the connection that held the lock: `migrata lock
        release --force` records a lock-break event before it does."""
        by = "by the server or an administrator"
        backend = self._new_backend()
        try:
            breaks = [e for e in Ledger(backend, self.settings.table).events(limit=20) if e.action == "lock-break"]
            if breaks and breaks[0].at >= since:
                by = f"by `migrata lock release --force` ({breaks[0].actor}, {breaks[0].at})"
        except MigrataError:
            pass
        finally:
            backend.close()
        exc.message = exc.message.replace(
            "the connection to the database was terminated", f"the connection to the database was terminated {by}", 1
        )
        exc.args = (exc.message,)

    def placeholders(self) -> Placeholders | None:
        """The placeholders replaced in migration SQL (None: none defined, no replacement)."""
        from migrata._core.placeholders import Placeholders

        s = self.settings
        return Placeholders(s.placeholders, s.placeholder_prefix, s.placeholder_suffix) if s.placeholders else None

    def runner(self, *, connect: bool = True) -> Runner:
        """A runner on this database; ``connect=False`` gives one that can only
        prepare and render (nothing is opened or created)."""
        from migrata._core.runner import Runner  # commands that only report never load the runner

        if connect:
            backend, ledger = self.backend, self.ledger
        else:
            backend = self.unconnected_backend()
            ledger = Ledger(backend, self.settings.table, ordering=self.settings.ordering)
        s = self.settings
        runner = Runner(
            backend,
            ledger,
            statement_timeout=s.statement_timeout,
            mixed=s.mixed,
            ddl_lock_timeout=s.ddl_lock_timeout,
            ddl_retries=s.ddl_retries,
            placeholders=self.placeholders(),
        )
        runner.source = self._source  # as far as read (a rollback's error names the file creating an object)
        if connect:
            from migrata.data.service import BackfillService

            replica = s.replica_url
            factory = (
                (lambda: create_backend(DatabaseURL.parse(replica, s.url_base or s.project_dir))) if replica else None
            )
            runner.services = self._services = BackfillService(
                backend, ledger, replica=factory, max_lag=s.replica_max_lag, crypto=self.crypto
            )
        return runner

    def crypto(self) -> Any:
        """The project's :class:`~migrata.data.crypto.Crypto` (keys read once)."""
        if self._crypto is None:
            from migrata.data.crypto import crypto_from_settings

            self._crypto = crypto_from_settings(self.settings.crypto, self.settings.project_dir)
        return self._crypto

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None
        for backend in (self._backend, self._spare):
            if backend is not None:
                backend.close()
        self._backend = self._spare = None
        self._ledger = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def session(config: ConfigLike = None, **overrides: Any) -> Iterator[Session]:
    s = Session(resolve_settings(config, **overrides))
    try:
        yield s
    finally:
        s.close()


def lock_timeout_error(holder_text: str, timeout: float, target: str) -> LockTimeoutError:
    return LockTimeoutError(
        f"the migration lock on {target} was not free within {timeout:g}s: held by {holder_text}",
        hint="`migrata lock status` shows the holder; `migrata lock release --force` stops it",
    )


class MalformedSpec(Exception):
    """A hook reference that is not ``module:function``."""


def call_user(spec: str, folder: Path, *args: Any) -> Any:
    """Import ``module:function`` (with the project ``folder`` on ``sys.path``
    meanwhile) and call it with ``args``. A malformed spec raises
    MalformedSpec; whatever the function raises propagates."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or ":" in attr:
        raise MalformedSpec(spec)
    project = str(folder)
    added = project not in sys.path
    if added:
        sys.path.insert(0, project)
    try:
        return getattr(importlib.import_module(module_name), attr)(*args)
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(project)
