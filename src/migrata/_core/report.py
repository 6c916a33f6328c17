"""(migration files, history rows) -> one state per migration and the problems found.

Pure, like the planner: ``status``, ``info``, ``validate``, ``check`` and the
guards of ``up``/``down`` all read the same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    Version,
    VersionKey,
    refusals,
)
from migrata._core.source import Source
from migrata.errors import ChecksumMismatchError, DirtyStateError, OutOfOrderError, ValidationError

__all__ = ["build_report", "guard", "history_only", "planned_states"]


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
            # a server often finishes the statement of a client that died: resume looks at the schema
            hint = (
                f"`migrata repair {row.version} --resume` looks at the schema to tell whether statement {k} "
                "(and the next, where no mark came between) took effect, and resumes from the first that did not"
            )
    msg = f"the {what} of {row.version} {row.name} {verb}{done}"
    if row.error:
        # the recorded error starts "migration V NAME failed at FILE:LINE: ...": say it once
        said = f"migration {row.version} {row.name} failed "
        error = row.error.splitlines()[0]
        msg += f" {error[len(said) :][:200]}" if error.startswith(said + "at ") else f": {error[:200]}"
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
    top = by_key[max(applied_keys)] if applied_keys else None
    for m in source.versioned:
        assert m.version is not None
        row = by_key.pop(m.version.key, None)
        if row is None:
            states.append(_state(m, _pending_state(m, top, out_of_order, problems)))
            _below_baseline(m, rows, problems, source.ordering)
        elif row.status in (FAILED, RUNNING):
            states.append(_state(m, row.status, row))
            problems.append(_dirty_problem(row))
        elif row.status == RESUMABLE:  # `up` runs it again; the file may have been fixed meanwhile
            states.append(_state(m, RESUMABLE, row))
            problems.append(_resumable_problem(row))
        elif row.checksum != m.checksum and row.kind != "baseline" and not _squashed_last(m, row):
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
    renamed = _renames(source, rows, by_key)
    squashed = _squashed_ranges(source)
    for row in sorted(by_key.values(), key=lambda r: r.version_key or ()):
        new = renamed.get(row.version)
        state = _orphan(row, problems, _rename_problem(row, new, source, rows) if new else None, squashed)
        states.append(state)
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


def _pending_state(m: Migration, top: AppliedMigration | None, out_of_order: str, problems: list[Problem]) -> str:
    """The state of a pending versioned migration: older than the newest
    applied one (``top``) is out of order (a problem unless the policy allows it)."""
    assert m.version is not None
    if top is None or top.version_key is None or m.version.key >= top.version_key:
        return "pending"
    if out_of_order == "refuse":
        problems.append(
            Problem(
                "out-of-order",
                f"{m.label} is pending but older than the applied version {top.version}",
                version=m.id,
                hint="apply it with `migrata up --out-of-order`, or renumber it",
            )
        )
    return "ignored" if out_of_order == "ignore" else "out-of-order"


def _renames(
    source: Source, rows: Sequence[AppliedMigration], orphans: dict[Any, AppliedMigration]
) -> dict[str, Migration]:
    """Applied versions whose file is gone while a pending file has their
    content under another version: renumbered files (applied version -> file)."""
    gone = {r.checksum: r for r in orphans.values() if r.status == APPLIED and r.kind != "baseline" and r.checksum}
    if not gone:
        return {}
    have = {r.version_key for r in rows}
    out: dict[str, Migration] = {}
    for m in source.versioned:
        row = gone.get(m.checksum)
        if row is not None and m.version is not None and m.version.key not in have and row.version not in out:
            out[row.version] = m
    return out


def _rename_problem(row: AppliedMigration, m: Migration, source: Source, rows: Sequence[AppliedMigration]) -> Problem:
    assert m.version is not None
    old = row.version.zfill(len(m.version.text)) if row.version.isdigit() else row.version
    back = m.path.name.replace(m.version.text, old, 1)
    hint = f"rename it back to {back} (migrata knows an applied migration by its version)"
    # keeping the new number: exact only when stamping it records nothing else
    have = {r.version_key for r in rows}
    top = max((r.version_key for r in rows if r.version_key is not None), default=())
    below = [n for n in source.versioned if n.version and n.version <= m.version and n.version.key not in have]
    if m.version.key > top and below == [m]:
        hint += f"; or keep {m.id}: `migrata repair --forget-missing`, then `migrata stamp {m.id}`"
    return Problem(
        "renamed",
        f"{m.path.name} is the applied migration {row.version} {row.name} renumbered to {m.id} "
        f"(same content, and {row.version}'s file is gone): `up` would run it again",
        version=row.version,
        hint=hint,
    )


def _squashed_ranges(source: Source) -> list[tuple[VersionKey, VersionKey]]:
    """The (first, last) version keys that baselines written by ``migrata squash`` stand for."""
    out = []
    for m in source.versioned:
        if m.up.baseline_of:
            first, last = m.up.baseline_of
            out.append((Version.parse(first, source.ordering).key, Version.parse(last, source.ordering).key))
    return out


def _squashed_last(m: Migration, row: AppliedMigration) -> bool:
    """``row`` is the archived migration that ``m``, a baseline, took the
    version of: a database migrated the long way, not an edited baseline."""
    return m.up.baseline_of is not None and row.status == APPLIED and row.name != m.name


def _below_baseline(m: Migration, rows: Sequence[AppliedMigration], problems: list[Problem], ordering: str) -> None:
    """A pending baseline on a database that applied some of the versions it
    squashed: the baseline would create what exists; the archive goes first."""
    if m.up.baseline_of is None or m.version is None:
        return
    first = Version.parse(m.up.baseline_of[0], ordering).key
    done = [r for r in applied_rows(rows) if r.version_key and first <= r.version_key < m.version.key]
    if not done:
        return
    archive = m.up.baseline_archive or "archive"
    folder = m.path.parent / archive
    problems.append(
        Problem(
            "below-baseline",
            f"the database is at {done[-1].version}, below {m.label}, the baseline that squashed "
            f"{m.up.baseline_of[0]}..{m.up.baseline_of[1]}: it cannot run the baseline",
            version=m.id,
            hint=f"bring it to {m.id} with the archived migrations first: "
            f"`migrata up {m.id} --migrations {folder}`, then `migrata up`",
        )
    )


def applied_rows(rows: Sequence[AppliedMigration]) -> list[AppliedMigration]:
    out = [r for r in rows if r.status == APPLIED and r.version_key is not None]
    return sorted(out, key=lambda r: r.version_key or ())


def _orphan(
    row: AppliedMigration,
    problems: list[Problem],
    renamed: Problem | None = None,
    squashed: Sequence[tuple[VersionKey, VersionKey]] = (),
) -> MigrationState:
    s = MigrationState(version=row.version, name=row.name, kind=row.kind, state="missing")
    _fill(s, row)
    key = row.version_key
    if row.kind == "baseline":
        s.state = "baseline"
    elif row.status == APPLIED and key is not None and any(lo <= key <= hi for lo, hi in squashed):
        s.state = "squashed"  # its file is in the archive a baseline replaced it with
    elif row.status in (FAILED, RUNNING):
        s.state = row.status
        problems.append(_dirty_problem(row))
    elif renamed is not None:
        s.state = "renamed"
        problems.append(renamed)
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


_REFUSALS: tuple[tuple[tuple[str, ...], type[ValidationError]], ...] = (
    ((FAILED, RUNNING), DirtyStateError),
    (("checksum",), ChecksumMismatchError),
    (("renamed",), ValidationError),
    (("missing", "below-baseline"), ValidationError),
    (("out-of-order",), OutOfOrderError),
)


def guard(problems: Sequence[Problem]) -> None:
    """Refuse to change the database while :func:`refusals` finds anything:
    a dirty history, edited, renumbered or missing applied files, pending
    files older than the applied ones (one error, the first kind found)."""
    refused = refusals(problems)
    if not refused:
        return
    found, error = refused, ValidationError
    for codes, kind in _REFUSALS:
        hits = [p for p in refused if p.code in codes]
        if hits:
            found, error = hits, kind
            break
    more = f" (and {len(refused) - 1} more problem(s): `migrata validate` lists them)" if len(refused) > 1 else ""
    raise error(found[0].message + more, hint=found[0].hint)


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


def history_only(states: list[MigrationState], problems: list[Problem]) -> tuple[list[MigrationState], list[Problem]]:
    """The report of a set that did not load: its applied rows are not
    "missing" (their files were not read), so only the history's own problems stay."""
    for s in states:
        if s.state == "missing":
            s.state = "applied"
    return states, [p for p in problems if p.code not in ("missing", "gap")]
