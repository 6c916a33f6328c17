"""The database URL an environment (the process's, or a `.env` file's) names:
a URL variable, or the DB_HOST / DB_PORT / DB_USER / DB_PASSWORD / DB_NAME
variables many projects already have, with the database from DB_DRIVER (or
DB_DIALECT), else from the well-known port. Part of :mod:`migrata.config`."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from migrata.errors import ConfigError

__all__ = ["url_from_environment"]

_DRIVERS = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "pg": "postgresql",
    "pgx": "postgresql",
    "pgsql": "postgresql",
    "psycopg": "postgresql",
    "psycopg2": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "pymysql": "mysql",
    "mysqldb": "mysql",
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
}
_PORTS = {"5432": "postgresql", "3306": "mysql"}


def _db_dialect(environ: Mapping[str, str], where: str) -> str:
    """The database the DB_* variables mean: DB_DRIVER (or DB_DIALECT), else
    the well-known port, else SQLite when only DB_NAME is set; else refuse."""
    for name in ("DB_DRIVER", "DB_DIALECT"):
        raw = (environ.get(name) or "").strip()
        if raw:
            spelled = raw.lower()  # "mysql+pymysql", "postgresql+psycopg", "pymysql"...
            dialect = _DRIVERS.get(spelled.split("+", 1)[0]) or _DRIVERS.get(spelled.split("+")[-1])
            if dialect is None:
                raise ConfigError(
                    f"{name}={raw!r} ({where}) is not a known database",
                    hint="use postgresql, mysql (MariaDB too) or sqlite",
                )
            return dialect
    port = (environ.get("DB_PORT") or "").strip()
    if port in _PORTS:
        return _PORTS[port]
    if not any(environ.get(v) for v in ("DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD")):
        return "sqlite"  # DB_NAME alone: a file
    said = f"DB_PORT={port} is not a well-known port" if port else "no DB_PORT"
    source = "the environment" if where.startswith("environment") else where
    raise ConfigError(
        f"the DB_* variables in {source} do not say which database: no DB_DRIVER, and {said} "
        "(5432 means PostgreSQL, 3306 MySQL/MariaDB)",
        hint="set DB_DRIVER=postgresql or DB_DRIVER=mysql (MariaDB too)",
    )


def url_from_environment(environ: Mapping[str, str], where: str) -> tuple[str, str] | None:
    """The database URL the environment gives, and where it came from:
    MIGRATA_DATABASE_URL, MIGRATA_URL, DATABASE_URL, else the DB_* variables."""
    for name in ("MIGRATA_DATABASE_URL", "MIGRATA_URL", "DATABASE_URL"):
        if environ.get(name):
            return environ[name], f"{where} {name}"
    host, dbname = environ.get("DB_HOST"), environ.get("DB_NAME")
    if not host and not dbname:
        return None
    driver = _db_dialect(environ, where)
    if driver == "sqlite":
        return f"sqlite:///{dbname or ''}", f"{where} DB_NAME"
    user = environ.get("DB_USER", "")
    password = environ.get("DB_PASSWORD")
    auth = quote(user, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    port = environ.get("DB_PORT")
    netloc = (auth + "@" if auth else "") + (host or "localhost") + (f":{port}" if port else "")
    return f"{driver}://{netloc}/{quote(dbname or '', safe='')}", f"{where} DB_* variables"
