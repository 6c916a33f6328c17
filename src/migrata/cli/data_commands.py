"""``migrata data load`` and ``migrata data dump``: thin commands over
:mod:`migrata.api_data`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from migrata import api_data
from migrata.cli.group import cli, json_option, quiet, settings, setup_logging
from migrata.cli.options import _shared, collected, common_options
from migrata.cli.output import echo, print_json

__all__ = ["data_group"]

_FORMAT = click.Choice(["json", "jsonl", "csv"])


def _options(f: Any) -> Any:
    """The shared options, but ``--table``: here it names the table to load
    or dump (these commands never touch the history table)."""
    params = f.__dict__.setdefault("__click_params__", [])
    params.extend(reversed([o for o in _shared() if o.name != "table"]))
    return f


def _here(ctx: click.Context, path: str) -> str:
    """A path given on the command line, relative to -C DIR when given."""
    base = collected(ctx).get("directory")
    return os.path.join(base, path) if base else path


@cli.group("data")
@common_options
def data_group() -> None:
    """Load rows into a table from JSON, JSON lines or CSV, or dump them out."""


@data_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--table", required=True, metavar="TABLE", help="Table to load into.")
@click.option("--key", metavar="COL,...", help="Unique column(s) to upsert on (default: the primary key).")
@click.option("--format", "fmt", type=_FORMAT, help="File format (default: from the file name).")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True, help="Rows per transaction.")
@json_option
@_options
@click.pass_context
def load_cmd(
    ctx: click.Context, file: str, table: str, key: str | None, fmt: str | None, batch_size: int, as_json: bool
) -> None:
    """Upsert the records of FILE into TABLE: loading the same file again changes nothing."""
    setup_logging(ctx)
    file = _here(ctx, file)
    res = api_data.load_data(settings(ctx), file, table=table, key=key, format=fmt, batch_size=batch_size)
    if as_json:
        print_json(res.to_dict())
    elif not quiet(ctx):
        keys = ", ".join(res.keys)
        echo(f"Loaded {res.rows} row(s) into {res.table} from {file} in {res.batches} batch(es), keyed on {keys}.")


@data_group.command("dump")
@click.option("--table", required=True, metavar="TABLE", help="Table to dump.")
@click.option("--format", "fmt", type=_FORMAT, default="json", show_default=True, help="Output format.")
@click.option("--out", metavar="FILE", help="Write to FILE (default: standard output).")
@_options
@click.pass_context
def dump_cmd(ctx: click.Context, table: str, fmt: str, out: str | None) -> None:
    """Write every row of TABLE, in primary-key order, as JSON, JSON lines or CSV."""
    setup_logging(ctx)
    out = _here(ctx, out) if out else None
    res = api_data.dump_data(settings(ctx), table=table, format=fmt, out=out if out else sys.stdout)
    if out and not quiet(ctx):
        echo(f"Dumped {res.rows} row(s) of {res.table} to {out}.")
