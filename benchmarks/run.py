"""Benchmark migrata against Alembic, yoyo, dbmate and the database's own client.

One command, from the repository root:

    python3 -m uv run python benchmarks/run.py

It installs the peers once into ``benchmarks/.peers`` (an environment of
their own, never migrata's), generates the same N migrations in each tool's
format, runs every operation as a whole process on fresh SQLite, PostgreSQL
and MariaDB databases (created and dropped by the run), checks the schema
after each, and prints medians, ratios to the floors and to the best peer,
ms per migration and peak RSS, with issue 15's targets met or not. A run
rewrites the generated section of ``docs/performance.md`` and
``docs/performance.json``; ``--smoke`` (N = 20, one repetition, the
targets computed at N = 20) writes nothing unless ``--json``/``--markdown``
say where.

Options: ``--n 300,1000`` (the default; 5,000 only when asked for, and N
above ``--server-max-n``, 1,000 by default, on SQLite only), ``--reps 3``,
``--databases sqlite,postgresql,mysql``, ``--tools``, ``--smoke``, ``--json
PATH``, ``--markdown PATH``, ``--no-write``, ``--workdir DIR``, ``--keep``,
``--reinstall-peers``, ``--from-json PATH`` (report an earlier run's raw
results again, measuring nothing). Exit status: 0 when every tool did its
work everywhere, 1 when a measurement failed, 3 when a database was not
reachable (and nothing failed). See docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import peers as peers_mod  # noqa: E402
from harness import report  # noqa: E402
from harness.bench import Bench, Sample  # noqa: E402
from harness.servers import SERVERS, Server  # noqa: E402
from harness.tools import all_tools  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMOKE_N = 20
RUN_COMMAND = ("python3", "-m", "uv", "run", "python", "benchmarks/run.py")
DROP_ENV = ("PYTHONDONTWRITEBYTECODE", "DATABASE_URL", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD", "DB_NAME")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="300,1000", help="migration counts, comma-separated (default 300,1000)")
    p.add_argument("--reps", type=int, default=3, help="repetitions of every measurement (default 3)")
    p.add_argument("--databases", default="sqlite,postgresql,mysql", help="comma-separated (default: all three)")
    p.add_argument("--server-max-n", type=int, default=1000, help="larger N run on SQLite only (default 1000)")
    p.add_argument("--tools", default="", help="only these tools (e.g. migrata,alembic); floors always run")
    p.add_argument(
        "--smoke", action="store_true", help="N=20, one repetition, no warm-up, targets at N=20; writes no docs"
    )
    p.add_argument(
        "--json", type=Path, default=None, help="write the raw results here (default: docs/performance.json)"
    )
    p.add_argument("--markdown", type=Path, default=None, help="update this file's generated section")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--workdir", type=Path, default=None, help="where generated projects and SQLite files go")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--reinstall-peers", action="store_true", help="install the peers again")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--from-json", type=Path, default=None, help="measure nothing: report the results in this JSON file")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.reps = str(SMOKE_N), 1
    args.ns = sorted({int(x) for x in args.n.split(",") if x.strip()})
    args.dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    unknown = [d for d in args.dbs if d not in SERVERS]
    if unknown:
        p.error(f"unknown database(s): {', '.join(unknown)} (choose from {', '.join(SERVERS)})")
    full = not args.smoke and not args.no_write
    if args.from_json is not None and args.json is None and not args.no_write:
        args.json = args.from_json
    if args.json is None and full:
        args.json = ROOT / "docs" / "performance.json"
    if args.markdown is None and full:
        args.markdown = ROOT / "docs" / "performance.md"
    if args.no_write:
        args.json = args.markdown = None
    return args


def measured_env(pycache: Path) -> dict[str, str]:
    """The environment of every measured process: bytecode caching on (into
    the run's own cache, warmed before timing), no migrata settings inherited."""
    env = {k: v for k, v in os.environ.items() if k not in DROP_ENV and not k.startswith(("MIGRATA_", "DBMATE_"))}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _read(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def machine(workdir: Path, python: Path) -> dict[str, str]:
    mem_kb = _read("/proc/meminfo", "MemTotal").split()[0]
    fs = subprocess.run(["df", "-T", str(workdir)], capture_output=True, text=True).stdout.splitlines()
    return {
        "CPU": _read("/proc/cpuinfo", "model name"),
        "cores": str(os.cpu_count()),
        "memory": f"{int(mem_kb) / 1024 / 1024:.0f} GiB" if mem_kb.isdigit() else "?",
        "OS": _read("/etc/os-release", "PRETTY_NAME") + f", Linux {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()} ({python})",
        "work folder": f"{workdir} ({fs[-1].split()[1] if len(fs) > 1 else '?'})",
    }


def versions(peers: peers_mod.Peers | None, servers: dict[str, Server]) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        from importlib.metadata import version

        out["migrata"] = version("migrata")
    except Exception:  # noqa: BLE001 - not installed in this interpreter
        out["migrata"] = "?"
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True)
    if commit.returncode == 0:
        out["migrata"] += f" (commit {commit.stdout.strip()}{', src/ modified' if dirty.stdout.strip() else ''})"
    if peers is not None:
        out.update(peers.versions)
    for server in servers.values():
        title = report.DB_TITLES[server.dialect]
        out[f"{title} {'library' if server.dialect == 'sqlite' else 'server'}"] = server.version()
        out[f"{title} client"] = server.client_version()
    return out


Log = Callable[[str], None]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    log: Log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    if args.from_json is not None:
        return rereport(args, log)
    if not (Path(sys.executable).parent / "migrata").exists():
        try:
            import migrata  # noqa: F401
        except ImportError:
            print("migrata is not importable here: run `python3 -m uv run python benchmarks/run.py`", file=sys.stderr)
            return 2
    unavailable: dict[str, str] = {}
    if "sqlite" in args.dbs:
        problem = peers_mod.ensure_sqlite3_client()
        if problem:
            unavailable["sqlite"] = problem
    peers = peers_mod.ensure_peers(reinstall=args.reinstall_peers)
    for problem in peers.problems:
        log(f"[peers] {problem}")
    servers = reachable(args.dbs, unavailable, log)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="migrata-bench-", dir=args.workdir))
    try:
        samples = measure(args, peers, servers, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"work folder kept: {workdir}")
    meta = run_meta(args, argv, peers, servers, unavailable, workdir)
    meta["duration_s"] = round(time.perf_counter() - started, 1)
    return finish(samples, meta, args, log)


