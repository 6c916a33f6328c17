"""Replaying a project's migrations into a scratch database.

``autogenerate`` and ``diff`` (and later ``squash``) need the schema the
migration files describe, without touching the user's database: the files
are applied, with migrata's own runner, to a database made for the purpose
(Atlas's "dev database", Prisma's "shadow database"):

* SQLite: a file in a temporary folder, removed afterwards;
* PostgreSQL, MySQL/MariaDB: a database named ``migrata_replay_<time>_<hex>``
  on the same server as the configured one, created here and dropped in a
  ``finally``. A run that was killed leaves its database behind: the next
  replay on that server drops every such database older than a minute that
  no session is connected to.

User hooks, backups, verification and metrics do not run on a replay: it is
not a migration of the user's database.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from migrata._core import planner
from migrata._core.model import Plan, Version
from migrata.backends.base import Backend
from migrata.config import Settings
from migrata.errors import MigrataError
from migrata.session import Session

__all__ = ["PREFIX", "Replay", "clean_leftovers", "replay"]

log = logging.getLogger("migrata")

#: Name prefix of replay databases on a server (``<prefix><unix time>_<hex>``).
PREFIX = "migrata_replay_"
#: A replay database older than this (seconds) with no session on it is a leftover.
STALE_AFTER = 60

# dialect -> (databases named like the prefix, databases some session is connected to)
_LISTING = {
    "postgresql": (
        "SELECT datname FROM pg_database WHERE datname LIKE 'migrata\\_replay\\_%'",
        "SELECT DISTINCT datname FROM pg_stat_activity WHERE datname IS NOT NULL",
    ),
    "mysql": (
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'migrata\\_replay\\_%'",
        "SELECT DISTINCT db FROM information_schema.processlist WHERE db IS NOT NULL",
    ),
}


@dataclass
class Replay:
    """A scratch database holding the schema of the migrations up to ``version``.

    ``session`` is a migrata session on it (its ``backend`` stays connected
    until the replay ends); ``table``/``events_table`` are migrata's own
    tables there, which a comparison leaves out.
    """

    session: Session
    version: str | None
    applied: int

    @property
    def backend(self) -> Backend:
        return self.session.backend

    @property
    def dialect(self) -> str:
        return self.session.backend.dialect

    @property
    def ledger_tables(self) -> set[str]:
        s = self.session.settings
        return {s.table, s.events_table}


@contextlib.contextmanager
def replay(settings: Settings, *, target: Version | str | None = None) -> Iterator[Replay]:
    """Yield a :class:`Replay`: the migrations of ``settings`` (up to
    ``target``, default all) applied to a new scratch database beside the
    configured one; the scratch database is dropped when the block ends."""
    with _scratch_url(settings) as url:
        scratch = settings.with_overrides(url=url)
        # keep the user's hooks and operations off the scratch database
        scratch.on_connect = []
        sess = Session(scratch)
        try:
            _without_durability(sess.backend)
            version, applied = _apply(sess, target)
            yield Replay(sess, version, applied)
        finally:
            sess.close()


# dialect -> what makes a commit on the scratch database not wait for the disk (a
# scratch database that a crash loses is simply replayed again); MariaDB has
# no such setting for one session
_NO_DURABILITY = {"postgresql": "SET synchronous_commit TO off", "sqlite": "PRAGMA synchronous = OFF"}


def _without_durability(backend: Backend) -> None:
    sql = _NO_DURABILITY.get(backend.dialect)
    if sql is not None:
        backend.execute(sql)


def _apply(sess: Session, target: Version | str | None) -> tuple[str | None, int]:
    """Apply the migrations with migrata's runner; return (version reached, steps)."""
    source = sess.source
    if target == planner.BASE:  # before every migration, whatever the set's ordering
        plan = Plan("up")
    else:
        if isinstance(target, str):
            target = Version.parse(target, source.ordering)
        plan = planner.plan_up(source, [], target=target, out_of_order="allow")
    source.load_python(s.migration for s in plan.steps if s.migration.kind == "py")
    with sess.locked():
        runner = sess.runner()
        runner.run([runner.prepare(s) for s in plan.steps])
        reached = planner.current_version(sess.ledger.read())
    return reached, len(plan.steps)


@contextlib.contextmanager
def _scratch_url(settings: Settings) -> Iterator[str]:
    url = settings.database_url()
    if url.family in ("sqlite", "sqlite3", "file"):
        with tempfile.TemporaryDirectory(prefix="migrata-replay-") as folder:
            yield f"sqlite:///{Path(folder, 'replay.db')}"
        return
    from migrata.backends.registry import create_backend

    admin = create_backend(url).admin()
    admin.connect()
    try:
        clean_leftovers(admin)
        name = f"{PREFIX}{int(time.time())}_{uuid.uuid4().hex[:8]}"
        admin.create_database(name)
        try:
            yield url.with_database(name).raw
        finally:
            admin.drop_database(name)
    finally:
        admin.close()


def clean_leftovers(admin: Backend, *, now: float | None = None) -> list[str]:
    """Drop the replay databases that killed runs left on ``admin``'s server
    (older than a minute, no session connected); return their names."""
    listing = _LISTING.get(admin.dialect)
    if listing is None:
        return []
    now = time.time() if now is None else now
    names = [r[0] for r in admin.query(listing[0])]
    busy = {r[0] for r in admin.query(listing[1])} if names else set()
    dropped = []
    for name in names:
        stamp = name[len(PREFIX) :].split("_", 1)[0]
        if name in busy or not stamp.isdigit() or now - int(stamp) < STALE_AFTER:
            continue
        try:
            admin.drop_database(name)
        except MigrataError as exc:  # another run may be dropping it too
            log.debug("could not drop leftover replay database %s: %s", name, exc)
            continue
        log.info("dropped %s, left behind by an interrupted replay", name)
        dropped.append(name)
    return dropped
