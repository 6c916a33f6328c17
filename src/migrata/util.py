"""Small helpers every layer may use: database URLs and their masking,
durations, clocks, the host's name, polling, running client programs, and
a package's names loaded on first use.

Neutral ground: this module imports nothing of migrata but
:mod:`migrata.errors`, so the settings, the engine and the backends can all
use it without depending on each other.
"""

from __future__ import annotations

import importlib
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from migrata.errors import ConfigError, DatabaseError

__all__ = [
    "DatabaseURL",
    "elapsed_ms",
    "hostname",
    "lazy_names",
    "mask_url",
    "parse_crypto",
    "parse_duration",
    "poll",
    "run_tool",
    "utc_iso",
    "utcnow",
]

# --- URLs --------------------------------------------------------------------------------

# A URL runs from its scheme to the next whitespace or double quote (so one
# in a line of JSON ends with its string). Its user info is everything
# between "://" and the LAST "@" of that run: a password holding an unencoded
# "/", "#", "?" or "@" still ends at the last "@", so it is masked whatever it
# holds (the parser refuses such a URL, see _check_user_info).
_URL_RE = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<rest>[^\s\"]*)")
_QUERY_SECRET_RE = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|sslpassword)=)[^&;\s]*", re.I)
_USER_RE = re.compile(r"[^:/?#@\[\]]*")
#: how to write the characters that have a meaning in a URL
_PERCENT_ENCODING = "'/' as %2F, '#' as %23, '?' as %3F, '@' as %40, ':' as %3A, '%' as %25"


def _mask_one(match: re.Match[str]) -> str:
    scheme, rest = match.group("scheme"), match.group("rest")
    at = rest.rfind("@")
    if at >= 0:
        user_info = rest[:at]
        if ":" not in user_info:
            return scheme + rest  # a user name, no password
        user = user_info.split(":", 1)[0]
        keep = f"{user}:" if _USER_RE.fullmatch(user) else ""
        return f"{scheme}{keep}***{rest[at:]}"
    # no "@": a "port" that is not a number may be a password whose host was left out
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    host, colon, port = rest[:end].rpartition(":")
    if colon and port and not port.isdigit() and "]" not in port and _USER_RE.fullmatch(host):
        return f"{scheme}{host}:***{rest[end:]}"
    return scheme + rest


