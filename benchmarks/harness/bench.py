"""The measuring loop: for each database and N, every tool's cycle, repeated.

A cycle runs one tool's operations in order on a fresh database (apply,
status, check, apply1, rollback; the library call on a database of its own)
and checks the schema after each of them (N bench tables with their indexes
and 10 rows in the newest after apply, status, check and the library call;
N + 1 after apply1; none after rollback). The start floors run without a
database. A process that
fails, or leaves the schema other than expected, gets no time: the sample is
marked failed with the reason, and the rest of that cycle is skipped.

Repetitions are interleaved (rep 1 of every tool, then rep 2, ...), so a
drift of the machine hits every tool alike, and every other repetition runs
the tools in reverse order: a server still writing out one tool's work slows
whichever tool comes next, so no tool always comes right after the same one.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import proc
from .servers import Counts, Database, Server
from .tools import WORKLOAD_TOOLS, Invocation, Tool
from .workload import Workload

WARMUP_N = 3
_USERINFO = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


def masked(text: str, secrets: list[str]) -> str:
    """``text`` with no password in it: none in a URL, none of ``secrets``."""
    text = _USERINFO.sub(r"\1:***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass
class Sample:
    db: str
    n: int
    tool: str
    op: str
    rep: int
    ok: bool
    seconds: float | None = None
    call_seconds: float | None = None
    rss_kb: int | None = None
    processes: int = 0
    counts: dict[str, int | None] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def expected(op: str, n: int) -> tuple[Counts, int]:
    """The schema after ``op`` on a workload of N, and the table whose rows are counted."""
    if op == "apply1":
        return Counts(n + 1, n + 1, 10), n + 1
    if op == "rollback":
        return Counts(0, 0, None), n + 1
    return Counts(n, n, 10), n


class Bench:
    def __init__(
        self,
        tools: list[Tool],
        env: Mapping[str, str],
        workdir: Path,
        reps: int,
        *,
        warmup: bool = True,
        verbose: bool = True,
    ) -> None:
        self.tools = tools
        self.env = dict(env)
        self.workdir = workdir
        self.reps = reps
        self.warmup = warmup
        self.verbose = verbose
        self.samples: list[Sample] = []
        self._warmed: set[str] = set()

    def log(self, msg: str) -> None:
        if self.verbose:
            print(msg, file=sys.stderr, flush=True)

    def workload(self, server: Server, n: int, tools: list[Tool], tag: str = "") -> Workload:
        w = Workload(self.workdir / f"{server.dialect}-{n}{tag}", n, server.dialect)
        wanted = sorted({t.files for t in tools if t.files in WORKLOAD_TOOLS})
        peer_python = next((t.peers.python for t in tools if t.peers is not None), Path(sys.executable))
        w.generate(wanted, peer_python, self.env)
        return w

    def block(self, server: Server, n: int) -> None:
        """Every tool on one database at one N, ``reps`` times."""
        tools = [t for t in self.tools if server.dialect in t.dialects]
        if self.warmup and server.dialect not in self._warmed:
            self.log(f"== {server.dialect}: warm-up (N={WARMUP_N}, not recorded)")
            w = self.workload(server, WARMUP_N, tools, "-warmup")
            for tool in tools:
                self.cycle(server, tool, w, rep=-1, record=False)
            self._warmed.add(server.dialect)
        self.log(f"== {server.dialect}: N={n}, {self.reps} repetition(s)")
        w = self.workload(server, n, tools)
        for rep in range(self.reps):
            for tool in tools if rep % 2 == 0 else tools[::-1]:
                self.cycle(server, tool, w, rep)

    def cycle(self, server: Server, tool: Tool, w: Workload, rep: int, record: bool = True) -> None:
        problem = tool.problem()
        ops = list(tool.ops)
        if problem is not None:
            for op in ops:
                self._add(record, Sample(server.dialect, w.n, tool.name, op, rep, False, error=problem))
            return
        if not tool.needs_db:
            for op in ops:
                self._add(record, self.measure(server, tool, op, w, None, rep))
            return
        with server.fresh(self.workdir) as db:
            tool.prepare(w, db)
            failed: str | None = None
            try:
                for op in ops:
                    if failed is not None:
                        self._add(
                            record, Sample(server.dialect, w.n, tool.name, op, rep, False, error=f"skipped: {failed}")
                        )
                        continue
                    if op == "apply1" and tool.files in WORKLOAD_TOOLS:
                        w.add_extra(tool.files, tool.peers.python if tool.peers else Path(sys.executable), self.env)
                    sample = self.measure(server, tool, op, w, db, rep)
                    self._add(record, sample)
                    if not sample.ok:
                        failed = f"{op} failed"
            finally:
                if tool.files in WORKLOAD_TOOLS:
                    w.remove_extra(tool.files)

    def _add(self, record: bool, sample: Sample) -> None:
        if record:
            self.samples.append(sample)
        status = f"{sample.seconds:8.3f} s" if sample.ok and sample.seconds is not None else "  FAILED  "
        if sample.call_seconds is not None and sample.ok:
            status += f" (call {sample.call_seconds:.3f} s)"
        rss = f" {sample.rss_kb / 1024:6.1f} MB" if sample.rss_kb else ""
        tag = f"rep {sample.rep + 1}" if sample.rep >= 0 else "warm-up"
        line = f"   {sample.db:<10} N={sample.n:<5} {tag:<7} {sample.tool:<12} {sample.op:<9} {status}{rss}"
        if not sample.ok:
            line += f"  {sample.error}"
        self.log(line)

    def measure(self, server: Server, tool: Tool, op: str, w: Workload, db: Database | None, rep: int) -> Sample:
        """One operation, timed and checked; a failure's text never holds a password."""
        sample = self._measure(server, tool, op, w, db, rep)
        if sample.error is not None:
            sample.error = masked(sample.error, server.secrets())
        return sample

    def _measure(self, server: Server, tool: Tool, op: str, w: Workload, db: Database | None, rep: int) -> Sample:
        sample = Sample(server.dialect, w.n, tool.name, op, rep, False)
        invocations: list[Invocation] = tool.invocations(op, w, db)  # type: ignore[arg-type]  # None: a start floor
        env = dict(self.env, **server.client_env())
        total, peak = 0.0, 0
        for inv in invocations:
            done = proc.run(inv.cmd, cwd=w.root, env=dict(env, **inv.env), stdin=inv.stdin)
            total += done.seconds
            peak = max(peak, done.rss_kb)
            sample.processes += 1
            if done.timed_out or done.rc not in inv.ok_codes:
                why = f"exit {done.rc}" + (" (timed out)" if done.timed_out else "")
                sample.error = f"{why}: {' '.join(done.cmd[:6])} ...\n{done.tail()}"
                return sample
            if inv.check is not None:
                problem = inv.check(done.stdout, w.n)
                if problem is not None:
                    sample.error = f"{problem}\n{done.tail()}"
                    return sample
            if inv.reports_call:
                sample.call_seconds = float(json.loads(done.stdout.strip().splitlines()[-1])["call"])
        if db is not None:
            want, highest = expected(op, w.n)
            try:
                got = db.counts(highest)
            except Exception as exc:  # noqa: BLE001 - any failure to read the schema fails the sample
                sample.error = f"schema check failed: {exc}"
                return sample
            sample.counts = got.as_dict()
            if got != want:
                sample.error = f"schema after {op}: {got.as_dict()}, expected {want.as_dict()}"
                return sample
        sample.ok, sample.seconds, sample.rss_kb = True, total, peak
        return sample
