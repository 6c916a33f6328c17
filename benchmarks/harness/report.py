"""Medians, ratios, the issue's targets, and the output: a printed table,
the generated section of ``docs/performance.md`` and the raw JSON.

Ratios are computed between numbers of the same run, each the median of
the ratios of the single repetitions (every repetition measures all tools
back to back, so the machine's drift between repetitions cancels out):

* ``× floor``: to the floor of the operation: floor (b) (the client, one
  transaction per migration with a history row) for apply and rollback;
  ``python -c pass`` for status, check and apply 1; for the in-process
  library call, floor (b) through Python's sqlite3 module on SQLite (call
  time against call time) and the client's floor (b) elsewhere (process
  against process);
* ``× best peer``: to the fastest of Alembic, yoyo and dbmate at the same
  operation (for the library call: at apply);
* ``ms / migration``: seconds / N for apply, library and rollback (N + 1),
  the whole command for apply 1.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .bench import Sample

BEGIN = "<!-- benchmark:begin -->"
END = "<!-- benchmark:end -->"
DB_TITLES = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
OP_ORDER = (
    "start",
    "apply",
    "status",
    "status2",
    "status0",
    "check",
    "check2",
    "check0",
    "apply1",
    "rollback",
    "library",
)
OP_TITLES = {
    "start": "interpreter start (floor of status, check, apply 1)",
    "apply": "apply all N to an empty database (× floor: floor (b))",
    "status": "status with N applied (× floor: python -c pass)",
    "status2": "status asked again, nothing changed (× floor: python -c pass)",
    "check": "check: anything pending? N applied (× floor: python -c pass)",
    "check2": "check asked again, nothing changed (× floor: python -c pass)",
    "status0": "migrata status with its caches off: the full answer (× floor: python -c pass)",
    "check0": "migrata check with its caches off: the full answer (× floor: python -c pass)",
    "apply1": "apply 1 new migration on top of N (× floor: python -c pass)",
    "rollback": "roll back all N + 1 (× floor: floor (b) running the downs)",
    "library": "library API in a fresh python -c (× floor on SQLite: call time against floor (b) in Python's sqlite3)",
}
TOOL_ORDER = ("python", "client-a", "client-b", "py-sqlite3", "migrata", "migrata-lib", "alembic", "yoyo", "dbmate")
PEERS = ("alembic", "yoyo", "dbmate")
COMMANDS = {
    ("python", "start"): "python -c pass",
    ("client-a", "apply"): "client, one file, one transaction",
    ("client-a", "apply1"): "client, one transaction",
    ("client-a", "rollback"): "client, downs in one transaction",
    ("client-b", "apply"): "client, one txn per migration + history row",
    ("client-b", "apply1"): "client, one txn + history row",
    ("client-b", "rollback"): "client, one txn per down + history delete",
    ("py-sqlite3", "library"): "floor (b) through Python's sqlite3 module",
    ("migrata", "apply"): "migrata up",
    ("migrata", "status"): "migrata status",
    ("migrata", "check"): "migrata check",
    ("migrata", "status2"): "migrata status, again",
    ("migrata", "check2"): "migrata check, again",
    ("migrata", "status0"): "migrata status, caches off (full answer)",
    ("migrata", "check0"): "migrata check, caches off (full answer)",
    ("migrata", "apply1"): "migrata up",
    ("migrata", "rollback"): "migrata down base",
    ("migrata-lib", "library"): "migrata.upgrade(url, migrations=...)",
    ("alembic", "apply"): "alembic upgrade head",
    ("alembic", "status"): "alembic current",
    ("alembic", "check"): "alembic current --check-heads",
    ("alembic", "status2"): "alembic current, again",
    ("alembic", "check2"): "alembic current --check-heads, again",
    ("alembic", "apply1"): "alembic upgrade head",
    ("alembic", "rollback"): "alembic downgrade base",
    ("yoyo", "apply"): "yoyo apply --batch",
    ("yoyo", "status"): "yoyo list",
    ("yoyo", "check"): "yoyo list",
    ("yoyo", "status2"): "yoyo list, again",
    ("yoyo", "check2"): "yoyo list, again",
    ("yoyo", "apply1"): "yoyo apply --batch",
    ("yoyo", "rollback"): "yoyo rollback --batch --all",
    ("dbmate", "apply"): "dbmate migrate",
    ("dbmate", "status"): "dbmate status",
    ("dbmate", "check"): "dbmate status --exit-code",
    ("dbmate", "status2"): "dbmate status, again",
    ("dbmate", "check2"): "dbmate status --exit-code, again",
    ("dbmate", "apply1"): "dbmate migrate",
    ("dbmate", "rollback"): "dbmate rollback, once per migration",
}


@dataclass
class Row:
    db: str
    n: int
    tool: str
    op: str
    ok: bool
    reps: int
    seconds: float | None = None
    min_seconds: float | None = None
    call_seconds: float | None = None
    rss_mb: float | None = None
    processes: int = 0
    error: str | None = None
    x_floor: float | None = None
    x_best_peer: float | None = None
    best_peer: str | None = None
    ms_per_migration: float | None = None
    samples: list[float] = field(default_factory=list)
    by_rep: dict[int, float] = field(default_factory=dict)  # repetition -> seconds
    call_by_rep: dict[int, float] = field(default_factory=dict)

    def value(self, call: bool) -> float | None:
        return self.call_seconds if call else self.seconds

    def per_rep(self, call: bool) -> dict[int, float]:
        return self.call_by_rep if call else self.by_rep


def paired(a: Row, b: Row, call: bool = False) -> float | None:
    """``a`` against ``b``: the median of the ratios of the repetitions both
    measured (each repetition runs every tool back to back, so the machine's
    drift between repetitions cancels out); the ratio of the medians when
    they share none."""
    mine, base = a.per_rep(call), b.per_rep(call)
    common = [r for r in mine if r in base and base[r]]
    if common:
        return statistics.median(mine[r] / base[r] for r in common)
    x, y = a.value(call), b.value(call)
    return x / y if x is not None and y else None


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(samples: Sequence[Sample]) -> list[Row]:
    groups: dict[tuple[str, int, str, str], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.db, s.n, s.tool, s.op), []).append(s)
    rows: list[Row] = []
    for (db, n, tool, op), group in groups.items():
        good = [s for s in group if s.ok]
        ok = len(good) == len(group)
        row = Row(db, n, tool, op, ok, len(group), processes=max((s.processes for s in group), default=0))
        if ok:
            row.samples = [s.seconds for s in good if s.seconds is not None]
            row.by_rep = {s.rep: s.seconds for s in good if s.seconds is not None}
            row.call_by_rep = {s.rep: s.call_seconds for s in good if s.call_seconds is not None}
            row.seconds = _median(row.samples)
            row.min_seconds = min(row.samples) if row.samples else None
            row.call_seconds = _median(s.call_seconds for s in good)
            row.rss_mb = max((s.rss_kb or 0) for s in good) / 1024
        else:
            row.error = next(s.error for s in group if not s.ok)
        rows.append(row)
    _ratios(rows)
    rows.sort(key=lambda r: (list(DB_TITLES).index(r.db), r.n, OP_ORDER.index(r.op), TOOL_ORDER.index(r.tool)))
    return rows


def find(rows: Sequence[Row], db: str, n: int, tool: str, op: str) -> Row | None:
    for r in rows:
        if (r.db, r.n, r.tool, r.op) == (db, n, tool, op) and r.ok:
            return r
    return None


def floor_of(rows: Sequence[Row], row: Row) -> tuple[Row | None, bool]:
    """The floor row of ``row``'s operation, and whether call times are compared."""
    if row.op in ("apply", "rollback"):
        return find(rows, row.db, row.n, "client-b", row.op), False
    if row.op in ("status", "status2", "status0", "check", "check2", "check0", "apply1"):
        return find(rows, row.db, row.n, "python", "start"), False
    if row.op == "library":
        py = find(rows, row.db, row.n, "py-sqlite3", "library")
        if py is not None:
            return py, True
        return find(rows, row.db, row.n, "client-b", "apply"), False
    return None, False


