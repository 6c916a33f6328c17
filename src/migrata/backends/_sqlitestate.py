"""Whether an SQLite database file changed, without opening it with SQLite.

SQLite increments the *file change counter* in the database header (offset
24) on every write transaction in rollback-journal mode; SQLite itself uses
it to tell whether another connection changed the file. With the file's
identity, size and modification time it makes a token that changes with
every commit. In WAL mode commits land in the ``-wal`` file and the counter
does not move, and a journal with a live header means a transaction is in
progress or was cut off (the next reader rolls it back): in those cases, and
whenever the file does not look like an SQLite database, :func:`state`
answers None ("cannot tell").

Imports :mod:`os` only: the command line calls it to check a kept answer
before loading migrata (see :mod:`migrata._fingerprint`).
"""

from __future__ import annotations

import os

__all__ = ["state"]

_MAGIC = b"SQLite format 3\x00"


def state(path: str) -> tuple[object, ...] | None:
    """A token that changes whenever the committed state of the database at
    ``path`` may have changed; None when this cannot be told from the files."""
    if os.path.lexists(path + "-wal"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return ("absent",) if not os.path.lexists(path + "-journal") else None
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        header = os.read(fd, 100)
    except OSError:
        return None
    finally:
        os.close(fd)
    if header and (len(header) < 100 or header[:16] != _MAGIC or header[18] != 1 or header[19] != 1):
        return None  # not SQLite's, or WAL (read/write versions 2)
    if _live_journal(path + "-journal"):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, header[24:28])


def _live_journal(path: str) -> bool:
    """A rollback journal whose header is not zeroed (PERSIST mode zeroes it
    at commit; DELETE mode deletes the file)."""
    try:
        with open(path, "rb", buffering=0) as f:
            head = f.read(8)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return any(head)  # the magic of a live header, or anything not zeroed
