"""migrata: database schema migrations for SQLite, PostgreSQL and MySQL/MariaDB.

The library API mirrors the ``migrata`` command::

    import migrata

    result = migrata.upgrade("sqlite:///app.db", migrations="migrations")
    print(result.after)

Every function returns a result object and raises :class:`MigrataError`
subclasses on failure; nothing prints or exits.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `typing`'s: importing typing costs more than this whole module
if TYPE_CHECKING:  # the names below load on first use (PEP 562): `import migrata` stays cheap
    from typing import Any

    from migrata._core.runner import MigrationContext
    from migrata.api import (
        backup,
        backups,
        check,
        cleanup,
        create_database,
        current,
        doctor,
        downgrade,
        drop_database,
        history,
        info,
        init,
        lock_release,
        lock_status,
        new,
        repair,
        restore,
        stamp,
        status,
        upgrade,
        validate,
        verify,
    )
    from migrata.config import Settings, load_settings
    from migrata.errors import (
        BackupError,
        ChecksumMismatchError,
        ConfigError,
        DatabaseError,
        DirtyStateError,
        DriverMissingError,
        HookError,
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
        VerificationError,
    )
    from migrata.results import (
        BackupResult,
        CheckResult,
        CleanupResult,
        CurrentResult,
        DatabaseResult,
        DoctorResult,
        HistoryResult,
        InitResult,
        LockResult,
        MigrateResult,
        MigrationState,
        NewResult,
        Problem,
        RepairResult,
        RestoreResult,
        StampResult,
        StatusResult,
        StepResult,
        ValidateResult,
        VerifyResult,
    )

#: public name -> module that defines it
_LAZY = {
    "BackupError": "migrata.errors",
    "BackupResult": "migrata.results",
    "CheckResult": "migrata.results",
    "ChecksumMismatchError": "migrata.errors",
    "CleanupResult": "migrata.results",
    "ConfigError": "migrata.errors",
    "CurrentResult": "migrata.results",
    "DatabaseError": "migrata.errors",
    "DatabaseResult": "migrata.results",
    "DirtyStateError": "migrata.errors",
    "DoctorResult": "migrata.results",
    "DriverMissingError": "migrata.errors",
    "HistoryResult": "migrata.results",
    "HookError": "migrata.errors",
    "InitResult": "migrata.results",
    "IrreversibleError": "migrata.errors",
    "LockResult": "migrata.results",
    "LockTimeoutError": "migrata.errors",
    "MigrataError": "migrata.errors",
    "MigrateResult": "migrata.results",
    "MigrationContext": "migrata._core.runner",
    "MigrationFailedError": "migrata.errors",
    "MigrationFileError": "migrata.errors",
    "MigrationState": "migrata.results",
    "NewResult": "migrata.results",
    "NotConfirmedError": "migrata.errors",
    "OutOfOrderError": "migrata.errors",
    "PendingMigrationsError": "migrata.errors",
    "Problem": "migrata.results",
    "RepairResult": "migrata.results",
    "RestoreResult": "migrata.results",
    "Settings": "migrata.config",
    "StampResult": "migrata.results",
    "StatusResult": "migrata.results",
    "StepResult": "migrata.results",
    "UnknownTargetError": "migrata.errors",
    "UsageError": "migrata.errors",
    "ValidateResult": "migrata.results",
    "ValidationError": "migrata.errors",
    "VerificationError": "migrata.errors",
    "VerifyResult": "migrata.results",
    "backup": "migrata.api",
    "backups": "migrata.api",
    "check": "migrata.api",
    "cleanup": "migrata.api",
    "create_database": "migrata.api",
    "current": "migrata.api",
    "doctor": "migrata.api",
    "downgrade": "migrata.api",
    "drop_database": "migrata.api",
    "history": "migrata.api",
    "info": "migrata.api",
    "init": "migrata.api",
    "load_settings": "migrata.config",
    "lock_release": "migrata.api",
    "lock_status": "migrata.api",
    "new": "migrata.api",
    "repair": "migrata.api",
    "restore": "migrata.api",
    "stamp": "migrata.api",
    "status": "migrata.api",
    "upgrade": "migrata.api",
    "validate": "migrata.api",
    "verify": "migrata.api",
}

__version__ = "0.1.0"

__all__ = [
    "BackupError",
    "BackupResult",
    "CheckResult",
    "ChecksumMismatchError",
    "CleanupResult",
    "ConfigError",
    "CurrentResult",
    "DatabaseError",
    "DatabaseResult",
    "DirtyStateError",
    "DoctorResult",
    "DriverMissingError",
    "HistoryResult",
    "HookError",
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
    "RestoreResult",
    "Settings",
    "StampResult",
    "StatusResult",
    "StepResult",
    "UnknownTargetError",
    "UsageError",
    "ValidateResult",
    "ValidationError",
    "VerificationError",
    "VerifyResult",
    "__version__",
    "backup",
    "backups",
    "check",
    "cleanup",
    "create_database",
    "current",
    "doctor",
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
    "restore",
    "stamp",
    "status",
    "upgrade",
    "validate",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'migrata' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
