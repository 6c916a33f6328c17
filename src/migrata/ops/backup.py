"""Verified backups and restore.

A backup is one file in the ``backup_dir`` folder named
``<database>.backup.YYYYMMDD_HHMMSS_ffffff[suffix]`` (SQLite: a copy made
with the online backup API; PostgreSQL: ``pg_dump`` custom format;
MySQL/MariaDB: ``mariadb-dump``/``mysqldump`` with routines, triggers and
events in one consistent snapshot), readable by its owner only, with a
sidecar ``.json`` holding its SHA-256, size, the database version at backup
time and whether it verified. A backup is reported good only after it was
read back through (SQLite ``integrity_check``, ``pg_restore`` of the whole
archive, a complete dump). Restoring checks the SHA-256 and the backup
again, replaces the database exactly, and checks the result.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from migrata._core import planner
from migrata.errors import BackupError, DatabaseError, UsageError
from migrata.session import Session

__all__ = [
    "SAFETY",
    "BackupInfo",
    "check_restorable",
    "create_backup",
    "find_backup",
    "list_backups",
    "restore_backup",
    "sha256_of",
]


@dataclass
class BackupInfo:
    """One backup file and what its sidecar says about it."""

    path: str
    database: str
    dialect: str
    created_at: str
    version: str | None
    sha256: str
    size: int
    verified: bool
    problem: str | None = None
    reason: str = "manual"
    identity: str = ""  # which database this is a backup of (see _identity)

    @property
    def age_seconds(self) -> float:
        created = _dt.datetime.strptime(self.created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.UTC)
        return (_dt.datetime.now(_dt.UTC) - created).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["age_seconds"] = round(self.age_seconds, 1)
        return data


#: The reason recorded for the backup `restore` takes of what it replaces.
SAFETY = "before restore"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stem(sess: Session) -> str:
    """What backups of this database are named after (``quota.db``, ``app``)."""
    url = sess.settings.database_url()
    if url.family == "sqlite":
        if url.database == ":memory:":
            raise UsageError("an in-memory SQLite database cannot be backed up")
        return Path(url.database or "db").name
    return url.database or "database"


def _identity(sess: Session) -> str:
    """The database a backup belongs to: the SQLite file, or server + port + name.
    Two projects sharing a backup folder never restore each other's backups."""
    url = sess.settings.database_url()
    if url.family == "sqlite":
        return f"sqlite:{Path(url.database or '').resolve()}"
    return f"{url.family}://{url.host or 'localhost'}:{url.port or ''}/{url.database or ''}"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _private_folder(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)


def create_backup(sess: Session, *, reason: str = "manual", prune: bool = True) -> BackupInfo:
    """Take, verify and record a backup; prune old ones. Raises BackupError
    when the backup cannot be taken or does not verify (a backup that does not
    verify is kept, marked unverified in its sidecar, and never restored)."""
    settings = sess.settings
    if not sess.database_exists():
        raise BackupError(f"{sess.database} does not exist: there is nothing to back up")
    backend = sess.backend
    folder = settings.backup_dir
    now = _dt.datetime.now(_dt.UTC)
    path = folder / f"{_stem(sess)}.backup.{now.strftime('%Y%m%d_%H%M%S_%f')}{backend.backup_suffix}"
    partial = path.with_name(path.name + ".partial")
    try:
        _private_folder(folder)
        _check_space(folder, backend.size_estimate())
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # private before any byte
    except OSError as exc:
        raise BackupError(
            f"cannot write backups to {folder}: {exc.strerror or exc}", hint="set backup_dir to a writable folder"
        ) from None
    try:
        backend.backup_to(partial)
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    except DatabaseError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup of {sess.database} failed: {exc.message}", hint=exc.hint) from None
    problem = backend.check_backup(path)
    rows = sess.rows()
    info = BackupInfo(
        path=str(path),
        database=sess.database,
        dialect=backend.dialect,
        created_at=now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        version=planner.current_version(rows),
        sha256=sha256_of(path),
        size=path.stat().st_size,
        verified=problem is None,
        problem=problem,
        reason=reason,
        identity=_identity(sess),
    )
    _write_sidecar(info)
    _record(sess, "backup", info, outcome="ok" if info.verified else "failed")
    if not info.verified:
        raise BackupError(f"the backup {path.name} did not verify: {problem}", hint="nothing was changed")
    if prune:
        _prune(sess, folder, settings.backup_keep)
    return info


def _check_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed and free < needed * 1.2:
        raise BackupError(
            f"not enough free disk for a backup in {folder}: {free // 2**20} MiB free, about "
            f"{needed // 2**20} MiB needed",
            hint="free some space or set backup_dir to another disk",
        )


