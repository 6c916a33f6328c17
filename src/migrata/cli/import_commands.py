"""``migrata import``: bring a project from another migration tool into migrata."""

from __future__ import annotations

import os

import click

from migrata.api_alembic import import_alembic
from migrata.cli.group import AliasGroup, cli, json_option, settings, setup_logging
from migrata.cli.options import collected, common_options
from migrata.cli.output import echo, print_json


@cli.group("import", cls=AliasGroup)
@common_options
def import_group() -> None:
    """Write another tool's migrations as migrata migrations."""


@import_group.command("alembic")
@click.argument("project", metavar="DIR")
@click.option("--dry-run", is_flag=True, help="Show the migrations that would be written; write nothing.")
@json_option
@common_options
@click.pass_context
def import_alembic_cmd(ctx: click.Context, project: str, dry_run: bool, as_json: bool) -> None:
    """Write the revisions of the Alembic project in DIR (alembic.ini's
    folder, or the one with env.py and versions/) as migrations, rendered as SQL
    for the configured database."""
    setup_logging(ctx)
    base = collected(ctx).get("directory")  # -C DIR: paths are relative to it, as for init
    res = import_alembic(settings(ctx), os.path.join(base, project) if base else project, dry_run=dry_run)
    if as_json:
        print_json(res.to_dict())
        return
    verb = "would write" if dry_run else "wrote"
    for m in res.migrations:
        how = "Python (offline mode cannot render it: " + m["reason"] + ")" if m["kind"] == "py" else "SQL"
        echo(f"{verb} {m['version']} from revision {m['revision']} {m['message']!r} as {how}")
        for path in m["files"]:
            echo(f"  {path}")
        if not m["has_down"]:
            echo("  (its downgrade() raises NotImplementedError: no down migration)")
    if res.skipped:
        echo(f"skipped {len(res.skipped)} revision(s) imported before ({res.skipped[0]} .. {res.skipped[-1]})")
    if not res.migrations:
        echo("nothing to import: every revision is already in the migrations folder")
    elif not dry_run:
        echo("next: `migrata up` (a database Alembic migrated is taken over from its alembic_version)")
