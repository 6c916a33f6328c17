"""Every error migrata raises, under one root.

The whole tree (exit code of the ``migrata`` command in brackets)::

    MigrataError                      [1]  root; never raised bare
    ├── ConfigError                   [2]  bad or missing setting, bad URL
    ├── UsageError                    [2]  a command asked for something impossible
    │   ├── UnknownTargetError        [2]  a version that no file or row has
    │   └── NotConfirmedError         [2]  a destructive action was not confirmed
    ├── ValidationError               [3]  the migration set or history is not sound
    │   ├── MigrationFileError        [3]  one file is broken (name, encoding, syntax...)
    │   ├── ChecksumMismatchError     [3]  an applied file was edited
    │   ├── OutOfOrderError           [3]  a pending version is older than an applied one
    │   ├── DirtyStateError           [3]  a failed or interrupted run needs `repair`
    │   └── IrreversibleError         [3]  a rollback needs a down part that is missing
    ├── LockTimeoutError              [4]  another migrator held the lock too long
    ├── PendingMigrationsError        [5]  `check` found pending migrations
    ├── DatabaseError                 [6]  the database could not be reached or used
    │   ├── DriverMissingError        [6]  the backend's driver is not installed
    │   ├── HistoryWriteError         [6]  a step's history write wrote no row
    │   └── ConnectionLostError       [6]  the connection was terminated under a command
    ├── MigrationFailedError          [1]  a statement failed while migrating
    │   └── DDLLockTimeoutError       [1]  it waited too long for another session's lock
    ├── BackupError                   [7]  a backup or restore failed, or a backup is broken
    ├── HookError                     [8]  a hook command or callable failed
    └── VerificationError             [9]  verify scripts or the health check failed

Every error carries a one-line ``message`` and an optional ``hint`` (the
command that gets the user out). Neither ever contains a database password:
URLs are masked before they are put into an error. Any other field an error
carries is declared on its class and set by its constructor.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackupError",
    "ChecksumMismatchError",
    "ConfigError",
    "ConnectionLostError",
    "DDLLockTimeoutError",
    "DatabaseError",
    "DirtyStateError",
    "DriverMissingError",
    "EXIT_CODES",
    "HistoryWriteError",
    "HookError",
    "IrreversibleError",
    "LockTimeoutError",
    "MigrataError",
    "MigrationFailedError",
    "MigrationFileError",
    "NotConfirmedError",
    "OutOfOrderError",
    "PendingMigrationsError",
    "UnknownTargetError",
    "UsageError",
    "ValidationError",
    "VerificationError",
]


def one_line(text: str, limit: int = 1000) -> str:
    """``text`` on one line (line breaks become "; "), cut at ``limit`` characters."""
    lines = [" ".join(part.split()) for part in text.splitlines()]
    flat = "; ".join(part for part in lines if part)
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class MigrataError(Exception):
    """Root of every error migrata raises."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message
        self.hint = one_line(hint) if hint else hint

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class ConfigError(MigrataError):
    """A setting is missing or invalid; the message names it and where it was read."""

    exit_code = 2


class UsageError(MigrataError):
    """The command asked for something that cannot be done as asked."""

    exit_code = 2


class UnknownTargetError(UsageError):
    """A target version matches no migration file and no history row."""


class NotConfirmedError(UsageError):
    """A destructive action needs confirmation (``--yes``/``--force``)."""


class ValidationError(MigrataError):
    """The migration files or the recorded history are not sound."""

    exit_code = 3


class MigrationFileError(ValidationError):
    """One migration file is broken. ``path`` names it; ``line`` where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}" if path else message, hint=hint)
        self.path = path
        self.line = line


class ChecksumMismatchError(ValidationError):
    """Applied migrations whose files changed since they were applied."""


class OutOfOrderError(ValidationError):
    """Pending migrations older than the newest applied one."""


class DirtyStateError(ValidationError):
    """A migration run failed or was interrupted and is not yet repaired."""


class IrreversibleError(ValidationError):
    """A rollback would need a down part that does not exist."""


class LockTimeoutError(MigrataError):
    """The migration lock was not free within the lock timeout."""

    exit_code = 4


class PendingMigrationsError(MigrataError):
    """Raised by ``check`` when migrations are pending."""

    exit_code = 5


class DatabaseError(MigrataError):
    """The database could not be reached or refused an operation of migrata's own.
    ``missing_database``: the server said the database does not exist."""

    exit_code = 6

    def __init__(self, message: str, *, hint: str | None = None, missing_database: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.missing_database = missing_database


class DriverMissingError(DatabaseError):
    """The driver a backend needs is not installed."""


class HistoryWriteError(DatabaseError):
    """The history write of a step (``version``) did not write its one row,
    as the database's own count for that statement says (a trigger or rule
    discarding migrata's writes): the step is not reported done."""

    def __init__(self, message: str, *, version: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.version = version


class ConnectionLostError(DatabaseError):
    """The server ended the connection under a command (an administrator,
    `migrata lock release --force`, a server restart). ``index``: which
    statement of a batch was running (as ``StatementError.index``);
    ``verbs``: the command tags of the batch's completed statements, where
    the driver reports them."""

    def __init__(
        self, message: str, *, hint: str | None = None, index: int | None = None, verbs: list[str] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.index = index
        self.verbs = verbs


class MigrationFailedError(MigrataError):
    """A migration failed while running; the message names file, line and
    statement. ``statement_index``: which statement of the migration failed
    (0-based; None for a Python migration or a run that stopped between
    steps); ``completed``: the steps of the run that completed before it
    (:class:`~migrata.results.StepResult`)."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        version: str | None = None,
        path: str | None = None,
        line: int | None = None,
        statement: str | None = None,
        statement_index: int | None = None,
        db_error: str | None = None,
        hint: str | None = None,
        completed: list[Any] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.version = version
        self.path = path
        self.line = line
        self.statement = statement
        self.statement_index = statement_index
        self.db_error = db_error
        self.completed: list[Any] = list(completed or [])


class DDLLockTimeoutError(MigrationFailedError):
    """A migration's statement gave up waiting for a lock another session
    holds (``ddl_lock_timeout``), so it did not run, on each of ``attempts``
    attempts; ``holders``: who held the lock, as the server told
    (:class:`~migrata.backends.base.LockHolder`), also named in the hint."""

    def __init__(self, message: str, *, attempts: int = 1, holders: list[Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.attempts = attempts
        self.holders: list[Any] = list(holders or [])


class BackupError(MigrataError):
    """A backup could not be taken, verified or restored (the message says which)."""

    exit_code = 7


class HookError(MigrataError):
    """A configured hook failed; a failing before-hook stops the run before anything changes."""

    exit_code = 8


class VerificationError(MigrataError):
    """After migrating, a ``*.verify.sql`` check or the health check failed.
    ``completed``: the steps of the run (they are applied)."""

    exit_code = 9

    def __init__(self, message: str, *, hint: str | None = None, completed: list[Any] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.completed: list[Any] = list(completed or [])


#: Exit codes of the ``migrata`` command, documented in docs/exit-codes.md.
EXIT_CODES: dict[int, str] = {
    0: "success (for `check`: up to date)",
    1: "a migration failed while running",
    2: "usage or configuration error",
    3: "validation failed (broken files, edited applied files, dirty history)",
    4: "lock timeout: another migrator holds the lock",
    5: "pending migrations (`check` only)",
    6: "database unreachable or driver missing",
    7: "backup or restore failed, or the backup is broken",
    8: "a hook failed",
    9: "verification failed after migrating",
    130: "interrupted (Ctrl-C)",
}
