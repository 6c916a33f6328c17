"""Loading the user's models: ``pkg.module:metadata`` names a SQLAlchemy
``MetaData``, a declarative base (its ``.metadata``), or a function
returning either."""

from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path
from typing import Any

from migrata.errors import ConfigError

__all__ = ["load_models", "require_sqlalchemy"]


def require_sqlalchemy() -> None:
    """A clear error when the ``models`` extra is not installed."""
    try:
        import alembic  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"this command needs SQLAlchemy and alembic ({exc.name} is not installed)",
            hint="pip install 'migrata[models]'",
        ) from None


def load_models(spec: str | None, project_dir: Path) -> Any:
    """The MetaData ``spec`` names, imported with ``project_dir`` on ``sys.path``."""
    if not spec:
        raise ConfigError(
            "no models: pass --models pkg.module:metadata or set models in migrata.toml",
            hint='e.g. models = "app.models:Base" in migrata.toml',
        )
    require_sqlalchemy()
    import sqlalchemy as sa

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"models {spec!r} must be written module:attribute", hint="e.g. app.models:Base")
    obj = _import(module_name, attr, spec, project_dir)
    if callable(obj) and not isinstance(obj, sa.MetaData) and not hasattr(obj, "metadata"):
        obj = obj()
    metadata = getattr(obj, "metadata", obj)
    if not isinstance(metadata, sa.MetaData):
        raise ConfigError(
            f"models {spec} is a {type(obj).__name__}, not a SQLAlchemy MetaData or declarative base",
            hint="name the MetaData (or the declarative Base) your tables are defined on",
        )
    return metadata


def _import(module_name: str, attr: str, spec: str, project_dir: Path) -> Any:
    folder = str(project_dir)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - the models are user code
        raise ConfigError(f"models {spec}: importing {module_name} failed: {type(exc).__name__}: {exc}") from None
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"models {spec}: module {module_name} has no {attr!r}") from None
