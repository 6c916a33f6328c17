"""Settings: the only module that reads configuration files and the environment.

Where a setting comes from, strongest first:

1. keyword overrides (the CLI's flags: ``--url``, ``--migrations``...);
2. ``[env.NAME]`` of the config file when an environment is selected
   (``--env NAME`` or ``MIGRATA_ENV``): a deliberate choice, so the
   environment and ``.env`` do not override it;
3. the process environment: ``MIGRATA_DATABASE_URL``, ``DATABASE_URL``, the
   ``DB_DRIVER DB_HOST DB_PORT DB_USER DB_PASSWORD DB_NAME`` set, and
   ``MIGRATA_<KEY>`` for every other key (``MIGRATA_TABLE``...);
4. the same variables in ``.env`` in the project directory;
5. the config file: ``migrata.toml``, or ``[tool.migrata]`` in
   ``pyproject.toml``, searched from the working directory upward;
6. defaults.

``${VAR}`` and ``${VAR:-default}`` in the config file's values (hooks and
file patterns excepted) and in ``.env`` are expanded from the environment
and ``.env`` (:mod:`migrata.envfile`).

Relative paths in the config file are relative to the file; those from the
environment or flags are relative to the working directory (``-C DIR``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from migrata.dbvars import url_from_environment
from migrata.envfile import EnvFile, expand
from migrata.errors import ConfigError
from migrata.util import DatabaseURL, events_table_name, mask_url, parse_crypto, parse_duration

__all__ = ["CONFIG_FILES", "KEYS", "PATH_KEYS", "Settings", "load_settings"]

CONFIG_FILES = ("migrata.toml", "pyproject.toml")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _parse_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


def _parse_path(value: Any) -> str:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return _parse_str(value)


def _parse_table(value: Any) -> str:
    text = _parse_str(value)
    if not _IDENT_RE.match(text):
        raise ValueError("must be a plain table name (letters, digits, underscores)")
    return text


def _parse_versions(value: Any) -> str:
    text = _parse_str(value).lower()
    if text not in ("sequential", "timestamp"):
        raise ValueError("must be 'sequential' or 'timestamp'")
    return text


def _parse_ordering(value: Any) -> str:
    text = _parse_str(value).lower()
    if text not in ("number", "name"):
        raise ValueError("must be 'number' or 'name'")
    return text


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _parse_out_of_order(value: Any) -> str:
    if isinstance(value, bool):
        return "allow" if value else "refuse"
    text = str(value).strip().lower()
    if text in ("refuse", "allow", "ignore"):
        return text
    try:
        return "allow" if _parse_bool(text) else "refuse"
    except ValueError:
        raise ValueError("must be 'refuse', 'allow' or 'ignore'") from None


def _parse_optional_duration(value: Any) -> float | None:
    if value in (None, "", "none", "off", 0, "0"):
        return None
    return parse_duration(value)


def _parse_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()] if "," in value and "(" not in value else [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError("must be a string or a list of strings")


def _parse_positive_int(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError("must be a whole number") from None
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _parse_optional_str(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _parse_http_url(value: Any) -> str | None:
    """An http(s) URL (the health check, the Pushgateway), checked before anything runs."""
    from urllib.parse import urlsplit

    text = _parse_optional_str(value)
    if text is not None:
        parts = urlsplit(text)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("not an http:// or https:// URL (write e.g. http://host:port/path)")
    return text


def _parse_commands(value: Any) -> list[str]:
    """Hook commands: a string (one command) or a list of them."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    raise ValueError("must be a command string or a list of them")


def _parse_log_format(value: Any) -> str:
    text = _parse_str(value).lower()
    if text not in ("text", "json"):
        raise ValueError("must be 'text' or 'json'")
    return text