#: a migrata-only operation -> the peers' operation it is compared with
PEER_OP = {"library": "apply", "status0": "status", "check0": "check"}


def best_peer(rows: Sequence[Row], db: str, n: int, op: str) -> Row | None:
    op = PEER_OP.get(op, op)
    peers = [r for r in (find(rows, db, n, p, op) for p in PEERS) if r is not None and r.seconds is not None]
    return min(peers, key=lambda r: r.seconds or 0.0) if peers else None


def _ratios(rows: list[Row]) -> None:
    for row in rows:
        if not row.ok or row.seconds is None:
            continue
        floor, call = floor_of(rows, row)
        call = call and row.call_seconds is not None
        if floor is row:
            row.x_floor = 1.0
        elif floor is not None:
            row.x_floor = paired(row, floor, call)
        peer = best_peer(rows, row.db, row.n, row.op)
        if peer is not None and peer.seconds and row.op != "start":
            row.x_best_peer = paired(row, peer)
            row.best_peer = peer.tool
        per = {"apply": row.n, "library": row.n, "rollback": row.n + 1, "apply1": 1}.get(row.op)
        basis = row.call_seconds if row.op == "library" and row.call_seconds is not None else row.seconds
        if per:
            row.ms_per_migration = 1000 * basis / per


# --- targets (issue 6, point 7; scaling from point 5) ------------------------------------


