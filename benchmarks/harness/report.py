"""Medians, ratios, the issue's targets, and the output: a printed table,
the generated section of ``docs/performance.md`` and the raw JSON.

Ratios are computed between numbers of the same run, each the median of
the ratios of the single repetitions (every repetition measures all tools
back to back, so the machine's drift between repetitions cancels out):

* ``× floor``: to the floor of the operation: floor (b) (the client, one
  transaction per migration with a history row) for apply and rollback;
  the database's start floor for status, check and apply 1 (``python -c
  'import psycopg'`` on PostgreSQL, ``python -c pass`` on SQLite and
  MariaDB); ``python -c pass`` for the other start floor; for the
  in-process library call, floor (b) through Python's sqlite3 module on
  SQLite (call time against call time) and the client's floor (b)
  elsewhere (process against process);
* ``× best peer``: to the fastest of Alembic, yoyo and dbmate at the same
  operation (for the library call: at apply);
* ``ms / migration``: seconds / N for apply, library and rollback (N + 1),
  the whole command for apply 1.

The targets are issue 15's: apply ≤ 1.25× floor (b) and ≤ 1.0× dbmate at
N = 300 and 1,000 on every database; ``status`` and ``check`` at N = 1,000
≤ 0.25× Alembic's ``current`` on SQLite and MariaDB, ≤ 1.5× ``python -c
'import psycopg'`` on PostgreSQL.
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
OP_ORDER = ("start", "apply", "status", "check", "apply1", "rollback", "library")
TOOL_ORDER = (
    "python",
    "psycopg",
    "client-a",
    "client-b",
    "py-sqlite3",
    "migrata",
    "migrata-lib",
    "alembic",
    "yoyo",
    "dbmate",
)
PEERS = ("alembic", "yoyo", "dbmate")
#: the start floor of status, check and apply 1, per database (default: python -c pass)
START_FLOOR = {"postgresql": "psycopg"}
COMMANDS = {
    ("python", "start"): "python -c pass",
    ("psycopg", "start"): "python -c 'import psycopg'",
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
    ("migrata", "apply1"): "migrata up",
    ("migrata", "rollback"): "migrata down base",
    ("migrata-lib", "library"): "migrata.upgrade(url, migrations=...)",
    ("alembic", "apply"): "alembic upgrade head",
    ("alembic", "status"): "alembic current",
    ("alembic", "check"): "alembic current --check-heads",
    ("alembic", "apply1"): "alembic upgrade head",
    ("yoyo", "apply"): "yoyo apply --batch",
    ("yoyo", "status"): "yoyo list",
    ("yoyo", "check"): "yoyo list",
    ("yoyo", "apply1"): "yoyo apply --batch",
    ("dbmate", "apply"): "dbmate migrate",
    ("dbmate", "status"): "dbmate status",
    ("dbmate", "check"): "dbmate status --exit-code",
    ("dbmate", "apply1"): "dbmate migrate",
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
    rows.sort(key=lambda r: (_index(tuple(DB_TITLES), r.db), r.n, _index(OP_ORDER, r.op), _index(TOOL_ORDER, r.tool)))
    return rows


def _index(order: Sequence[str], name: str) -> int:
    """Where ``name`` sorts; names of an older harness (``--from-json``) go last."""
    return order.index(name) if name in order else len(order)


def find(rows: Sequence[Row], db: str, n: int, tool: str, op: str) -> Row | None:
    for r in rows:
        if (r.db, r.n, r.tool, r.op) == (db, n, tool, op) and r.ok:
            return r
    return None


def floor_of(rows: Sequence[Row], row: Row) -> tuple[Row | None, bool]:
    """The floor row of ``row``'s operation, and whether call times are compared."""
    if row.op in ("apply", "rollback"):
        return find(rows, row.db, row.n, "client-b", row.op), False
    if row.op == "start":
        return find(rows, row.db, row.n, "python", "start"), False
    if row.op in ("status", "check", "apply1"):
        return find(rows, row.db, row.n, START_FLOOR.get(row.db, "python"), "start"), False
    if row.op == "library":
        py = find(rows, row.db, row.n, "py-sqlite3", "library")
        if py is not None:
            return py, True
        return find(rows, row.db, row.n, "client-b", "apply"), False
    return None, False


#: a migrata-only operation -> the peers' operation it is compared with
PEER_OP = {"library": "apply"}


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


