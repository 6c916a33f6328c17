"""Python migrations: importing one (once per file), checking it has
``up(ctx)`` (and ``down`` is a function when given), and reading its module
flags (``transactional``, ``timeout``, the docstring as description)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from migrata._core.model import Migration
from migrata.errors import MigrationFileError
from migrata.util import parse_duration

__all__ = ["load_python"]

_PY_CACHE: dict[Path, ModuleType] = {}


def load_python(migration: Migration) -> ModuleType:
    """Import a Python migration (once) and check it has ``up``; apply its flags."""
    path = migration.up.path
    module = _PY_CACHE.get(path)
    if module is None:
        safe_id = re.sub(r"\W", "_", migration.id)
        mod_name = f"migrata_migration_{safe_id}_{abs(hash(path)) % 10**8}"
        import importlib.util

        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise MigrationFileError("cannot be imported", path=str(path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure is the file's
            sys.modules.pop(mod_name, None)
            line = _traceback_line(exc, path)
            raise MigrationFileError(
                f"fails to import: {type(exc).__name__}: {exc}", path=str(path), line=line
            ) from exc
        if not callable(getattr(module, "up", None)):
            raise MigrationFileError(
                "a Python migration must define up(ctx)",
                path=str(path),
                hint="add `def up(ctx): ...` that applies the change with ctx.execute(sql)",
            )
        down = getattr(module, "down", None)
        if down is not None and not callable(down):
            raise MigrationFileError(
                f"down = {down!r:.40}: a Python migration's down must be a function, down(ctx)",
                path=str(path),
                hint="define `def down(ctx): ...`, or remove `down` (the migration then cannot be rolled back)",
            )
        _PY_CACHE[path] = module
    _apply_python_flags(migration, module)
    return module


def _traceback_line(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _apply_python_flags(migration: Migration, module: ModuleType) -> None:
    transactional = bool(getattr(module, "transactional", True))
    timeout: Any = getattr(module, "timeout", None)
    seconds = None
    if timeout is not None:
        try:
            seconds = parse_duration(timeout)
        except ValueError as exc:
            raise MigrationFileError(f"timeout = {timeout!r}: {exc}", path=str(migration.path)) from None
    doc = (module.__doc__ or "").strip()
    if doc:
        migration.description = doc.split("\n", 1)[0].strip()
    for script in (migration.up, migration.down):
        if script is None:
            continue
        script.transactional = transactional
        script.explicit_no_transaction = not transactional
        script.timeout = seconds
    if migration.down is not None and not callable(getattr(module, "down", None)):
        migration.down = None
