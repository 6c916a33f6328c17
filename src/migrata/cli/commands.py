"""The ``migrata`` commands for migrating, reporting, repairing, the lock
and the database itself: one thin function per library call."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

import click

from migrata import api
from migrata.cli.group import AliasGroup, cli, json_option, quiet, settings, setup_logging
from migrata.cli.options import collected, common_options, confirm_option, overrides
from migrata.cli.output import echo, print_json, table
from migrata.cli.reports import (
    exit_if_invalid,
    listed,
    problem_lines,
    show_check,
    show_current,
    show_migrated,
    show_status,
)
from migrata.errors import NotConfirmedError, ValidationError

# --- setup ------------------------------------------------------------------------------


@cli.command("init")
@click.argument("folder", metavar="[DIRECTORY]", required=False, default=".")
@confirm_option("Overwrite an existing migrata.toml.")
@common_options
@click.pass_context
def init_cmd(ctx: click.Context, folder: str, yes: bool) -> None:
    """Write migrata.toml and create the migrations folder in DIRECTORY."""
    setup_logging(ctx)
    opts = overrides(ctx)
    base = collected(ctx).get("directory")
    target = os.path.join(base, folder) if base else folder
    res = api.init(target, url=opts.get("url"), migrations=opts.get("migrations", "migrations"), force=yes)
    for path in res.created:
        echo(f"created {path}")
    echo("next: `migrata new create_first_table`, write its SQL, then `migrata up`")


@cli.command("new")
@click.argument("name")
@click.option("--py", "kind", flag_value="py", help="A Python migration with up(ctx)/down(ctx).")
@click.option("--single", "kind", flag_value="single", help="One .sql file with -- migrate:up/down sections.")
@click.option("--pair", "kind", flag_value="pair", default=True, help="An .up.sql/.down.sql pair (default).")
@json_option
@common_options
@click.pass_context
def new_cmd(ctx: click.Context, name: str, kind: str, as_json: bool) -> None:
    """Create the next migration file(s) named NAME."""
    setup_logging(ctx)
    res = api.new(settings(ctx), name, kind=kind)
    if as_json:
        print_json(res.to_dict())
        return
    for path in res.files:
        echo(f"created {path}")


# --- migrating ---------------------------------------------------------------------------


class _TargetCommand(click.Command):
    """``migrata down -1``: a ``-N`` word is the relative target, as written
    (click would take it for an unknown option)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" not in args:
            valued = {
                o for p in self.params if isinstance(p, click.Option) and not (p.is_flag or p.count) for o in p.opts
            }
            counts = [i for i, a in enumerate(args) if _COUNT.match(a) and (i == 0 or args[i - 1] not in valued)]
            if counts:
                args = [a for i, a in enumerate(args) if i not in counts] + ["--"] + [args[i] for i in counts]
        return super().parse_args(ctx, args)


_COUNT = re.compile(r"^-\d+$")


def _migrate_options(f: Any) -> Any:
    f = click.option("--sql", "sql", is_flag=True, help="Print the exact SQL (bookkeeping included); write nothing.")(f)
    f = click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")(f)
    f = click.option("--steps", type=click.IntRange(min=1), help="Run at most N migrations.")(f)
    return f


@cli.command("up", cls=_TargetCommand)
@click.argument("target", required=False)
@_migrate_options
@json_option
@common_options
@click.pass_context
def up_cmd(ctx: click.Context, target: str | None, steps: int | None, dry_run: bool, sql: bool, as_json: bool) -> None:
    """Apply pending migrations, up to TARGET if given (default: all).

    TARGET +N applies the next N. With --out-of-order, pending migrations
    older than the current version are applied too.
    """
    setup_logging(ctx)
    res = api.upgrade(settings(ctx), target, steps=steps, dry_run=dry_run, sql=sql)
    show_migrated(res, "up", as_json=as_json, sql=sql, dry_run=dry_run, quiet=quiet(ctx))


