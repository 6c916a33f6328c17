"""(migration files, history rows) -> one state per migration and the problems found.

Pure, like the planner: ``status``, ``info``, ``validate``, ``check`` and the
guards of ``up``/``down`` all read the same report.
"""

from __future__ import annotations

from collections.abc import Sequence

from migrata._core.model import (
    APPLIED,
    FAILED,
    RESUMABLE,
    RUNNING,
    AppliedMigration,
    Migration,
    MigrationState,
    Plan,
    Problem,
)
from migrata._core.source import Source
from migrata.errors import ChecksumMismatchError, DirtyStateError

__all__ = ["build_report", "guard", "planned_states"]


def _state(m: Migration, state: str, row: AppliedMigration | None = None) -> MigrationState:
    s = MigrationState(
        version=m.id,
        name=m.name,
        kind="repeatable" if m.repeatable else m.kind,
        state=state,
        checksum=m.checksum,
        path=str(m.path),
        has_down=m.down is not None if not m.repeatable else False,
    )
    if row is not None:
        _fill(s, row)
    return s


def _fill(s: MigrationState, row: AppliedMigration) -> None:
    s.applied_checksum = row.checksum
    s.applied_at = row.applied_at
    s.duration_ms = row.duration_ms
    s.applied_by = row.applied_by
    s.error = row.error
    s.progress = row.progress
    s.statements = row.statements
    s.direction = row.direction


def _dirty_problem(row: AppliedMigration) -> Problem:
    what = "rollback" if row.direction == "down" else "run"
    verb = "failed" if row.status == FAILED else "was interrupted"
    done = ""
    hint = f"`migrata repair {row.version}` shows the ways out"
    if row.statements is not None and row.progress is not None:
        done = f" after {row.progress} of {row.statements} statements"
        if row.status == RUNNING and row.progress < row.statements:
            k = row.progress + 1
            done += f" (statement {k} is in doubt)"
            # a server often finishes the statement of a client that died
            hint = (
                f"check whether statement {k} took effect, then `migrata repair {row.version} --resume` "
                f"(it did not) or `--resume-from {k + 1}` (it did)"
            )
    msg = f"the {what} of {row.version} {row.name} {verb}{done}"
    if row.error:
        msg += f": {row.error.splitlines()[0][:200]}"
    return Problem(row.status, msg, version=row.version, hint=hint)


def _resumable_problem(row: AppliedMigration) -> Problem:
    why = f": {row.error.splitlines()[0][:200]}" if row.error else ""
    return Problem(
        RESUMABLE,
        f"the backfill of {row.version} {row.name} was interrupted (resumable){why}",
        version=row.version,
        severity="warning",
        hint="`migrata up` resumes it after its last committed batch",
    )


def build_report(
    source: Source, rows: Sequence[AppliedMigration], *, out_of_order: str = "refuse", sequential: bool = True
) -> tuple[list[MigrationState], list[Problem]]:
    states: list[MigrationState] = []
    problems: list[Problem] = []
    by_key = {r.version_key: r for r in rows if r.version_key is not None}
    applied_keys = [k for k, r in by_key.items() if r.status == APPLIED]
    top = max(applied_keys) if applied_keys else None
    for m in source.versioned:
        assert m.version is not None
        row = by_key.pop(m.version.key, None)
        if row is None:
            if top is not None and m.version.key < top:
                state = "ignored" if out_of_order == "ignore" else "out-of-order"
                if out_of_order == "refuse":
                    problems.append(
                        Problem(
                            "out-of-order",
                            f"{m.label} is pending but older than the applied version {'.'.join(map(str, top))}",
                            version=m.id,
                            hint="apply it with `migrata up --out-of-order`, or renumber it",
                        )
                    )
            else:
                state = "pending"
            states.append(_state(m, state))
        elif row.status in (FAILED, RUNNING):
            states.append(_state(m, row.status, row))
            problems.append(_dirty_problem(row))
        elif row.status == RESUMABLE:  # `up` runs it again; the file may have been fixed meanwhile
            states.append(_state(m, RESUMABLE, row))
            problems.append(_resumable_problem(row))
        elif row.checksum != m.checksum and row.kind != "baseline":
            states.append(_state(m, "changed", row))
            problems.append(
                Problem(
                    "checksum",
                    f"{m.label} was edited after it was applied (checksum {row.checksum[:12]} -> {m.checksum[:12]})",
                    version=m.id,
                    hint="undo the edit, or accept it with `migrata repair --checksums`",
                )
            )
        else:
            states.append(_state(m, "applied", row))
    for row in sorted(by_key.values(), key=lambda r: r.version_key or ()):
        states.append(_orphan(row, problems))
    by_id = {r.version: r for r in rows if r.version_key is None}
    for m in source.repeatables:
        row = by_id.pop(m.id, None)
        if row is None:
            states.append(_state(m, "pending"))
        elif row.status in (FAILED, RUNNING):
            states.append(_state(m, row.status, row))
            problems.append(_dirty_problem(row))
        else:
            states.append(_state(m, "applied" if row.checksum == m.checksum else "outdated", row))
    for row in by_id.values():
        states.append(_orphan(row, problems))
    if sequential:
        problems.extend(_gaps(source))
    return states, problems


def _orphan(row: AppliedMigration, problems: list[Problem]) -> MigrationState:
    s = MigrationState(version=row.version, name=row.name, kind=row.kind, state="missing")
    _fill(s, row)
    if row.kind == "baseline":
        s.state = "baseline"
    elif row.status in (FAILED, RUNNING):
        s.state = row.status
        problems.append(_dirty_problem(row))
    else:
        problems.append(
            Problem(
                "missing",
                f"{row.version} {row.name} is applied but its file is missing",
                version=row.version,
                hint="restore the file, or drop its row with `migrata repair --forget-missing`",
            )
        )
    return s


def _gaps(source: Source) -> list[Problem]:
    """Holes in a plain 1, 2, 3... numbering (warnings: timestamps are never checked)."""
    numbers = [m.version.parts[0] for m in source.versioned if m.version and len(m.version.parts) == 1]
    if len(numbers) < 2 or len(numbers) != len(source.versioned) or max(numbers) > 10**8:
        return []
    present = set(numbers)
    missing = [n for n in range(min(numbers), max(numbers)) if n not in present]
    if not missing:
        return []
    shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
    return [Problem("gap", f"version numbers skip {shown}", severity="warning")]


def guard(problems: Sequence[Problem]) -> None:
    """Refuse to change the database while the history is dirty or files were edited."""
    dirty = [p for p in problems if p.code in (FAILED, RUNNING)]
    if dirty:
        first = dirty[0]
        more = f" (and {len(dirty) - 1} more)" if len(dirty) > 1 else ""
        raise DirtyStateError(first.message + more, hint=first.hint)
    edited = [p for p in problems if p.code == "checksum"]
    if edited:
        more = f" (and {len(edited) - 1} more)" if len(edited) > 1 else ""
        raise ChecksumMismatchError(edited[0].message + more, hint=edited[0].hint)


def planned_states(plan: Plan) -> list[MigrationState]:
    """One line per step of ``plan``, its reason as the state (``--dry-run``)."""
    return [
        MigrationState(
            version=step.migration.id,
            name=step.migration.name,
            kind="repeatable" if step.migration.repeatable else step.migration.kind,
            state=step.reason,
            checksum=step.migration.checksum,
            path=str(step.script.path),
            has_down=step.migration.down is not None,
        )
        for step in plan.steps
    ]
