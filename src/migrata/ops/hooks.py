"""Hooks: shell commands and Python callables around ``up`` and ``down``.

Settings ``before_up``, ``after_up``, ``before_down``, ``after_down`` and
``on_failure`` each hold a list of hooks, run in order, only when the
command has something to do:

* a string is a shell command, run with ``/bin/sh -c`` in the project folder;
* ``python:module:function`` calls ``function(env)`` with the same variables
  as a dict (the project folder is on ``sys.path`` while it is imported).

Every hook gets ``MIGRATA_PHASE``, ``MIGRATA_COMMAND`` (``up``/``down``),
``MIGRATA_DATABASE`` (the URL, password masked), ``MIGRATA_DIALECT``,
``MIGRATA_PROJECT_DIR``, ``MIGRATA_CURRENT`` (the version before the run),
``MIGRATA_TARGET`` (the version the run leads to), ``MIGRATA_PLANNED``
(the planned versions, space-separated), ``MIGRATA_BACKUP_FILE`` (the backup
taken before the run, if any), and after the run ``MIGRATA_DONE`` (versions
that ran) and, for ``on_failure``, ``MIGRATA_ERROR``. None of these names is
a setting's ``MIGRATA_<KEY>``, so a hook may run migrata itself.

A failing before-hook stops the command before anything changes (exit 8);
``on_failure`` hooks then run, so a stopped service can be started again.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

from migrata.config import Settings
from migrata.errors import HookError
from migrata.session import MalformedSpec, call_user
from migrata.util import mask_url

__all__ = ["PHASES", "run_hooks"]

PHASES = ("before_up", "after_up", "before_down", "after_down", "on_failure")

log = logging.getLogger("migrata")


def run_hooks(settings: Settings, phase: str, env: dict[str, str]) -> int:
    """Run the hooks of ``phase`` in order; return how many ran. The first
    failure raises HookError (the rest of the phase does not run)."""
    hooks: list[str] = getattr(settings, phase)
    full = {**env, "MIGRATA_PHASE": phase, "MIGRATA_PROJECT_DIR": str(settings.project_dir)}
    for spec in hooks:
        t0 = time.perf_counter()
        if spec.startswith("python:"):
            _call(settings.project_dir, spec, phase, full)
        else:
            _shell(settings.project_dir, spec, phase, full)
        log.info("hook %s: %s (%.2fs)", phase, mask_url(spec), time.perf_counter() - t0)
    return len(hooks)


def _shell(folder: Path, command: str, phase: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        errors="replace",
    )
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("  [%s] %s", phase, mask_url(line))
    if proc.returncode != 0:
        last = next((ln for ln in reversed((proc.stderr or proc.stdout).splitlines()) if ln.strip()), "")
        raise HookError(
            f"{phase} hook `{mask_url(command)}` failed (exit {proc.returncode})"
            + (f": {mask_url(last)}" if last else ""),
            hint=_hint(phase),
        )


def _call(folder: Path, spec: str, phase: str, env: dict[str, str]) -> None:
    try:
        call_user(spec[len("python:") :], folder, dict(env))
    except MalformedSpec:
        raise HookError(f"{phase} hook {spec!r} must be written python:module:function") from None
    except HookError:
        raise
    except Exception as exc:  # noqa: BLE001 - the hook is user code
        raise HookError(f"{phase} hook {spec} failed: {type(exc).__name__}: {exc}", hint=_hint(phase)) from exc


def _hint(phase: str) -> str:
    if phase.startswith("before"):
        return "nothing was changed; fix the hook or run without it"
    if phase == "on_failure":
        return "the run had already failed; see the error before this one"
    return "the migrations ran; the hook after them did not finish"
