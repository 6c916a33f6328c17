"""Putting the history right: ``repair`` (failed or interrupted runs, edited
or missing files) and ``stamp`` (recording versions as applied without
running them). Each acts under the migration lock and records a
``repair``/``stamp`` event."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from migrata import results
from migrata._core import planner
from migrata._core.doubt import settle
from migrata._core.model import APPLIED, FAILED, RUNNING, AppliedMigration, Problem, Step, StepResult, Version
from migrata.errors import NotConfirmedError, UnknownTargetError, UsageError
from migrata.session import Session

if TYPE_CHECKING:
    from migrata._core.model import Migration

__all__ = ["record_applied", "repair_history", "stamp_history"]


def repair_history(
    sess: Session,
    version: str | None,
    *,
    forget: bool,
    mark_applied: bool,
    resume: bool,
    resume_from: int | None,
    checksums: bool,
    forget_missing: bool,
) -> results.RepairResult:
    """What :func:`migrata.api.repair` does, on an open session."""
    chosen = [forget, mark_applied, resume or resume_from is not None]
    rows = sess.rows()
    if version is not None and not _known(sess, rows, version):
        raise UnknownTargetError(
            f"version {version} matches no migration file and no history row",
            hint="`migrata info` lists the versions; `migrata repair` without a version shows what needs repair",
        )
    _, problems = sess.report(rows)
    mine = [p for p in problems if version is None or p.version == version]
    wanted = {"checksum"} if checksums else set()
    wanted |= {"missing", "renamed"} if forget_missing else set()
    wanted |= {FAILED, RUNNING} if any(chosen) else set()
    if not any(p.code in wanted for p in mine) and not any(chosen):
        # nothing asked for, or nothing to act on: report without locking or writing
        errors = [p for p in mine if p.severity == "error"]
        return results.RepairResult(errors, [], ways_out=ways_out(rows, errors, _present(sess)))
    with sess.locked():
        rows = sess.ledger.read()
        _, problems = sess.report(rows)
        mine = [p for p in problems if version is None or p.version == version]
        actions: list[str] = []
        steps: list[StepResult] = []
        if any(chosen):
            row = _dirty_row(rows, version)
            how = "forget" if forget else "mark-applied" if mark_applied else "resume"
            actions.append(_repair_run(sess, row, how, resume_from, steps))
        if checksums:
            actions.extend(_accept_edits(sess, [p for p in mine if p.code == "checksum"]))
        if forget_missing:
            actions.extend(_forget_missing(sess, [p for p in mine if p.code in ("missing", "renamed")]))
        rows = sess.ledger.read()
        _, remaining = sess.report(rows)
        errors = [p for p in remaining if p.severity == "error"]
        return results.RepairResult(errors, actions, steps, ways_out=ways_out(rows, errors, _present(sess)))


def _known(sess: Session, rows: list[AppliedMigration], version: str) -> bool:
    """Whether ``version`` is a history row's, a migration file's or a repeatable's."""
    if any(r.version == version for r in rows) or sess.source.get(version) is not None:
        return True
    return any(m.id == version for m in sess.source.repeatables)


def _dirty_row(rows: list[AppliedMigration], version: str | None) -> AppliedMigration:
    """The one failed/interrupted run a repair acts on."""
    dirty = [r for r in rows if r.status in (FAILED, RUNNING) and (version is None or r.version == version)]
    if not dirty:
        raise UsageError("no failed or interrupted run to repair" + (f" for {version}" if version else ""))
    if len(dirty) > 1:
        raise UsageError(f"{len(dirty)} runs need repair ({', '.join(r.version for r in dirty)}); name one")
    return dirty[0]


