"""``status``, ``check``, ``current``, ``up`` and ``down`` without click.

The commands readiness probes, deploys and CI scripts run most often answer
through the same library calls and printing functions as the click commands
(:mod:`migrata.cli.reports`); only the parsing differs, and anything the small
parser in :mod:`migrata.cli.argv` does not understand goes to click. An
answer that can be kept is (:mod:`migrata.cli.answers`).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable

from migrata import _lazy
from migrata.cli import answers
from migrata.cli.argv import load_from_options, parse_fast

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["run"]


def run(args: list[str]) -> int | None:
    """Run a command of the fast path and return its exit code; None: not one."""
    parsed = parse_fast(args)
    if parsed is None:
        return None
    command, opts, extra = parsed
    as_json = extra["json"]
    from migrata import api
    from migrata.cli.logs import setup
    from migrata.cli.reports import show_check, show_current, show_migrated, show_status
    from migrata.config import Settings

    loaded: list[Settings] = []

    def settings() -> Settings:
        if not loaded:
            loaded.append(load_from_options(opts))
        return loaded[0]

    setup(opts, settings)
    logged = _lazy.uses()
    if command in ("up", "down"):
        migrate = api.upgrade if command == "up" else api.downgrade
        res = migrate(
            settings(),
            extra["target"],
            steps=extra["steps"],
            dry_run=extra["dry_run"],
            sql=extra["sql"],
            _report=answers.enabled(),
        )
        shown = {"sql": extra["sql"], "dry_run": extra["dry_run"], "quiet": bool(opts.get("quiet"))}

        def show_run(result: Any, as_json: bool) -> int:
            return show_migrated(result, command, as_json=as_json, **shown)

        out, code = _rendered(show_run, res, as_json, echo=True)
        report = res._report
        if report is not None and report._inputs is not None:
            _keep_reports(opts, report)
            # nothing to do, nothing logged: the same `up` asked again before
            # anything changes would print the same (a service migrating at
            # every start-up); --json carries the run's duration and is not
            # kept, nor is an answer that imported Python migrations (`up`
            # imports them all, and their imports may change)
            if (
                answers.keeps_up(command, extra)
                and not res.steps
                and _lazy.uses() == logged
                and not any(m.kind == "py" for m in report.migrations)
            ):
                answers.keep(command, opts, extra, out, code, report._inputs)
        return code
    if command == "status":
        result: Any = api.status(settings())
        show: Callable[[Any, bool], int] = show_status
    elif command == "check":
        result, show = api.check(settings()), show_check
    else:
        result, show = api.current(settings()), show_current
    out, code = _rendered(show, result, as_json, echo=True)
    if result._inputs is not None and _lazy.uses() == logged:  # a kept answer repeats no log line
        answers.keep(command, opts, extra, out, code, result._inputs)
    return code


def _keep_reports(opts: dict[str, Any], report: Any) -> None:
    """What ``status`` and ``check`` would print right after this run, kept
    for them (:func:`migrata.cli.answers.keep_after_run`)."""
    from migrata.api import check_of
    from migrata.cli.reports import show_check, show_status

    checked = check_of(report)
    kept = []
    # `status --json` lists every migration: rendering it would cost a deploy
    # more than a status asked later saves
    for command, show, result, as_json in (
        ("status", show_status, report, False),
        ("check", show_check, checked, False),
        ("check", show_check, checked, True),
    ):
        try:
            out, code = _rendered(show, result, as_json)
        except Exception:  # noqa: BLE001 - an answer that raises (a broken file) is never kept
            return
        kept.append((command, as_json, out, code))
    answers.keep_after_run(opts, kept, report._inputs)


def _rendered(show: Callable[[Any, bool], int], result: Any, as_json: bool, *, echo: bool = False) -> tuple[str, int]:
    """What ``show`` prints and its exit code (what the answer cache keeps);
    ``echo``: print it too, even when ``show`` raises."""
    real, buffer = sys.stdout, io.StringIO()
    sys.stdout = buffer
    try:
        code = show(result, as_json)
    finally:
        sys.stdout = real
        if echo:
            real.write(buffer.getvalue())
    return buffer.getvalue(), code
