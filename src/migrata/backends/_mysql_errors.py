"""How the MySQL/MariaDB backend words PyMySQL's errors: failed connections,
and a connection the server ended under a command."""

from __future__ import annotations

from typing import Any

from migrata.errors import ConfigError, ConnectionLostError, DatabaseError
from migrata.util import DatabaseURL

__all__ = ["bad_options", "connect_hint", "connect_message", "lost", "message"]

# server gone / lost during a query / the client's connection already closed
_LOST = (2006, 2013, 0)


def message(exc: Any) -> str:
    if len(exc.args) > 1:
        return f"{exc.args[1]} (error {exc.args[0]})"
    return str(exc)


def lost(exc: Any, *, index: int | None = None) -> ConnectionLostError | None:
    """The connection was ended (KILL, `migrata lock release --force`, a
    server restart); None for any other error."""
    code = exc.args[0] if exc.args else 0
    if code not in _LOST:
        return None
    text = str(exc.args[1]) if len(exc.args) > 1 and exc.args[1] else "the connection is closed"
    return ConnectionLostError(f"MySQL/MariaDB: {text}", hint="run the command again", index=index)


def bad_options(url: DatabaseURL, exc: Exception) -> ConfigError | DatabaseError:
    """PyMySQL refused an option of the URL's query (``?charset=bogus``,
    ``?connect_timeout=abc``, an ``ssl_ca`` file that is not there) with an
    exception of its own, not a MySQL error (an OS error without TLS
    options: the connection failed)."""
    if isinstance(exc, OSError) and not any(key.startswith("ssl") for key in url.query):
        return DatabaseError(connect_message(url, exc))
    options = ", ".join(f"{k}={v}" for k, v in url.query.items() if k != "password") or "none"
    reason = "an unknown value" if isinstance(exc, AttributeError) else " ".join(str(exc).split())
    return ConfigError(
        f"the database URL's options ({options}) are not valid for MySQL/MariaDB: {reason}",
        hint="fix or remove the option in the URL's ?key=value part",
    )


def connect_message(url: DatabaseURL, exc: Any) -> str:
    code = exc.args[0] if exc.args else None
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    where = f"MySQL/MariaDB at {url.host or 'localhost'}:{url.port or 3306}"
    if code == 2003 and "Name or service not known" in text or "nodename nor servname" in text:
        return f"cannot connect to {where}: unknown host"
    if code == 2003 and ("refused" in text or "111" in text):
        return f"cannot connect to {where}: connection refused"
    if code == 2003:
        return f"cannot connect to {where}: {text}"
    if code == 1045:
        return f"cannot connect to {where}: access denied for user {url.username!r} (bad password?)"
    if code == 1049:
        return f"cannot connect to {where}: database {url.database!r} does not exist"
    return f"cannot connect to {where}: {text}"


def connect_hint(exc: Any) -> str | None:
    code = exc.args[0] if exc.args else None
    if code == 1049:
        return "create it with `migrata db create` (or set create_database = true: `migrata up` creates it)"
    if code == 2003:
        return "is the server running, and is the host/port in the URL right?"
    return None
