"""Result objects returned by the library functions in :mod:`migrata.api`.

Every result has ``to_dict()`` (what ``--json`` prints) and plain attributes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from migrata._core.ledger import Event
from migrata._core.model import MigrationState, Problem
from migrata._core.runner import StepResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "BackupResult",
    "CheckResult",
    "CleanupResult",
    "CurrentResult",
    "DatabaseResult",
    "DoctorResult",
    "HistoryResult",
    "InitResult",
    "LockResult",
    "MigrateResult",
    "MigrationState",
    "NewResult",
    "Problem",
    "RepairResult",
    "RestoreResult",
    "StampResult",
    "StatusResult",
    "StepResult",
    "ValidateResult",
    "VerifyResult",
]


class _Result:
    """``__repr__`` and ``__eq__`` as dataclasses write them, written once:
    generating them for every result class is most of what importing this
    module would cost (and every command imports it)."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = [f.name for f in fields(self) if f.compare]  # type: ignore[arg-type]
        return all(getattr(self, n) == getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]  # as for dataclasses with eq

    #: what a report depended on (files, database probe), for the command
    #: line's answer cache (:mod:`migrata.cli.answers`); not part of the result
    _inputs: dict[str, Any] | None = None
    #: up/down asked for it: the status right after the run (same purpose)
    _report: StatusResult | None = None


@dataclass(repr=False, eq=False)
class StatusResult(_Result):
    database: str
    dialect: str
    current: str | None
    applied: int
    pending: list[MigrationState]
    migrations: list[MigrationState]
    problems: list[Problem] = field(default_factory=list)
    database_exists: bool = True

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def up_to_date(self) -> bool:
        return self.ok and not self.pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "dialect": self.dialect,
            "database_exists": self.database_exists,
            "current": self.current,
            "applied": self.applied,
            "pending": [m.version for m in self.pending],
            "up_to_date": self.up_to_date,
            "problems": [p.to_dict() for p in self.problems],
            "migrations": [m.to_dict() for m in self.migrations],
        }


@dataclass(repr=False, eq=False)
class MigrateResult(_Result):
    """What ``up``/``down`` did (or would do, with dry_run/sql)."""

    direction: str
    database: str
    before: str | None
    after: str | None
    steps: list[StepResult] = field(default_factory=list)
    planned: list[MigrationState] = field(default_factory=list)
    dry_run: bool = False
    sql: str | None = None
    duration_ms: int = 0
    lock_wait_ms: int = 0
    backup: dict[str, Any] | None = None  # the verified backup taken before the run
    checks: list[dict[str, Any]] = field(default_factory=list)  # verification after `up --verify`

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "checks": self.checks,
            "direction": self.direction,
            "database": self.database,
            "before": self.before,
            "after": self.after,
            "dry_run": self.dry_run,
            "steps": [s.to_dict() for s in self.steps],
            "planned": [m.to_dict() for m in self.planned],
            "sql": self.sql,
            "duration_ms": self.duration_ms,
            "lock_wait_ms": self.lock_wait_ms,
        }


@dataclass(repr=False, eq=False)
class CurrentResult(_Result):
    database: str
    current: str | None
    name: str | None
    pending: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class HistoryResult(_Result):
    database: str
    events: list[Event]

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "events": [e.to_dict() for e in self.events]}


@dataclass(repr=False, eq=False)
class ValidateResult(_Result):
    problems: list[Problem]
    checked: int
    file: str | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "file": self.file,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(repr=False, eq=False)
class CheckResult(_Result):
    state: str  # "up-to-date", "pending", "invalid"
    current: str | None
    pending: list[str]
    problems: list[Problem]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "current": self.current,
            "pending": self.pending,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(repr=False, eq=False)
class RepairResult(_Result):
    problems: list[Problem]
    actions: list[str]
    steps: list[StepResult] = field(default_factory=list)

    @property
    def needed(self) -> bool:
        return bool(self.problems) and not self.actions

    def to_dict(self) -> dict[str, Any]:
        return {
            "problems": [p.to_dict() for p in self.problems],
            "actions": self.actions,
            "steps": [s.to_dict() for s in self.steps],
        }


@dataclass(repr=False, eq=False)
class StampResult(_Result):
    version: str
    added: list[str]
    removed: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class CleanupResult(_Result):
    keep_days: int
    deleted: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class LockResult(_Result):
    database: str
    held: bool
    holder: dict[str, Any] | None = None
    released: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class NewResult(_Result):
    version: str
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class InitResult(_Result):
    config_file: str
    migrations: str
    created: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class DatabaseResult(_Result):
    """What ``db create``/``db drop`` did."""

    database: str
    action: str  # "created", "dropped", "exists", "absent"

    @property
    def changed(self) -> bool:
        return self.action in ("created", "dropped")

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "action": self.action, "changed": self.changed}


@dataclass(repr=False, eq=False)
class BackupResult(_Result):
    """``backup`` (one new backup) and ``backups`` (all of them, newest first)."""

    database: str
    backups: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class RestoreResult(_Result):
    database: str
    backup: dict[str, Any]
    version: str | None  # the version the database is at after the restore
    safety_backup: str | None = None  # the backup of what was there before the restore

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(repr=False, eq=False)
class VerifyResult(_Result):
    database: str
    checks: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        return all(c["ok"] for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "ok": self.ok, "checks": self.checks}


@dataclass(repr=False, eq=False)
class DoctorResult(_Result):
    database: str
    checks: list[dict[str, Any]]

    @property
    def ready(self) -> bool:
        return not any(c["status"] == "fail" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "ready": self.ready, "checks": self.checks}
