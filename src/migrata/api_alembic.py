"""``migrata import alembic`` as a library function (beside :mod:`migrata.api`,
which is near its size limit). Alembic and SQLAlchemy are imported only here
(``pip install 'migrata[models]'``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from migrata import results
from migrata._core.source import load_source
from migrata.session import ConfigLike, session

__all__ = ["import_alembic"]


def import_alembic(
    config: ConfigLike = None, directory: str | os.PathLike[str] = "", *, dry_run: bool = False, **overrides: Any
) -> results.ImportResult:
    """Write the revisions of the Alembic project in ``directory`` (the folder
    of alembic.ini, or the one with env.py and versions/) as migrations,
    rendered as SQL for the configured database's dialect; each records its
    revision, so ``upgrade`` takes over a database Alembic migrated.
    ``dry_run`` writes nothing."""
    from migrata.schema.alembic_import import import_chain

    with session(config, **overrides) as sess:
        s = sess.settings
        dialect = sess.unconnected_backend().dialect  # nothing is opened
        source = load_source(s.migrations, patterns=s.file_pattern, allow_empty=s.allow_empty, must_exist=False)
        written, skipped = import_chain(Path(directory), dialect, source, dry_run=dry_run)
        return results.ImportResult(
            "alembic", str(directory), dialect, [w.to_dict() for w in written], skipped, dry_run
        )