def _parse_marker(value: Any) -> str:
    """A placeholder prefix or suffix: any non-empty text, spaces kept."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def _parse_placeholders(value: Any) -> dict[str, str]:
    """A table of names and values, or ``name=value`` strings (``--placeholder``);
    names are matched without regard to case."""
    if isinstance(value, (list, tuple)):
        if not all("=" in str(v) for v in value):
            raise ValueError("each must be written name=value")
        value = dict(str(v).partition("=")[::2] for v in value)
    if not isinstance(value, Mapping):
        raise ValueError("must be a table of names and values, e.g. [placeholders] schema = 'auth'")
    for name, v in value.items():
        if not name or not isinstance(name, str) or any(c.isspace() for c in name):
            raise ValueError(f"{name!r} is not a placeholder name (no spaces)")
        if not isinstance(v, (str, int, float)):  # a bool is an int
            raise ValueError(f"the value of {name!r} must be a string or a number")
    return {k.lower(): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _parse_patterns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return _parse_list(value)


#: Every setting: key -> parser. Keys are spelled the same in the config file,
#: as ``MIGRATA_<KEY>`` in the environment and as ``--<key>`` on the CLI.
KEYS: dict[str, Callable[[Any], Any]] = {
    "url": _parse_str,
    "migrations": _parse_path,
    "table": _parse_table,
    "versions": _parse_versions,
    "lock_timeout": parse_duration,
    "statement_timeout": _parse_optional_duration,
    "timeout": _parse_optional_duration,
    "ddl_lock_timeout": _parse_optional_duration,
    "ddl_retries": _parse_positive_int,
    "out_of_order": _parse_out_of_order,
    "file_pattern": _parse_patterns,
    "ordering": _parse_ordering,
    "allow_empty": _parse_bool,
    "mixed": _parse_bool,
    "create_database": _parse_bool,
    "on_connect": _parse_list,
    "placeholders": _parse_placeholders,  # [placeholders] name = "value": ${name} in SQL
    "placeholder_prefix": _parse_marker,
    "placeholder_suffix": _parse_marker,
    # operations: backups, hooks, verification, metrics, logs
    "backup": _parse_bool,
    "backup_dir": _parse_path,
    "backup_keep": _parse_positive_int,
    "restore_on_failure": _parse_bool,
    "before_up": _parse_commands,
    "after_up": _parse_commands,
    "before_down": _parse_commands,
    "after_down": _parse_commands,
    "on_failure": _parse_commands,
    "verify": _parse_bool,
    "health_url": _parse_http_url,
    "health_timeout": parse_duration,
    "metrics_file": _parse_path,
    "pushgateway": _parse_http_url,
    "log_format": _parse_log_format,
    "log_file": _parse_path,
    "models": _parse_optional_str,  # pkg.module:metadata, for autogenerate and diff
    # data: backfills wait while this replica lags (PostgreSQL, MySQL/MariaDB)
    "replica_url": _parse_optional_str,
    "replica_max_lag": parse_duration,
    "crypto": parse_crypto,  # [crypto]: encrypted columns (key references only)
}

#: Settings that are paths: relative ones are relative to where they were written.
PATH_KEYS = ("migrations", "backup_dir", "metrics_file", "log_file")
#: Settings whose ``${...}`` is not expanded when the file is read: hook
#: commands (the shell expands them when they run, with the hook variables)
#: and regular expressions.
_LITERAL_KEYS = (
    *("before_up", "after_up", "before_down", "after_down", "on_failure", "file_pattern"),
    *("placeholder_prefix", "placeholder_suffix"),  # ${ is the default prefix, not a reference
)
Lookup = Callable[[str], "str | None"]
_SECRET_NAME_RE = re.compile(r"pass|pwd|secret|token|key", re.I)
_PLACEHOLDER_ENV = "MIGRATA_PLACEHOLDER_"  # + NAME: a placeholder (but _PREFIX and _SUFFIX are settings)
_PLACEHOLDER_ENV_RE = re.compile(rf"^{_PLACEHOLDER_ENV}(?!(?:PREFIX|SUFFIX)$).")


@dataclass
class Settings:
    """Resolved settings of one project. Build with :func:`load_settings`."""

    url: str | None = None
    migrations: Path = Path("migrations")
    table: str = "migrata_history"
    versions: str = "sequential"
    lock_timeout: float = 60.0
    statement_timeout: float | None = None
    timeout: float | None = None  # bound of a whole up/down run
    ddl_lock_timeout: float | None = 5.0  # bound of a migration's lock waits (0/None: off)
    ddl_retries: int = 5  # attempts of a migration whose lock wait timed out
    out_of_order: str = "refuse"
    file_pattern: list[str] = field(default_factory=list)
    ordering: str = "number"  # "name": a file's whole base name is its version
    allow_empty: bool = False
    mixed: bool = False
    create_database: bool = False  # `up` creates a missing database (server databases)
    on_connect: list[str] = field(default_factory=list)
    placeholders: dict[str, str] = field(default_factory=dict)  # lower-case name -> value
    placeholder_prefix: str = "${"
    placeholder_suffix: str = "}"
    backup: bool = False  # a verified backup before every up/down that changes something
    backup_dir: Path = Path("backups")
    backup_keep: int = 10
    restore_on_failure: bool = False
    before_up: list[str] = field(default_factory=list)
    after_up: list[str] = field(default_factory=list)
    before_down: list[str] = field(default_factory=list)
    after_down: list[str] = field(default_factory=list)
    on_failure: list[str] = field(default_factory=list)
    verify: bool = False
    health_url: str | None = None
    health_timeout: float = 10.0
    metrics_file: Path | None = None
    pushgateway: str | None = None
    log_format: str = "text"
    log_file: Path | None = None
    models: str | None = None
    replica_url: str | None = None  # backfills pause while this server lags
    replica_max_lag: float = 10.0  # seconds
    crypto: dict[str, Any] = field(default_factory=dict)  # [crypto]: key references, never keys
    project_dir: Path = field(default_factory=Path.cwd)
    config_file: Path | None = None
    env: str | None = None
    origins: dict[str, str] = field(default_factory=dict)
    url_base: Path | None = None

    @property
    def events_table(self) -> str:
        return events_table_name(self.table)

    def database_url(self) -> DatabaseURL:
        """The parsed URL; a clear ConfigError when none is set anywhere."""
        if not self.url:
            where = f" in {self.config_file}" if self.config_file else ""
            raise ConfigError(
                f"no database URL: set url{where}, DATABASE_URL or MIGRATA_DATABASE_URL, or pass --url",
                hint="e.g. --url sqlite:///app.db",
            )
        try:
            return DatabaseURL.parse(self.url, self.url_base or self.project_dir)
        except ConfigError as exc:
            origin = self.origins.get("url", "url")
            raise ConfigError(f"{exc.message} (from {origin})", hint=exc.hint) from None

    @property
    def masked_url(self) -> str:
        return mask_url(self.url) if self.url else "(no database URL)"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with keyword overrides applied (same rules as CLI flags)."""
        layer = {k: (v, "argument " + k) for k, v in overrides.items() if v is not None}
        values: dict[str, Any] = {"placeholders": self.placeholders}  # --placeholder adds to them
        origins = dict(self.origins)
        _apply_layer(values, origins, layer, Path.cwd())
        new = replace(self, origins=origins, **_finalise(values))
        if "url" in values:
            new.url_base = Path.cwd()
        return new

    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready, the URL masked."""
        data: dict[str, Any] = {}
        for key in KEYS:
            value = getattr(self, key)
            if isinstance(value, Path):
                value = str(value)
            # any setting may hold a URL with a password (url, health_url, hooks...)
            if isinstance(value, str):
                value = mask_url(value)
            elif isinstance(value, list):
                value = [mask_url(v) if isinstance(v, str) else v for v in value]
            elif key == "placeholders":  # one may be a password ([crypto] names only where keys live)
                value = {k: "***" if _SECRET_NAME_RE.search(k) else mask_url(v) for k, v in value.items()}
            data[key] = value
        data["events_table"] = self.events_table
        data["project_dir"] = str(self.project_dir)
        data["config_file"] = str(self.config_file) if self.config_file else None
        data["env"] = self.env
        return data


# --- loading ---------------------------------------------------------------------


def find_config(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest migrata.toml, or pyproject.toml with [tool.migrata], upward
    from ``start``."""
    for folder in (start, *start.parents):
        candidate = folder / "migrata.toml"
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            data = _read_toml(pyproject)
            section = data.get("tool", {}).get("migrata")
            if isinstance(section, dict):
                return pyproject, section
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8
        data = path.read_bytes()
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x})", hint="save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    for key in data:
        if key in KEYS or key == "env":
            continue
        import difflib

        close = difflib.get_close_matches(key, list(KEYS), n=1)
        raise ConfigError(
            f"unknown setting {key!r} in {where}" + (f" (did you mean {close[0]!r}?)" if close else ""),
            hint="settings: " + ", ".join(KEYS),
        )


