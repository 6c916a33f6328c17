"""``validate --file``: check one migration file without applying it.

The file is parsed as migrata parses every migration (name, encoding,
sections, directives, statements). Where the backend can make a throwaway
copy of the database's schema (``Backend.scratch``), the up part runs there
after the project's earlier pending migrations, then the down part, so SQL
errors surface with their line number while the real database is untouched.
"""

from __future__ import annotations

from pathlib import Path

from migrata import results
from migrata._core.model import Migration, Problem, Script, Step
from migrata._core.pymigration import load_python
from migrata._core.runner import prepare_step
from migrata._core.source import classify, compile_patterns, read_text, split_sections, sql_script
from migrata._core.steps import execute_body
from migrata.backends.base import Backend
from migrata.backends.registry import create_backend
from migrata.errors import MigrataError, MigrationFailedError, UsageError
from migrata.session import Session
from migrata.util import DatabaseURL

__all__ = ["check_file"]


def _parse(path: Path, patterns: list[str], ordering: str) -> Migration:
    part = classify(path, compile_patterns(patterns), ordering)
    text = read_text(path)
    if part is not None and part.kind == "py":
        m = Migration(part.version, part.name, "py", Script(path), Script(path), "")
        load_python(m)
        return m
    if part is not None and part.kind == "single":
        up, down = split_sections(path, text)
    else:
        up, down = sql_script(path, text), None
    if part is not None and part.direction == "down":
        up, down = Script(path, sql=""), up
    if part is None:  # any SQL file: named by its file name in messages
        return Migration(None, path.name, "file", up, down, "")
    return Migration(part.version, part.name, "sql", up, down, "")


def check_file(sess: Session, path: Path) -> results.ValidateResult:
    if not path.is_file():
        raise UsageError(f"{path} does not exist")
    problems: list[Problem] = []
    try:
        migration = _parse(path, sess.settings.file_pattern, sess.settings.ordering)
    except MigrataError as exc:
        return results.ValidateResult([Problem("file", exc.message, hint=exc.hint)], 1, str(path))
    scratch = _scratch(sess)
    try:
        _replay_predecessors(sess, scratch, migration)
        for direction, script in (("up", migration.up), ("down", migration.down)):
            if script is None or (script.sql is not None and not script.sql.strip()):
                continue
            step = Step(migration, direction, "check")  # type: ignore[arg-type]
            try:
                prepared = prepare_step(scratch, step, placeholders=sess.placeholders())
                if prepared.statements is not None:
                    execute_body(scratch, prepared)
            except MigrationFailedError as exc:
                problems.append(Problem("sql", f"{direction} part: {exc.message}", migration.id))
                break
            except MigrataError as exc:
                problems.append(Problem("file", exc.message, migration.id, hint=exc.hint))
                break
    finally:
        scratch.close()
    return results.ValidateResult(problems, 1, str(path))


def _scratch(sess: Session) -> Backend:
    """A throwaway copy of the configured database's schema (SQLite in memory otherwise)."""
    if sess.settings.url:
        if sess.database_exists():
            return sess.backend.scratch()
        if sess.unconnected_backend().dialect != "sqlite":
            raise UsageError(
                f"validate --file tries the file on a scratch copy of {sess.database}, which does not exist",
                hint="create it with `migrata db create`",
            )
    fresh = create_backend(DatabaseURL.parse("sqlite:///:memory:"))
    fresh.connect()
    return fresh


def _replay_predecessors(sess: Session, scratch: Backend, migration: Migration) -> None:
    """Run the project's pending migrations that come before this file in the scratch."""
    if migration.version is None:
        return
    try:
        source = sess.source
        rows = sess.rows() if sess.settings.url else []
    except MigrataError:
        return
    done = {r.version_key for r in rows}
    for m in source.versioned:
        if m.version is None or m.version >= migration.version or m.version.key in done:
            continue
        if m.kind == "py":
            continue
        prepared = prepare_step(scratch, Step(m, "up", "replay"), placeholders=sess.placeholders())
        if prepared.statements is not None:
            execute_body(scratch, prepared)
