"""``migrata import alembic DIR``: an Alembic project's revisions as migrata migrations.

The revision chain is read with alembic's public :class:`ScriptDirectory`
(one head, no merges: migrata's history is one line). Each revision is
rendered for the configured dialect by alembic's offline mode: a
:class:`~alembic.runtime.migration.MigrationContext` made here with
``as_sql=True`` and an output buffer, the revision's ``upgrade()`` and then
``downgrade()`` called with ``alembic.op`` bound to it. The project's
``env.py`` is never run (it may connect, or configure what it likes).

Each revision becomes ``NNNNNN_<message>.up.sql`` + ``.down.sql``, numbered
after the files already there, whose first line records the revision:
``-- migrata:alembic-revision <id>`` (read by the source parser; ``up`` uses it
to take over a database Alembic migrated, see :mod:`migrata.ops.adopt`). A
revision offline mode cannot render (it reads data through ``op.get_bind()``)
becomes ``NNNNNN_<message>.py``: the revision's own code, followed by ``up``
and ``down`` that run it through :func:`migrata.schema.alembic_bridge.run_revision`.
A ``downgrade()`` that raises ``NotImplementedError`` gives no down file.
Revisions already imported (their id is in a file) are skipped, so a second
import adds only what Alembic gained since.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrata._core.source import Source
from migrata.errors import MigrataError, MigrationFileError, UsageError, ValidationError, one_line

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory

__all__ = ["ImportedRevision", "import_chain", "read_chain", "render_offline"]


@dataclass
class ImportedRevision:
    """One Alembic revision and the migration written for it."""

    revision: str
    message: str
    version: str
    kind: str  # "sql" or "py"
    files: list[str] = field(default_factory=list)
    reason: str = ""  # why it is Python: what offline mode could not do
    has_down: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- reading the project -------------------------------------------------------------


def _alembic_config(directory: Path) -> tuple[Any, Path]:
    """An alembic Config for ``directory`` (the folder of alembic.ini, the
    ini itself, or the script folder with env.py/versions) and the folder
    that counts as the project's root (put on sys.path while importing)."""
    try:
        from alembic.config import Config
    except ImportError:
        raise UsageError(
            "importing from Alembic needs alembic and SQLAlchemy, which are not installed",
            hint="pip install 'migrata[models]'",
        ) from None
    directory = directory.resolve()
    ini = directory if directory.is_file() else directory / "alembic.ini"
    if ini.is_file():
        cfg = Config(str(ini))
        location = cfg.get_main_option("script_location")
        if not location:
            raise UsageError(f"{ini} has no script_location", hint="it names the folder with env.py and versions/")
        if ":" not in location and not Path(location).is_absolute():  # relative to the ini, as `alembic` run there
            cfg.set_main_option("script_location", str(ini.parent / location))
        return cfg, ini.parent
    if (directory / "env.py").is_file() or (directory / "versions").is_dir():
        cfg = Config()
        cfg.set_main_option("script_location", str(directory))
        return cfg, directory.parent
    raise UsageError(
        f"{directory} is not an Alembic project: it has no alembic.ini, env.py or versions/ folder",
        hint="name the folder with alembic.ini, or the alembic folder itself (env.py, versions/)",
    )


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """The project's root on sys.path while its revisions are imported (they
    may import its models), as when `alembic` runs there."""
    text = str(folder)
    added = text not in sys.path
    if added:
        sys.path.insert(0, text)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(text)


def read_chain(script: ScriptDirectory) -> list[Script]:
    """The revisions from the first to the head, refusing several heads or a merge."""
    heads = script.get_heads()
    if len(heads) > 1:
        raise ValidationError(
            f"the Alembic project has {len(heads)} heads ({', '.join(sorted(heads))}); "
            "migrata imports one line of revisions",
            hint="merge the branches in Alembic first (`alembic merge heads`), or import a project with one head",
        )
    chain: list[Script] = []
    current = script.get_revision(heads[0]) if heads else None
    while current is not None:
        down = current.down_revision
        if isinstance(down, tuple | list):
            raise ValidationError(
                f"Alembic revision {current.revision} merges {len(down)} branches ({', '.join(down)}): "
                "there is no single line of revisions to import",
                hint="migrata's history is linear: rewrite the branches as one line (each revision's down_revision "
                "the one before it) and import again",
            )
        chain.append(current)
        current = script.get_revision(down) if down else None
    chain.reverse()
    return chain