Layer = dict[str, tuple[Any, str]]  # key -> (raw value, where it was read)


def _expanded(key: str, value: Any, where: str, lookup: Lookup) -> Any:
    """A config-file value with ``${VAR}`` references resolved."""
    if key in _LITERAL_KEYS:
        return value
    what = f"setting {key} ({where})"
    if isinstance(value, str):
        return expand(value, lookup, what)
    if isinstance(value, list):
        return [expand(v, lookup, what) if isinstance(v, str) else v for v in value]
    if isinstance(value, dict):  # [placeholders]: each value may use ${VAR}
        return {k: expand(v, lookup, f"{what} {k}") if isinstance(v, str) else v for k, v in value.items()}
    return value


def _file_layers(path: Path, data: dict[str, Any], env_name: str | None, lookup: Lookup) -> tuple[Layer, Layer]:
    _check_keys(data, path.name)
    base: Layer = {k: (_expanded(k, v, path.name, lookup), path.name) for k, v in data.items() if k != "env"}
    envs = data.get("env", {})
    if not isinstance(envs, dict):
        raise ConfigError(f"'env' in {path.name} must be a table of environments, e.g. [env.prod]")
    overlay: Layer = {}
    if env_name:
        section = envs.get(env_name)
        if not isinstance(section, dict):
            known = ", ".join(sorted(envs)) or "none"
            raise ConfigError(
                f"environment {env_name!r} is not defined in {path.name} (defined: {known})",
                hint=f"add [env.{env_name}] to {path.name}",
            )
        where = f"{path.name} [env.{env_name}]"
        _check_keys(section, where)
        overlay = {k: (_expanded(k, v, where, lookup), where) for k, v in section.items()}
    return base, overlay