@dataclass
class Target:
    name: str
    db: str
    n: int | None
    measured: float | None
    limit: float
    unit: str
    result: str  # met | not met | not measured
    detail: str = ""


def _target(
    name: str, db: str, n: int | None, value: float | None, limit: float, unit: str, detail: str = ""
) -> Target:
    if value is None:
        return Target(name, db, n, None, limit, unit, "not measured", detail)
    met = value < limit if unit == "× best peer" or unit == "MB" else value <= limit
    return Target(name, db, n, value, limit, unit, "met" if met else "not met", detail)


def _ratio(a: Row | None, b: Row | None, call: bool = False) -> float | None:
    if a is None or b is None:
        return None
    return paired(a, b, call)


def _missing(rows: Sequence[Row], db: str, n: int, tool: str, op: str) -> str:
    for r in rows:
        if (r.db, r.n, r.tool, r.op) == (db, n, tool, op) and not r.ok:
            return f"{tool} {op} failed"
    return ""


def targets(
    rows: Sequence[Row], dbs: Sequence[str], target_n: int = 1000, big_n: int = 5000, lib_n: int = 200
) -> list[Target]:
    out: list[Target] = []
    for db in dbs:
        if db == "sqlite":
            continue
        # the independent check: 300 migrations on each server
        row300 = find(rows, db, 300, "migrata", "apply")
        if row300 is not None or _missing(rows, db, 300, "migrata", "apply"):
            out.append(
                _target(
                    "apply all ≤ 1.25× floor (b)",
                    db,
                    300,
                    _ratio(row300, find(rows, db, 300, "client-b", "apply")),
                    1.25,
                    "× floor (b)",
                    _missing(rows, db, 300, "migrata", "apply"),
                )
            )
    for db in dbs:
        mig = find(rows, db, target_n, "migrata", "apply")
        peer = best_peer(rows, db, target_n, "apply")
        out.append(
            _target(
                "apply all ≤ 1.25× floor (b)",
                db,
                target_n,
                _ratio(mig, find(rows, db, target_n, "client-b", "apply")),
                1.25,
                "× floor (b)",
                _missing(rows, db, target_n, "migrata", "apply"),
            )
        )
        out.append(
            _target(
                "apply all faster than every peer",
                db,
                target_n,
                _ratio(mig, peer),
                1.0,
                "× best peer",
                f"best peer: {peer.tool}" if peer else _missing(rows, db, target_n, "migrata", "apply"),
            )
        )
    questions = (
        ("status2", "migrata status", "asked again"),
        ("status", "migrata status", "first after apply"),
        ("status0", "migrata status", "caches off: full answer"),
        ("check2", "migrata check", "asked again"),
        ("check", "migrata check", "first after apply"),
        ("check0", "migrata check", "caches off: full answer"),
    )
    for op, cmd, when in questions:
        for db in dbs:
            row = find(rows, db, target_n, "migrata", op)
            start = find(rows, db, target_n, "python", "start")
            out.append(
                _target(
                    f"{cmd} ≤ 2× python -c pass ({when})",
                    db,
                    target_n,
                    _ratio(row, start),
                    2.0,
                    "× start",
                    _missing(rows, db, target_n, "migrata", op),
                )
            )
            alembic = find(rows, db, target_n, "alembic", PEER_OP.get(op, op))
            what = "alembic current" if op.startswith("status") else "alembic current --check-heads"
            out.append(
                _target(
                    f"{cmd} ≤ 0.25× {what} ({when})",
                    db,
                    target_n,
                    _ratio(row, alembic),
                    0.25,
                    "× Alembic",
                    _missing(rows, db, target_n, "migrata", op),
                )
            )
    if "sqlite" in dbs:
        row = find(rows, "sqlite", target_n, "migrata", "apply1")
        start = find(rows, "sqlite", target_n, "python", "start")
        out.append(
            _target(
                "apply 1 on top of N ≤ 3× python -c pass",
                "sqlite",
                target_n,
                _ratio(row, start),
                3.0,
                "× start",
                _missing(rows, "sqlite", target_n, "migrata", "apply1"),
            )
        )
    for db in dbs:
        row = find(rows, db, target_n, "migrata", "rollback")
        out.append(
            _target(
                "roll back all ≤ 1.3× client downs per migration",
                db,
                target_n,
                _ratio(row, find(rows, db, target_n, "client-b", "rollback")),
                1.3,
                "× floor (b)",
                _missing(rows, db, target_n, "migrata", "rollback"),
            )
        )
    for db in dbs:
        # status with its caches off: the full answer holds the most (a kept answer ~10 MB)
        for op, limit in (("status0", 40.0), ("apply", 60.0)):
            row = find(rows, db, big_n, "migrata", op)
            if row is None and db != "sqlite" and not _missing(rows, db, big_n, "migrata", op):
                continue  # N = 5,000 is required on SQLite only
            out.append(
                _target(
                    f"peak RSS of migrata {'status (full answer)' if op == 'status0' else 'up'} < {limit:.0f} MB",
                    db,
                    big_n,
                    row.rss_mb if row else None,
                    limit,
                    "MB",
                    _missing(rows, db, big_n, "migrata", op),
                )
            )
    if "sqlite" in dbs:
        lib = find(rows, "sqlite", lib_n, "migrata-lib", "library")
        py = find(rows, "sqlite", lib_n, "py-sqlite3", "library")
        out.append(
            _target(
                "library upgrade() in-process ≤ 1.25× floor (b) in Python's sqlite3 (call only)",
                "sqlite",
                lib_n,
                _ratio(lib, py, call=True),
                1.25,
                "× floor (b)",
                _missing(rows, "sqlite", lib_n, "migrata-lib", "library"),
            )
        )
    out.extend(_scaling(rows, dbs))
    return out


