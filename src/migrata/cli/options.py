"""Options every command accepts, before or after the command name.

``migrata --url U up`` and ``migrata up --url U`` mean the same; a value
given after the command wins. Values are collected in ``ctx.meta`` (shared by
the group's and the command's contexts) and read by :func:`overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from migrata.config import KEYS, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

_META = "migrata.options"

#: (flags, setting key or control name, click.Option keyword arguments)
OPTIONS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("--config",), "config", {"metavar": "FILE", "help": "Config file (migrata.toml or pyproject.toml)."}),
    (("-C", "--directory"), "directory", {"metavar": "DIR", "help": "Run as if started in DIR."}),
    (("--env",), "env", {"metavar": "NAME", "help": "Overlay the [env.NAME] section of the config."}),
    (("--url",), "url", {"metavar": "URL", "help": "Database URL (wins over config and environment)."}),
    (("--migrations",), "migrations", {"metavar": "DIR", "help": "Migrations folder."}),
    (("--table",), "table", {"metavar": "NAME", "help": "History table name."}),
    (
        ("--versions",),
        "versions",
        {"type": click.Choice(["sequential", "timestamp"]), "help": "Version scheme for `new`."},
    ),
    (
        ("--lock-timeout",),
        "lock_timeout",
        {"metavar": "DURATION", "help": "How long to wait for the migration lock (60s)."},
    ),
    (("--statement-timeout",), "statement_timeout", {"metavar": "DURATION", "help": "Bound for each statement."}),
    (("--timeout",), "timeout", {"metavar": "DURATION", "help": "Bound for a whole up/down run (lock wait included)."}),
    (
        ("--ddl-lock-timeout",),
        "ddl_lock_timeout",
        {"metavar": "DURATION", "help": "Bound for a migration's wait for a table lock, then retry (5s; 0: off)."},
    ),
    (("--ddl-retries",), "ddl_retries", {"metavar": "N", "help": "Attempts when lock waits time out (5)."}),
    (
        ("--file-pattern",),
        "file_pattern",
        {"metavar": "REGEX", "multiple": True, "help": "Extra migration file-name pattern."},
    ),
    (
        ("--ordering",),
        "ordering",
        {"type": click.Choice(["number", "name"]), "help": "Order files by version number or by whole name."},
    ),
    (
        ("--allow-empty",),
        "allow_empty",
        {"is_flag": True, "default": None, "help": "Run empty migration files as no-ops."},
    ),
    (
        ("--out-of-order",),
        "out_of_order",
        {"is_flag": True, "default": None, "help": "Allow pending migrations older than the current version."},
    ),
    (
        ("--mixed",),
        "mixed",
        {"is_flag": True, "default": None, "help": "Run migrations holding non-transactional statements journaled."},
    ),
    (
        ("--create-database",),
        "create_database",
        {"is_flag": True, "default": None, "help": "Let `up` create the database when it does not exist."},
    ),
    (
        ("--on-connect",),
        "on_connect",
        {"metavar": "MODULE:FUNC", "multiple": True, "help": "Call FUNC(connection) after connecting."},
    ),
    (
        ("--placeholder",),
        "placeholders",
        {"metavar": "NAME=VALUE", "multiple": True, "help": "Replace ${NAME} in migration SQL by VALUE."},
    ),
    (
        ("--placeholder-prefix",),
        "placeholder_prefix",
        {"metavar": "TEXT", "help": "Text that opens a placeholder (${)."},
    ),
    (
        ("--placeholder-suffix",),
        "placeholder_suffix",
        {"metavar": "TEXT", "help": "Text that closes a placeholder (})."},
    ),
    (("--models",), "models", {"metavar": "MODULE:ATTR", "help": "SQLAlchemy models for autogenerate and diff."}),
    # operations
    (
        ("--backup/--no-backup",),
        "backup",
        {"default": None, "help": "Take a verified backup before up/down change anything."},
    ),
    (("--backup-dir",), "backup_dir", {"metavar": "DIR", "help": "Folder for backups (backups)."}),
    (("--backup-keep",), "backup_keep", {"metavar": "N", "help": "Keep the N newest backups (10)."}),
    (
        ("--restore-on-failure",),
        "restore_on_failure",
        {"is_flag": True, "default": None, "help": "Restore the pre-run backup if the run or verification fails."},
    ),
    (
        ("--before-up",),
        "before_up",
        {"metavar": "CMD", "multiple": True, "help": "Hook run before up changes anything."},
    ),
    (("--after-up",), "after_up", {"metavar": "CMD", "multiple": True, "help": "Hook run after up succeeded."}),
    (("--before-down",), "before_down", {"metavar": "CMD", "multiple": True, "help": "Hook run before down."}),
    (("--after-down",), "after_down", {"metavar": "CMD", "multiple": True, "help": "Hook run after down succeeded."}),
    (("--on-failure",), "on_failure", {"metavar": "CMD", "multiple": True, "help": "Hook run when up/down fails."}),
    (
        ("--verify",),
        "verify",
        {"is_flag": True, "default": None, "help": "After up: run *.verify.sql checks and the health check."},
    ),
    (("--health-url",), "health_url", {"metavar": "URL", "help": "Health check that must answer 2xx after up."}),
    (("--health-timeout",), "health_timeout", {"metavar": "DURATION", "help": "Health check timeout (10s)."}),
    (("--metrics-file",), "metrics_file", {"metavar": "FILE", "help": "Prometheus textfile to update after up/down."}),
    (("--pushgateway",), "pushgateway", {"metavar": "URL", "help": "Prometheus Pushgateway to push metrics to."}),
    (
        ("--log-format",),
        "log_format",
        {"type": click.Choice(["text", "json"]), "help": "Log lines as text or JSON objects."},
    ),
    (("--log-file",), "log_file", {"metavar": "FILE", "help": "Also append log lines to FILE."}),
    (("--replica-url",), "replica_url", {"metavar": "URL", "help": "Replica whose lag pauses backfills."}),
    (("--replica-max-lag",), "replica_max_lag", {"metavar": "DURATION", "help": "Lag that pauses backfills (10s)."}),
    (
        ("--log-level",),
        "log_level",
        {
            "type": click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
            "help": "Log level on stderr.",
        },
    ),
    (("--debug",), "debug", {"is_flag": True, "default": None, "help": "Show tracebacks and debug logs."}),
]


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        source = ctx.get_parameter_source(param.name or key)
        if value is None or source in (click.core.ParameterSource.DEFAULT, None):
            return
        if isinstance(value, tuple) and not value:
            return
        ctx.meta.setdefault(_META, {})[key] = list(value) if isinstance(value, tuple) else value

    return callback


def _counter(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: int) -> None:
        if value:
            store = ctx.meta.setdefault(_META, {})
            store[key] = store.get(key, 0) + value

    return callback


_SHARED: list[click.Option] = []


def _shared() -> list[click.Option]:
    """The shared options, built once: every command holds the same objects
    (they keep no per-command state), so starting the CLI builds ~40 options,
    not ~40 per command."""
    if not _SHARED:
        _SHARED.append(
            click.Option(
                ["-v", "--verbose", "verbose"],
                count=True,
                expose_value=False,
                callback=_counter("verbose"),
                help="More output.",
            )
        )
        _SHARED.append(
            click.Option(
                ["-q", "--quiet", "quiet"],
                count=True,
                expose_value=False,
                callback=_counter("quiet"),
                help="Less output (-qq: errors only).",
            )
        )
        for flags, key, spec in OPTIONS:
            _SHARED.append(click.Option([*flags, key], expose_value=False, callback=_store(key), **spec))
    return _SHARED


def common_options(f: F) -> F:
    """Add the shared options to a command or the group."""
    # click's decorators collect parameters in reverse order of appearance
    params = f.__dict__.setdefault("__click_params__", [])
    params.extend(reversed(_shared()))
    return f


def collected(ctx: click.Context) -> dict[str, Any]:
    return dict(ctx.meta.get(_META, {}))


def overrides(ctx: click.Context) -> dict[str, Any]:
    """Setting overrides given on the command line."""
    values = collected(ctx)
    return {k: values[k] for k in KEYS if k in values}


def load_from_options(opts: dict[str, Any]) -> Settings:
    """The settings for collected command-line options (-C, --config, --env and
    every setting flag: each has the name of its setting)."""
    return load_settings(
        opts.get("config"),
        directory=opts.get("directory"),
        env=opts.get("env"),
        **{k: opts[k] for k in KEYS if k in opts},
    )


def confirm_option(help: str = "Do not ask for confirmation.") -> Callable[[F], F]:
    """The one confirmation flag of every command that asks before changing
    something: ``--yes``/``-y``, with ``--force``/``-f`` as its alias (the
    value arrives as the ``yes`` parameter)."""
    return click.option("--yes", "-y", "--force", "-f", "yes", is_flag=True, help=f"{help} Alias: --force.")
