"""What the reporting and migrating commands print. The ``show_*``
functions return the command's exit code."""

from __future__ import annotations

import os
import sys
from typing import Any

from migrata.cli.output import echo, print_json, table
from migrata.errors import PendingMigrationsError, ValidationError

__all__ = ["exit_if_invalid", "listed", "problem_lines", "show_check", "show_current", "show_migrated", "show_status"]


def problem_lines(problems: Any) -> None:
    for p in problems:
        mark = "error" if p.severity == "error" else "warning"
        echo(f"  {mark}: {p.message}")
        if p.hint:
            echo(f"         {p.hint}")


def listed(problems: Any) -> list[Any]:
    """The problems a report lists: all but the broken file that
    :func:`exit_if_invalid` ends the command with (each is printed once)."""
    final = next((p for p in problems if p.code == "file"), None)
    return [p for p in problems if p is not final]


def exit_if_invalid(problems: Any, *, as_json: bool = False) -> int:
    """After a full report: exit 3 when a migration file is broken, naming it on
    stderr (as JSON: the report already says it). The state of the history
    (edited, failed...) is reported, exit 0."""
    errors = [p for p in problems if p.code == "file"]
    if not errors:
        return 0
    if as_json:
        return ValidationError.exit_code
    more = f" (and {len(errors) - 1} more problem(s) above)" if len(errors) > 1 else ""
    raise ValidationError(errors[0].message + more, hint=errors[0].hint)


def show_status(st: Any, as_json: bool) -> int:
    if as_json:
        print_json(st.to_dict())
        return exit_if_invalid(st.problems, as_json=True)
    current = next((m for m in st.migrations if m.version == st.current), None)
    lines = [f"Database: {st.database} ({st.dialect}{'' if st.database_exists else ', not created yet'})"]
    label = f"{st.current} {current.name}" if current else st.current
    lines.append(f"Current:  {label or 'base (nothing applied)'}")
    lines.append(f"Applied:  {st.applied}")
    if st.pending:
        lines.append(f"Pending:  {len(st.pending)}")
        for m in st.pending:
            lines.append(f"  {m.version}  {m.name}" + ("" if m.state == "pending" else f"  ({m.state})"))
    else:
        lines.append("Pending:  0" + (" (up to date)" if st.up_to_date else ""))
    echo("\n".join(lines))
    if listed(st.problems):
        echo("Problems:")
        problem_lines(listed(st.problems))
    return exit_if_invalid(st.problems)


def show_check(res: Any, as_json: bool) -> int:
    if as_json:
        print_json(res.to_dict())
    elif res.state == "up-to-date":
        echo(f"up to date at {res.current or 'base'}")
    elif res.state == "pending":
        echo(f"{len(res.pending)} pending: {', '.join(res.pending[:10])}" + (" ..." if len(res.pending) > 10 else ""))
    else:
        echo("invalid:")
        problem_lines(res.problems)
    if res.state == "pending":
        return PendingMigrationsError.exit_code
    if res.state == "invalid":
        return ValidationError.exit_code
    return 0


def show_current(res: Any, as_json: bool) -> int:
    if as_json:
        print_json(res.to_dict())
    else:
        echo(f"{res.current} {res.name}" if res.current else "base")
    return 0


_VERBS = {"up": ("apply", "Applied"), "down": ("roll back", "Rolled back")}


def show_migrated(res: Any, command: str, *, as_json: bool, sql: bool, dry_run: bool, quiet: bool) -> int:
    """What ``up``/``down`` print: JSON, the SQL, the plan, or one line."""
    verb, past = _VERBS[command]
    if as_json:
        print_json(res.to_dict())
    elif sql:
        sys.stdout.write(res.sql or "")
    elif dry_run:
        _print_plan(res, verb)
    elif not quiet:
        _print_migrated(res, verb, past)
    return 0


def _print_plan(res: Any, verb: str) -> None:
    if not res.planned:
        echo(f"Nothing to {verb}: {res.database} is at {res.before or 'base'}.")
        return
    echo(f"Would {verb} {len(res.planned)} migration(s) on {res.database} (now at {res.before or 'base'}):")
    table(
        ["Version", "Name", "Kind", "Why", "File"],
        [[m.version, m.name, m.kind, m.state, _relative(m.path)] for m in res.planned],
    )
    for b in getattr(res, "backfills", []):
        echo(f"Backfill {b.name} would touch {b.total} row(s) of {b.table}.")


def _relative(path: str | None) -> str | None:
    """A path as the user would type it from the working directory."""
    if not path:
        return path
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _print_migrated(res: Any, verb: str, past: str) -> None:
    if not res.steps:
        echo(f"Nothing to {verb}: {res.database} is at {res.before or 'base'}.")
        return
    if res.backup:
        echo(f"Backup before the run: {res.backup['path']} (verified).")
    echo(
        f"{past} {len(res.steps)} migration(s) on {res.database} in {res.duration_ms / 1000:.2f}s: "
        f"now at {res.after or 'base'}."
    )
    if res.checks:
        echo(f"Verified: {len(res.checks)} check(s) passed.")