def _scaling(rows: Sequence[Row], dbs: Sequence[str]) -> list[Target]:
    """Point 5: per-migration cost flat, status at most linear in N (between the two largest N)."""
    out: list[Target] = []
    for db in dbs:
        ns = sorted({r.n for r in rows if r.db == db and r.tool == "migrata" and r.op == "apply"})
        if len(ns) < 2:
            continue
        small, big = ns[-2], ns[-1]
        a, b = find(rows, db, small, "migrata", "apply"), find(rows, db, big, "migrata", "apply")
        fa, fb = find(rows, db, small, "client-b", "apply"), find(rows, db, big, "client-b", "apply")
        if a and b and fa and fb and a.ms_per_migration and b.ms_per_migration and fa.seconds and fb.seconds:
            # the database's own cost per migration grows with its schema (SQLite
            # parses more of it at every DDL): what must stay flat is migrata's
            # cost per migration relative to floor (b) at the same N
            raw = b.ms_per_migration / a.ms_per_migration
            floor_growth = (fb.seconds / big) / (fa.seconds / small)
            out.append(
                _target(
                    f"apply ms/migration flat against floor (b): N={big} ≤ 1.25× N={small}",
                    db,
                    big,
                    raw / floor_growth,
                    1.25,
                    "× smaller N",
                    f"migrata {raw:.2f}×, floor (b) {floor_growth:.2f}× per migration",
                )
            )
        # the full answer (caches off): a kept answer's cost hardly depends on N
        sa, sb = find(rows, db, small, "migrata", "status0"), find(rows, db, big, "migrata", "status0")
        pa, pb = find(rows, db, small, "python", "start"), find(rows, db, big, "python", "start")
        if sa and sb and pa and pb and sa.seconds and sb.seconds and pa.seconds and pb.seconds:
            grow = max(sb.seconds - pb.seconds, 0.0) / max(sa.seconds - pa.seconds, 1e-4)
            out.append(
                _target(
                    f"status (full answer) above start grows ≤ linearly: N={big} vs N={small}",
                    db,
                    big,
                    grow / (big / small),
                    1.0,
                    "× linear",
                    f"{(sa.seconds - pa.seconds) * 1000:.0f} → {(sb.seconds - pb.seconds) * 1000:.0f} ms",
                )
            )
    return out


# --- rendering -----------------------------------------------------------------------------


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "" if value is None else format(value, spec) + suffix


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool, align: str = "") -> str:
    align = align or "l" * len(headers)
    if markdown:
        sep = ["---:" if a == "r" else "---" for a in align]
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(sep) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


RESULT_HEADERS = (
    "operation",
    "tool",
    "command",
    "median s",
    "× floor",
    "× best peer",
    "ms / migration",
    "peak RSS MB",
    "note",
)
RESULT_ALIGN = "lllrrrrrl"


