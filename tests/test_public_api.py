"""The public surface is pinned, and heavy imports stay off the fast paths."""

from __future__ import annotations

import json
import subprocess
import sys

import migrata

PUBLIC = [
    "CheckResult", "ChecksumMismatchError", "CleanupResult", "ConfigError", "CurrentResult", "DatabaseError",
    "DatabaseResult", "create_database", "drop_database", "backup", "backups", "doctor", "restore", "verify",
    "BackupError", "HookError", "VerificationError", "BackupResult", "DoctorResult", "RestoreResult", "VerifyResult",
    "DirtyStateError", "DriverMissingError", "HistoryResult", "InitResult", "IrreversibleError", "LockResult",
    "LockTimeoutError", "MigrataError", "MigrateResult", "MigrationContext", "MigrationFailedError",
    "MigrationFileError", "MigrationState", "NewResult", "NotConfirmedError", "OutOfOrderError",
    "PendingMigrationsError", "Problem", "RepairResult", "Settings", "StampResult", "StatusResult", "StepResult",
    "UnknownTargetError", "UsageError", "ValidateResult", "ValidationError", "__version__", "check", "cleanup",
    "current", "downgrade", "history", "info", "init", "load_settings", "lock_release", "lock_status", "new",
    "repair", "stamp", "status", "upgrade", "validate",
    "AdoptResult", "adopt",
    "AutogenerateResult", "DiffResult", "autogenerate", "diff",
    "SquashResult", "squash",
    "ImportResult", "import_alembic",
    "BackfillReport", "DumpResult", "LoadResult", "RowError", "dump_data", "load_data",
    "CryptoResult", "DataKeyResult", "encrypt_column", "retire_data_keys", "rotate_data_key", "rotate_encryption",
]  # fmt: skip


def test_all_is_pinned() -> None:
    assert sorted(migrata.__all__) == sorted(PUBLIC)
    for name in migrata.__all__:
        assert hasattr(migrata, name), name


def test_every_error_derives_from_the_root_and_has_an_exit_code() -> None:
    from migrata import errors

    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, errors.MigrataError)
            assert obj.exit_code in errors.EXIT_CODES
            assert name in errors.__doc__, f"{name} missing from the tree in errors.py's docstring"


HEAVY = ("click", "rich", "sqlalchemy", "psycopg", "pymysql", "alembic", "sqlglot", "dotenv")


def _loaded(code: str) -> list[str]:
    probe = (
        code
        + f"\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_library_loads_no_heavy_module() -> None:
    assert _loaded("import migrata") == []


def test_status_when_piped_loads_no_rich_and_no_driver(tmp_path) -> None:
    """click parses the command line; nothing else heavy is needed to answer."""
    (tmp_path / "migrations").mkdir()
    code = (
        "import sys\nfrom migrata.cli import main\n"
        f"sys.argv = ['migrata', '-C', {str(tmp_path)!r}, '--url', 'sqlite:///x.db', 'status']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
    )
    assert _loaded(code) == ["click"]


def test_library_and_status_load_no_data_module(tmp_path) -> None:
    """Backfills, data loads and crypto are imported only when used: `import
    migrata` and `migrata status` load the `migrata.data` package alone."""
    (tmp_path / "migrations").mkdir()
    code = (
        "import sys, json\nfrom migrata.cli import main\n"
        f"sys.argv = ['migrata', '-C', {str(tmp_path)!r}, '--url', 'sqlite:///x.db', 'status']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('migrata.data'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == ["migrata.data"]
