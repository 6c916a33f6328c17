"""migrata: database schema migrations for SQLite, PostgreSQL and MySQL/MariaDB.

The library API mirrors the ``migrata`` command::

    import migrata

    result = migrata.upgrade("sqlite:///app.db", migrations="migrations")
    print(result.after)

Every function returns a result object and raises :class:`MigrataError`
subclasses on failure; nothing prints or exits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrata.util import lazy_names

if TYPE_CHECKING:
    from migrata.api import (
        adopt,
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
    from migrata.api_alembic import import_alembic
    from migrata.api_data import (
        dump_data,
        encrypt_column,
        load_data,
        retire_data_keys,
        rotate_data_key,
        rotate_encryption,
    )
    from migrata.api_schema import autogenerate, diff, squash
    from migrata.config import Settings, load_settings
    from migrata.context import MigrationContext
    from migrata.data import RowError
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
        AdoptResult,
        AutogenerateResult,
        BackfillReport,
        BackupResult,
        CheckResult,
        CleanupResult,
        CryptoResult,
        CurrentResult,
        DatabaseResult,
        DataKeyResult,
        DiffResult,
        DoctorResult,
        DumpResult,
        HistoryResult,
        ImportResult,
        InitResult,
        LoadResult,
        LockResult,
        MigrateResult,
        MigrationState,
        NewResult,
        Problem,
        RepairResult,
        RestoreResult,
        SquashResult,
        StampResult,
        StatusResult,
        StepResult,
        ValidateResult,
        VerifyResult,
    )

__version__ = "0.1.0"

__all__ = [
    "AdoptResult",
    "AutogenerateResult",
    "BackfillReport",
    "BackupError",
    "BackupResult",
    "CheckResult",
    "ChecksumMismatchError",
    "CleanupResult",
    "CryptoResult",
    "ConfigError",
    "CurrentResult",
    "DatabaseError",
    "DataKeyResult",
    "DatabaseResult",
    "DiffResult",
    "DirtyStateError",
    "DoctorResult",
    "DriverMissingError",
    "DumpResult",
    "HistoryResult",
    "HookError",
    "ImportResult",
    "InitResult",
    "IrreversibleError",
    "LoadResult",
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
    "RowError",
    "Settings",
    "SquashResult",
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
    "adopt",
    "autogenerate",
    "backup",
    "backups",
    "check",
    "cleanup",
    "create_database",
    "current",
    "diff",
    "doctor",
    "downgrade",
    "drop_database",
    "dump_data",
    "encrypt_column",
    "history",
    "import_alembic",
    "info",
    "init",
    "load_data",
    "load_settings",
    "lock_release",
    "lock_status",
    "new",
    "repair",
    "retire_data_keys",
    "restore",
    "rotate_data_key",
    "rotate_encryption",
    "squash",
    "stamp",
    "status",
    "upgrade",
    "validate",
    "verify",
]

# where the public names live, in the order they are looked for: each is
# imported on first use (PEP 562), so `migrata status` loads the modules status
# needs and not, say, the schema or data commands
_MODULES = (
    "migrata.api",
    "migrata.errors",
    "migrata.results",
    "migrata.config",
    "migrata.context",
    "migrata.api_schema",
    "migrata.api_alembic",
    "migrata.api_data",
    "migrata.data",
)

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, __all__, _MODULES)