def mask_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (in
    the user-info part, which runs to the last ``@`` of the URL, and in
    ``password=``-like query options)."""
    masked = _URL_RE.sub(_mask_one, text)
    return _QUERY_SECRET_RE.sub(lambda m: f"{m.group('head')}***", masked)


def _check_user_info(url: str) -> None:
    """Refuse a URL with an ``@`` after its authority: a user name or password
    holding an unencoded ``/``, ``#``, ``?`` or ``@`` would otherwise be read
    as host, port, database or query (and shown in errors)."""
    rest = url.split("://", 1)[1]
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    if "@" in rest[end:]:
        raise ConfigError(
            f"database URL {mask_url(url)!r} has an '@' after its host: a user name or password holding "
            "'/', '#' or '?' cuts it short; special characters in a password must be percent-encoded",
            hint=f"write {_PERCENT_ENCODING} (e.g. a password S3cret/1 is written S3cret%2F1 in the URL), "
            "or set DB_PASSWORD, which migrata encodes itself",
        )


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL in SQLAlchemy's spelling.

    ``database`` is the database name, or for SQLite the file path (already
    resolved against ``base_dir`` when relative) or ``:memory:``.
    """

    scheme: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    raw: str = field(default="", repr=False)

    @property
    def family(self) -> str:
        """The scheme without a ``+driver`` suffix (``postgresql+psycopg`` -> ``postgresql``)."""
        return self.scheme.split("+", 1)[0]

    @classmethod
    def parse(cls, url: str, base_dir: Path | None = None) -> DatabaseURL:
        if "://" not in url:
            if url.startswith("file:"):  # SQLite URI filename, as in DATABASE_URL=file:/path/db
                return cls._sqlite(url, url[len("file:") :], {}, base_dir)
            raise ConfigError(
                f"database URL {mask_url(url)!r} has no scheme",
                hint="write it as sqlite:///app.db, postgresql://user@host/db or mysql://user@host/db",
            )
        scheme, rest = url.split("://", 1)
        scheme = scheme.lower()
        if scheme.split("+", 1)[0] in ("sqlite", "sqlite3", "file"):
            if "@" in rest.split("/", 1)[0]:
                raise ConfigError(
                    f"the SQLite URL {mask_url(url)!r} has a user or password; SQLite takes none",
                    hint="write it as sqlite:///relative.db or sqlite:////absolute/path.db",
                )
            path, _, qs = rest.partition("?")
            # sqlite:///rel.db -> "/rel.db" after the authority; sqlite:////abs.db -> "//abs.db"
            path = path[1:] if path.startswith("/") else path
            return cls._sqlite(url, path, dict(parse_qsl(qs)), base_dir)
        _check_user_info(url)
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise ConfigError(f"database URL {mask_url(url)!r} is malformed: {exc}") from None
        try:
            port = parts.port
        except ValueError:
            raise ConfigError(
                f"database URL {mask_url(url)!r} has a bad port",
                hint="a port is a number (host:5432); special characters in a password must be "
                f"percent-encoded: {_PERCENT_ENCODING}",
            ) from None
        return cls(
            scheme=scheme,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            host=parts.hostname,
            port=port,
            database=unquote(parts.path.lstrip("/")) or None,
            query=dict(parse_qsl(parts.query)),
            raw=url,
        )

    @classmethod
    def _sqlite(cls, raw: str, path: str, query: dict[str, str], base_dir: Path | None) -> DatabaseURL:
        path = unquote(path)
        if path in ("", ":memory:"):
            return cls(scheme="sqlite", database=":memory:", query=query, raw=raw)
        p = Path(path).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        return cls(scheme="sqlite", database=str(p), query=query, raw=raw)

    def masked(self) -> str:
        return mask_url(self.raw)

    def with_database(self, name: str) -> DatabaseURL:
        """The same server with another database (tests and ``db create``)."""
        raw = urlsplit(self.raw)._replace(path="/" + quote(name)).geturl()
        return DatabaseURL(self.scheme, self.username, self.password, self.host, self.port, name, dict(self.query), raw)

    def __repr__(self) -> str:  # never the password, even in a debugger or a traceback
        return f"DatabaseURL({self.masked()!r})"


# --- durations and clocks ------------------------------------------------------------

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$", re.I)
_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """``30``, ``"30s"``, ``"500ms"``, ``"5m"``, ``"1h"`` -> seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"negative duration: {value!r}")
        return float(value)
    m = _DURATION_RE.match(str(value))
    if not m:
        raise ValueError(f"not a duration: {value!r} (write e.g. 30s, 500ms, 5m)")
    return float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]


def elapsed_ms(t0: float) -> int:
    """Milliseconds since ``t0`` (a ``time.perf_counter()`` reading), rounded."""
    return int(round((time.perf_counter() - t0) * 1000))


def utcnow() -> str:
    """Now in UTC as ISO-8601 with milliseconds: ``2026-12-07T09:30:00.123Z``."""
    ms = time.time_ns() // 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def utc_iso() -> str:
    """Now in UTC, to the second: ``2026-12-07T09:30:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def hostname() -> str:
    """This machine's name."""
    import socket

    return socket.gethostname()


def poll(attempt: Callable[[], bool], timeout: float, *, first: float = 0.005, most: float = 0.2) -> bool:
    """Call ``attempt`` until it returns True or ``timeout`` seconds pass,
    sleeping with exponential backoff in between. Returns the last result."""
    deadline = time.monotonic() + timeout
    delay = first
    while True:
        if attempt():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(delay, left))
        delay = min(delay * 2, most)


# --- client programs -------------------------------------------------------------------


