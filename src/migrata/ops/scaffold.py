"""Scaffolding: ``migrata init`` (a config and a folder) and ``migrata new``
(the next migration file or files, numbered by the configured scheme)."""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path

from migrata import results
from migrata._core.source import Source, load_source
from migrata.config import Settings
from migrata.errors import UsageError

__all__ = ["create_project", "create_migration"]

_TEMPLATES = {
    "up": "-- {label}: write the change here.\n",
    "down": "-- {label}: write the SQL that undoes the up migration here.\n",
    "single": "-- migrate:up\n-- {label}: write the change here.\n\n\n-- migrate:down\n-- undo it here.\n",
    "py": (
        '"""{name}"""\n\n\n'
        "def up(ctx):\n"
        "    # ctx.execute(sql, params), ctx.query(sql, params), ctx.connection, ctx.dialect, ctx.log\n"
        "    raise NotImplementedError('write the migration')\n\n\n"
        "def down(ctx):\n"
        "    raise NotImplementedError('write the rollback')\n"
    ),
}


def create_migration(settings: Settings, name: str, kind: str = "pair") -> results.NewResult:
    """Create the next migration file(s): ``kind`` is ``pair``, ``single`` or ``py``."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise UsageError("a migration needs a name of letters or digits", hint="e.g. `migrata new add_users`")
    if kind not in _TEMPLATES or kind in ("up", "down"):
        if kind != "pair":
            raise UsageError(f"unknown migration kind {kind!r}: use pair, single or py")
    folder = settings.migrations
    folder.mkdir(parents=True, exist_ok=True)
    source = load_source(folder, patterns=settings.file_pattern, allow_empty=True, ordering=settings.ordering)
    version = _next_version(source, settings.versions)
    label = f"{version} {slug}"
    stem = f"{version}_{slug}"
    files = []
    if kind == "pair":
        files = [(folder / f"{stem}.up.sql", "up"), (folder / f"{stem}.down.sql", "down")]
    elif kind == "single":
        files = [(folder / f"{stem}.sql", "single")]
    else:
        files = [(folder / f"{stem}.py", "py")]
    for path, _ in files:
        if path.exists():
            raise UsageError(f"{path} already exists")
    for path, template in files:
        path.write_text(_TEMPLATES[template].format(label=label, name=name), encoding="utf-8")
    return results.NewResult(stem if source.ordering == "name" else version, [str(p) for p, _ in files])


_LEADING_RE = re.compile(r"^\d+")
_LAST_NUMBER_RE = re.compile(r"\d+$")


def _next_version(source: Source, scheme: str) -> str:
    """The version text the next file starts with: after the last version,
    in its style (a semantic version's next build; by name, the last
    name's leading number plus one, as wide)."""
    top = source.versioned[-1].version if source.versioned else None
    lead = _LEADING_RE.match(top.text) if top is not None else None
    if scheme == "timestamp":
        stamp_now = int(_dt.datetime.now(_dt.UTC).strftime("%Y%m%d%H%M%S"))
        if lead is not None and int(lead.group()) >= stamp_now:
            stamp_now = int(lead.group()) + 1
        return str(stamp_now)
    if top is None:
        return "000001"
    if not top.parts:  # ordered by name
        if lead is None:
            raise UsageError(
                f"cannot number a file after {top.text}: by name, it does not start with a number",
                hint="create the file by hand, named to sort after the last one",
            )
        return str(int(lead.group()) + 1).zfill(len(lead.group()))
    build = _LAST_NUMBER_RE.search(top.text) if "-" in top.canonical else None
    if build is not None:  # a semantic version: the next build of the same release
        prefix = "v" if source.versioned[-1].path.name.startswith("v") else ""
        return prefix + top.text[: build.start()] + str(int(build.group()) + 1).zfill(len(build.group()))
    versions = [m.version for m in source.versioned if m.version]
    width = max(len(v.text) for v in versions if v.text.isdigit()) if any(v.text.isdigit() for v in versions) else 6
    return str(top.parts[0] + 1).zfill(width)


_CONFIG_TEMPLATE = """\
# migrata configuration. Every key can also come from the environment
# (MIGRATA_<KEY>, DATABASE_URL, DB_HOST...) or a flag (--url, --migrations...).
url = "{url}"
migrations = "{migrations}"
# table = "migrata_history"     # history table; the event log sits beside it
# versions = "sequential"       # or "timestamp", for `migrata new`
# lock_timeout = "60s"
# out_of_order = "refuse"       # or "allow", "ignore"

# [env.prod]                    # `migrata --env prod ...` overlays these keys
# url = "postgresql://app@db.internal/app"
"""


def create_project(
    directory: str | os.PathLike[str] = ".",
    *,
    url: str | None = None,
    migrations: str = "migrations",
    force: bool = False,
) -> results.InitResult:
    """Write ``migrata.toml`` and create the migrations folder."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    config = root / "migrata.toml"
    if config.exists() and not force:
        raise UsageError(f"{config} already exists", hint="edit it, or pass --force to overwrite it")
    created = []
    config.write_text(_CONFIG_TEMPLATE.format(url=url or "sqlite:///app.db", migrations=migrations), encoding="utf-8")
    created.append(str(config))
    folder = root / migrations
    if not folder.exists():
        folder.mkdir(parents=True)
        created.append(str(folder))
    return results.InitResult(str(config), str(folder), created)