def _load(cfg: Any, directory: Path) -> list[Script]:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return read_chain(ScriptDirectory.from_config(cfg))
    except MigrataError:
        raise
    except CommandError as exc:
        raise ValidationError(f"alembic cannot read the revisions in {directory}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a revision file that fails to import is the project's
        raise ValidationError(
            f"alembic cannot load the revisions in {directory}: {type(exc).__name__}: {exc}",
            hint="the revision files must import as they do when `alembic` runs (their imports on sys.path)",
        ) from exc


# --- rendering ---------------------------------------------------------------------------


def render_offline(function: Callable[[], Any], dialect: str) -> str:
    """What ``function`` (a revision's upgrade or downgrade) does, as SQL for
    ``dialect``, from alembic's offline mode; raises whatever it raises."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext as AlembicContext

    buffer = io.StringIO()
    opts = {"as_sql": True, "output_buffer": buffer, "literal_binds": True, "transactional_ddl": False}
    with Operations.context(AlembicContext.configure(dialect_name=dialect, opts=opts)):
        function()
    return buffer.getvalue().strip()


def _slug(message: str, revision: str) -> str:
    slug = re.sub(r"\W+", "_", message.lower()).strip("_")[:60].rstrip("_")
    return slug or f"revision_{revision}"


def _next_number(source: Source) -> tuple[int, int]:
    """The version after the existing files, and the zero padding to use."""
    versions = [m.version for m in source.versioned if m.version is not None]
    if not versions:
        return 1, 6
    widths = [len(v.text) for v in versions if v.text.isdigit()]
    return max(v.parts[0] for v in versions) + 1, max(widths, default=6)


def _header(rev: Script, dialect: str, direction: str) -> str:
    follows = rev.down_revision or "the base"
    first = f"-- migrata:alembic-revision {rev.revision}\n" if direction == "upgrade" else ""
    return (
        f"{first}-- {one_line(rev.doc or '', 200)}\n"
        f"-- Alembic revision {rev.revision} (after {follows}): its {direction}() rendered for {dialect}\n"
        "-- by alembic's offline mode (`migrata import alembic`).\n\n"
    )


_PYTHON = '''\
# migrata:alembic-revision {revision}
"""{message} (Alembic revision {revision})

Imported by `migrata import alembic`: alembic's offline mode could not render
this revision as SQL ({reason}),
so migrata runs its upgrade()/downgrade() through alembic's Operations on its
own connection, in its own transaction. REVISION below is the revision file as
it was; it is compiled only when this migration runs.
"""

from migrata.schema.alembic_bridge import run_revision


def up(ctx):
    run_revision(ctx, REVISION, "upgrade", __file__)


def down(ctx):
    run_revision(ctx, REVISION, "downgrade", __file__)


REVISION = {code}
'''


def _literal(text: str) -> str:
    """``text`` as a Python string literal a reviewer can read: a raw
    triple-quoted string where one can hold it, else its repr."""
    for quote in ("'''", '"""'):
        if quote not in text and "\\" not in text[-1:] and quote[0] not in text[-1:]:
            return f"r{quote}{text}{quote}"
    return repr(text)


def _python(rev: Script, reason: str) -> str:
    text = Path(rev.path).read_text(encoding="utf-8").rstrip() + "\n"
    clean = {"message": one_line(rev.doc or rev.revision, 200), "reason": one_line(reason, 300)}
    clean = {k: v.replace('"', "'").replace("\\", "/") for k, v in clean.items()}
    return _PYTHON.format(revision=rev.revision, code=_literal(text), **clean)


def _render(rev: Script, dialect: str) -> tuple[str | None, str | None, str]:
    """(up SQL, down SQL or None when irreversible, reason) or (None, None,
    reason) when offline mode cannot render the revision."""
    module = rev.module
    try:
        up = render_offline(module.upgrade, dialect)
    except Exception as exc:  # noqa: BLE001 - whatever stops offline mode makes it a Python migration
        return None, None, f"upgrade(): {type(exc).__name__}: {exc}"
    try:
        down: str | None = render_offline(module.downgrade, dialect)
    except NotImplementedError:
        down = None  # Alembic's irreversible revision
    except Exception as exc:  # noqa: BLE001
        return None, None, f"downgrade(): {type(exc).__name__}: {exc}"
    return up, down, ""


def _files(rev: Script, number: str, dialect: str) -> tuple[ImportedRevision, dict[str, str]]:
    """The migration for one revision: what it is and its files' text by name."""
    slug = _slug(rev.doc or "", rev.revision)
    up, down, reason = _render(rev, dialect)
    item = ImportedRevision(rev.revision, rev.doc or "", str(int(number)), "sql", reason=reason)
    if up is None:
        item.kind = "py"
        return item, {f"{number}_{slug}.py": _python(rev, reason)}
    noop = "-- this revision changes nothing in the schema\nSELECT 1;"
    files = {f"{number}_{slug}.up.sql": _header(rev, dialect, "upgrade") + (up or noop) + "\n"}
    if down is None:
        item.has_down = False
    else:
        files[f"{number}_{slug}.down.sql"] = _header(rev, dialect, "downgrade") + (down or noop) + "\n"
    return item, files


def import_chain(
    directory: Path, dialect: str, source: Source, *, dry_run: bool = False
) -> tuple[list[ImportedRevision], list[str]]:
    """Write the revisions of the Alembic project at ``directory`` not yet in
    ``source`` as migrations in its folder (nothing when ``dry_run``). Returns
    the migrations written and the revisions skipped (imported before)."""
    cfg, root = _alembic_config(directory)
    with _on_path(root):
        chain = _load(cfg, directory)
        if not chain:
            raise UsageError(f"the Alembic project in {directory} has no revisions to import")
        done = {m.up.alembic_revision for m in source.versioned if m.up.alembic_revision}
        skipped = [r.revision for r in chain if r.revision in done]
        if skipped != [r.revision for r in chain[: len(skipped)]]:
            raise ValidationError(
                f"the migrations in {source.directory} hold Alembic revisions {', '.join(skipped)}, "
                "which are not the start of the chain: it changed since they were imported",
                hint="import into an empty migrations folder, or remove the files of the revisions that changed",
            )
        number, width = _next_number(source)
        written: list[tuple[ImportedRevision, dict[str, str]]] = []
        for offset, rev in enumerate(chain[len(skipped) :]):
            written.append(_files(rev, str(number + offset).zfill(width), dialect))
    folder = source.directory
    for item, files in written:
        for name in files:
            path = folder / name
            if path.exists():
                raise MigrationFileError("already exists: nothing was imported", path=str(path))
            item.files.append(str(path))
    if not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
        for item, files in written:
            for path_text, text in zip(item.files, files.values(), strict=True):
                Path(path_text).write_text(text, encoding="utf-8")
    return [item for item, _ in written], skipped
