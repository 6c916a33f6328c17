"""migrata: database schema migrations for SQLite, PostgreSQL and MySQL/MariaDB.

The library API mirrors the ``migrata`` command::

    import migrata

    result = migrata.upgrade("sqlite:///app.db", migrations="migrations")
    print(result.after)

Every function returns a result object and raises :class:`MigrataError`
subclasses on failure; nothing prints or exits.
"""

from __future__ import annotations

from migrata._core.runner import MigrationContext
from migrata.api import (
    check,
    cleanup,
    create_database,
    current,
    downgrade,
    drop_database,
    history,
    info,
    init,
    lock_release,
    lock_status,
    new,
    repair,
    stamp,
    status,
    upgrade,
    validate,
)
from migrata.config import Settings, load_settings
from migrata.errors import (
    ChecksumMismatchError,
    ConfigError,
    DatabaseError,
    DirtyStateError,
    DriverMissingError,
    IrreversibleError,
    LockTimeoutError,
    MigrataError,
    MigrationFailedError,
    MigrationFileError,
    NotConfirmedError,
    OutOfOrderError,
    PendingMigrationsError,
    UnknownTargetError,
    UsageError,
    ValidationError,
)
from migrata.results import (
    CheckResult,
    CleanupResult,
    CurrentResult,
    DatabaseResult,
    HistoryResult,
    InitResult,
    LockResult,
    MigrateResult,
    MigrationState,
    NewResult,
    Problem,
    RepairResult,
    StampResult,
    StatusResult,
    StepResult,
    ValidateResult,
)

__version__ = "0.1.0"

__all__ = [
    "CheckResult",
    "ChecksumMismatchError",
    "CleanupResult",
    "ConfigError",
    "CurrentResult",
    "DatabaseResult",
    "DatabaseError",
    "DirtyStateError",
    "DriverMissingError",
    "HistoryResult",
    "InitResult",
    "IrreversibleError",
    "LockResult",
    "LockTimeoutError",
    "MigrataError",
    "MigrateResult",
    "MigrationContext",
    "MigrationFailedError",
    "MigrationFileError",
    "MigrationState",
    "NewResult",
    "NotConfirmedError",
    "OutOfOrderError",
    "PendingMigrationsError",
    "Problem",
    "RepairResult",
    "Settings",
    "StampResult",
    "StatusResult",
    "StepResult",
    "UnknownTargetError",
    "UsageError",
    "ValidateResult",
    "ValidationError",
    "__version__",
    "check",
    "cleanup",
    "create_database",
    "current",
    "downgrade",
    "drop_database",
    "history",
    "info",
    "init",
    "load_settings",
    "lock_release",
    "lock_status",
    "new",
    "repair",
    "stamp",
    "status",
    "upgrade",
    "validate",
]