# --- targets (issue 15) --------------------------------------------------------------------

#: where issue 15 sets its targets: apply at each of these N, status and check at this one
APPLY_NS = (300, 1000)
QUESTION_N = 1000


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


def _target(name: str, db: str, n: int | None, value: float | None, limit: float, unit: str, detail: str) -> Target:
    if value is None:
        return Target(name, db, n, None, limit, unit, "not measured", detail)
    return Target(name, db, n, value, limit, unit, "met" if value <= limit else "not met", detail)


def _ratio(a: Row | None, b: Row | None) -> float | None:
    if a is None or b is None:
        return None
    return paired(a, b)


def _why(rows: Sequence[Row], db: str, n: int, *wanted: tuple[str, str]) -> str:
    """Why a target has no value: the first of its rows that failed or was not run, else ""."""
    for tool, op in wanted:
        mine = [r for r in rows if (r.db, r.n, r.tool, r.op) == (db, n, tool, op)]
        if not mine:
            return f"{tool} {op} not run at this N"
        if not all(r.ok for r in mine):
            return f"{tool} {op} failed"
    return ""


def targets(
    rows: Sequence[Row], dbs: Sequence[str], apply_ns: Sequence[int] = APPLY_NS, question_n: int = QUESTION_N
) -> list[Target]:
    """Every target of issue 15 on every database asked for, measured or not."""
    out: list[Target] = []
    for db in dbs:
        for n in apply_ns:
            out += _apply_targets(rows, db, n)
    for db in dbs:
        for op in ("status", "check"):
            out.append(_question_target(rows, db, question_n, op))
    return out


def _apply_targets(rows: Sequence[Row], db: str, n: int) -> list[Target]:
    """Apply all N at the client's per-migration floor, and as fast as dbmate or faster."""
    mig = find(rows, db, n, "migrata", "apply")
    floor = find(rows, db, n, "client-b", "apply")
    dbmate = find(rows, db, n, "dbmate", "apply")
    return [
        _target(
            "migrata up (apply all N) ≤ 1.25× floor (b)",
            db,
            n,
            _ratio(mig, floor),
            1.25,
            "× floor (b)",
            _why(rows, db, n, ("migrata", "apply"), ("client-b", "apply")),
        ),
        _target(
            "migrata up (apply all N) ≤ 1.0× dbmate migrate",
            db,
            n,
            _ratio(mig, dbmate),
            1.0,
            "× dbmate",
            _why(rows, db, n, ("migrata", "apply"), ("dbmate", "apply")),
        ),
    ]


def _question_target(rows: Sequence[Row], db: str, n: int, op: str) -> Target:
    """status or check with N applied: against Alembic's ``current``, or on
    PostgreSQL against importing psycopg (the driver's import is the floor there)."""
    row = find(rows, db, n, "migrata", op)
    if db in START_FLOOR:
        floor = START_FLOOR[db]
        name, limit, unit = f"migrata {op} ≤ 1.5× {COMMANDS[(floor, 'start')]}", 1.5, f"× {floor}"
        base, why = find(rows, db, n, floor, "start"), _why(rows, db, n, ("migrata", op), (floor, "start"))
    else:
        name, limit, unit = f"migrata {op} ≤ 0.25× {COMMANDS[('alembic', op)]}", 0.25, "× Alembic"
        base, why = find(rows, db, n, "alembic", op), _why(rows, db, n, ("migrata", op), ("alembic", op))
    return _target(name, db, n, _ratio(row, base), limit, unit, why)


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
    cells = [
        [
            t.name,
            DB_TITLES.get(t.db, t.db),
            "" if t.n is None else f"{t.n:,}",
            _fmt(t.measured, ".2f", " " + t.unit),
            f"≤ {t.limit:g}",
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
    title = "\n== Targets (issue 15)"
    if meta.get("smoke"):
        title += ": computed at the smoke run's N to check that they compute, not to judge them"
    parts.append(title)
    parts.append(target_table(items, markdown=False))
    return "\n".join(parts)


def markdown_section(rows: Sequence[Row], items: Sequence[Target], meta: dict[str, Any]) -> str:
    out = [
        BEGIN,
        "<!-- generated by benchmarks/run.py: everything between these markers is rewritten on each full run -->",
        "",
        f"Latest run: {meta['when']}, `{meta['command'].strip()}`, {_reps(meta['reps'])} of every measurement "
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
