"""What the reporting commands print, without click: the ``status``,
``check`` and ``current`` commands and the fast path of :mod:`migrata.cli.fast`
share these functions. Each returns the command's exit code."""

from __future__ import annotations

from typing import Any

from migrata.cli.output import echo, print_json
from migrata.errors import PendingMigrationsError, ValidationError

__all__ = ["exit_if_invalid", "problem_lines", "show_check", "show_current", "show_status"]


def problem_lines(problems: Any) -> None:
    for p in problems:
        mark = "error" if p.severity == "error" else "warning"
        echo(f"  {mark}: {p.message}")
        if p.hint:
            echo(f"         {p.hint}")


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
    if st.problems:
        echo("Problems:")
        problem_lines(st.problems)
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
