"""The peers, installed once per machine into ``benchmarks/.peers``.

* ``.peers/venv``: a virtualenv of its own (``python -m venv`` + pip) with
  Alembic + SQLAlchemy, yoyo-migrations and the two drivers they need;
  never migrata's environment, so nothing the peers pull in can change what
  migrata is measured with.
* ``.peers/npm``: ``npm install dbmate``. The npm package ships the static
  Go binary per platform (``@dbmate/linux-x64/bin/dbmate``); the harness
  calls that binary directly rather than the ``.bin/dbmate`` node wrapper,
  which would add a node start-up to every dbmate command.
* ``.peers/migrata``: migrata as a user installs it, ``pip install -e
  REPO[postgres,mysql]`` into a virtualenv of its own: its runtime
  dependencies and the two drivers, nothing else. The development
  environment also holds the test tools and ``cryptography`` (the crypto
  extra), which PyMySQL imports whenever it is installed (about 25 ms a
  start); the peers' environment has no ``cryptography`` either, so every
  Python tool starts with the same drivers. The install is editable: the
  checkout's code is what runs, and only a change of migrata's dependencies
  installs again.
* ``.peers/stamp.json`` records what was asked for; as long as it matches,
  later runs (and the smoke test) reuse the install and touch no registry.
  ``--reinstall-peers`` starts over. ``MIGRATA_BENCH_PEERS`` moves the
  folder (to share one install between clones).

The client ``sqlite3`` is installed from Debian (apt-get) only when missing;
``psql`` and ``mariadb`` come with the servers.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
MIGRATA_EXTRAS = "postgres,mysql"
PIP_PACKAGES = ["alembic", "sqlalchemy", "yoyo-migrations", "psycopg[binary]", "pymysql"]
NPM_PACKAGES = ["dbmate"]
DISTRIBUTIONS = ["alembic", "sqlalchemy", "yoyo-migrations", "psycopg", "pymysql"]
STAMP_VERSION = 2


def peers_dir() -> Path:
    return Path(os.environ.get("MIGRATA_BENCH_PEERS") or BENCH_DIR / ".peers").resolve()


@dataclass
class Peers:
    """Where the installed peers are, and what they are."""

    root: Path
    python: Path
    dbmate: Path | None
    migrata_python: Path  # the interpreter of ``.peers/migrata``: what migrata is measured with
    versions: dict[str, str] = field(default_factory=dict)
    install_seconds: float = 0.0
    installed_now: bool = False
    problems: list[str] = field(default_factory=list)

    def bin(self, name: str) -> Path:
        return self.python.parent / name


def _log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(cmd)}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _migrata_requirements() -> dict[str, object]:
    """What ``.peers/migrata`` installs: the checkout, and the dependencies its
    pyproject.toml names for it and the extras."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    return {
        "repo": str(REPO),
        "extras": MIGRATA_EXTRAS,
        "requires": [*project.get("dependencies", []), *(r for e in MIGRATA_EXTRAS.split(",") for r in extras[e])],
    }


def _wanted() -> dict[str, object]:
    return {
        "stamp": STAMP_VERSION,
        "pip": PIP_PACKAGES,
        "npm": NPM_PACKAGES,
        "migrata": _migrata_requirements(),
        "python": ".".join(map(str, sys.version_info[:3])),
        "base": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
    }


def _find_dbmate(npm_dir: Path) -> Path | None:
    for candidate in sorted((npm_dir / "node_modules" / "@dbmate").glob("*/bin/dbmate")):
        if os.access(candidate, os.X_OK):
            return candidate
    wrapper = npm_dir / "node_modules" / ".bin" / "dbmate"
    return wrapper if wrapper.exists() else None


def _venv(venv: Path, packages: list[str]) -> None:
    """A new virtualenv at ``venv`` holding ``packages`` (pip arguments)."""
    if venv.exists():
        shutil.rmtree(venv)
    _log(f"creating {venv} (python -m venv) and installing {' '.join(packages)}")
    _run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, *packages], "pip install")


def _install(root: Path, problems: list[str]) -> None:
    _venv(root / "venv", PIP_PACKAGES)
    _venv(root / "migrata", ["-e", f"{REPO}[{MIGRATA_EXTRAS}]"])
    npm = shutil.which("npm")
    if npm is None:
        problems.append("npm not found: dbmate is not installed (apt-get install npm)")
        return
    _log(f"npm install --prefix {root / 'npm'} {' '.join(NPM_PACKAGES)}")
    (root / "npm").mkdir(parents=True, exist_ok=True)
    try:
        _run([npm, "install", "--prefix", str(root / "npm"), "--no-audit", "--no-fund", *NPM_PACKAGES], "npm install")
    except RuntimeError as exc:
        problems.append(str(exc))


def ensure_sqlite3_client() -> str | None:
    """Install Debian's sqlite3 package when the client is missing; a problem or None."""
    if shutil.which("sqlite3"):
        return None
    apt = shutil.which("apt-get")
    if apt is None:
        return "the sqlite3 client is missing and apt-get is not available"
    _log("sqlite3 client missing: apt-get install sqlite3")
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else [])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in ([*prefix, apt, "update", "-qq"], [*prefix, apt, "install", "-y", "-qq", "sqlite3"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            return f"apt-get install sqlite3 failed: {proc.stderr.strip()[-500:]}"
    return None if shutil.which("sqlite3") else "sqlite3 still missing after apt-get install"


def _versions(python: Path, dbmate: Path | None) -> dict[str, str]:
    code = f"import importlib.metadata as m, json\nprint(json.dumps({{d: m.version(d) for d in {DISTRIBUTIONS!r}}}))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    versions: dict[str, str] = json.loads(out)
    if dbmate is not None:
        text = subprocess.run([str(dbmate), "--version"], capture_output=True, text=True).stdout.strip()
        versions["dbmate"] = text.split()[-1] if text else "?"
    return versions


def ensure_peers(*, reinstall: bool = False) -> Peers:
    """The peers, installing them first when needed (under a file lock)."""
    root = peers_dir()
    root.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = root / "stamp.json"
        python = root / "venv" / "bin" / "python"
        migrata_python = root / "migrata" / "bin" / "python"
        current = json.loads(stamp.read_text()) if stamp.is_file() else None
        seconds = 0.0
        installed_now = False
        missing = not (python.exists() and migrata_python.exists())
        if reinstall or current is None or current.get("wanted") != _wanted() or missing:
            t0 = time.perf_counter()
            stamp.unlink(missing_ok=True)
            _install(root, problems)
            seconds = time.perf_counter() - t0
            installed_now = True
            _log(f"installed in {seconds:.1f} s")
        dbmate = _find_dbmate(root / "npm")
        if dbmate is None and not problems:
            problems.append("dbmate binary not found under .peers/npm (npm install dbmate)")
        versions = _versions(python, dbmate)
        if installed_now and not problems:
            stamp.write_text(
                json.dumps({"wanted": _wanted(), "versions": versions, "seconds": round(seconds, 1)}, indent=2)
            )
        elif current is not None and not installed_now:
            seconds = float(current.get("seconds", 0.0))
    return Peers(root, python, dbmate, migrata_python, versions, seconds, installed_now, problems)
