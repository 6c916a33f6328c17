"""``validate --file``: check one migration file without applying it.

The file is parsed as migrata parses every migration (name, encoding,
sections, directives, statements). Where the backend can make a throwaway
copy of the database's schema (``Backend.scratch``), the up part runs there
after the project's earlier pending migrations, then the down part, so SQL
errors surface with their line number while the real database is untouched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migrata._core.model import Migration, Problem, Script, Step
from migrata._core.runner import Runner
from migrata._core.source import _classify, _split_sections, _sql_script, compile_patterns, load_python, read_text
from migrata.backends.base import Backend
from migrata.errors import MigrataError, MigrationFailedError, UsageError
from migrata.results import ValidateResult

if TYPE_CHECKING:
    from migrata._workspace import Workspace

__all__ = ["check_file"]


def _parse(path: Path, patterns: list[str]) -> Migration:
    part = _classify(path, compile_patterns(patterns))
    text = read_text(path)
    if part is not None and part.kind == "py":
        m = Migration(part.version, part.name, "py", Script(path), Script(path), "")
        load_python(m)
        return m
    if part is not None and part.kind == "single":
        up, down = _split_sections(path, text)
    else:
        up, down = _sql_script(path, text), None
    if part is not None and part.direction == "down":
        up, down = Script(path, sql=""), up
    if part is None:  # any SQL file: named by its file name in messages
        return Migration(None, path.name, "file", up, down, "")
    return Migration(part.version, part.name, "sql", up, down, "")


def check_file(ws: Workspace, path: Path) -> ValidateResult:
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    problems: list[Problem] = []
    try:
        migration = _parse(path, ws.settings.file_pattern)
    except MigrataError as exc:
        return ValidateResult([Problem("file", exc.message, hint=exc.hint)], 1, str(path))
    scratch = _scratch(ws)
    try:
        runner = Runner(scratch, _NullLedger(scratch))  # type: ignore[arg-type]
        _replay_predecessors(ws, runner, migration, path)
        for direction, script in (("up", migration.up), ("down", migration.down)):
            if script is None or (script.sql is not None and not script.sql.strip()):
                continue
            step = Step(migration, direction, "check")  # type: ignore[arg-type]
            try:
                prepared = runner.prepare(step)
                if prepared.statements is not None:
                    runner.execute_body(prepared, 0, journal=False)
            except MigrationFailedError as exc:
                problems.append(Problem("sql", f"{direction} part: {exc.message}", migration.id))
                break
            except MigrataError as exc:
                problems.append(Problem("file", exc.message, migration.id, hint=exc.hint))
                break
    finally:
        scratch.close()
    return ValidateResult(problems, 1, str(path))


def _scratch(ws: Workspace) -> Backend:
    """A throwaway copy of the configured database's schema (SQLite in memory otherwise)."""
    from migrata.backends import create_backend
    from migrata.backends.base import DatabaseURL

    if ws.settings.url:
        backend = ws.unconnected_backend()
        if backend.database_exists():
            copy = ws.backend.scratch()
        else:
            copy = None
        if copy is not None:
            return copy
        if backend.dialect != "sqlite":
            raise UsageError(f"validate --file cannot make a scratch copy of a {backend.dialect} database yet")
    fresh = create_backend(DatabaseURL.parse("sqlite:///:memory:"))
    fresh.connect()
    return fresh


def _replay_predecessors(ws: Workspace, runner: Runner, migration: Migration, path: Path) -> None:
    """Run the project's pending migrations that come before this file in the scratch."""
    if migration.version is None:
        return
    try:
        source = ws.source
        rows = ws.rows() if ws.settings.url else []
    except MigrataError:
        return
    done = {r.version_key for r in rows}
    for m in source.versioned:
        if m.version is None or m.version >= migration.version or m.version.key in done:
            continue
        if m.kind == "py":
            continue
        prepared = runner.prepare(Step(m, "up", "replay"))
        if prepared.statements is not None:
            runner.execute_body(prepared, 0, journal=False)


class _NullLedger:
    """Stands in for the ledger in a scratch run: bookkeeping is not needed there."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def run(self, *ops: object) -> None:
        return None
