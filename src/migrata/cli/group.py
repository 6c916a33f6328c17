"""The ``migrata`` command group, its aliases, and what every command uses:
the settings from the command line, logging, ``--json``. The commands
register on :data:`cli` from :mod:`migrata.cli.commands` and
:mod:`migrata.cli.operations`; :mod:`migrata.cli.app` gathers them."""

from __future__ import annotations

import click

from migrata import __version__
from migrata.cli.logs import setup
from migrata.cli.options import collected, common_options, load_from_options
from migrata.config import Settings

__all__ = ["ALIASES", "AliasGroup", "cli", "json_option", "quiet", "settings", "setup_logging"]

ALIASES = {
    "migrate": "up",
    "upgrade": "up",
    "rollback": "down",
    "downgrade": "down",
    "version": "current",
    "generate": "new",
    "baseline": "stamp",
    "lock-status": "lock status",
    "force-unlock": "lock release",
}


class AliasGroup(click.Group):
    """A group whose commands also answer to their aliases (listed in help)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = ALIASES.get(cmd_name, cmd_name) if self.name == "migrata" else cmd_name
        if " " in target:
            group_name, sub = target.split(" ", 1)
            group = super().get_command(ctx, group_name)
            assert isinstance(group, click.Group)
            return group.get_command(ctx, sub)
        return super().get_command(ctx, target)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            aliases = [a for a, t in ALIASES.items() if t == name] if self.name == "migrata" else []
            label = name + (f" ({', '.join(aliases)})" if aliases else "")
            rows.append((label, cmd.get_short_help_str(60)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def settings(ctx: click.Context) -> Settings:
    cached = ctx.meta.get("migrata.settings")
    if cached is None:
        cached = load_from_options(collected(ctx))
        ctx.meta["migrata.settings"] = cached
    return cached


def setup_logging(ctx: click.Context) -> None:
    """Log level from -v/-q/--log-level/--debug; format and file from
    --log-format/--log-file or the config (when it loads)."""
    setup(collected(ctx), lambda: settings(ctx))


def quiet(ctx: click.Context) -> bool:
    return bool(collected(ctx).get("quiet"))


json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


@click.group(cls=AliasGroup, name="migrata", context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(version=__version__, prog_name="migrata")  # no package metadata lookup
def cli() -> None:
    """Database schema migrations for SQLite, PostgreSQL and MySQL/MariaDB.

    Options such as --url, --migrations and --table work before or after
    the command name. Exit codes: 0 ok, 1 migration failed, 2 usage or
    config error, 3 validation failed, 4 lock timeout, 5 pending (check),
    6 database unreachable, 7 backup/restore failed, 8 hook failed,
    9 verification failed.
    """
