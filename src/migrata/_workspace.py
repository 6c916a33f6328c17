"""One command's view of a project: settings, migration files, database, lock.

Private to the library: :mod:`migrata.api` builds a :class:`Workspace` per
command and closes it when the command returns.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from migrata._core.ledger import Ledger
from migrata._core.model import AppliedMigration, MigrationState, Problem
from migrata._core.report import build_report
from migrata._core.runner import Runner, lock_timeout_error
from migrata._core.source import Source, load_source
from migrata._fingerprint import probe
from migrata._lazy import LazyLogger
from migrata.backends import create_backend
from migrata.backends.base import Backend
from migrata.config import Settings, load_settings
from migrata.errors import ConfigError, MigrataError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ConfigLike", "MalformedSpec", "Workspace", "call_user", "resolve_settings", "workspace"]

log = LazyLogger("migrata")

ConfigLike = Settings | str | os.PathLike[str] | None


def resolve_settings(config: ConfigLike = None, **overrides: Any) -> Settings:
    """Settings from whatever the caller has (see the module docstring)."""
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


class Workspace:
    """One command's view of a project: its settings, files and database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._source: Source | None = None
        self._backend: Backend | None = None  # connected, hooks run
        self._spare: Backend | None = None  # created, maybe connected by database_exists()
        self._ledger: Ledger | None = None
        self.lock_wait_ms = 0
        self._last_read: tuple[Any, list[AppliedMigration]] | None = None  # (change marker, rows) of rows()
        self.reporting = False  # only reports: file texts need not be kept, down files not read
        self.cached_texts = False  # up/down: unchanged files from the cache, texts read for the steps run

    # --- files ---------------------------------------------------------------------
    @property
    def source(self) -> Source:
        if self._source is None:
            s = self.settings
            self._source = load_source(
                s.migrations,
                patterns=s.file_pattern,
                allow_empty=s.allow_empty,
                for_report=self.reporting,
                cached=self.cached_texts,
            )
        return self._source

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
        """The backend object, not necessarily connected (one per workspace)."""
        if self._backend is not None:
            return self._backend
        if self._spare is None:
            self._spare = self._new_backend()
        return self._spare

    def _new_backend(self) -> Backend:
        url = self.settings.database_url()
        try:
            return create_backend(url, busy_timeout=self.settings.lock_timeout)
        except ConfigError as exc:
            origin = self.settings.origins.get("url")
            raise ConfigError(f"{exc.message} (from {origin})" if origin else exc.message, hint=exc.hint) from None

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
        if self._ledger is None:
            self._ledger = Ledger(self.backend, self.settings.table)
        return self._ledger

    def database_exists(self) -> bool:
        return self.unconnected_backend().database_exists()

    def rows(self, *, mark: bool = False, reuse: bool = False) -> list[AppliedMigration]:
        """History rows; an absent database or table reads as empty, creating nothing.

        ``mark``: remember this read with the database's change marker (see
        :meth:`~migrata.backends.base.Backend.change_marker`), taken before
        it. ``reuse``: the rows of the last marked read when the marker tells
        that no other connection committed since (this read is marked then).
        Only for a caller that wrote no history since that read."""
        if not self.database_exists():
            self._last_read = None
            return []
        marker = self.backend.change_marker() if mark or reuse else None
        last = self._last_read
        if reuse and last is not None and marker is not None and last[0] == marker:
            return last[1]
        rows = self.ledger.read()
        self._last_read = None if marker is None else (marker, rows)
        return rows

    def state_token(self) -> Any:
        """The database's probe value now (None: it cannot tell, see
        :meth:`~migrata.backends.base.Backend.state_probe`)."""
        spec = self.unconnected_backend().state_probe()
        return None if spec is None else probe(spec)

    def report_inputs(self, before: Any) -> dict[str, Any] | None:
        """What a report made since the probe value ``before`` depends on, for
        the command line's answer cache: the files the settings were looked up
        in, the migrations folder and the files of it that were read, and the
        database probe. None when the database cannot tell or changed meanwhile."""
        spec = self.unconnected_backend().state_probe()
        source = self._source
        if spec is None or before is None or source is None or self.settings.on_connect:
            return None
        if probe(spec) != before:
            return None
        folder = os.fspath(source.directory)
        names = set()
        for m in source.all:
            path = os.fspath(m.up.path)
            if os.path.dirname(path) != folder:
                return None
            names.add(os.path.basename(path))
        return {
            "config": list(self.settings.inputs),
            "folder": folder,
            "files": sorted(names),
            "signatures": source.signatures,  # as the files were read: looked up by name
            "probe": (spec, before),
        }

    def use_source(self, source: Source) -> None:
        self._source = source

    def report(self, rows: list[AppliedMigration] | None = None) -> tuple[list[MigrationState], list[Problem]]:
        rows = self.rows() if rows is None else rows
        return build_report(
            self.source,
            rows,
            out_of_order=self.settings.out_of_order,
            sequential=self.settings.versions == "sequential",
        )

    @contextlib.contextmanager
    def locked(self, deadline: float | None = None, *, ensure: bool = True) -> Iterator[None]:
        """Hold the migration lock (waiting up to lock_timeout, or the deadline);
        ``ensure`` creates migrata's tables once it is held."""
        backend = self.backend
        timeout = self.settings.lock_timeout
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
        t0 = time.perf_counter()
        if not backend.acquire_lock(0):
            holder = backend.lock_holder()
            log.warning(
                "waiting for the migration lock, held by %s", holder.describe() if holder else "another migrator"
            )
            if not backend.acquire_lock(timeout):
                holder = backend.lock_holder()
                raise lock_timeout_error(holder.describe() if holder else "another migrator", timeout, self.database)
        self.lock_wait_ms = int((time.perf_counter() - t0) * 1000)
        try:
            if ensure:
                self.ledger.ensure()
            if ensure and self.lock_wait_ms >= 50:
                self.ledger.run(self.ledger.event("lock-wait", duration_ms=self.lock_wait_ms))
            yield
        finally:
            backend.release_lock()

    def runner(self, *, connect: bool = True) -> Runner:
        """A runner on this database; ``connect=False`` gives one that can only
        prepare and render (nothing is opened or created)."""
        if connect:
            backend, ledger = self.backend, self.ledger
        else:
            backend = self.unconnected_backend()
            ledger = Ledger(backend, self.settings.table)
        return Runner(backend, ledger, statement_timeout=self.settings.statement_timeout, mixed=self.settings.mixed)

    def close(self) -> None:
        for backend in (self._backend, self._spare):
            if backend is not None:
                backend.close()
        self._backend = self._spare = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def workspace(config: ConfigLike = None, **overrides: Any) -> Iterator[Workspace]:
    ws = Workspace(resolve_settings(config, **overrides))
    try:
        yield ws
    finally:
        ws.close()


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