def _write_sidecar(info: BackupInfo) -> None:
    side = _sidecar(Path(info.path))
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(info), fh, indent=2)


def _record(sess: Session, action: str, info: BackupInfo, *, outcome: str = "ok", trigger: str | None = None) -> None:
    """An event in the log, where migrata's tables exist."""
    try:
        led = sess.ledger
        if not led.exists():
            return
        detail = {"path": info.path, "sha256": info.sha256, "size": info.size, "version": info.version}
        if info.problem:
            detail["problem"] = info.problem
        if trigger:
            detail["trigger"] = trigger
        led.run(led.event(action, version=info.version, outcome=outcome, detail=detail))
    except DatabaseError:
        pass  # the event log is best effort here: the backup itself is what matters


def list_backups(sess: Session, *, recheck: bool = False) -> list[BackupInfo]:
    """This database's backups, newest first. ``recheck`` reads each file
    again: one whose SHA-256 no longer matches its sidecar is not verified."""
    folder = sess.settings.backup_dir
    if not folder.is_dir():
        return []
    prefix = f"{_stem(sess)}.backup."
    identity = _identity(sess)
    found = []
    for side in folder.glob(prefix + "*.json"):
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            info = BackupInfo(**data)
        except (OSError, ValueError, TypeError):
            continue
        # the file sits beside its sidecar, wherever the folder was copied or moved
        file = side.with_name(side.name.removesuffix(".json"))
        info.path = str(file)
        if not file.exists() or info.identity != identity:
            continue
        if file.stat().st_size != info.size:
            info.verified, info.problem = False, "its size changed since it was taken"
        elif recheck and info.verified and sha256_of(file) != info.sha256:
            info.verified, info.problem = False, "its content changed since it was taken (SHA-256 differs)"
        found.append(info)
    found.sort(key=lambda i: i.created_at, reverse=True)
    return found


def _prune(sess: Session, folder: Path, keep: int) -> None:
    for old in list_backups(sess)[keep:]:
        Path(old.path).unlink(missing_ok=True)
        _sidecar(Path(old.path)).unlink(missing_ok=True)


def find_backup(sess: Session, name: str | None) -> BackupInfo:
    """The backup named (a path or a file name), or the newest verified one."""
    backups = list_backups(sess)
    if name is None:
        # the newest verified backup, not one taken automatically before a restore
        good = [b for b in backups if b.verified and b.reason != SAFETY]
        if not good:
            raise BackupError(f"no verified backup of {sess.database} in {sess.settings.backup_dir}")
        return good[0]
    for b in backups:
        if name in (b.path, Path(b.path).name):
            return b
    path = Path(name)
    if not path.is_absolute():
        path = sess.settings.backup_dir / name
    side = _sidecar(path)
    if side.exists():
        other = json.loads(side.read_text(encoding="utf-8")).get("identity", "another database")
        raise BackupError(
            f"{path.name} is a backup of {other}, not of {_identity(sess)}; refusing to restore it",
            hint="backups belong to the database file or server database they were taken of",
        )
    if path.exists():
        raise BackupError(f"{path} has no sidecar {side.name}: its checksum cannot be checked")
    raise BackupError(f"no backup named {name} in {sess.settings.backup_dir}", hint="`migrata backups` lists them")


def check_restorable(sess: Session, info: BackupInfo) -> None:
    """Refuse a backup whose file changed since it was taken or does not read back."""
    path = Path(info.path)
    if sha256_of(path) != info.sha256:
        raise BackupError(f"{path.name} changed since it was taken (SHA-256 differs); refusing to restore it")
    problem = sess.unconnected_backend().check_backup(path)
    if problem:
        raise BackupError(f"{path.name} is broken: {problem}; nothing was restored")


def restore_backup(sess: Session, info: BackupInfo, *, trigger: str = "manual") -> BackupInfo:
    """Check the backup, replace the database by it, check the result, record
    it (``trigger``: ``manual`` or ``restore_on_failure``)."""
    check_restorable(sess, info)
    path = Path(info.path)
    backend = sess.unconnected_backend()
    try:
        if sess.database_exists():
            with sess.locked(ensure=False):  # no migrator may run meanwhile
                backend.restore_from(path)
        else:  # gone entirely: the restore creates it again
            backend.restore_from(path)
    except DatabaseError as exc:
        raise BackupError(f"restoring {path.name} failed: {exc.message}", hint=exc.hint) from None
    sess.close()  # the restore may have replaced the database under the connection
    after = planner.current_version(sess.rows())
    if after != info.version:
        raise BackupError(
            f"after restoring {path.name} the database is at {after or 'base'}, the backup was at "
            f"{info.version or 'base'}"
        )
    _record(sess, "restore", info, trigger=trigger)
    return info
