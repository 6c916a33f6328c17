"""Result objects returned by the library functions in :mod:`migrata.api`.

Every result has ``to_dict()`` (what ``--json`` prints) and plain attributes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from migrata._core.model import BackfillReport, MigrationState, Problem, StepResult, refusals

if TYPE_CHECKING:
    from migrata._core.ledger import Event

__all__ = [
    "AdoptResult",
    "AutogenerateResult",
    "BackfillReport",
    "BackupResult",
    "CheckResult",
    "CleanupResult",
    "CryptoResult",
    "CurrentResult",
    "DataKeyResult",
    "DatabaseResult",
    "DiffResult",
    "DoctorResult",
    "DumpResult",
    "HistoryResult",
    "SquashResult",
    "ImportResult",
    "InitResult",
    "LoadResult",
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


@dataclass
class AutogenerateResult:
    """``autogenerate``: the files written (none when nothing changed), the
    differences found, likely renames and data-losing drops to review."""

    version: str | None
    files: list[str]
    differences: list[str]
    notes: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "changed": self.changed}


@dataclass
class SquashResult:
    """``squash``: the baseline written for versions ``first`` to
    ``version``, the files moved to ``archive``, and whether a ``squash``
    event went to the configured database (it needs migrata's tables)."""

    version: str
    first: str
    baseline: str
    archive: str
    archived: list[str]
    seed_tables: list[str] = field(default_factory=list)
    recorded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DiffResult:
    """``diff``: each comparison (left, right, differences as dicts and
    lines) and the object kinds that were not compared."""

    database: str
    comparisons: list[dict[str, Any]]
    not_compared: list[dict[str, Any]] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(c["differences"] for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift": self.drift}


@dataclass
class LoadResult:
    """What ``migrata data load`` did: rows upserted into ``table``, keyed on ``keys``."""

    table: str
    source: str
    format: str
    keys: list[str]
    rows: int = 0
    batches: int = 0
    columns: list[str] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DumpResult:
    """What ``migrata data dump`` wrote: ``rows`` rows of ``table`` to ``target``."""

    table: str
    target: str
    format: str
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CryptoResult:
    """What ``migrata crypto rotate`` did to ``table.column``: rows
    re-encrypted under the newest key (``done``), already under it or NULL
    (``skipped``) and that no key decrypts (``failed``: their row keys in
    ``failed_keys``, never a value). ``keys`` are key references
    (``env:NAME``) or data-key versions, never keys."""

    table: str
    column: str
    scheme: str  # "fernet" or "envelope"
    keys: list[str]
    done: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    resumed_after: int = 0
    failed_keys: list[Any] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DataKeyResult:
    """The data keys after ``migrata crypto rotate-data-key`` or
    ``retire-data-keys``: (version, status, expires_at) of each, the
    ``active`` version, the versions ``retired`` now and the ones ``kept``
    ({version: values still encrypted with it})."""

    table: str
    active: int | None
    keys: list[dict[str, Any]] = field(default_factory=list)
    created: int | None = None
    retired: list[int] = field(default_factory=list)
    kept: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