def _env_layer(environ: Mapping[str, str], where: str) -> Layer:
    layer: Layer = {}
    for key in KEYS:
        name = f"MIGRATA_{key.upper()}"
        if key not in ("url", "placeholders") and environ.get(name):
            layer[key] = (environ[name], f"{where} {name}")
    defined = {k[len(_PLACEHOLDER_ENV) :]: environ[k] for k in environ if _PLACEHOLDER_ENV_RE.match(k)}
    if defined:
        layer["placeholders"] = (defined, f"{where} MIGRATA_PLACEHOLDER_*")
    url = url_from_environment(environ, where)
    if url:
        layer["url"] = url
    return layer


def _apply_layer(values: dict[str, Any], origins: dict[str, str], layer: Layer, base: Path) -> None:
    for key, (raw, where) in layer.items():
        parser = KEYS.get(key)
        if parser is None:
            raise ConfigError(f"unknown setting {key!r} ({where})")
        try:
            value = parser(raw)
        except ValueError as exc:
            shown = mask_url(str(raw)) if isinstance(raw, str) else raw
            raise ConfigError(f"setting {key} = {shown!r} ({where}): {exc}") from None
        if key in PATH_KEYS:
            value = Path(value).expanduser()
            if not value.is_absolute():
                value = base / value
        if key == "placeholders":  # each layer adds names (and wins for those it names)
            value = {**values.get(key, {}), **value}
        values[key] = value
        values.setdefault("_bases", {})[key] = base
        origins[key] = where