def run_tool(
    argv: list[str],
    *,
    package: str,
    env: dict[str, str] | None = None,
    stdin: Any = None,
    secrets: tuple[str, ...] = (),
) -> str:
    """Run a database client program; return its stdout. A missing program or
    a failure raises DatabaseError naming it (secrets and URLs masked)."""
    import shutil
    import subprocess

    program = shutil.which(argv[0])
    if program is None:
        raise DatabaseError(f"{argv[0]} is not installed", hint=f"install the {package} package")
    proc = subprocess.run(
        [program, *argv[1:]],
        env={**os.environ, **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        errors="replace",
    )
    if proc.returncode != 0:
        text = " ".join((proc.stderr or proc.stdout).split())[:500]
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        raise DatabaseError(f"{argv[0]} failed (exit {proc.returncode}): {mask_url(text)}")
    return proc.stdout


def events_table_name(table: str) -> str:
    """The event log beside the history table ``table``:
    ``migrata_history`` -> ``migrata_events``; ``x`` -> ``x_events``."""
    if table.endswith("_history"):
        return table[: -len("_history")] + "_events"
    return table + "_events"


def backfills_table_name(table: str) -> str:
    """The backfill checkpoints beside the history table ``table``:
    ``migrata_history`` -> ``migrata_backfills``; ``x`` -> ``x_backfills``."""
    if table.endswith("_history"):
        return table[: -len("_history")] + "_backfills"
    return table + "_backfills"


CRYPTO_KEYS = ("keys", "derive", "kek", "kek_provider", "data_keys_table", "data_key_lifetime")


def parse_crypto(value: Any) -> dict[str, Any]:
    """The ``[crypto]`` setting: key *references* (``env:NAME``, ``file:PATH``),
    never keys, so no secret is ever held in settings. Errors never echo a
    value: a key written inline would be a secret. A string (``MIGRATA_CRYPTO``)
    is the key references, comma-separated."""
    if isinstance(value, str):
        value = {"keys": [v.strip() for v in value.split(",") if v.strip()]}
    if not isinstance(value, dict):
        raise ConfigError("setting crypto must be a table: [crypto] with keys = [...]")
    unknown = sorted(set(value) - set(CRYPTO_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown [crypto] setting {unknown[0]!r}", hint="[crypto] settings: " + ", ".join(CRYPTO_KEYS)
        )
    keys = value.get("keys", [])
    keys = [keys] if isinstance(keys, str) else keys
    for ref in [*keys, *([value["kek"]] if value.get("kek") else [])]:
        if not isinstance(ref, str) or not ref.startswith(("env:", "file:")) or len(ref) < 5:
            raise ConfigError(
                "[crypto] keys and kek name where a key is read, never the key itself",
                hint='e.g. keys = ["env:ENCRYPTION_KEY", "env:OLD_ENCRYPTION_KEY", "file:/run/secrets/key"]',
            )
    derive = value.get("derive", "none")
    if derive not in ("none", "sha256"):
        raise ConfigError(f'[crypto] derive must be "none" or "sha256", not {str(derive)!r}')
    table = str(value.get("data_keys_table") or "kms_data_keys")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", table):
        raise ConfigError(f"[crypto] data_keys_table {table!r} is not a table name")
    lifetime = value.get("data_key_lifetime")
    try:
        seconds = parse_duration(lifetime) if lifetime is not None else None
    except ValueError as exc:
        raise ConfigError(f"[crypto] data_key_lifetime: {exc}") from None
    provider = str(value.get("kek_provider") or "").strip() or None
    return {"keys": list(keys), "derive": derive, "kek": value.get("kek"), "kek_provider": provider,
            "data_keys_table": table, "data_key_lifetime": seconds}  # fmt: skip


# --- names loaded on first use ----------------------------------------------------------


def lazy_names(
    package: str, names: Iterable[str], modules: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` (PEP 562) of ``package``, whose
    public ``names`` live in ``modules``: the first of them (in order) that
    has the name gives it, imported then, so a command loads only what it
    uses (a dataclass costs about half a millisecond to create). The package
    imports the same names under ``TYPE_CHECKING`` for type checkers and
    defines the two functions only outside it, so a misspelt name is still
    an error to them."""
    public = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in public:
            for module in modules:
                value = getattr(importlib.import_module(module), name, _MISSING)
                if value is not _MISSING:
                    setattr(importlib.import_module(package), name, value)  # asked for once
                    return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(public | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__


_MISSING = object()
