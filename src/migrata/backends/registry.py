"""Backend registry: a database URL's scheme picks the backend class.

Built-in backends are imported only when a URL asks for them, so their
drivers never load on paths that do not need them. Third-party backends
register under the ``migrata.backends`` entry-point group, named by scheme
and pointing at a :class:`~migrata.backends.base.Backend` subclass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from migrata.backends.base import Backend
    from migrata.util import DatabaseURL

__all__ = ["backend_class", "create_backend", "known_schemes"]

#: scheme family -> "module:Class"
_BUILTIN: dict[str, str] = {
    "sqlite": "migrata.backends.sqlite:SQLiteBackend",
    "sqlite3": "migrata.backends.sqlite:SQLiteBackend",
    "file": "migrata.backends.sqlite:SQLiteBackend",
    "postgresql": "migrata.backends.postgresql:PostgresBackend",
    "postgres": "migrata.backends.postgresql:PostgresBackend",
    "pgsql": "migrata.backends.postgresql:PostgresBackend",
    "mysql": "migrata.backends.mysql:MySQLBackend",
    "mariadb": "migrata.backends.mysql:MySQLBackend",
}


def known_schemes() -> list[str]:
    return sorted(set(_BUILTIN) | set(_entry_points()))


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group="migrata.backends")}


def backend_class(url: DatabaseURL) -> type[Backend]:
    import importlib

    from migrata.errors import ConfigError

    family = url.family
    target = _BUILTIN.get(family)
    if target is not None:
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise ConfigError(
                    f"the {family} backend is not available in this version of migrata",
                    hint="see docs/configuration.md for the supported databases",
                ) from None
            raise
        cls: type[Backend] = getattr(module, attr)
        return cls
    ep = _entry_points().get(family)
    if ep is None:
        raise ConfigError(
            f"unknown database URL scheme {url.scheme!r} in {url.masked()}",
            hint="supported: " + ", ".join(f"{s}://" for s in known_schemes()),
        )
    loaded: type[Backend] = ep.load()
    return loaded


def create_backend(url: DatabaseURL, **options: Any) -> Backend:
    """A backend instance for ``url`` (not yet connected)."""
    return backend_class(url)(url, options=options)