def result_table(rows: Sequence[Row], db: str, n: int, markdown: bool) -> str:
    cells = []
    for r in rows:
        if (r.db, r.n) != (db, n):
            continue
        if r.ok:
            note = f"call {r.call_seconds:.3f} s" if r.call_seconds is not None else ""
            if r.best_peer and r.tool in ("migrata", "migrata-lib"):
                note = (note + "; " if note else "") + f"best peer {r.best_peer}"
            if r.processes > 1:
                note = (note + "; " if note else "") + f"{r.processes} processes"
            cells.append(
                [
                    r.op,
                    r.tool,
                    COMMANDS.get((r.tool, r.op), ""),
                    _fmt(r.seconds, ".3f"),
                    _fmt(r.x_floor, ".2f", "×"),
                    _fmt(r.x_best_peer, ".2f", "×"),
                    _fmt(r.ms_per_migration, ".2f"),
                    _fmt(r.rss_mb, ".1f"),
                    note,
                ]
            )
        else:
            error = (r.error or "").splitlines()[0][:90]
            cells.append([r.op, r.tool, COMMANDS.get((r.tool, r.op), ""), "FAILED", "", "", "", "", error])
    return render(RESULT_HEADERS, cells, markdown, RESULT_ALIGN)


def target_table(items: Sequence[Target], markdown: bool) -> str:
    unit_fmt = {"MB": ".1f"}
    cells = [
        [
            t.name,
            DB_TITLES.get(t.db, t.db),
            "" if t.n is None else str(t.n),
            _fmt(t.measured, unit_fmt.get(t.unit, ".2f"), " " + t.unit),
            f"{'<' if t.unit in ('MB', '× best peer') else '≤'} {t.limit:g}",
            t.result,
            t.detail,
        ]
        for t in items
    ]
    return render(("target", "database", "N", "measured", "limit", "result", "detail"), cells, markdown, "lllrlll")


def blocks(rows: Sequence[Row]) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    for r in rows:
        if (r.db, r.n) not in seen:
            seen.append((r.db, r.n))
    return seen


def _reps(n: int) -> str:
    return "one repetition" if n == 1 else f"{n} repetitions"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def text_report(rows: Sequence[Row], items: Sequence[Target], meta: dict[str, Any]) -> str:
    parts = [
        f"migrata benchmark: {meta['when']}, {_reps(meta['reps'])}, median of each, {_duration(meta['duration_s'])}"
    ]
    parts.append("machine: " + "; ".join(f"{k} {v}" for k, v in meta["machine"].items()))
    parts.append("versions: " + "; ".join(f"{k} {v}" for k, v in meta["versions"].items()))
    for db, n in blocks(rows):
        parts.append(f"\n== {DB_TITLES.get(db, db)}, N = {n}")
        parts.append(result_table(rows, db, n, markdown=False))
    parts.append("\n== Targets (issue 6)")
    parts.append(target_table(items, markdown=False))
    return "\n".join(parts)


def markdown_section(rows: Sequence[Row], items: Sequence[Target], meta: dict[str, Any]) -> str:
    out = [
        BEGIN,
        "<!-- generated by benchmarks/run.py: everything between these markers is rewritten on each full run -->",
        "",
        f"Latest run: {meta['when']}, `{meta['command']}`, {_reps(meta['reps'])} of every measurement "
        f"(median shown), {_duration(meta['duration_s'])} in all. Raw samples: [performance.json](performance.json).",
        "",
        "### Machine and versions",
        "",
        render(
            ("", "version or fact"), [[k, str(v)] for k, v in {**meta["machine"], **meta["versions"]}.items()], True
        ),
        "",
    ]
    if meta.get("unavailable"):
        out += ["Not measured: " + "; ".join(f"{DB_TITLES.get(k, k)}: {v}" for k, v in meta["unavailable"].items()), ""]
    out += ["### Targets", "", target_table(items, markdown=True), ""]
    for db, n in blocks(rows):
        out += [f"### {DB_TITLES.get(db, db)}, N = {n:,}", "", result_table(rows, db, n, markdown=True), ""]
    out.append(END)
    return "\n".join(out)


def update_markdown(text: str, section: str) -> str:
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + section + tail
    return text.rstrip("\n") + "\n\n## Latest results\n\n" + section + "\n"


def as_json(
    rows: Sequence[Row], items: Sequence[Target], samples: Sequence[Sample], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "meta": meta,
        "targets": [asdict(t) for t in items],
        "summary": [asdict(r) for r in rows],
        "samples": [s.as_dict() for s in samples],
    }
