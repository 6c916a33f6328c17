"""The schema commands as library functions: ``autogenerate``, ``diff`` and ``squash``.

They sit beside :mod:`migrata.api` (same conventions: ``config`` as there,
keyword overrides of any setting, a result object back, a
:class:`~migrata.errors.MigrataError` on failure) and need the ``models``
extra (SQLAlchemy and alembic), imported only when one of them is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata.session import ConfigLike, resolve_settings

if TYPE_CHECKING:
    from migrata.results import AutogenerateResult, DiffResult, SquashResult

__all__ = ["autogenerate", "diff", "squash"]


def autogenerate(
    config: ConfigLike = None, name: str = "", *, models: str | None = None, **overrides: Any
) -> AutogenerateResult:
    """Write the next up/down SQL pair that brings the schema of the
    migrations to the models (``models``: ``pkg.module:metadata``, default
    the ``models`` setting). Nothing is written when nothing changed."""
    from migrata.schema.generate import generate
    from migrata.schema.models import load_models

    settings = resolve_settings(config, **overrides)
    spec = models or settings.models
    metadata = load_models(spec, settings.project_dir)
    return generate(settings, metadata, name, str(spec))


def diff(config: ConfigLike = None, *, models: str | None = None, **overrides: Any) -> DiffResult:
    """Drift: the live database against the migrations applied to it, and
    the migrations against the models (when ``models`` or the setting names
    them). Object kinds that are not compared are listed."""
    from migrata.schema.generate import diff_schemas
    from migrata.schema.models import load_models, require_sqlalchemy

    settings = resolve_settings(config, **overrides)
    spec = models or settings.models
    require_sqlalchemy()
    metadata = load_models(spec, settings.project_dir) if spec else None
    return diff_schemas(settings, metadata)


def squash(
    config: ConfigLike = None,
    to: str = "",
    *,
    seed_tables: Sequence[str] = (),
    archive: str | Path | None = None,
    **overrides: Any,
) -> SquashResult:
    """Squash the migrations up to version ``to`` into one baseline: their
    schema (replayed into a scratch database and dumped), plus the rows of
    ``seed_tables``; their files move to ``archive`` (relative to the
    migrations folder; default ``archive``). Needs no SQLAlchemy."""
    from migrata.schema.squash import squash as run

    settings = resolve_settings(config, **overrides)
    return run(settings, to, seed_tables=seed_tables, archive=archive)
