"""A small process that starts every measured command and times it.

Run as ``python -I -S spawner.py``; it reads one JSON request per line on
stdin (cmd, cwd, env, stdin/stdout/stderr paths), starts the command with
``posix_spawn``, and answers two JSON lines: ``{"pid": ...}`` at once, then
``{"rc", "seconds", "rss_kb"}`` when ``os.wait4`` reaped it.

Why a separate process: on Linux a child's peak RSS (``ru_maxrss``) starts
at the size of the process that forked it, because exec keeps the larger of
the old and new images' high-water marks. Forked from the harness (20+ MB
by the end of a run), every small command would read as 20+ MB. Started from
this process (about 9 MB, no site packages), only commands smaller than
that are rounded up to it. The wall clock is taken here, around the spawn
and wait4, so nothing of the launcher's own start-up is counted.
"""

import json
import os
import sys
import time


def spawn(req):
    """posix_spawn (vfork + exec in glibc): no page-table copy, so as cheap as
    the harness starting the command itself."""
    os.chdir(req.get("cwd") or "/")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, req.get("stdin") or os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        (os.POSIX_SPAWN_OPEN, 2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
    ]
    return os.posix_spawnp(req["cmd"][0], req["cmd"], req["env"], file_actions=actions)


def main():
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        t0 = time.perf_counter()
        try:
            pid = spawn(req)
        except OSError as exc:
            with open(req["stderr"], "w") as err:
                err.write(f"spawner: cannot run {req['cmd'][0]}: {exc}\n")
            out.write(json.dumps({"pid": 0}) + "\n")
            out.write(json.dumps({"rc": 127, "seconds": time.perf_counter() - t0, "rss_kb": 0}) + "\n")
            out.flush()
            continue
        out.write(json.dumps({"pid": pid}) + "\n")
        out.flush()
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - t0
        rc = os.waitstatus_to_exitcode(status)
        out.write(json.dumps({"rc": rc, "seconds": seconds, "rss_kb": usage.ru_maxrss}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
