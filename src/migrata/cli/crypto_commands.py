"""``migrata crypto``: key rotation of encrypted columns and of envelope data
keys, thin commands over :mod:`migrata.api_data`. Nothing here prints a key
or a value: only key references, versions, counts and row keys."""

from __future__ import annotations

from typing import Any

import click

from migrata import api_data
from migrata.cli.data_commands import _options
from migrata.cli.group import cli, json_option, quiet, settings, setup_logging
from migrata.cli.options import common_options
from migrata.cli.output import echo, err, print_json, table

__all__ = ["crypto_group"]


@cli.group("crypto")
@common_options
def crypto_group() -> None:
    """Rotate the keys of encrypted columns (Fernet keys or envelope data keys)."""


def _column_options(f: Any) -> Any:
    for option in reversed(
        [
            click.option("--table", required=True, metavar="TABLE", help="Table of the encrypted column."),
            click.option("--column", required=True, metavar="COLUMN", help="The encrypted column."),
            click.option(
                "--key", metavar="COL,...", help="Unique column(s) to walk the table by (default: primary key)."
            ),
            click.option("--envelope", is_flag=True, help="Envelope values: use the active data key."),
            click.option(
                "--batch-size",
                type=click.IntRange(min=1),
                default=1000,
                show_default=True,
                help="Rows per transaction.",
            ),
            json_option,
        ]
    ):
        f = option(f)
    return _options(f)


@crypto_group.command("rotate")
@_column_options
@click.pass_context
def rotate_cmd(ctx: click.Context, **kw: Any) -> None:
    """Re-encrypt COLUMN of every row of TABLE under the newest key, in resumable batches."""
    _rewrite(ctx, api_data.rotate_encryption, "re-encrypted", **kw)


@crypto_group.command("encrypt")
@_column_options
@click.pass_context
def encrypt_cmd(ctx: click.Context, **kw: Any) -> None:
    """Encrypt the plaintext values of COLUMN under the newest key, in resumable batches."""
    _rewrite(ctx, api_data.encrypt_column, "encrypted", **kw)


def _rewrite(ctx: click.Context, call: Any, verb: str, *, as_json: bool, **kw: Any) -> None:
    setup_logging(ctx)
    res = call(settings(ctx), **kw)
    if as_json:
        print_json(res.to_dict())
    elif not quiet(ctx):
        resumed = f" (resumed after {res.resumed_after} row(s))" if res.resumed_after else ""
        echo(
            f"{res.table}.{res.column} under {res.keys[0]}{resumed}: {res.done} {verb}, "
            f"{res.skipped} skipped (already done or NULL), {res.failed} failed."
        )
    if res.failed:
        shown = ", ".join(str(k) for k in res.failed_keys[:20])
        more = " ..." if res.failed > len(res.failed_keys[:20]) else ""
        err(
            f"warning: {res.failed} row(s) of {res.table} no configured key decrypts (InvalidToken), "
            f"left unchanged; keys: {shown}{more}"
        )


def _print_keys(res: Any) -> None:
    rows = [(k["version"], k["status"], k["expires_at"] or "") for k in res.keys]
    table(["version", "status", "expires_at"], rows, title=f"data keys in {res.table}")


@crypto_group.command("rotate-data-key")
@json_option
@common_options
@click.pass_context
def rotate_data_key_cmd(ctx: click.Context, as_json: bool) -> None:
    """Make a new active envelope data key; the old ones still decrypt until retired."""
    setup_logging(ctx)
    res = api_data.rotate_data_key(settings(ctx))
    if as_json:
        print_json(res.to_dict())
    elif not quiet(ctx):
        echo(f"Created data key version {res.created} in {res.table}: it is the active one.")
        _print_keys(res)


@crypto_group.command("retire-data-keys")
@click.option(
    "--column", "columns", required=True, multiple=True, metavar="TABLE.COLUMN", help="A column the data keys encrypt."
)
@click.option("--dry-run", is_flag=True, help="Only say which keys would be retired, and which values need the others.")
@json_option
@common_options
@click.pass_context
def retire_data_keys_cmd(ctx: click.Context, columns: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Retire (revoke) every old data key that no value of the columns still needs."""
    setup_logging(ctx)
    res = api_data.retire_data_keys(settings(ctx), columns=list(columns), dry_run=dry_run)
    if as_json:
        print_json(res.to_dict())
        return
    if not quiet(ctx):
        retired = ", ".join(f"v{v}" for v in res.retired) or "none"
        echo(f"{'Would retire' if dry_run else 'Retired'} data key(s): {retired}.")
        _print_keys(res)
    for version, count in sorted(res.kept.items()):
        err(f"kept data key v{version}: {count} value(s) still use it; run `migrata crypto rotate --envelope` first")
