"""Run one process and measure it: wall-clock seconds and peak RSS.

Measured commands are started by ``spawner.py``, a small helper process
that forks, execs, times and reaps them with ``os.wait4`` (whose rusage
holds the child's own peak resident set, KiB on Linux): no psutil, no
sampling, and no inflation of small commands by the harness's own size (see
the spawner's docstring). Output goes to files, read after the command
ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SPAWNER = Path(__file__).resolve().parent / "spawner.py"


@dataclass
class Proc:
    """One finished process."""

    cmd: list[str]
    rc: int
    seconds: float
    rss_kb: int
    stdout: str
    stderr: str
    timed_out: bool = False

    def tail(self, lines: int = 12) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


class Spawner:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(SPAWNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lock = threading.Lock()

    def _ask(self) -> dict[str, object]:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        line = out.readline()
        if not line:
            raise RuntimeError("the spawner process died")
        return dict(json.loads(line))

    def run(self, req: dict[str, object], timeout: float) -> tuple[dict[str, object], bool]:
        with self.lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            pid = int(self._ask()["pid"])  # type: ignore[call-overload]
            killed = threading.Event()

            def kill() -> None:
                if pid <= 0:
                    return
                killed.set()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill)
            timer.daemon = True
            timer.start()
            try:
                return self._ask(), killed.is_set()
            except BaseException:  # interrupted: leave no command running
                kill()
                raise
            finally:
                timer.cancel()


_spawner: Spawner | None = None


def spawner() -> Spawner:
    global _spawner
    if _spawner is None or _spawner.proc.poll() is not None:
        _spawner = Spawner()
    return _spawner


def run(
    cmd: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    stdin: Path | None = None,
    timeout: float = 3600.0,
) -> Proc:
    """Run ``cmd`` to completion; time it from fork to reaping."""
    args = [str(c) for c in cmd]
    with tempfile.TemporaryDirectory(prefix="migbench-out-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        req: dict[str, object] = {
            "cmd": args,
            "cwd": str(cwd) if cwd else None,
            "env": dict(env if env is not None else os.environ),
            "stdin": str(stdin) if stdin else None,
            "stdout": str(out),
            "stderr": str(err),
        }
        result, timed_out = spawner().run(req, timeout)
        return Proc(
            cmd=args,
            rc=int(result["rc"]),  # type: ignore[call-overload]
            seconds=float(result["seconds"]),  # type: ignore[arg-type]
            rss_kb=int(result["rss_kb"]),  # type: ignore[call-overload]
            stdout=out.read_text("utf-8", "replace") if out.exists() else "",
            stderr=err.read_text("utf-8", "replace") if err.exists() else "",
            timed_out=timed_out,
        )


def quick(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """An unmeasured helper command (version queries, schema checks)."""
    return subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
