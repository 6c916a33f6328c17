"""(migration files, database state, target) -> Plan. Pure: no database, no I/O.

Rules:

* ``up``: every pending versioned migration up to the target, ascending. A
  pending migration older than the newest applied one is *out of order*:
  refused (default), applied in order (``allow``) or skipped (``ignore``).
  Repeatable migrations that are new or changed follow, by name, when the
  plan goes to the latest version.
* ``down``: applied versioned migrations newest first, until the target
  (which stays applied), ``base`` (all), or ``steps`` of them (default 1).
  Every step needs its file and a down part; otherwise nothing runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from migrata._core.model import APPLIED, RESUMABLE, AppliedMigration, Migration, Plan, Step, Version
from migrata._core.source import Source, empty_down_error
from migrata.errors import IrreversibleError, OutOfOrderError, UnknownTargetError, UsageError

__all__ = [
    "BASE",
    "applied_versions",
    "check_relative",
    "current_version",
    "pending",
    "plan_down",
    "plan_up",
    "relative_steps",
    "resolve_target",
]

BASE = "base"
_HEAD_WORDS = ("head", "latest", "heads", "max")


def applied_versions(rows: Iterable[AppliedMigration]) -> list[AppliedMigration]:
    """Applied versioned rows, ascending by version."""
    out = [r for r in rows if r.status == APPLIED and r.version_key is not None]
    out.sort(key=lambda r: r.version_key or ())
    return out


def current_version(rows: Iterable[AppliedMigration]) -> str | None:
    """The highest applied version, or None when nothing is applied."""
    done = applied_versions(rows)
    return done[-1].version if done else None


def resolve_target(
    text: str | None, source: Source, rows: Sequence[AppliedMigration], direction: str
) -> Version | str | None:
    """Turn a command-line target into a Version, ``BASE`` or None (latest)."""
    if text is None:
        return None
    word = text.strip().lower()
    if word in _HEAD_WORDS:
        if direction == "down":
            raise UsageError(f"'{text}' is not a rollback target", hint="use `migrata down base` or a version")
        return None
    if direction == "down" and (word in (BASE, "zero") or (word == "0" and source.get("0") is None)):
        return BASE
    if not Version.is_version(text, source.ordering):
        raise UnknownTargetError(
            f"target {text!r} is not a version",
            hint="give a version such as 3 or 20251016093000, 'head' (up) or 'base' (down)",
        )
    version = Version.parse(text, source.ordering)
    known = source.get(version) is not None or any(r.version_key == version.key for r in rows)
    if not known:
        raise UnknownTargetError(
            f"no migration has version {text}",
            hint="`migrata info` lists the versions",
        )
    return version


def pending(source: Source, rows: Sequence[AppliedMigration]) -> list[Migration]:
    """Versioned migrations with no history row (or a resumable one: an
    interrupted backfill), ascending."""
    have = {r.version_key for r in rows if r.version_key is not None and r.status != RESUMABLE}
    return [m for m in source.versioned if m.version and m.version.key not in have]


def changed_repeatables(source: Source, rows: Sequence[AppliedMigration]) -> list[Step]:
    by_id = {r.version: r for r in rows}
    steps = []
    for m in source.repeatables:
        row = by_id.get(m.id)
        if row is None:
            steps.append(Step(m, "up", "new"))
        elif row.checksum != m.checksum:
            steps.append(Step(m, "up", "changed"))
    return steps


def plan_up(
    source: Source,
    rows: Sequence[AppliedMigration],
    *,
    target: Version | None = None,
    steps: int | None = None,
    out_of_order: str = "refuse",
) -> Plan:
    current = current_version(rows)
    todo = pending(source, rows)
    if target is not None:
        todo = [m for m in todo if m.version and m.version <= target]
    newest = applied_versions(rows)
    top = newest[-1].version_key if newest else None
    late = [m for m in todo if top is not None and m.version and m.version.key < top]
    if late and out_of_order == "refuse":
        names = ", ".join(m.label for m in late[:5]) + (" ..." if len(late) > 5 else "")
        raise OutOfOrderError(
            f"{len(late)} pending migration(s) older than the applied version {current}: {names}",
            hint="apply them with `migrata up --out-of-order`, or give them versions after the current one",
        )
    if late and out_of_order == "ignore":
        todo = [m for m in todo if m not in late]
    late_ids = {id(m) for m in late}
    plan_steps = [Step(m, "up", "out of order" if id(m) in late_ids else "pending") for m in todo]
    if steps is not None:
        if steps < 1:
            raise UsageError("--steps must be at least 1")
        plan_steps = plan_steps[:steps]
    elif target is None:
        plan_steps.extend(changed_repeatables(source, rows))
    return Plan("up", plan_steps, target=str(target) if target else None, current=current)


def plan_down(
    source: Source,
    rows: Sequence[AppliedMigration],
    *,
    target: Version | str | None = None,
    steps: int | None = None,
) -> Plan:
    current = current_version(rows)
    done = applied_versions(rows)[::-1]
    if target == BASE:
        chosen = done
    elif isinstance(target, Version):
        if current is None or target > Version.parse(current, source.ordering):
            raise UsageError(
                f"version {target} is ahead of the current version {current or 'base (nothing applied)'}",
                hint=f"to go forward run `migrata up {target}`",
            )
        chosen = [r for r in done if r.version_key is not None and r.version_key > target.key]
    else:
        count = 1 if steps is None else steps
        if count < 1:
            raise UsageError("--steps must be at least 1")
        chosen = done[:count]
    plan_steps = []
    if target == BASE:
        # everything goes: first the repeatables that can be undone (their views and
        # functions may depend on the tables), newest name first
        applied_ids = {r.version for r in rows if r.status == APPLIED}
        for m in reversed(source.repeatables):
            if m.down is not None and m.id in applied_ids:
                plan_steps.append(Step(m, "down", "rollback"))
    for row in chosen:
        migration = source.get(row.version)
        if migration is None:
            raise IrreversibleError(
                f"version {row.version} ({row.name}) is applied but its file is missing; nothing was rolled back",
                hint="restore the file, or drop its history row with `migrata repair --forget-missing`",
            )
        if migration.down is None and migration.empty_down is not None:
            raise empty_down_error(migration)
        if migration.down is None:
            raise IrreversibleError(
                f"migration {migration.label} has no down part; nothing was rolled back",
                hint=f"{_how_to_add_down(migration)}, or roll back to a later version",
            )
        plan_steps.append(Step(migration, "down", "rollback"))
    label = BASE if target == BASE else (str(target) if target else None)
    return Plan("down", plan_steps, target=label, current=current)


def _how_to_add_down(m: Migration) -> str:
    """Where the missing down part of ``m`` would go, in the file's own style."""
    fname = m.path.name
    if m.kind == "py":
        return f"define down(ctx) in {fname}"
    if fname.endswith(".up.sql"):
        return f"write {fname[: -len('.up.sql')]}.down.sql"
    if fname.startswith("V") and "__" in fname:
        return f"write U{fname[1:]}"
    return f"add a '-- migrate:down' section to {fname}"


