"""Who holds the lock a MySQL/MariaDB session waits for (``lock_blockers``),
and who holds the migration lock (``lock_holder``).

MariaDB's ``metadata_lock_info`` plugin lists the metadata locks every
session holds: the waiting session holds a weaker lock on the table it waits
for (an ALTER holds its upgradable lock while it waits for the exclusive
one), so the holders are the other sessions with a lock on that table.
Without the plugin the server cannot say which session holds a metadata
lock: the sessions with an open InnoDB transaction are named instead (a
transaction that read the table holds its metadata lock until it ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from migrata.backends.base import LockHolder
from migrata.errors import DatabaseError

__all__ = ["blockers", "lock_holder"]

Query = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]

_BY_METADATA_LOCKS = (
    "SELECT DISTINCT h.THREAD_ID FROM information_schema.METADATA_LOCK_INFO w "
    "JOIN information_schema.METADATA_LOCK_INFO h ON h.TABLE_SCHEMA = w.TABLE_SCHEMA "
    "AND h.TABLE_NAME = w.TABLE_NAME AND h.THREAD_ID <> w.THREAD_ID "
    "WHERE w.THREAD_ID = %s AND w.TABLE_NAME <> ''"
)
_IN_TRANSACTION = "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> %s"
_DESCRIBE = (
    "SELECT p.ID, p.HOST, p.COMMAND, p.TIME, p.INFO, t.trx_started FROM information_schema.PROCESSLIST p "
    "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.ID IN ({ids}) ORDER BY p.ID"
)


def blockers(query: Query, session: int) -> list[LockHolder]:
    """The sessions holding what ``session`` waits for (see the module)."""
    try:
        ids = [int(r[0]) for r in query(_BY_METADATA_LOCKS, (session,))]
        how = "holds a metadata lock on the table"
    except DatabaseError:  # the plugin is not loaded
        ids = [int(r[0]) for r in query(_IN_TRANSACTION, (session,))]
        how = "has an open transaction"
    if not ids:
        return []
    rows = query(_DESCRIBE.format(ids=", ".join(str(i) for i in ids)), ())
    return [_holder(row, how) for row in rows]


def _holder(row: tuple[Any, ...], how: str) -> LockHolder:
    conn_id, host, command, seconds, info, trx_started = row
    if trx_started is not None:
        since = trx_started.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(trx_started, "strftime") else str(trx_started)
    else:
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - int(seconds or 0)))
    doing = "idle" if command == "Sleep" else f"running {' '.join(str(info or command).split())[:200]}"
    return LockHolder(
        pid=int(conn_id),
        host=str(host).rsplit(":", 1)[0] if host else None,
        since=since,
        detail=f"server connection {conn_id} {how}, {doing}",
    )


def lock_holder(query: Query, conn_id: int) -> LockHolder:
    """The connection ``conn_id`` holding the migration lock, described. The
    client's pid is not known to the server: migrata's lock event has it."""
    rows = query("SELECT HOST, USER, TIME, COMMAND, INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (conn_id,))
    if not rows:
        return LockHolder(session=conn_id)
    host, user, seconds, command, info = rows[0]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - int(seconds or 0)))
    doing = "idle" if command == "Sleep" else f"running {' '.join(str(info or command).split())[:60]}"
    return LockHolder(
        host=str(host).rsplit(":", 1)[0] if host else None,
        since=since,
        since_what="its current state began",
        session=conn_id,
        detail=f"user {user}, {doing}",
    )
