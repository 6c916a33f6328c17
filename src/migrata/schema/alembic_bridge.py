"""Running an Alembic revision's ``upgrade()``/``downgrade()`` inside a migrata
Python migration, on migrata's own connection and in migrata's transaction.

``migrata import alembic`` writes a revision that alembic's offline mode cannot
render as SQL (it reads data: ``op.get_bind()``, a query's result) as a Python
migration that holds the revision file's text and whose ``up(ctx)`` calls
:func:`run_revision` with it and ``"upgrade"``: the revision is compiled only
then (``migrata status`` imports neither alembic nor SQLAlchemy). SQLAlchemy
borrows ``ctx.connection``: its commits, rollbacks and closes are left to
migrata, which owns the connection and the transaction.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

from migrata.context import MigrationContext

__all__ = ["run_revision"]

# The SQLAlchemy dialect+driver for each of migrata's backends (their drivers), and the
# options it needs on a borrowed connection: psycopg's hstore lookup wants psycopg's own
# connection class (the hstore type is still written and read as text).
_SQLALCHEMY_URLS = {
    "sqlite": ("sqlite+pysqlite://", {}),
    "postgresql": ("postgresql+psycopg://", {"use_native_hstore": False}),
    "mysql": ("mysql+pymysql://", {}),
}


class _Borrowed:
    """migrata's DB-API connection as SQLAlchemy's pool sees it: everything
    is the connection's own, except that committing, rolling back and closing
    are migrata's to do (they would end migrata's transaction)."""

    def __init__(self, connection: Any) -> None:
        object.__setattr__(self, "_connection", connection)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._connection, name, value)

    def commit(self) -> None:
        """migrata commits (with the history row)."""

    def rollback(self) -> None:
        """migrata rolls back (when the migration fails)."""

    def close(self) -> None:
        """migrata closes its connection."""


def _compile(code: str, filename: str | None, version: str) -> types.ModuleType:
    """The revision as a module. With ``filename`` (the migration holding
    ``code``) a failure's traceback points at the line in that file."""
    padding = ""
    if filename is not None:
        text = Path(filename).read_text(encoding="utf-8")
        at = text.find(code)
        padding = "\n" * text.count("\n", 0, at) if at >= 0 else ""
    module = types.ModuleType(f"migrata_alembic_revision_{version}")
    exec(compile(padding + code, filename or module.__name__, "exec"), module.__dict__)  # noqa: S102 - the revision's own code
    return module


def run_revision(ctx: MigrationContext, code: str, function: str, filename: str | None = None) -> None:
    """Run ``function`` (``"upgrade"`` or ``"downgrade"``) of the Alembic
    revision whose source is ``code``, with ``alembic.op`` bound to an
    :class:`alembic.operations.Operations` on ``ctx.connection``."""
    import sqlalchemy as sa
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext as AlembicContext

    borrowed = _Borrowed(ctx.connection)
    url, options = _SQLALCHEMY_URLS[ctx.dialect]
    engine = sa.create_engine(url, creator=lambda: borrowed, poolclass=sa.pool.StaticPool, **options)
    try:
        with engine.connect() as connection:
            with Operations.context(AlembicContext.configure(connection=connection)):
                getattr(_compile(code, filename, ctx.version), function)()
    finally:
        engine.dispose()