def _finalise(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith("_")}


def load_settings(
    config: str | os.PathLike[str] | None = None,
    *,
    directory: str | os.PathLike[str] | None = None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv: bool = True,
    **overrides: Any,
) -> Settings:
    """Resolve settings as the ``migrata`` command does.

    ``config`` is a config file (migrata.toml or pyproject.toml); without it
    the nearest one is searched from ``directory`` (default: the working
    directory) upward. ``overrides`` win over everything (CLI flags).
    """
    environ = os.environ if environ is None else environ
    start = Path(directory).expanduser().resolve() if directory else Path.cwd()
    if not start.is_dir():
        raise ConfigError(f"directory {start} does not exist (from -C)")
    env_name = env or environ.get("MIGRATA_ENV") or None
    found = _config_file(config, start)
    project_dir = found[0].parent if found else start
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    dotenv_vars = _read_dotenv(project_dir / ".env", environ) if dotenv else {}
    lookup = partial(_lookup, environ, dotenv_vars)
    base, overlay = _file_layers(found[0], found[1], env_name, lookup) if found else ({}, {})
    _apply_layer(values, origins, base, project_dir)
    if env_name and env and not found:
        raise ConfigError(f"--env {env_name} needs a config file with [env.{env_name}]; none was found")
    _apply_layer(values, origins, _env_layer(dotenv_vars, ".env"), project_dir)
    _apply_layer(values, origins, _env_layer(environ, "environment variable"), start)
    _apply_layer(values, origins, overlay, project_dir)  # a chosen environment wins over the environment
    cli_layer = {k: (v, f"--{k.replace('_', '-')}") for k, v in overrides.items() if v is not None}
    _apply_layer(values, origins, cli_layer, start)
    bases = values.get("_bases", {})
    if found:
        origins["config_file"] = "--config" if config is not None else f"found from {start}"
        origins["project_dir"] = "folder of the config file"
    else:
        origins["project_dir"] = "-C" if directory else "working directory"
    if env_name:
        origins["env"] = "--env" if env else "environment variable MIGRATA_ENV"
    settings = Settings(
        project_dir=project_dir,
        config_file=found[0] if found else None,
        env=env_name,
        origins=origins,
        url_base=bases.get("url", project_dir),
        **_finalise(values),
    )
    if "migrations" not in values:
        settings.migrations = project_dir / "migrations"
    if "backup_dir" not in values:
        settings.backup_dir = project_dir / "backups"
    return settings


def _config_file(config: str | os.PathLike[str] | None, start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The config file given (``--config``) or found upward from ``start``, with its settings."""
    if config is None:
        return find_config(start)
    path = Path(config).expanduser()
    path = path if path.is_absolute() else start / path
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist (from --config)")
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("migrata", {})
    return path.resolve(), data


def _lookup(environ: Mapping[str, str], dotenv_vars: Mapping[str, str], name: str) -> str | None:
    """What ``${NAME}`` in a config value means: the environment, then ``.env``."""
    return environ[name] if name in environ else dotenv_vars.get(name)


def _read_dotenv(path: Path, environ: Mapping[str, str]) -> Mapping[str, str]:
    """The variables of ``.env`` (none when there is no such file); a line
    that does not parse is an error naming the file and the line."""
    return EnvFile(path, environ) if path.is_file() else {}
