"""``migrata squash --to VERSION``: the migrations up to VERSION become one
baseline migration.

1. The migrations up to VERSION are replayed into a scratch database
   (:func:`migrata.schema.scratch.replay`) and its schema is dumped with the
   database's own tool (:mod:`migrata.schema.dump`), plus the rows of the
   seed tables, migrata's own tables left out.
2. The files of those migrations move to an archive folder (default
   ``archive/`` inside the migrations folder, which migrata does not read:
   it reads no subfolder), untouched, so the archive is itself a migrations
   folder.
3. The baseline takes VERSION itself: ``<VERSION>_baseline.up.sql``, whose
   first line is ``-- migrata:baseline-of FIRST..VERSION archive DIR``.
4. A ``squash`` event goes to the configured database when it has
   migrata's tables.

What the marker means to the other commands (:mod:`migrata._core.report`):

* a fresh database runs the baseline, then what follows;
* a database at or past VERSION keeps its history: the versions the baseline
  stands for are ``squashed`` (applied, their files archived), and VERSION's
  own row, written by the archived file, counts as the baseline applied;
* a database below VERSION (but past FIRST) is refused, with the command
  that brings it to VERSION from the archive first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from migrata import results
from migrata._core.model import Migration, Version
from migrata.config import Settings
from migrata.errors import UnknownTargetError, UsageError
from migrata.schema.dump import schema_script
from migrata.schema.scratch import replay
from migrata.session import Session
from migrata.util import backfills_table_name, utcnow

__all__ = ["squash"]

ARCHIVE = "archive"


def squash(
    settings: Settings, to: str, *, seed_tables: Sequence[str] = (), archive: str | Path | None = None
) -> results.SquashResult:
    """Write the baseline of the migrations up to ``to``, archive their
    files and record it; see the module docstring."""
    with Session(settings) as sess:
        source = sess.source
        target = _target(source.versioned, to, source.ordering)
        assert target.version is not None
        top = target.version
        members = [m for m in source.versioned if m.version is not None and m.version <= top]
        first = _first(members)
        folder = Path(source.directory)
        archive_dir = folder / (archive or ARCHIVE)
        files = _files(members)
        _check_archive(archive_dir, files)
        with replay(settings, target=target.version) as scratch:
            own = scratch.ledger_tables | {backfills_table_name(settings.table)}
            script = schema_script(scratch.backend, own, list(seed_tables))
        name = "baseline" if target.name != "baseline" else f"baseline_{first}_to_{target.id}"
        path = folder / f"{top.text}_{name}.up.sql"
        where = _relative(archive_dir, folder)
        text = _header(target, first, where, members, seed_tables) + script
        archive_dir.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.move(str(f), str(archive_dir / f.name))
        path.write_text(text, encoding="utf-8")
        result = results.SquashResult(
            version=target.id,
            first=first,
            baseline=str(path),
            archive=str(archive_dir),
            archived=[str(archive_dir / f.name) for f in files],
            seed_tables=list(seed_tables),
        )
        result.recorded = _record(sess, result)
    return result


def _target(versioned: Sequence[Migration], to: str, ordering: str) -> Migration:
    if not Version.is_version(to, ordering):
        raise UnknownTargetError(f"--to {to!r} is not a version", hint="give the version to squash up to, e.g. 100")
    wanted = Version.parse(to, ordering)
    found = [m for m in versioned if m.version is not None and m.version.key == wanted.key]
    if not found:
        raise UnknownTargetError(f"no migration has version {to}", hint="`migrata info` lists the versions")
    if found[0].up.baseline_of is not None:
        raise UsageError(
            f"{found[0].label} is already the baseline of {'..'.join(found[0].up.baseline_of)}",
            hint="squash up to a later version",
        )
    return found[0]


def _first(members: Sequence[Migration]) -> str:
    """The first version the baseline stands for (an earlier baseline's first)."""
    lowest = members[0]
    if lowest.up.baseline_of is not None:
        return lowest.up.baseline_of[0]
    return lowest.id


def _files(members: Sequence[Migration]) -> list[Path]:
    out: dict[Path, None] = {}
    for m in members:
        out[m.up.path] = None
        if m.down is not None:
            out[m.down.path] = None
        if m.empty_down is not None:
            out[m.empty_down] = None
    return list(out)


def _check_archive(archive_dir: Path, files: Sequence[Path]) -> None:
    taken = [f.name for f in files if (archive_dir / f.name).exists()]
    if taken:
        raise UsageError(
            f"{archive_dir} already holds {', '.join(taken[:3])}{' ...' if len(taken) > 3 else ''}",
            hint="choose another folder with --archive DIR; nothing was changed",
        )


def _relative(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), folder.resolve())
    except ValueError:  # another drive
        return str(path.resolve())


def _header(target: Migration, first: str, archive: str, members: Sequence[Migration], seeds: Sequence[str]) -> str:
    lines = [f"-- migrata:baseline-of {first}..{target.id} archive {archive}"]
    if target.up.alembic_revision:  # a database Alembic left at that revision is at this baseline
        lines.append(f"-- migrata:alembic-revision {target.up.alembic_revision}")
    lines += [
        f"-- Written by `migrata squash --to {target.id}` at {utcnow()}: the schema of migrations",
        f"-- {first} to {target.id} ({len(members)} file(s), now in {archive}/)"
        + (f", with the rows of {', '.join(seeds)}" if seeds else "")
        + ".",
        "-- A fresh database runs this file; one that ran them is at this version already.",
        "",
    ]
    return "\n".join(lines) + "\n"


def _record(sess: Session, result: results.SquashResult) -> bool:
    """A ``squash`` event in the configured database, when it has migrata's tables."""
    if not sess.database_exists() or not sess.ledger.exists():
        return False
    detail = {
        "first": result.first,
        "last": result.version,
        "baseline": Path(result.baseline).name,
        "archive": result.archive,
        "archived": len(result.archived),
        "seed_tables": result.seed_tables,
    }
    sess.ledger.run(sess.ledger.event("squash", version=result.version, name="baseline", detail=detail))
    return True