def _repair_run(
    sess: Session, row: AppliedMigration, how: str, resume_from: int | None, steps: list[StepResult]
) -> str:
    """Forget, mark applied or resume one dirty run; returns what was done."""
    led = sess.ledger
    detail: dict[str, Any] = {"action": how, "was": row.status}
    if how == "forget":
        ops = [led.delete(row.version)]
        done = f"forgot the {row.status} run of {row.version} {row.name}: it counts as not applied"
    elif how == "mark-applied":
        ops = [led.set_status(row.version, APPLIED)]
        done = f"marked {row.version} {row.name} as applied"
    else:
        result = _resume(sess, row, resume_from)
        steps.append(result)
        ops, detail["from_statement"] = [], result.reason
        done = f"resumed {row.version} {row.name} ({result.reason})"
    led.run(*ops, led.event("repair", version=row.version, name=row.name, detail=detail))
    return done


def _accept_edits(sess: Session, edited: list[Problem]) -> list[str]:
    led, done = sess.ledger, []
    for p in edited:
        m = sess.source.get(p.version or "")
        assert m is not None
        detail = {"action": "checksum", "checksum": m.checksum}
        led.run(led.set_checksum(m.id, m.checksum), led.event("repair", version=m.id, name=m.name, detail=detail))
        done.append(f"accepted the edited file of {m.label} (checksum {m.checksum[:12]})")
    return done


def _forget_missing(sess: Session, missing: list[Problem]) -> list[str]:
    led, done = sess.ledger, []
    for p in missing:
        version = p.version or ""
        led.run(led.delete(version), led.event("repair", version=version, detail={"action": "forget-missing"}))
        done.append(f"dropped the history row of {version} (file missing)")
    return done


def _resume(sess: Session, row: AppliedMigration, resume_from: int | None) -> StepResult:
    source = sess.source
    migration = (
        source.get(row.version)
        if row.version_key is not None
        else next((m for m in source.repeatables if m.id == row.version), None)
    )
    if migration is None:
        raise UsageError(f"cannot resume {row.version}: its file is missing")
    direction = row.direction or "up"
    if direction == "down" and migration.down is None:
        raise UsageError(f"cannot resume the rollback of {row.version}: it has no down part")
    step = Step(migration, "down" if direction == "down" else "up", "resume")
    source.read_steps([step])
    runner = sess.runner()
    prepared = runner.prepare(step)
    if prepared.statements is None:
        raise UsageError(
            f"{row.version} is a Python migration: it cannot resume part-way",
            hint="use --forget or --mark-applied",
        )
    count = len(prepared.statements)
    start = (resume_from - 1) if resume_from is not None else (row.progress or 0)
    if not 0 <= start < count:
        raise UsageError(f"statement {start + 1} does not exist: {migration.label} has {count}")
    found = ""
    if resume_from is None and row.status == RUNNING:  # statement start + 1 is in doubt: look
        start, found = settle(sess.backend, prepared, start)
        found += "; "
    try:
        result = runner.run_one(replace(prepared, mode="journal"), start=start, resume=True)
    finally:
        runner.backend.apply_timeout(None)
    left = f"from statement {start + 1} of {count}" if start < count else f"all {count} statements had completed"
    result.reason = found + left
    return result


def stamp_history(sess: Session, version: str, *, force: bool) -> results.StampResult:
    """What :func:`migrata.api.stamp` does, on an open session."""
    source = sess.source
    base = version.strip().lower() == planner.BASE
    if not base and not Version.is_version(version, source.ordering):
        raise UsageError(f"{version!r} is not a version", hint="e.g. `migrata stamp 3`")
    target = None if base else Version.parse(version, source.ordering)
    with sess.locked():
        rows = sess.ledger.read()
        dirty = [r for r in rows if r.status in (FAILED, RUNNING)]
        if dirty:
            raise UsageError(
                f"{dirty[0].version} has a {dirty[0].status} run; repair it before stamping",
                hint=f"`migrata repair {dirty[0].version}`",
            )
        have = {r.version_key for r in rows if r.version_key is not None}
        above = [r for r in planner.applied_versions(rows) if target is None or (r.version_key or ()) > target.key]
        if above and not force:
            raise NotConfirmedError(
                f"{len(above)} applied version(s) above {version}: {', '.join(r.version for r in above[:5])}",
                hint="add --force to remove their history rows (their schema changes stay in the database)",
            )
        chosen: list[Migration] = []
        baselines: list[str] = []
        if target is not None:
            chosen = [m for m in source.versioned if m.version and m.version <= target and m.version.key not in have]
            if source.get(target) is None and target.key not in have:
                baselines.append(target.canonical)
        removed = [r.version for r in above]
        added = record_applied(sess, chosen, baselines, removed, "stamp", None if target is None else target.canonical)
    return results.StampResult(version if base or target is None else target.canonical, added, removed)


