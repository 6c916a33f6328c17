"""The command line's shared options as data, and a small parser for the
reporting commands that answer without loading click.

``migrata status``, ``check`` and ``current`` are what readiness probes and
CI scripts run many times a day, and ``up`` what every deploy and test run
starts with; starting click and building every command would cost more than
the answer. :func:`parse_fast` understands exactly those commands (and
``down``) with the shared options below (the same table click builds its
options from, in :mod:`migrata.cli.options`) and their own few options;
anything else (help, a typo, another command) returns None and goes to click.
Only the standard library's builtins are used here: the command line parses
its arguments with it before it knows whether a kept answer will do
(:mod:`migrata.cli.answers`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from migrata.config import Settings

__all__ = ["MIGRATING", "OPTIONS", "REPORTING", "load_from_options", "parse_fast", "parse_reporting"]

#: (flags, setting key or control name, click keyword arguments; ``choices``
#: and ``case_sensitive`` make a click.Choice)
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
        {"choices": ("sequential", "timestamp"), "help": "Version scheme for `new`."},
    ),
    (
        ("--lock-timeout",),
        "lock_timeout",
        {"metavar": "DURATION", "help": "How long to wait for the migration lock (60s)."},
    ),
    (("--statement-timeout",), "statement_timeout", {"metavar": "DURATION", "help": "Bound for each statement."}),
    (("--timeout",), "timeout", {"metavar": "DURATION", "help": "Bound for a whole up/down run (lock wait included)."}),
    (
        ("--file-pattern",),
        "file_pattern",
        {"metavar": "REGEX", "multiple": True, "help": "Extra migration file-name pattern."},
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
        ("--on-connect",),
        "on_connect",
        {"metavar": "MODULE:FUNC", "multiple": True, "help": "Call FUNC(connection) after connecting."},
    ),
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
        {"choices": ("text", "json"), "help": "Log lines as text or JSON objects."},
    ),
    (("--log-file",), "log_file", {"metavar": "FILE", "help": "Also append log lines to FILE."}),
    (
        ("--log-level",),
        "log_level",
        {
            "choices": ("debug", "info", "warning", "error"),
            "case_sensitive": False,
            "help": "Log level on stderr.",
        },
    ),
    (("--debug",), "debug", {"is_flag": True, "default": None, "help": "Show tracebacks and debug logs."}),
]

#: Commands (and aliases) the fast path answers.
REPORTING = {"status": "status", "check": "check", "current": "current", "version": "current"}
MIGRATING = {
    "up": "up",
    "migrate": "up",
    "upgrade": "up",
    "down": "down",
    "rollback": "down",
    "downgrade": "down",
}
#: flags of the commands themselves -> their key in the parsed extras
_COMMAND_FLAGS = {"--json": "json", "--dry-run": "dry_run", "--sql": "sql"}


def _index() -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """flag -> (key, value for a flag or None for "takes a value", spec)."""
    index: dict[str, tuple[str, Any, dict[str, Any]]] = {}
    for flags, key, spec in OPTIONS:
        for flag in flags:
            if "/" in flag:  # --backup/--no-backup
                on, off = flag.split("/")
                index[on] = (key, True, spec)
                index[off] = (key, False, spec)
            else:
                index[flag] = (key, True if spec.get("is_flag") else None, spec)
    return index


def parse_reporting(args: list[str]) -> tuple[str, dict[str, Any], bool] | None:
    """``[options] COMMAND [options]`` for a reporting command -> (command,
    collected options, --json), or None when click must parse ``args``.

    As with click: a value given after the command wins over one given
    before it; -v and -q count across both."""
    parsed = parse_fast(args)
    if parsed is None or parsed[0] not in REPORTING.values():
        return None
    command, opts, extra = parsed
    return command, opts, extra["json"]


def parse_fast(args: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``[options] COMMAND [options]`` for a command the fast path answers ->
    (command, collected options, the command's own options: ``json``, and for
    ``up``/``down`` ``target``, ``steps``, ``dry_run``, ``sql``), or None when
    click must parse ``args``."""
    index = _index()
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    counts = {"verbose": 0, "quiet": 0}
    command = None
    extra: dict[str, Any] = {"json": False}
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        store = before if command is None else after
        if not token.startswith("-"):
            if command is None:
                command = REPORTING.get(token) or MIGRATING.get(token)
                if command is None:
                    return None
                if command in MIGRATING.values():
                    extra.update(target=None, steps=None, dry_run=False, sql=False)
                continue
            if "target" not in extra or extra["target"] is not None:
                return None  # an argument reporting commands do not take, or a second target
            extra["target"] = token
            continue
        if command is not None and token in _COMMAND_FLAGS and _COMMAND_FLAGS[token] in extra:
            extra[_COMMAND_FLAGS[token]] = True
            continue
        if command is not None and token == "--steps" and "steps" in extra:
            if i >= len(args) or not args[i].isdigit() or int(args[i]) < 1:
                return None  # click says what is wrong with it
            extra["steps"] = int(args[i])
            i += 1
            continue
        if len(token) > 1 and not token.startswith("--") and set(token[1:]) <= {"v", "q"}:
            for ch in token[1:]:
                counts["verbose" if ch == "v" else "quiet"] += 1
            continue
        flag, value = token, None
        if token.startswith("--") and "=" in token:
            flag, value = token.split("=", 1)
        elif token.startswith("-C") and len(token) > 2:
            flag, value = "-C", token[2:]
        entry = index.get(flag)
        if entry is None:
            return None
        key, flag_value, spec = entry
        if flag_value is not None:
            if value is not None:
                return None  # --flag=value: let click say what it thinks
            store[key] = flag_value
            continue
        if value is None:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        choices = spec.get("choices")
        if choices is not None:
            matches = [
                c for c in choices if c == value or (not spec.get("case_sensitive", True) and c == value.lower())
            ]
            if not matches:
                return None
            value = matches[0]
        if spec.get("multiple"):
            store.setdefault(key, []).append(value)
        else:
            store[key] = value
    if command is None:
        return None
    collected = {**before, **after, **{k: n for k, n in counts.items() if n}}
    return command, collected, extra


def load_from_options(opts: dict[str, Any]) -> Settings:
    """The settings for collected command-line options (-C, --config, --env and
    every setting flag)."""
    from migrata.config import KEYS, load_settings  # every setting has a flag of the same name

    return load_settings(
        opts.get("config"),
        directory=opts.get("directory"),
        env=opts.get("env"),
        **{k: opts[k] for k in KEYS if k in opts},
    )
