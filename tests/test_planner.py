"""The planner: pure unit tests, and a property test against a real SQLite database."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import migrata
from migrata._core import planner
from migrata._core.model import AppliedMigration, Migration, Script, Version
from migrata._core.source import Source
from migrata.errors import IrreversibleError, OutOfOrderError, UnknownTargetError, UsageError


def mig(version: str, *, down: bool = True, name: str | None = None) -> Migration:
    p = Path(f"{version}_m.up.sql")
    return Migration(
        Version.parse(version),
        name or f"m{version}",
        "sql",
        Script(p, sql="SELECT 1;"),
        Script(p, sql="SELECT 1;") if down else None,
        f"sum{version}",
    )


def rep(name: str, digest: str) -> Migration:
    p = Path(f"R__{name}.sql")
    return Migration(None, name, "sql", Script(p, sql="SELECT 1;"), None, digest)


def row(version: str, status: str = "applied", checksum: str | None = None) -> AppliedMigration:
    return AppliedMigration(version, f"m{version}", "sql", checksum or f"sum{version}", status, "2026-01-01T00:00:00Z")


def source(*migrations: Migration) -> Source:
    versioned = sorted((m for m in migrations if m.version), key=lambda m: m.version.key if m.version else ())
    return Source(Path("."), versioned, sorted((m for m in migrations if not m.version), key=lambda m: m.name))


def ids(plan: migrata._core.model.Plan) -> list[str]:
    return [s.migration.id for s in plan.steps]


def test_up_applies_pending_in_numeric_order() -> None:
    src = source(mig("10"), mig("2"), mig("1"))
    assert ids(planner.plan_up(src, [])) == ["1", "2", "10"]
    assert ids(planner.plan_up(src, [row("1")])) == ["2", "10"]
    assert ids(planner.plan_up(src, [row("1"), row("2"), row("10")])) == []


def test_up_to_target_and_steps() -> None:
    src = source(mig("1"), mig("2"), mig("3"))
    assert ids(planner.plan_up(src, [], target=Version.parse("2"))) == ["1", "2"]
    assert ids(planner.plan_up(src, [], steps=1)) == ["1"]
    with pytest.raises(UsageError):
        planner.plan_up(src, [], steps=0)


def test_out_of_order_policies() -> None:
    src = source(mig("1"), mig("2"), mig("3"))
    rows = [row("1"), row("3")]
    with pytest.raises(OutOfOrderError, match="2 m2"):
        planner.plan_up(src, rows)
    plan = planner.plan_up(src, rows, out_of_order="allow")
    assert ids(plan) == ["2"] and plan.steps[0].reason == "out of order"
    assert ids(planner.plan_up(src, rows, out_of_order="ignore")) == []


def test_repeatables_follow_versioned_when_new_or_changed() -> None:
    src = source(mig("1"), rep("views", "a"), rep("funcs", "b"))
    plan = planner.plan_up(src, [row("1"), AppliedMigration("R__views", "views", "repeatable", "a", "applied", "t")])
    assert ids(plan) == ["R__funcs"]
    plan = planner.plan_up(src, [AppliedMigration("R__views", "views", "repeatable", "old", "applied", "t")])
    assert ids(plan) == ["1", "R__funcs", "R__views"]
    # a partial plan (target or steps) leaves repeatables for later
    assert ids(planner.plan_up(src, [], target=Version.parse("1"))) == ["1"]


def test_down_defaults_to_one_step_newest_first() -> None:
    src = source(mig("1"), mig("2"), mig("10"))
    rows = [row("1"), row("2"), row("10")]
    assert ids(planner.plan_down(src, rows)) == ["10"]
    assert ids(planner.plan_down(src, rows, steps=2)) == ["10", "2"]
    assert ids(planner.plan_down(src, rows, target=planner.BASE)) == ["10", "2", "1"]
    assert ids(planner.plan_down(src, rows, target=Version.parse("1"))) == ["10", "2"]
    assert ids(planner.plan_down(src, [])) == []


def test_down_stops_before_anything_when_a_down_is_missing() -> None:
    src = source(mig("1"), mig("2", down=False), mig("3"))
    rows = [row("1"), row("2"), row("3")]
    assert ids(planner.plan_down(src, rows)) == ["3"]
    with pytest.raises(IrreversibleError, match="2 m2 has no down part"):
        planner.plan_down(src, rows, target=planner.BASE)
    with pytest.raises(IrreversibleError, match="file is missing"):
        planner.plan_down(source(mig("1")), [row("1"), row("2")])


def test_down_target_ahead_is_refused() -> None:
    src = source(mig("1"), mig("2"))
    with pytest.raises(UsageError, match="ahead"):
        planner.plan_down(src, [row("1")], target=Version.parse("2"))


def test_resolve_target() -> None:
    src = source(mig("1"), mig("2"))
    assert planner.resolve_target(None, src, [], "up") is None
    assert planner.resolve_target("head", src, [], "up") is None
    assert planner.resolve_target("base", src, [], "down") == planner.BASE
    assert planner.resolve_target("0", src, [], "down") == planner.BASE
    assert planner.resolve_target("000002", src, [], "up") == Version.parse("2")
    with pytest.raises(UnknownTargetError):
        planner.resolve_target("7", src, [], "up")
    with pytest.raises(UnknownTargetError):
        planner.resolve_target("abc", src, [], "up")
    with pytest.raises(UsageError):
        planner.resolve_target("head", src, [], "down")


def test_current_ignores_failed_and_repeatables() -> None:
    rows = [row("1"), row("5", status="failed"), AppliedMigration("R__v", "v", "repeatable", "x", "applied", "t")]
    assert planner.current_version(rows) == "1"
    assert planner.current_version([]) is None


# --- property: history always equals the real schema -------------------------------------

N = 6
ops = st.lists(
    st.one_of(
        st.tuples(st.just("up"), st.one_of(st.none(), st.integers(1, N))),
        st.tuples(st.just("up-steps"), st.integers(1, 3)),
        st.tuples(st.just("down"), st.one_of(st.none(), st.integers(0, N))),
        st.tuples(st.just("down-steps"), st.integers(1, 3)),
    ),
    min_size=1,
    max_size=8,
)


def _project(root: Path) -> Path:
    folder = root / "migrations"
    folder.mkdir()
    for i in range(1, N + 1):
        (folder / f"{i:03d}_t{i}.up.sql").write_text(
            f"CREATE TABLE t{i} (id INTEGER);\nINSERT INTO t{i} VALUES ({i});\n"
        )
        (folder / f"{i:03d}_t{i}.down.sql").write_text(f"DROP TABLE t{i};\n")
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_up_down_sequences_keep_history_equal_to_schema(sequence: list[tuple[str, int | None]]) -> None:
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        folder = _project(Path(tmp))
        url = f"sqlite:///{Path(tmp) / 'db.sqlite'}"
        applied: set[int] = set()
        for op, arg in sequence:
            current = max(applied) if applied else 0
            if op == "up":
                if arg is not None and arg <= current:
                    migrata.upgrade(url, str(arg), migrations=folder)  # nothing to do
                else:
                    migrata.upgrade(url, None if arg is None else str(arg), migrations=folder)
                    applied |= set(range(1, (arg or N) + 1))
            elif op == "up-steps":
                assert arg is not None
                migrata.upgrade(url, steps=arg, migrations=folder)
                applied |= set(range(current + 1, min(N, current + arg) + 1))
            elif op == "down":
                if arg == 0:
                    migrata.downgrade(url, "base", migrations=folder)
                    applied = set()
                elif arg is None:
                    migrata.downgrade(url, migrations=folder)
                    applied.discard(current)
                elif arg > current:
                    with pytest.raises(UsageError):
                        migrata.downgrade(url, str(arg), migrations=folder)
                else:
                    migrata.downgrade(url, str(arg), migrations=folder)
                    applied = {v for v in applied if v <= arg}
            else:
                assert arg is not None
                migrata.downgrade(url, steps=arg, migrations=folder)
                applied = set(sorted(applied)[: max(0, len(applied) - arg)])
            conn = sqlite3.connect(Path(tmp) / "db.sqlite")
            try:
                tables = {
                    int(r[0][1:])
                    for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name LIKE 't%'")
                }
                has_ledger = conn.execute(
                    "SELECT COUNT(*) FROM sqlite_master WHERE name = 'migrata_history'"
                ).fetchone()[0]
                history = (
                    {
                        int(r[0])
                        for r in conn.execute(
                            "SELECT version FROM migrata_history WHERE status = 'applied' AND kind != 'ledger'"
                        )
                    }
                    if has_ledger
                    else set()
                )
            finally:
                conn.close()
            assert history == tables == applied


def test_down_base_undoes_repeatables_with_a_down_part_first() -> None:
    v = rep("views", "a")
    v.down = Script(Path("R__views.sql"), sql="DROP VIEW v;")
    src = source(mig("1"), mig("2"), v, rep("funcs", "b"))
    rows = [row("1"), row("2"), AppliedMigration("R__views", "views", "repeatable", "a", "applied", "t")]
    assert ids(planner.plan_down(src, rows, target=planner.BASE)) == ["R__views", "2", "1"]
    assert ids(planner.plan_down(src, rows)) == ["2"]
