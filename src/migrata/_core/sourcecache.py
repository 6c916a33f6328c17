"""What a report needs from each migration file, kept between runs.

``status`` and ``check`` (readiness probes, CI) read every migration file to
checksum it; on a long history that is most of their time. This cache keeps,
per file, its checksum and the parsed options of its parts (directives,
sections), keyed by the file's stat signature: size, modification and
change times in nanoseconds, inode. An edit changes the change time (the
kernel sets it on every write; no tool can set it back), so an edited file
misses the cache and is read again. A file changed in the last two seconds
is never stored: on file systems whose clock ticks coarsely, two writes in
one tick can share a change time (git's "racy" case).

Reports, ``up`` and ``down`` use it (``up``/``down`` read again the files of
the steps they run); ``validate`` and the rest always read the files. The
cache lives in ``$XDG_CACHE_HOME/migrata`` (``~/.cache``), one small
:mod:`marshal` file per migrations folder (a tenth of the time JSON takes to
write or read, for a cache only this version of migrata reads);
``MIGRATA_CACHE_DIR`` moves it and ``MIGRATA_NO_CACHE=1`` turns it off.
Unreadable, corrupt or unwritable caches are ignored.
"""

from __future__ import annotations

import marshal
import os
import time
from pathlib import Path

from migrata import _fingerprint
from migrata._fingerprint import cache_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["SourceCache"]

FORMAT = 2


def _cache_dir() -> Path | None:
    folder = cache_dir()
    return Path(folder) if folder else None


class SourceCache:
    """Entries of one migrations folder: file name -> [signature, data]."""

    def __init__(self, directory: Path) -> None:
        from migrata import __version__

        self.path: Path | None = None
        self.folder = ""
        self.entries: dict[str, Any] = {}
        self.seen: dict[str, Any] = {}
        self.changed = False
        self.now_ns = time.time_ns()
        folder = _cache_dir()
        if folder is None:
            return
        self.folder = f"{__version__} {os.path.realpath(directory)}"
        self.path = folder / f"source-{_fingerprint.sha256_hex(self.folder.encode())[:16]}.bin"
        try:
            with open(self.path, "rb", buffering=0) as fh:
                data = marshal.loads(fh.readall())
            if isinstance(data, tuple) and len(data) == 3 and data[:2] == (FORMAT, self.folder):
                if isinstance(data[2], dict):
                    self.entries = data[2]
        except (OSError, ValueError, EOFError, TypeError):
            pass

    signature = staticmethod(_fingerprint.signature)

    def get(self, name: str, sig: tuple[int, int, int, int]) -> Any:
        entry = self.entries.get(name)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == sig:
            self.seen[name] = entry
            return entry[1]
        return None

    def put(self, name: str, sig: tuple[int, int, int, int], data: Any) -> None:
        if self.path is None:
            return
        if max(sig[1], sig[2]) > self.now_ns - _fingerprint.RACY_NS:
            return  # too fresh to trust its times (see the module's docstring)
        self.seen[name] = (sig, data)
        self.changed = True

    def save(self) -> None:
        """Write the entries of the files seen this run (a vanished file's go)."""
        if self.path is None or (not self.changed and len(self.seen) == len(self.entries)):
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps((FORMAT, self.folder, self.seen)))
            os.replace(tmp, self.path)
        except (OSError, ValueError):
            pass
