"""``migrata autogenerate``, ``migrata diff`` and ``migrata squash``: thin commands over
:mod:`migrata.api_schema` (which imports SQLAlchemy and alembic only when
called, so registering these commands costs nothing)."""

from __future__ import annotations

from pathlib import Path

import click

from migrata import api_schema
from migrata.cli.group import cli, json_option, settings, setup_logging
from migrata.cli.options import common_options
from migrata.cli.output import echo, err, print_json

#: `diff` exits with this code when it finds drift (as validation failures do)
DRIFT_EXIT = 3


@cli.command("autogenerate")
@click.argument("name")
@json_option
@common_options
@click.pass_context
def autogenerate_cmd(ctx: click.Context, name: str, as_json: bool) -> None:
    """Write the next up/down pair that brings the migrations to the models.

    The migrations are replayed into a scratch database and compared with
    --models (or the models setting). Nothing is written when nothing changed.
    """
    setup_logging(ctx)
    res = api_schema.autogenerate(settings(ctx), name)
    if as_json:
        print_json(res.to_dict())
        return
    if not res.changed:
        echo("nothing changed: the migrations match the models; no file written")
        return
    for path in res.files:
        echo(f"created {path}")
    for line in res.differences:
        echo(f"  {line}")
    for note in res.notes:
        err(f"review: {note}")
    if res.losses:
        err("review required: " + "; ".join(res.losses))
        err("hint: `up` refuses the file until its '-- migrata:review-required' line is removed")


@cli.command("diff")
@json_option
@common_options
@click.pass_context
def diff_cmd(ctx: click.Context, as_json: bool) -> None:
    """Report drift: the live database against its migrations, and the
    migrations against the models (when set). Exits 0 when none, 3 on drift."""
    setup_logging(ctx)
    res = api_schema.diff(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    else:
        for comparison in res.comparisons:
            label = f"{comparison['left']} vs {comparison['right']}"
            lines = comparison["lines"]
            echo(f"{label}: {'no differences' if not lines else f'{len(lines)} difference(s)'}")
            for line in lines:
                echo(f"  {line}")
        for item in res.not_compared:
            if item["names"]:
                echo(f"not compared: {item['kind']} {', '.join(item['names'])}")
    ctx.exit(DRIFT_EXIT if res.drift else 0)


@cli.command("squash")
@click.option("--to", "to", required=True, metavar="VERSION", help="Squash the migrations up to this version.")
@click.option(
    "--seed-table",
    "seed_tables",
    multiple=True,
    metavar="TABLE",
    help="Write this table's rows into the baseline as INSERTs (repeatable).",
)
@click.option(
    "--archive",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the squashed files (default: archive/ in the migrations folder).",
)
@json_option
@common_options
@click.pass_context
def squash_cmd(ctx: click.Context, to: str, seed_tables: tuple[str, ...], archive: Path | None, as_json: bool) -> None:
    """Squash the migrations up to --to into one baseline migration.

    The migrations are replayed into a scratch database; its schema (and the
    rows of each --seed-table) becomes VERSION_baseline.up.sql, and their
    files move to the archive folder. Databases at or past VERSION keep
    working; a database below it is told how to catch up from the archive.
    """
    setup_logging(ctx)
    res = api_schema.squash(settings(ctx), to, seed_tables=seed_tables, archive=archive.resolve() if archive else None)
    if as_json:
        print_json(res.to_dict())
        return
    echo(f"created {res.baseline} (the schema of {res.first}..{res.version})")
    echo(f"moved {len(res.archived)} file(s) to {res.archive}")
    if not res.recorded:
        err("note: no squash event recorded: the configured database has no migrata history")