def record_applied(
    sess: Session,
    migrations: list[Migration],
    baselines: list[str],
    removed: list[str],
    action: str,
    version: str | None,
    detail: dict[str, Any] | None = None,
) -> list[str]:
    """Record ``migrations`` as applied without running them (and each of
    ``baselines``, a version without a file, as a ``baseline`` row), drop the
    rows of ``removed`` and log one ``action`` event, in one transaction; the
    caller holds the lock. Returns the versions added. ``stamp`` and
    ``adopt`` write through here."""
    led = sess.ledger
    ops = [led.record_applied(m.id, m.name, m.kind, m.checksum, None, None) for m in migrations]
    ops += [led.record_applied(v, "baseline", "baseline", "", None, None) for v in baselines]
    ops += [led.delete(v) for v in removed]
    added = [m.id for m in migrations] + baselines
    ops.append(led.event(action, version=version, detail={**(detail or {}), "added": added, "removed": removed}))
    sess.backend.begin()
    try:
        led.run(*ops)
        sess.backend.commit()
    except BaseException:
        sess.backend.rollback()
        raise
    return added


# --- what the user can do -------------------------------------------------------------------


def _present(sess: Session) -> set[str]:
    return {m.id for m in sess.source.all}


def ways_out(rows: list[AppliedMigration], problems: list[Problem], present: set[str]) -> list[tuple[str, str]]:
    """(command, when to use it) for each problem, with its real version: only
    the repairs that apply to the state the history and the files are in
    (``present``: the versions that have a file)."""
    by_version = {r.version: r for r in rows}
    found: list[tuple[str, str]] = []
    for p in problems:
        row = by_version.get(p.version or "")
        if p.code in (FAILED, RUNNING) and row is not None:
            found.extend(_run_ways(row, row.version in present))
        elif p.code == "checksum":
            found.append(("migrata repair --checksums", f"the edit of {p.version} is intended: store its new checksum"))
        elif p.code == "missing":
            found.append(("migrata repair --forget-missing", f"{p.version} is gone for good: drop its history row"))
    return list(dict.fromkeys(found))


def _run_ways(row: AppliedMigration, has_file: bool) -> list[tuple[str, str]]:
    """The ways out of one failed or interrupted run."""
    cmd = f"migrata repair {row.version}"
    ways: list[tuple[str, str]] = []
    done, total = row.progress, row.statements
    if has_file and row.kind != "py" and done is not None and total is not None and done < total:
        k = done + 1
        if row.status == RUNNING:
            ways.append((f"{cmd} --resume", f"statement {k} (in doubt) did not take effect: run it and the rest"))
            if k < total:
                ways.append((f"{cmd} --resume-from {k + 1}", f"statement {k} did take effect: run the rest"))
        else:
            ways.append((f"{cmd} --resume", f"you fixed the cause: run from statement {k}, the one that failed"))
    if row.direction == "down":
        ways.append((f"{cmd} --forget", "you completed the rollback by hand: it counts as not applied"))
        ways.append((f"{cmd} --mark-applied", "you undid the rollback's partial changes by hand: it stays applied"))
    else:
        ways.append((f"{cmd} --mark-applied", "you completed the migration by hand"))
        ways.append((f"{cmd} --forget", "you undid its partial changes by hand: it counts as not applied"))
    return ways
