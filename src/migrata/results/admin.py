"""What the commands that look after a project and its database return:
``repair``, ``stamp``, ``adopt``, ``import alembic``, ``cleanup``, ``lock``,
``new``, ``init``, ``db``, ``backup``/``backups``, ``restore``, ``verify`` and
``doctor``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from migrata._core.model import Problem, StepResult

__all__ = [
    "RepairResult",
    "StampResult",
    "AdoptResult",
    "ImportResult",
    "CleanupResult",
    "LockResult",
    "NewResult",
    "InitResult",
    "DatabaseResult",
    "BackupResult",
    "RestoreResult",
    "VerifyResult",
    "DoctorResult",
]


@dataclass
class RepairResult:
    problems: list[Problem]
    actions: list[str]
    steps: list[StepResult] = field(default_factory=list)
    #: (command, when to use it): the repairs that apply to the problems left
    ways_out: list[tuple[str, str]] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return bool(self.problems) and not self.actions

    def to_dict(self) -> dict[str, Any]:
        return {
            "problems": [p.to_dict() for p in self.problems],
            "actions": self.actions,
            "steps": [s.to_dict() for s in self.steps],
            "ways_out": [{"command": c, "when": w} for c, w in self.ways_out],
        }


@dataclass
class StampResult:
    version: str
    added: list[str]
    removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AdoptResult:
    """What ``adopt`` found in another tool's history table and recorded."""

    tool: str
    table: str
    found: list[str]  # versions that tool counts as applied (repeatables by R__ name)
    added: list[str]  # versions recorded as applied in migrata's history now
    already: list[str]  # versions migrata's history held before
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    """What ``import alembic`` wrote: one migration per revision, in chain order."""

    tool: str
    directory: str  # the project imported
    dialect: str  # the SQL was rendered for
    migrations: list[dict[str, Any]]  # revision, message, version, kind (sql/py), files, reason, has_down
    skipped: list[str]  # revisions a file already held (imported before)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CleanupResult:
    keep_days: int
    deleted: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LockResult:
    database: str
    held: bool
    holder: dict[str, Any] | None = None
    released: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class NewResult:
    version: str
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InitResult:
    config_file: str
    migrations: str
    created: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DatabaseResult:
    """What ``db create``/``db drop`` did."""

    database: str
    action: str  # "created", "dropped", "exists", "absent"

    @property
    def changed(self) -> bool:
        return self.action in ("created", "dropped")

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "action": self.action, "changed": self.changed}


@dataclass
class BackupResult:
    """``backup`` (one new backup) and ``backups`` (all of them, newest first)."""

    database: str
    backups: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RestoreResult:
    database: str
    backup: dict[str, Any]
    version: str | None  # the version the database is at after the restore
    safety_backup: str | None = None  # the backup of what was there before the restore

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyResult:
    database: str
    checks: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "ok": self.ok, "checks": self.checks}


@dataclass
class DoctorResult:
    database: str
    checks: list[dict[str, Any]]

    @property
    def ready(self) -> bool:
        return not any(c["status"] == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "ready": self.ready, "checks": self.checks}