@cli.command("down", cls=_TargetCommand)
@click.argument("target", required=False)
@_migrate_options
@json_option
@common_options
@click.pass_context
def down_cmd(
    ctx: click.Context, target: str | None, steps: int | None, dry_run: bool, sql: bool, as_json: bool
) -> None:
    """Roll back the last migration, --steps N (or -N) of them, or down to TARGET.

    TARGET stays applied; `down base` rolls back everything. A migration
    without a down part stops the rollback before anything runs.
    """
    setup_logging(ctx)
    res = api.downgrade(settings(ctx), target, steps=steps, dry_run=dry_run, sql=sql)
    show_migrated(res, "down", as_json=as_json, sql=sql, dry_run=dry_run, quiet=quiet(ctx))


# --- reporting ------------------------------------------------------------------------------


@cli.command("status")
@json_option
@common_options
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Where the database stands: current version, pending migrations, problems."""
    setup_logging(ctx)
    ctx.exit(show_status(api.status(settings(ctx)), as_json))


def _short(checksum: str | None) -> str | None:
    return checksum[:12] if checksum else None


@cli.command("info")
@json_option
@common_options
@click.pass_context
def info_cmd(ctx: click.Context, as_json: bool) -> None:
    """Every migration: version, name, kind, state, checksum, when, how long, by whom."""
    setup_logging(ctx)
    st = api.info(settings(ctx))
    if as_json:
        print_json(st.to_dict())
        ctx.exit(exit_if_invalid(st.problems, as_json=True))
        return
    table(
        ["Version", "Name", "Kind", "State", "Checksum", "Applied at", "Duration", "By"],
        [
            [
                m.version,
                m.name,
                m.kind,
                m.state,
                _short(m.applied_checksum or m.checksum),
                m.applied_at,
                f"{m.duration_ms} ms" if m.duration_ms is not None else None,
                m.applied_by,
            ]
            for m in st.migrations
        ],
    )
    if listed(st.problems):
        echo("Problems:")
        problem_lines(listed(st.problems))
    exit_if_invalid(st.problems)


@cli.command("current")
@json_option
@common_options
@click.pass_context
def current_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print the current (highest applied) version."""
    setup_logging(ctx)
    ctx.exit(show_current(api.current(settings(ctx)), as_json))


@cli.command("history")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Show at most N events.")
@click.option("--version", "version", help="Only events of this version.")
@json_option
@common_options
@click.pass_context
def history_cmd(ctx: click.Context, limit: int, version: str | None, as_json: bool) -> None:
    """The event log: every up, down, repair, stamp and lock event, newest first."""
    setup_logging(ctx)
    res = api.history(settings(ctx), limit=limit, version=version)
    if as_json:
        print_json(res.to_dict())
        return
    if not res.events:
        echo("No events recorded.")
        return
    table(
        ["At", "Action", "Version", "Name", "Outcome", "Duration", "By", "Detail"],
        [
            [
                e.at,
                e.action,
                e.version,
                e.name,
                e.outcome,
                f"{e.duration_ms} ms" if e.duration_ms is not None else None,
                e.actor,
                _detail(e.detail),
            ]
            for e in res.events
        ],
    )


def _detail(detail: dict[str, Any]) -> str:
    if "error" in detail:
        return str(detail["error"]).splitlines()[0][:80]
    keys = [k for k in ("mode", "statements", "action", "added", "removed", "deleted") if k in detail]
    return ", ".join(f"{k}={detail[k]}" for k in keys)


@cli.command("validate")
@click.option("--file", "file", type=click.Path(dir_okay=False), help="Check one file's SQL without applying it.")
@json_option
@common_options
@click.pass_context
def validate_cmd(ctx: click.Context, file: str | None, as_json: bool) -> None:
    """Check files against the history: checksums, missing files, gaps, failed runs."""
    setup_logging(ctx)
    base = collected(ctx).get("directory")
    path = os.path.join(base, file) if file and base and not os.path.isabs(file) else file
    res = api.validate(settings(ctx), file=path)
    if as_json:
        print_json(res.to_dict())
    else:
        what = file or f"{res.checked} migration(s)"
        if res.ok:
            echo(f"OK: {what} checked" + (" (with warnings)" if res.problems else ""))
        else:
            echo(f"Invalid: {what}")
        problem_lines(res.problems)
    if not res.ok:
        ctx.exit(ValidationError.exit_code)


@cli.command("check")
@json_option
@common_options
@click.pass_context
def check_cmd(ctx: click.Context, as_json: bool) -> None:
    """Exit 0 when up to date, 5 when migrations are pending, 3 when invalid."""
    setup_logging(ctx)
    ctx.exit(show_check(api.check(settings(ctx)), as_json))


