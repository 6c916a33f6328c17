"""What the migrating and reporting commands return: ``up``/``down``,
``status``/``info``, ``current``, ``history``, ``validate`` and ``check``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from migrata._core.model import BackfillReport, MigrationState, Problem, StepResult, refusals

if TYPE_CHECKING:
    from migrata._core.ledger import Event

__all__ = ["StatusResult", "MigrateResult", "CurrentResult", "HistoryResult", "ValidateResult", "CheckResult"]


@dataclass
class StatusResult:
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
        return not refusals(self.problems)

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


@dataclass
class MigrateResult:
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
    backfills: list[BackfillReport] = field(default_factory=list)  # --dry-run: the rows backfills would touch

    def to_dict(self) -> dict[str, Any]:
        return {
            "backfills": [b.to_dict() for b in self.backfills],
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


@dataclass
class CurrentResult:
    database: str
    current: str | None
    name: str | None
    pending: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HistoryResult:
    database: str
    events: list[Event]

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "events": [e.to_dict() for e in self.events]}


@dataclass
class ValidateResult:
    problems: list[Problem]
    checked: int
    file: str | None = None

    @property
    def ok(self) -> bool:
        return not refusals(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "file": self.file,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class CheckResult:
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
