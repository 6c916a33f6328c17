"""An ``up``/``down`` run with the operations around it, in the quota-proxy
guide's order: before-hooks (stop the service) -> lock -> verified backup ->
migrate -> verify (scripts, health check) -> after-hooks (start it again).
On any failure: restore the backup when asked (``restore_on_failure``), then
the ``on_failure`` hooks. Metrics are published either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrata._core import planner
from migrata._core.model import Plan, StepResult
from migrata._core.runner import Runner
from migrata.errors import DDLLockTimeoutError, HookError, MigrataError, MigrationFailedError, VerificationError
from migrata.ops.backup import BackupInfo, create_backup, restore_backup
from migrata.ops.hooks import run_hooks
from migrata.ops.metrics import Outcome, publish
from migrata.ops.verify import Check, health_check, verify_scripts
from migrata.session import Session

__all__ = ["Operated", "describe", "operated_run"]

log = logging.getLogger("migrata")

Apply = Callable[[Callable[[Plan], None]], tuple[Plan, Runner, "str | None"]]


@dataclass
class Operated:
    """What the operations did around the run."""

    plan: Plan
    steps: list[StepResult]
    after: str | None
    backup: BackupInfo | None = None
    checks: list[Check] = field(default_factory=list)


def operated_run(sess: Session, direction: str, plan: Plan, apply: Apply) -> Operated:
    s = sess.settings
    env = _env(sess, direction, plan)
    taken: list[BackupInfo] = []
    steps: list[StepResult] = []
    t0 = time.perf_counter()

    def before_run(locked_plan: Plan) -> None:
        if locked_plan and (s.backup or s.restore_on_failure):
            info = create_backup(sess, reason=f"before {direction}")
            taken.append(info)
            env["MIGRATA_BACKUP_FILE"] = info.path
            log.info("backup %s (%s bytes, verified)", Path(info.path).name, info.size)

    restored = False
    try:
        run_hooks(s, f"before_{direction}", env)
        final_plan, runner, after = apply(before_run)
        steps = list(runner.results)
        env["MIGRATA_DONE"] = " ".join(r.version for r in steps)
        env["MIGRATA_TARGET"] = after or "base"
        verifying = direction == "up" and s.verify
        # the verify scripts before the after-hooks (they start the service again),
        # the health check after them (it needs the service)
        checks = _check(sess, steps, verify_scripts(sess, [r.version for r in steps]), bool(taken)) if verifying else []
        run_hooks(s, f"after_{direction}", env)
        if verifying and s.health_url:
            checks += _check(sess, steps, [health_check(s.health_url, s.health_timeout)], bool(taken))
    except MigrataError as exc:
        done = steps or (exc.completed if isinstance(exc, (MigrationFailedError, VerificationError)) else [])
        restored = _on_failure(sess, exc, env, taken[0] if taken else None)
        _publish(sess, direction, done, exc, time.perf_counter() - t0, restored=restored)
        raise
    _publish(sess, direction, steps, None, time.perf_counter() - t0)
    return Operated(final_plan, steps, after, taken[0] if taken else None, checks)


def _env(sess: Session, direction: str, plan: Plan) -> dict[str, str]:
    """The hook variables. None of them is a setting's MIGRATA_<KEY>, so a
    hook that runs migrata again is not reconfigured by them."""
    if direction == "up":
        target = plan.target or (plan.steps[-1].migration.id if plan.steps else plan.current)
    else:  # what stays applied once the planned steps are rolled back
        leaving = {step.migration.id for step in plan.steps}
        remaining = [r for r in planner.applied_versions(sess.rows()) if r.version not in leaving]
        target = remaining[-1].version if remaining else None
    return {
        "MIGRATA_COMMAND": direction,
        "MIGRATA_DATABASE": sess.database,
        "MIGRATA_DIALECT": sess.unconnected_backend().dialect,
        "MIGRATA_CURRENT": plan.current or "base",
        "MIGRATA_TARGET": target or "base",
        "MIGRATA_PLANNED": " ".join(step.migration.id for step in plan.steps),
        "MIGRATA_BACKUP_FILE": "",
    }


def _check(sess: Session, steps: list[StepResult], checks: list[Check], backed_up: bool) -> list[Check]:
    """Log the checks; raise VerificationError when one failed."""
    for c in checks:
        log.info("verify %s: %s (%s)", c.name, "ok" if c.ok else "FAILED", c.detail)
    failed = [c for c in checks if not c.ok]
    if failed:
        hint = (
            "the migrations are applied; `migrata restore` brings back the backup taken before the run"
            if backed_up
            else "the migrations are applied; run with --restore-on-failure to undo them when this happens"
        )
        raise VerificationError(
            f"verification failed after migrating: {failed[0].name}: {failed[0].detail}"
            + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
            hint=hint,
            completed=steps,
        )
    return checks


def _on_failure(sess: Session, exc: MigrataError, env: dict[str, str], backup: BackupInfo | None) -> bool:
    """Restore the backup if asked, then run the on_failure hooks. True when restored."""
    before_hook_failed = isinstance(exc, HookError) and backup is None and "MIGRATA_DONE" not in env
    restored = False
    if backup is not None and sess.settings.restore_on_failure and not before_hook_failed:
        try:
            sess.close()
            restore_backup(sess, backup, trigger="restore_on_failure")
            restored = True
            exc.hint = (
                f"the backup {Path(backup.path).name} taken before the run was restored: the database is as it was"
            )
            log.warning("restored the backup %s taken before the run", Path(backup.path).name)
        except MigrataError as restore_exc:
            exc.hint = f"restoring the backup {backup.path} failed too: {restore_exc.message}"
    env["MIGRATA_ERROR"] = exc.message
    try:
        run_hooks(sess.settings, "on_failure", env)
    except HookError as hook_exc:
        log.error("%s", hook_exc.message)
    return restored


def _publish(
    sess: Session,
    direction: str,
    steps: list[StepResult],
    exc: MigrataError | None,
    seconds: float,
    *,
    restored: bool = False,
) -> None:
    s = sess.settings
    if not (s.metrics_file or s.pushgateway):
        return
    # migrations the restore undid count as rolled back, not as applied
    kind = "success" if direction == "up" and not restored else "rollback"
    outcomes = [Outcome(r.version, kind, r.duration_ms / 1000) for r in steps]
    outcomes += [Outcome(r.version, "lock_retry", 0.0) for r in steps for _ in range(r.lock_retries)]
    outcomes += [Outcome(r.version, "backfill_rows", 0.0, b.done) for r in steps for b in r.backfills if b.done]
    if exc is not None:
        version = exc.version if isinstance(exc, MigrationFailedError) and exc.version else "run"
        done = sum(r.duration_ms for r in steps) / 1000
        outcomes.append(Outcome(version, "failure", max(0.0, seconds - done)))
        if isinstance(exc, DDLLockTimeoutError):  # every attempt timed out
            outcomes += [Outcome(version, "lock_retry", 0.0) for _ in range(exc.attempts)]
    publish(outcomes, database=_label(sess), metrics_file=s.metrics_file, pushgateway=s.pushgateway)


def _label(sess: Session) -> str:
    """The ``database`` label: the database's name (the SQLite file name)."""
    url = sess.settings.database_url()
    return Path(url.database).name if url.family == "sqlite" and url.database else (url.database or "")


def describe(op: Operated) -> dict[str, Any]:
    return {
        "backup": op.backup.to_dict() if op.backup else None,
        "checks": [c.to_dict() for c in op.checks],
    }
