"""Cheap fingerprints of files and databases, for migrata's caches.

A file's *signature* is its size, modification and change times in
nanoseconds and inode: an edit changes the change time (the kernel sets it on
every write and no tool can set it back), so an edited file never keeps its
signature. Times that close to now may still share a coarse clock tick with
the next write (git's "racy" case): :func:`settled` tells whether a signature
is old enough to be trusted.

A database *probe* is ``(module, function, arguments)``, given by a backend
(:meth:`migrata.backends.base.Backend.state_probe`): calling it returns a
value that changes whenever the database's committed state may have changed,
or None when it cannot tell. It runs without connecting and without
importing the backend.

Only :mod:`os` and :mod:`sys` are imported here: the command line checks a
kept answer with these functions before loading anything else.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["RACY_NS", "cache_dir", "path_signature", "probe", "settled", "sha256_hex", "signature"]

RACY_NS = 2_000_000_000  # a signature younger than this may not show the next change


def cache_dir() -> str | None:
    """Where migrata keeps its caches: ``$MIGRATA_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/migrata`` (``~/.cache/migrata``); None when
    ``MIGRATA_NO_CACHE`` is set."""
    environ = os.environ
    if environ.get("MIGRATA_NO_CACHE", "").strip() not in ("", "0"):
        return None
    explicit = environ.get("MIGRATA_CACHE_DIR")
    if explicit:
        return explicit
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "migrata")


def signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def path_signature(path: str) -> tuple[int, int, int, int] | None:
    """The signature of the file or folder at ``path``; None when there is none."""
    try:
        return signature(os.stat(path))
    except OSError:
        return None


def settled(sig: tuple[int, int, int, int] | None, now_ns: int) -> bool:
    """Whether ``sig`` is old enough that the next change will show in it."""
    return sig is None or max(sig[1], sig[2]) <= now_ns - RACY_NS


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` in hex, from Python's builtin implementation:
    :mod:`hashlib` would load OpenSSL first, which costs a command more than
    hashing its migration files does."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # Python 3.12+
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


def probe(spec: tuple[str, str, tuple[Any, ...]]) -> Any:
    """Call a database probe (see the module docstring)."""
    module, function, args = spec
    __import__(module)
    return getattr(sys.modules[module], function)(*args)