# --- repairing --------------------------------------------------------------------------------


@cli.command("repair")
@click.argument("version", required=False)
@click.option(
    "--forget", is_flag=True, help="Delete the failed/interrupted run's row: the version counts as not applied."
)
@click.option("--mark-applied", is_flag=True, help="The failed/interrupted run counts as applied.")
@click.option("--resume", is_flag=True, help="Run the rest of the failed/interrupted migration.")
@click.option("--resume-from", type=click.IntRange(min=1), metavar="N", help="Resume from statement N.")
@click.option("--checksums", is_flag=True, help="Accept edits of applied files (store new checksums).")
@click.option("--forget-missing", is_flag=True, help="Drop history rows whose files are missing.")
@json_option
@common_options
@click.pass_context
def repair_cmd(
    ctx: click.Context,
    version: str | None,
    forget: bool,
    mark_applied: bool,
    resume: bool,
    resume_from: int | None,
    checksums: bool,
    forget_missing: bool,
    as_json: bool,
) -> None:
    """Clear failed or interrupted runs and realign checksums, each only when asked.

    Without flags, shows what needs repair and the ways out.
    """
    setup_logging(ctx)
    res = api.repair(
        settings(ctx),
        version,
        forget=forget,
        mark_applied=mark_applied,
        resume=resume,
        resume_from=resume_from,
        checksums=checksums,
        forget_missing=forget_missing,
    )
    if as_json:
        print_json(res.to_dict())
    else:
        for action in res.actions:
            echo(action)
        if res.problems:
            echo("Needs repair:" if not res.actions else "Still needs repair:")
            problem_lines(res.problems)
            if not res.actions and res.ways_out:
                echo("Ways out (each needs its flag):")
                width = max(len(c) for c, _ in res.ways_out)
                for command, when in res.ways_out:
                    echo(f"  {command.ljust(width)}  {when}")
        elif not res.actions:
            echo("Nothing to repair.")
    if res.problems:
        ctx.exit(ValidationError.exit_code)


@cli.command("stamp")
@click.argument("version")
@confirm_option("Also remove history rows above VERSION.")
@json_option
@common_options
@click.pass_context
def stamp_cmd(ctx: click.Context, version: str, yes: bool, as_json: bool) -> None:
    """Record migrations up to VERSION as applied without running them."""
    setup_logging(ctx)
    res = api.stamp(settings(ctx), version, force=yes)
    if as_json:
        print_json(res.to_dict())
        return
    echo(f"stamped {res.version}: {len(res.added)} row(s) added, {len(res.removed)} removed")


@cli.command("adopt")
@click.option(
    "--from", "tool", required=True, type=click.Choice(["golang-migrate", "dbmate", "flyway", "goose", "alembic"]),
    help="The tool whose history table to read.",
)  # fmt: skip
@click.option("--from-table", metavar="NAME", help="That tool's history table, if not its default name.")
@click.option("--dry-run", is_flag=True, help="Show what would be recorded; write nothing.")
@json_option
@common_options
@click.pass_context
def adopt_cmd(ctx: click.Context, tool: str, from_table: str | None, dry_run: bool, as_json: bool) -> None:
    """Record what another migration tool applied as applied, from its history table."""
    setup_logging(ctx)
    res = api.adopt(settings(ctx), tool, from_table=from_table, dry_run=dry_run)
    if as_json:
        print_json(res.to_dict())
        return
    for warning in res.warnings:
        echo(f"warning: {warning}")
    listed = ", ".join(res.added[:10]) + (" ..." if len(res.added) > 10 else "")
    if not res.found:
        echo(f"{tool} has applied nothing ({res.table} is empty): nothing to adopt")
    elif not res.added:
        echo(f"nothing to adopt: the {len(res.found)} version(s) {tool} applied are already in migrata's history")
    elif dry_run:
        echo(f"would record {len(res.added)} version(s) from {tool} ({res.table}) as applied: {listed} (dry run)")
    else:
        echo(f"adopted from {tool} ({res.table}): {len(res.added)} version(s) recorded as applied: {listed}")