_RELATIVE_RE = re.compile(r"^([+-])(\d+)$")


def relative_steps(text: str | None, direction: str, steps: int | None = None) -> int | None:
    """Alembic's relative targets: ``+N`` (up) is the next N pending
    migrations, ``-N`` (down) the last N applied; None for any other target
    (``1`` stays version 1). Not with ``steps`` too."""
    match = _RELATIVE_RE.match(text.strip()) if text else None
    if match is None:
        return None
    if steps is not None:
        raise UsageError(f"give {match.group(0)} or --steps, not both")
    sign, count = match.group(1), int(match.group(2))
    if (sign == "+") != (direction == "up"):
        other = "down" if direction == "up" else "up"
        raise UsageError(
            f"`migrata {direction} {match.group(0)}` points the other way",
            hint=f"`migrata {other} {'-' if other == 'down' else '+'}{count}`",
        )
    if count < 1:
        raise UsageError(f"relative target {match.group(0)}: the count must be at least 1")
    return count


def check_relative(plan: Plan, text: str, count: int) -> Plan:
    """``plan`` made for a relative target of ``count`` steps: an error when
    fewer migrations are pending (up) or applied (down) than it asks for."""
    if len(plan.steps) < count:
        what = "pending" if plan.direction == "up" else "applied"
        raise UsageError(
            f"target {text.strip()} asks for {count} migration(s); only {len(plan.steps)} {what}",
            hint="`migrata status` shows them" if plan.direction == "up" else "`migrata down base` rolls back all",
        )
    return plan