def reachable(dbs: list[str], unavailable: dict[str, str], log: Log) -> dict[str, Server]:
    """The servers to measure; why the others cannot be, into ``unavailable``."""
    servers: dict[str, Server] = {}
    for name in dbs:
        if name in unavailable:
            continue
        server = SERVERS[name]()
        problem = server.check()
        if problem:
            unavailable[name] = problem
            log(f"[{name}] unavailable: {problem}")
            continue
        dropped = server.cleanup_leftovers()
        if dropped:
            log(f"[{name}] dropped leftovers of earlier runs: {', '.join(dropped)}")
        servers[name] = server
    return servers


def measure(
    args: argparse.Namespace, peers: peers_mod.Peers, servers: dict[str, Server], workdir: Path
) -> list[Sample]:
    """Every block (database, N) of the run."""
    tools = all_tools(peers, peers.migrata_python)
    if args.tools:
        keep = {t.strip() for t in args.tools.split(",")}
        tools = [t for t in tools if t.kind == "floor" or t.name in keep]
    env = measured_env(workdir / "pycache")
    bench = Bench(tools, env, workdir, args.reps, warmup=not args.smoke, verbose=not args.quiet)
    for name, server in servers.items():
        for n in args.ns:
            if n <= args.server_max_n or name == "sqlite":
                bench.block(server, n)
    return bench.samples


def run_meta(
    args: argparse.Namespace,
    argv: list[str] | None,
    peers: peers_mod.Peers,
    servers: dict[str, Server],
    unavailable: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """What the report says about the run besides its samples."""
    return {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([*RUN_COMMAND, *(argv if argv is not None else sys.argv[1:])]),
        "reps": args.reps,
        "ns": args.ns,
        "databases": args.dbs,
        "measured_databases": [d for d in args.dbs if d in servers],
        "targets_at": targets_at(args.smoke),
        "unavailable": unavailable,
        "smoke": args.smoke,
        "machine": machine(workdir.parent, peers.migrata_python),
        "versions": versions(peers, servers),
        "peers": {
            "root": str(peers.root),
            "install_seconds": round(peers.install_seconds, 1),
            "installed_now": peers.installed_now,
            "problems": peers.problems,
        },
    }


def targets_at(smoke: bool) -> dict[str, Any]:
    """Where the targets are computed: the issue's N, or the smoke run's N (to
    check that every target computes, not to judge one)."""
    if smoke:
        return {"apply": [SMOKE_N], "question": SMOKE_N}
    return {"apply": list(report.APPLY_NS), "question": report.QUESTION_N}


def finish(samples: list[Sample], meta: dict[str, Any], args: argparse.Namespace, log: Log) -> int:
    """Summarize, print, write; the exit status."""
    rows = report.summarize(samples)
    at = meta.get("targets_at") or targets_at(bool(meta.get("smoke")))
    targets = report.targets(rows, meta["measured_databases"], at["apply"], at["question"])
    print(report.text_report(rows, targets, meta))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_json(rows, targets, samples, meta), indent=1) + "\n")
        log(f"wrote {args.json}")
    if args.markdown is not None:
        text = args.markdown.read_text(encoding="utf-8") if args.markdown.exists() else "# Performance\n"
        section = report.markdown_section(rows, targets, meta)
        args.markdown.write_text(report.update_markdown(text, section), encoding="utf-8")
        log(f"wrote {args.markdown}")
    if any(not s.ok for s in samples):
        return 1
    return 3 if meta.get("unavailable") else 0


def rereport(args: argparse.Namespace, log: Log) -> int:
    """``--from-json``: the tables and targets of an earlier run, measuring nothing."""
    data = json.loads(args.from_json.read_text(encoding="utf-8"))
    samples = [Sample(**s) for s in data["samples"]]
    return finish(samples, data["meta"], args, log)


if __name__ == "__main__":
    sys.exit(main())
