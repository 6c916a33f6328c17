"""Commands for operating migrations: backup, backups, restore, verify, doctor."""

from __future__ import annotations

import sys
from typing import Any

import click

from migrata import api
from migrata.cli.group import cli, json_option, settings, setup_logging
from migrata.cli.options import common_options, confirm_option
from migrata.cli.output import echo, print_json, table
from migrata.errors import ValidationError, VerificationError


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


@cli.command("backup")
@json_option
@common_options
@click.pass_context
def backup_cmd(ctx: click.Context, as_json: bool) -> None:
    """Take a verified, timestamped backup of the database into backup_dir."""
    setup_logging(ctx)
    res = api.backup(settings(ctx))
    if as_json:
        print_json(res.to_dict())
        return
    b = res.backups[0]
    echo(f"backup {b['path']} ({_size(b['size'])}, verified, sha256 {b['sha256'][:12]}, at {b['version'] or 'base'})")


@cli.command("backups")
@json_option
@common_options
@click.pass_context
def backups_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the database's backups: size, age, version at backup time, verification."""
    setup_logging(ctx)
    res = api.backups(settings(ctx))
    if as_json:
        print_json(res.to_dict())
        return
    if not res.backups:
        echo(f"No backups of {res.database}.")
        return
    table(
        ["Backup", "Size", "Age", "Version", "Verified", "Reason"],
        [
            [b["path"].rsplit("/", 1)[-1], _size(b["size"]), _age(b["age_seconds"]), b["version"] or "base",
             "yes" if b["verified"] else f"NO: {b['problem']}", b["reason"]]
            for b in res.backups
        ],
    )  # fmt: skip


@cli.command("restore")
@click.argument("name", metavar="[BACKUP]", required=False)
@confirm_option()
@json_option
@common_options
@click.pass_context
def restore_cmd(ctx: click.Context, name: str | None, yes: bool, as_json: bool) -> None:
    """Replace the database by BACKUP (default: the newest verified backup)."""
    setup_logging(ctx)
    s = settings(ctx)

    def ask(path: str) -> bool:
        if not sys.stdin.isatty():
            return False  # no terminal to ask: --yes is needed
        return click.confirm(f"Replace everything in {s.masked_url} by {path}?", default=False)

    res = api.restore(s, name, force=yes, confirm=ask)
    if as_json:
        print_json(res.to_dict())
        return
    echo(f"restored {res.backup['path']} into {res.database}: now at {res.version or 'base'}")
    if res.safety_backup:
        echo(f"what was there before is kept in {res.safety_backup}")


def _print_checks(checks: list[dict[str, Any]]) -> None:
    for c in checks:
        echo(f"{'ok  ' if c['ok'] else 'FAIL'}  {c['name']}: {c['detail']}")


@cli.command("verify")
@json_option
@common_options
@click.pass_context
def verify_cmd(ctx: click.Context, as_json: bool) -> None:
    """Run the *.verify.sql checks of applied migrations and the health check."""
    setup_logging(ctx)
    res = api.verify(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    elif not res.checks:
        echo("Nothing to verify: no *.verify.sql for applied migrations and no health_url.")
    else:
        _print_checks(res.checks)
    if not res.ok:
        failed = next(c for c in res.checks if not c["ok"])
        if as_json:
            ctx.exit(VerificationError.exit_code)
        raise VerificationError(f"verification failed: {failed['name']}: {failed['detail']}")


@cli.command("doctor")
@json_option
@common_options
@click.pass_context
def doctor_cmd(ctx: click.Context, as_json: bool) -> None:
    """Check connection, privileges, backup tools, disk, lock and migrations."""
    setup_logging(ctx)
    res = api.doctor(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    else:
        for c in res.checks:
            echo(f"{c['status']:<4}  {c['name']:<13} {c['detail']}")
        echo("ready to migrate" if res.ready else "NOT ready to migrate")
    if not res.ready:
        ctx.exit(ValidationError.exit_code)
