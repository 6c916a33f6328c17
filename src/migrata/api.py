"""Every command of the ``migrata`` CLI as a library function.

Each function takes ``config`` — a :class:`~migrata.config.Settings`, a
database URL, a config file or project folder path, or ``None`` to find the
project from the working directory as the CLI does — plus keyword overrides
of any setting (``url=``, ``migrations=``, ``table=``...). Each returns a
result object from :mod:`migrata.results` and raises a
:class:`~migrata.errors.MigrataError` on failure. Nothing here prints or exits.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata import results
from migrata._core import planner
from migrata._core.model import RUNNING, AppliedMigration, Plan, Problem, Version, refusals
from migrata._core.report import guard, history_only, planned_states
from migrata._core.source import Source
from migrata.errors import (
    BackupError,
    ConfigError,
    MigrataError,
    NotConfirmedError,
    UnknownTargetError,
    UsageError,
    ValidationError,
)
from migrata.results.run import (
    CheckResult,
    CurrentResult,
    HistoryResult,
    MigrateResult,
    StatusResult,
    ValidateResult,
)
from migrata.session import ConfigLike, Session, resolve_settings, session
from migrata.util import elapsed_ms

if TYPE_CHECKING:
    from migrata._core.runner import Prepared, Runner

__all__ = [
    "adopt",
    "backup",
    "backups",
    "check",
    "cleanup",
    "create_database",
    "current",
    "doctor",
    "downgrade",
    "drop_database",
    "history",
    "info",
    "init",
    "lock_release",
    "lock_status",
    "new",
    "repair",
    "restore",
    "stamp",
    "status",
    "upgrade",
    "validate",
    "verify",
]

# --- migrate ---------------------------------------------------------------------------


def _migrate(sess: Session, direction: str, make_plan: MakePlan, *, dry_run: bool, sql: bool) -> MigrateResult:
    t0 = time.perf_counter()
    deadline = time.monotonic() + sess.settings.timeout if sess.settings.timeout else None
    source = sess.source  # a broken set is refused before connecting
    if direction == "up":
        source.load_python(m for m in source.versioned if m.kind == "py")
    # Plan and prepare read-only first: a bad target, a broken file or nothing
    # to do returns before the lock is taken or anything is written.
    rows = sess.rows()
    # a `running` row may be another migrator's run in progress: judge it under the lock
    guard([p for p in sess.report(rows)[1] if p.code != RUNNING])
    plan = make_plan(source, rows)
    source.read_downs(step.migration for step in plan.steps)  # a broken down part: refused as `validate` does
    runner = sess.runner(connect=sess.database_exists())
    prepared = runner.prepare_plan(plan)
    if dry_run or sql:
        from migrata.data.service import count_backfills  # only a dry run counts backfills

        ledger_exists = bool(rows) or (sess.database_exists() and sess.ledger.exists())
        rendered = runner.render(prepared, ledger_exists=ledger_exists) if sql else None
        return MigrateResult(
            direction,
            sess.database,
            plan.current,
            plan.current,
            planned=planned_states(plan),
            dry_run=True,
            sql=rendered,
            duration_ms=elapsed_ms(t0),
            backfills=count_backfills(sess, prepared) if dry_run and not sql else [],
        )
    if not plan and not any(r.status == RUNNING for r in rows):
        return MigrateResult(direction, sess.database, plan.current, plan.current, duration_ms=elapsed_ms(t0))
    apply = _LockedRun(sess, make_plan, rows, plan, prepared, deadline)
    extra: dict[str, Any] = {}
    if sess.needs_operations(direction):
        from migrata.ops.run import describe, operated_run

        op = operated_run(sess, direction, plan, apply)
        plan, steps_done, after = op.plan, op.steps, op.after
        extra = describe(op)
    else:
        plan, runner, after = apply()
        steps_done = runner.results
    return MigrateResult(
        direction,
        sess.database,
        plan.current,
        after,
        steps=steps_done,
        planned=planned_states(plan),
        duration_ms=elapsed_ms(t0),
        lock_wait_ms=sess.lock_wait_ms,
        backup=extra.get("backup"),
        checks=extra.get("checks", []),
    )


MakePlan = Callable[[Source, list[AppliedMigration]], Plan]


class _LockedRun:
    """The run itself, under the lock: the plan made before stands unless the
    history moved while the lock was awaited; ``before_run`` (a backup) is
    called with the plan that will run. Returns (plan, runner, version reached)."""

    def __init__(
        self,
        sess: Session,
        make_plan: MakePlan,
        rows: list[AppliedMigration],
        plan: Plan,
        prepared: list[Prepared],
        deadline: float | None,
    ) -> None:
        self.sess, self.make_plan, self.rows, self.plan, self.deadline = sess, make_plan, rows, plan, deadline
        self.ready = {(id(p.migration), p.step.direction): p for p in prepared}

    def __call__(self, before_run: Callable[[Plan], None] | None = None) -> tuple[Plan, Runner, str | None]:
        sess = self.sess
        sess.ensure_database()
        with sess.locked(self.deadline):
            rows = sess.ledger.read()  # state may have moved while we waited for the lock
            if rows == self.rows and not any(r.status == RUNNING for r in rows):
                plan = self.plan  # nothing moved: the plan made before stands
            else:
                guard(sess.report(rows)[1])
                plan = self.make_plan(sess.source, rows)
            if before_run is not None:
                before_run(plan)
            runner = sess.runner()
            runner.deadline, runner.run_timeout = self.deadline, sess.settings.timeout
            steps = [self.ready.get((id(s.migration), s.direction)) or runner.prepare(s) for s in plan.steps]
            runner.run(steps)
            after = planner.current_version(sess.ledger.read()) if steps else plan.current
        return plan, runner, after


def upgrade(
    config: ConfigLike = None,
    target: str | None = None,
    *,
    steps: int | None = None,
    out_of_order: bool | None = None,
    dry_run: bool = False,
    sql: bool = False,
    **overrides: Any,
) -> MigrateResult:
    """Apply pending migrations up to ``target`` (default: all).

    ``target="+N"`` or ``steps=N`` applies the next N; ``out_of_order=True``
    applies pending migrations older than the current version; ``dry_run`` only plans;
    ``sql`` renders the exact SQL (bookkeeping included) without writing.
    """
    from migrata.ops.adopt import take_over_alembic

    if out_of_order:  # the guard judges the set by the same policy as the plan
        overrides["out_of_order"] = True
    with session(config, **overrides) as sess:
        policy = sess.settings.out_of_order
        relative = planner.relative_steps(target, "up", steps)  # `up +2`
        adopted = take_over_alembic(sess, dry_run=dry_run, sql=sql)  # a dry run plans as if recorded

        def make_plan(source: Source, rows: list[AppliedMigration]) -> Plan:
            rows = [*rows, *adopted]
            if relative is not None:
                plan = planner.plan_up(source, rows, steps=relative, out_of_order=policy)
                return planner.check_relative(plan, str(target), relative)
            resolved = planner.resolve_target(target, source, rows, "up")
            assert resolved is None or isinstance(resolved, Version)
            if resolved is not None and source.get(resolved) is None:
                raise UnknownTargetError(f"no migration file has version {target}")
            return planner.plan_up(source, rows, target=resolved, steps=steps, out_of_order=policy)

        return _migrate(sess, "up", make_plan, dry_run=dry_run, sql=sql)


def downgrade(
    config: ConfigLike = None,
    target: str | None = None,
    *,
    steps: int | None = None,
    dry_run: bool = False,
    sql: bool = False,
    **overrides: Any,
) -> MigrateResult:
    """Roll back: one migration by default, ``steps`` of them (or
    ``target="-N"``), down to ``target`` (which stays applied), or everything
    with ``target="base"``."""
    if target is not None and steps is not None:
        raise UsageError("give a target or --steps, not both")
    with session(config, **overrides) as sess:
        relative = planner.relative_steps(target, "down")  # `down -1`: the last migration

        def make_plan(source: Source, rows: list[AppliedMigration]) -> Plan:
            resolved = None if relative else planner.resolve_target(target, source, rows, "down")
            chosen = [r for r in planner.applied_versions(rows)]
            source.load_python(m for r in chosen if (m := source.get(r.version)) is not None and m.kind == "py")
            plan = planner.plan_down(source, rows, target=resolved, steps=relative or steps)
            source.read_steps(plan.steps)
            return planner.check_relative(plan, str(target), relative) if relative else plan

        return _migrate(sess, "down", make_plan, dry_run=dry_run, sql=sql)


# --- reporting ------------------------------------------------------------------------


def status(config: ConfigLike = None, **overrides: Any) -> StatusResult:
    """Where the database stands: current version, pending migrations, problems."""
    with session(config, **overrides) as sess:
        exists = sess.database_exists()
        rows = sess.rows()
        file_problems: list[Problem] = []
        unread = False
        try:
            # only pending Python migrations are imported: applied ones never run
            # again, and importing every revision is what makes Alembic slow
            sess.source.load_python(m for m in planner.pending(sess.source, rows) if m.kind == "py")
        except ValidationError as exc:
            # report a broken or unfinished file (e.g. a fresh `migrata new` template)
            # instead of failing: status must still say where the database stands
            file_problems.append(Problem("file", exc.message, hint=exc.hint))
            unread = not sess.has_source()
            if unread:  # the set did not load: the history alone says where the database stands
                sess.use_source(Source(sess.settings.migrations))
        states, problems = sess.report(rows)
        if unread:
            states, problems = history_only(states, problems)
        problems = file_problems + sess.in_progress(problems)
        return StatusResult(
            database=sess.database,
            dialect=sess.unconnected_backend().dialect,
            current=planner.current_version(rows),
            applied=len(planner.applied_versions(rows)),
            pending=[s for s in states if s.state in ("pending", "outdated", "out-of-order")],
            migrations=states,
            problems=problems,
            database_exists=exists,
        )


def info(config: ConfigLike = None, **overrides: Any) -> StatusResult:
    """Every migration with its state, checksum, when and by whom it was applied."""
    return status(config, **overrides)


def current(config: ConfigLike = None, **overrides: Any) -> CurrentResult:
    """The current (highest applied) version."""
    st = status(config, **overrides)
    name = next((m.name for m in st.migrations if m.version == st.current), None)
    return CurrentResult(st.database, st.current, name, len(st.pending))


def history(
    config: ConfigLike = None, *, limit: int | None = 50, version: str | None = None, **overrides: Any
) -> HistoryResult:
    """The event log, newest first."""
    with session(config, **overrides) as sess:
        if not sess.database_exists():
            return HistoryResult(sess.database, [])
        if version is not None and Version.is_version(version, sess.settings.ordering):
            version = Version.parse(version, sess.settings.ordering).canonical
        return HistoryResult(sess.database, sess.ledger.events(limit=limit, version=version))


def check(config: ConfigLike = None, **overrides: Any) -> CheckResult:
    """Up to date, pending or invalid — for CI and readiness probes."""
    try:
        st = status(config, **overrides)
    except (ConfigError, UsageError):
        raise
    except MigrataError as exc:
        if exc.exit_code != 3:
            raise
        return CheckResult("invalid", None, [], [Problem("file", exc.message, hint=exc.hint)])
    errors = refusals(st.problems)
    pending = [m.version for m in st.pending] + [p.version or "" for p in st.problems if p.code == "in-progress"]
    state = "invalid" if errors else ("pending" if pending else "up-to-date")
    return CheckResult(state, st.current, pending, st.problems)


def validate(
    config: ConfigLike = None, *, file: str | os.PathLike[str] | None = None, **overrides: Any
) -> ValidateResult:
    """Check the migration set against the history (or one file's SQL)."""
    if file is not None:
        from migrata.ops.filecheck import check_file

        with session(config, **overrides) as sess:
            return check_file(sess, Path(file))
    with session(config, **overrides) as sess:
        try:
            source = sess.source
            source.read_all()
            source.load_python()
        except MigrataError as exc:
            if exc.exit_code != 3:
                raise
            return ValidateResult([Problem("file", exc.message, hint=exc.hint)], 0)
        _, problems = sess.report()
        for m in source.versioned:
            if m.down is None:
                problems.append(
                    Problem(
                        "no-down", f"{m.label} has no down part{_empty(m)}: it cannot be rolled back", m.id, "warning"
                    )
                )
        return ValidateResult(problems, len(source.all))


def _empty(m: Any) -> str:
    return f" ({m.empty_down.name} holds no SQL)" if m.empty_down else ""


# --- repairing -------------------------------------------------------------------------


def repair(
    config: ConfigLike = None,
    version: str | None = None,
    *,
    forget: bool = False,
    mark_applied: bool = False,
    resume: bool = False,
    resume_from: int | None = None,
    checksums: bool = False,
    forget_missing: bool = False,
    **overrides: Any,
) -> results.RepairResult:
    """Resolve what blocks migrating. Without flags it only reports.

    * ``forget``: delete the history row of a failed/interrupted run
      (the version counts as not applied; undo its partial changes first).
    * ``mark_applied``: the failed/interrupted run counts as applied.
    * ``resume`` (``resume_from=N``): run the rest of the failed/interrupted
      migration from its first statement that did not complete (or from N).
    * ``checksums``: accept edits of applied files (store new checksums).
    * ``forget_missing``: drop rows of applied versions whose files are gone.
    """
    chosen = [forget, mark_applied, resume or resume_from is not None]
    if sum(chosen) > 1:
        raise UsageError("choose one of --forget, --mark-applied and --resume")
    from migrata.ops.repair import repair_history

    with session(config, **overrides) as sess:
        if version is not None and Version.is_version(version, sess.settings.ordering):
            version = Version.parse(version, sess.settings.ordering).canonical
        return repair_history(
            sess,
            version,
            forget=forget,
            mark_applied=mark_applied,
            resume=resume,
            resume_from=resume_from,
            checksums=checksums,
            forget_missing=forget_missing,
        )


def stamp(
    config: ConfigLike = None, version: str = "", *, force: bool = False, **overrides: Any
) -> results.StampResult:
    """Record migrations up to ``version`` as applied without running them
    (adopting an existing database). Rows above it are removed only with ``force``."""
    from migrata.ops.repair import stamp_history

    with session(config, **overrides) as sess:
        return stamp_history(sess, version, force=force)


def adopt(
    config: ConfigLike = None, tool: str = "", *, from_table: str | None = None, dry_run: bool = False, **overrides: Any
) -> results.AdoptResult:
    """Record as applied what ``tool`` (golang-migrate, dbmate, flyway, goose or alembic) applied,
    read from its history table (``from_table``, default the tool's); ``dry_run`` writes nothing."""
    from migrata.ops.adopt import adopt_history

    with session(config, **overrides) as sess:
        return adopt_history(sess, tool, from_table, dry_run=dry_run)


def cleanup(
    config: ConfigLike = None, *, keep_days: int, dry_run: bool = False, **overrides: Any
) -> results.CleanupResult:
    """Delete events older than ``keep_days`` days. Never touches the history."""
    if keep_days < 0:
        raise UsageError("--keep-days must be 0 or more")
    import datetime as _dt

    cutoff = (_dt.datetime.now(_dt.UTC) - _dt.timedelta(days=keep_days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with session(config, **overrides) as sess:
        if not sess.database_exists():
            return results.CleanupResult(keep_days, 0, dry_run)
        if dry_run:
            return results.CleanupResult(
                keep_days, sess.ledger.count_events(cutoff) if sess.ledger.exists() else 0, True
            )
        with sess.locked():
            count = sess.ledger.count_events(cutoff)
            sess.ledger.run(
                sess.ledger.trim_events(cutoff),
                sess.ledger.event("cleanup", detail={"keep_days": keep_days, "deleted": count}),
            )
        return results.CleanupResult(keep_days, count)


def lock_status(config: ConfigLike = None, **overrides: Any) -> results.LockResult:
    """Whether the migration lock is held, and by whom."""
    with session(config, **overrides) as sess:
        if not sess.database_exists():
            return results.LockResult(sess.database, False)
        holder = sess.lock_holder()
        return results.LockResult(sess.database, holder is not None, holder.to_dict() if holder else None)


def lock_release(config: ConfigLike = None, *, force: bool = False, **overrides: Any) -> results.LockResult:
    """End the process/session holding the lock (needs ``force``)."""
    with session(config, **overrides) as sess:
        if not sess.database_exists():
            return results.LockResult(sess.database, False)
        backend = sess.backend
        holder = sess.lock_holder()
        if holder is None:
            return results.LockResult(sess.database, False)
        if not force:
            raise NotConfirmedError(
                f"the lock is held by {holder.describe()}; releasing it stops that migrator",
                hint="confirm with `migrata lock release --force`",
            )
        with contextlib.suppress(MigrataError):  # first: the stopped run reads it to say who stopped it
            if sess.ledger.exists():
                sess.ledger.run(sess.ledger.event("lock-break", detail=holder.to_dict()))
        broken = backend.break_lock()
        if broken is not None and broken.session == holder.session:
            broken = holder  # with the client process recorded beside the lock
        return results.LockResult(sess.database, True, broken.to_dict() if broken else None, released=True)


# --- databases ---------------------------------------------------------------------------


def create_database(config: ConfigLike = None, **overrides: Any) -> results.DatabaseResult:
    """Create the configured database (utf8mb4 on MySQL/MariaDB); a no-op when it exists."""
    with session(config, **overrides) as sess:
        created = sess.unconnected_backend().create()
        return results.DatabaseResult(sess.database, "created" if created else "exists")


def drop_database(config: ConfigLike = None, *, force: bool = False, **overrides: Any) -> results.DatabaseResult:
    """Drop the configured database with everything in it (needs ``force``)."""
    with session(config, **overrides) as sess:
        if not force:
            raise NotConfirmedError(
                f"dropping {sess.database} deletes it with all its data",
                hint="confirm with `migrata db drop --force`",
            )
        dropped = sess.unconnected_backend().drop()
        return results.DatabaseResult(sess.database, "dropped" if dropped else "absent")


# --- operations: backups, restore, verification, doctor ----------------------------------


def backup(config: ConfigLike = None, **overrides: Any) -> results.BackupResult:
    """Take a verified backup of the database into ``backup_dir``; prune old ones."""
    from migrata.ops.backup import create_backup

    with session(config, **overrides) as sess:
        info = create_backup(sess)
        return results.BackupResult(sess.database, [info.to_dict()])


def backups(config: ConfigLike = None, **overrides: Any) -> results.BackupResult:
    """The database's backups, newest first: size, age, version, verification
    (each file's SHA-256 checked again against its sidecar)."""
    from migrata.ops.backup import list_backups

    with session(config, **overrides) as sess:
        return results.BackupResult(sess.database, [b.to_dict() for b in list_backups(sess, recheck=True)])


def restore(
    config: ConfigLike = None,
    name: str | None = None,
    *,
    force: bool = False,
    confirm: Callable[[str], bool] | None = None,
    **overrides: Any,
) -> results.RestoreResult:
    """Replace the database by the backup ``name`` (a file name or path in
    ``backup_dir``; the newest verified one by default). Needs ``force``:
    everything written since the backup is lost."""
    from migrata.ops.backup import SAFETY, check_restorable, create_backup, find_backup, restore_backup

    with session(config, **overrides) as sess:
        info = find_backup(sess, name)
        if not force and not (confirm is not None and confirm(info.path)):
            raise NotConfirmedError(
                f"restoring {info.path} replaces everything in {sess.database}",
                hint="confirm with `migrata restore --yes`",
            )
        check_restorable(sess, info)
        # what is there now is kept too, so the restore itself can be undone
        safety = create_backup(sess, reason=SAFETY, prune=False) if sess.database_exists() else None
        try:
            restore_backup(sess, info)
        except BackupError as exc:
            if safety is not None:
                exc.hint = (
                    f"the database as it was before is in {safety.path} (`migrata restore {Path(safety.path).name}`)"
                )
            raise
        return results.RestoreResult(sess.database, info.to_dict(), info.version, safety.path if safety else None)


def verify(config: ConfigLike = None, **overrides: Any) -> results.VerifyResult:
    """Run the ``*.verify.sql`` checks of the applied migrations and the health check."""
    from migrata.ops.verify import health_check, verify_scripts

    with session(config, **overrides) as sess:
        checks = verify_scripts(sess)
        if sess.settings.health_url:
            checks.append(health_check(sess.settings.health_url, sess.settings.health_timeout))
        return results.VerifyResult(sess.database, [c.to_dict() for c in checks])


def doctor(config: ConfigLike = None, **overrides: Any) -> results.DoctorResult:
    """Check everything migrating needs: connection, privileges, tools, disk, lock, files."""
    from migrata.ops.doctor import run_doctor

    with session(config, **overrides) as sess:
        report = run_doctor(sess)
        return results.DoctorResult(report.database, [f.to_dict() for f in report.findings])


# --- files -----------------------------------------------------------------------------


def new(config: ConfigLike = None, name: str = "", *, kind: str = "pair", **overrides: Any) -> results.NewResult:
    """Create the next migration file(s): ``kind`` is ``pair``, ``single`` or ``py``."""
    from migrata.ops.scaffold import create_migration

    return create_migration(resolve_settings(config, **overrides), name, kind)


def init(
    directory: str | os.PathLike[str] = ".",
    *,
    url: str | None = None,
    migrations: str = "migrations",
    force: bool = False,
) -> results.InitResult:
    """Write ``migrata.toml`` and create the migrations folder."""
    from migrata.ops.scaffold import create_project

    return create_project(directory, url=url, migrations=migrations, force=force)