@cli.command("cleanup")
@click.option("--keep-days", type=click.IntRange(min=0), required=True, help="Keep events of the last N days.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted.")
@json_option
@common_options
@click.pass_context
def cleanup_cmd(ctx: click.Context, keep_days: int, dry_run: bool, as_json: bool) -> None:
    """Trim the event log to the last N days (the history is never trimmed)."""
    setup_logging(ctx)
    res = api.cleanup(settings(ctx), keep_days=keep_days, dry_run=dry_run)
    if as_json:
        print_json(res.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    echo(f"{verb} {res.deleted} event(s) older than {keep_days} day(s)")


@cli.command("config")
@json_option
@common_options
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show the resolved settings and where each came from (password masked)."""
    setup_logging(ctx)
    s = settings(ctx)
    data = s.to_dict()
    if as_json:
        print_json({"settings": data, "origins": s.origins})
        return
    table(["Setting", "Value", "From"], [[k, v, s.origins.get(k, "default")] for k, v in data.items()])


# --- lock -----------------------------------------------------------------------------------------


@cli.group("lock", cls=AliasGroup)
@common_options
def lock_group() -> None:
    """Inspect or release the migration lock."""


@lock_group.command("status")
@json_option
@common_options
@click.pass_context
def lock_status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show whether the migration lock is held, and by whom."""
    setup_logging(ctx)
    res = api.lock_status(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    elif res.held:
        echo(f"held: {_holder_text(res.holder or {})}")
    else:
        echo(f"free: no migrator holds the lock on {res.database}")


def _holder_text(h: dict[str, Any]) -> str:
    """pid P on HOST (server session S) since T (what T measures); detail."""
    text = f"pid {h.get('pid') if h.get('pid') is not None else '?'} on {h.get('host') or '?'}"
    if h.get("session") is not None:
        text += f" (server session {h['session']})"
    text += f" since {h.get('since') or '?'}" + (f" ({h['since_what']})" if h.get("since_what") else "")
    return text + (f"; {h['detail']}" if h.get("detail") else "")


@lock_group.command("release")
@confirm_option()
@json_option
@common_options
@click.pass_context
def lock_release_cmd(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Stop the migrator holding the lock, after confirmation."""
    setup_logging(ctx)
    s = settings(ctx)
    if not yes:
        st = api.lock_status(s)
        if not st.held:
            echo("free: nothing to release")
            return
        if not sys.stdin.isatty():
            raise NotConfirmedError("releasing the lock stops its holder", hint="confirm with --yes (alias --force)")
        h = st.holder or {}
        if not click.confirm(f"Stop the migrator pid {h.get('pid')} on {h.get('host')}?", default=False):
            raise NotConfirmedError("not confirmed; the lock stays")
    res = api.lock_release(s, force=True)
    if as_json:
        print_json(res.to_dict())
    elif res.released:
        echo(f"released: stopped {_holder_text(res.holder or {})}")
    else:
        echo("free: nothing to release")


# --- databases ------------------------------------------------------------------------------------


@cli.group("db", cls=AliasGroup)
@common_options
def db_group() -> None:
    """Create or drop the configured database itself."""


@db_group.command("create")
@json_option
@common_options
@click.pass_context
def db_create_cmd(ctx: click.Context, as_json: bool) -> None:
    """Create the configured database (utf8mb4 on MySQL/MariaDB); fine if it exists."""
    setup_logging(ctx)
    res = api.create_database(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    elif res.changed:
        echo(f"created {res.database}")
    else:
        echo(f"{res.database} already exists")


@db_group.command("drop")
@confirm_option()
@json_option
@common_options
@click.pass_context
def db_drop_cmd(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Drop the configured database and everything in it, after confirmation."""
    setup_logging(ctx)
    s = settings(ctx)
    if not yes:
        if not sys.stdin.isatty():
            raise NotConfirmedError(
                f"dropping {s.masked_url} deletes all its data", hint="confirm with --yes (alias --force)"
            )
        if not click.confirm(f"Drop {s.masked_url} and all its data?", default=False):
            raise NotConfirmedError("not confirmed; nothing was dropped")
    res = api.drop_database(s, force=True)
    if as_json:
        print_json(res.to_dict())
    elif res.changed:
        echo(f"dropped {res.database}")
    else:
        echo(f"{res.database} does not exist")
