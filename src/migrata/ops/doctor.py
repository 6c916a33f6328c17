"""``migrata doctor``: what the quota-proxy guide checks by hand before migrating.

Configuration, connection and server version, the privileges migrating
needs, the client tools backups need, free disk for a backup, the lock, and
the state of the migrations (pending, failed, edited) — one check each, with
a verdict. Nothing is changed: the privilege probe runs in a transaction that
is rolled back (on MySQL/MariaDB, where DDL commits, a probe table is created
and dropped).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from migrata._core import planner
from migrata.errors import MigrataError
from migrata.session import Session

__all__ = ["Finding", "Report", "run_doctor"]


@dataclass
class Finding:
    name: str
    status: str  # "ok", "warn", "fail", "skip"
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    database: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not any(f.status == "fail" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "ready": self.ready, "checks": [f.to_dict() for f in self.findings]}


def run_doctor(sess: Session) -> Report:
    report = Report(sess.database)
    add = report.findings.append
    settings = sess.settings
    add(Finding("config", "ok", str(settings.config_file) if settings.config_file else "no config file (environment)"))
    try:
        if not sess.database_exists():  # checked without creating it
            add(_missing(sess))
            add(_tools(sess))
            add(_migrations(sess))
            return report
        backend = sess.backend
        add(Finding("connection", "ok", f"{backend.dialect} {backend.server_version()} at {sess.database}"))
    except MigrataError as exc:
        add(Finding("connection", "fail", exc.message))
        return report
    holder = sess.lock_holder()
    if holder is None:
        add(_privileges(sess))
    else:  # a migration is running: probing now would only wait for it
        add(Finding("privileges", "skip", "not probed while a migrator holds the lock"))
    add(_tools(sess))
    add(_disk(sess))
    add(Finding("lock", "warn" if holder else "ok", f"held by {holder.describe()}" if holder else "free"))
    add(_migrations(sess))
    return report


def _missing(sess: Session) -> Finding:
    """A database that does not exist: fine when `up` creates it (SQLite's
    file, or ``create_database``), a failure otherwise, as `up` then fails."""
    backend = sess.unconnected_backend()
    reason = backend.cannot_create() if backend.connect_creates else None
    if reason:
        return Finding("connection", "fail", f"{sess.database} cannot be created: {reason}")
    if backend.connect_creates:
        return Finding("connection", "warn", f"{sess.database} does not exist yet: `migrata up` creates it")
    if sess.settings.create_database:
        return Finding(
            "connection", "warn", f"{sess.database} does not exist yet: `migrata up` creates it (create_database)"
        )
    return Finding(
        "connection",
        "fail",
        f"{sess.database} does not exist: create it with `migrata db create` "
        "(or set create_database = true to let `migrata up` create it)",
    )


def _privileges(sess: Session) -> Finding:
    backend = sess.backend
    probe = f"migrata_doctor_{uuid.uuid4().hex[:8]}"
    try:
        if backend.transactional_ddl:
            backend.begin()
            try:
                backend.execute(f"CREATE TABLE {probe} (id INTEGER)")
                backend.execute(f"DROP TABLE {probe}")
            finally:
                backend.rollback()
        else:
            backend.execute(f"CREATE TABLE {probe} (id INTEGER)")
            backend.execute(f"DROP TABLE {probe}")
        if not backend.acquire_lock(1.0):
            return Finding("privileges", "warn", "can create tables; the lock is busy, so taking it was not tried")
        backend.release_lock()
    except MigrataError as exc:
        return Finding("privileges", "fail", f"cannot create tables or take the lock: {exc.message}")
    return Finding("privileges", "ok", "can create and drop tables and take the migration lock")


def _tools(sess: Session) -> Finding:
    tools = sess.unconnected_backend().backup_tools
    if not tools:
        return Finding("backup tools", "ok", "none needed (SQLite's backup API)")
    # "a|b": either program will do (mariadb-dump or MySQL's mysqldump)
    missing = [
        f"{tool.replace('|', ' or ')} (package {package})"
        for tool, package in tools.items()
        if not any(shutil.which(t) for t in tool.split("|"))
    ]
    if missing:
        status = "fail" if sess.settings.backup or sess.settings.restore_on_failure else "warn"
        return Finding("backup tools", status, "missing: " + ", ".join(missing))
    found = [next(t for t in tool.split("|") if shutil.which(t)) for tool in tools]
    return Finding("backup tools", "ok", ", ".join(found))


def _disk(sess: Session) -> Finding:
    folder = sess.settings.backup_dir
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder.anchor)
    free = shutil.disk_usage(probe).free
    needed = sess.backend.size_estimate()
    detail = f"{free // 2**20} MiB free in {probe}, a backup needs about {max(1, needed // 2**20)} MiB"
    return Finding("disk", "fail" if free < needed * 1.2 else "ok", detail)


def _migrations(sess: Session) -> Finding:
    try:
        rows = sess.rows()
        states, problems = sess.report(rows)
    except MigrataError as exc:
        return Finding("migrations", "fail", exc.message)
    errors = [p for p in problems if p.severity == "error"]
    pending = [s for s in states if s.state in ("pending", "outdated", "out-of-order")]
    current = planner.current_version(rows) or "base"
    if errors:
        return Finding(
            "migrations",
            "fail",
            f"at {current}; {errors[0].message}" + (f" (+{len(errors) - 1})" if len(errors) > 1 else ""),
        )
    return Finding("migrations", "ok", f"at {current}, {len(pending)} pending")
