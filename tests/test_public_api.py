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


def _migrata_modules_after(tmp_path, command: str, prefix: str) -> list[str]:
    """The modules under ``prefix`` that a ``migrata COMMAND`` process has
    loaded when it ends (on an empty SQLite project)."""
    (tmp_path / "migrations").mkdir(exist_ok=True)
    code = (
        "import sys, json\nfrom migrata.cli import main\n"
        f"sys.argv = ['migrata', '-C', {str(tmp_path)!r}, '--url', 'sqlite:///x.db', {command!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefix!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_library_and_status_load_no_data_module(tmp_path) -> None:
    """Backfills, data loads and crypto are imported only when used: `import
    migrata` and `migrata status` load no module of `migrata.data`."""
    assert _migrata_modules_after(tmp_path, "status", "migrata.data") == []


def test_status_and_up_create_only_the_results_they_return(tmp_path) -> None:
    """The result classes are loaded by family on first use: `migrata
    status` and `migrata up` load migrata.results.run and no other family."""
    for command in ("status", "up"):
        assert _migrata_modules_after(tmp_path, command, "migrata.results") == [
            "migrata.results",
            "migrata.results.run",
        ]


def _static_names(module: object) -> set[str]:
    """The names type checkers see in ``module``: what it binds at its top
    level, including under ``if TYPE_CHECKING:`` (read from its source)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    found: set[str] = set()
    for node in tree.body:
        inner = node.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING" else [node]
        for stmt in inner:
            if isinstance(stmt, ast.ImportFrom):
                found.update(alias.asname or alias.name for alias in stmt.names)
            elif isinstance(stmt, ast.Assign):
                found.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
    return found


def test_lazy_packages_agree_with_what_type_checkers_see() -> None:
    """`migrata` and `migrata.results` load their names on first use (PEP
    562): every name in __all__ resolves, to the object its module defines,
    and the names imported for type checkers are the same as __all__."""
    import importlib

    import migrata.results

    for package in (migrata, migrata.results):
        assert set(package.__all__) <= _static_names(package), package.__name__
        for name in package.__all__:
            obj = getattr(package, name)
            home = importlib.import_module(getattr(obj, "__module__", package.__name__))
            assert getattr(home, name, obj) is obj, name
        assert set(package.__all__) <= set(dir(package))
        try:
            package.NoSuchName  # noqa: B018
        except AttributeError as exc:
            assert "NoSuchName" in str(exc)
        else:
            raise AssertionError("a misspelt name must raise AttributeError")
