"""Sets written for other tools, as they are (issue 17, items 1 and 2).

* ``ordering = "name"`` (maragudk/migrate and friends): the whole base name
  is the version, ordered by name, so leading numbers may repeat and
  ``_up.sql``/``_down.sql`` strays pair up; every command (targets, ``down``
  to a name, ``stamp``, out-of-order checks, history) works on those names,
  on SQLite and on the servers, and ``file_pattern`` may capture any text.
* Semantic versions with a build number (``v2.0.0-001_x.up.sql``,
  ``V2.0.0-001__x.sql``, the AlertAgent guide): parsed, ordered by their
  parts, stored in history and read back as the same version, accepted as
  targets. Neither kind of set has a gaps check.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _servers import SERVERS, Server, open_server
from conftest import Project
from migrata._core.model import AppliedMigration, Version
from migrata._core.source import load_source
from migrata.config import load_settings

# --- a name-ordered set: repeated leading numbers, `_up.sql` strays ---------------------

NAMED_SET = {
    "0001_create_table_a.up.sql": "CREATE TABLE a (id INT);",
    "0001_create_table_a.down.sql": "DROP TABLE a;",
    "0001_create_table_b.up.sql": "CREATE TABLE b (id INT);",
    "0001_create_table_b.down.sql": "DROP TABLE b;",
    "0002_alter_a_up.sql": "ALTER TABLE a ADD COLUMN note VARCHAR(20);",
    "0002_alter_a_down.sql": "ALTER TABLE a DROP COLUMN note;",
    "0002_create_c_up.sql": "CREATE TABLE c (id INT);",
    "0002_create_c_down.sql": "DROP TABLE c;",
}
NAMES = ["0001_create_table_a", "0001_create_table_b", "0002_alter_a", "0002_create_c"]


def named_project(project: Project, *, setting: bool = True) -> Project:
    for name, sql in NAMED_SET.items():
        project.write(name, sql)
    if setting:
        with (project.root / "migrata.toml").open("a", encoding="utf-8") as fh:
            fh.write('ordering = "name"\n')
    return project


def test_name_ordered_set_is_refused_by_number_with_the_way_out(project: Project) -> None:
    named_project(project, setting=False)
    res = project.run("status")
    assert res.exit_code == 3, res.output
    assert "duplicate version 1" in res.stderr
    assert "ordering = 'name'" in res.stderr


def test_name_ordered_set_up_down_to_a_name_up(project: Project) -> None:
    named_project(project)
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert "applied 0001_create_table_b (" in res.stderr  # the name is not said twice
    assert project.history() == NAMES
    assert project.tables() == {"a", "b", "c"}
    assert "note" in {r[1] for r in project.sql("PRAGMA table_info(a)")}

    res = project.run("down", "0001_create_table_a")
    assert res.exit_code == 0, res.output
    assert project.history() == ["0001_create_table_a"]
    assert project.tables() == {"a"}
    assert "note" not in {r[1] for r in project.sql("PRAGMA table_info(a)")}

    res = project.run("status", "--json")
    assert res.exit_code == 0, res.output
    status = json.loads(res.stdout)
    assert status["current"] == "0001_create_table_a"
    assert status["pending"] == NAMES[1:]

    res = project.run("up", "0002_alter_a")  # an up target by name
    assert res.exit_code == 0, res.output
    assert project.history() == NAMES[:3]
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert project.history() == NAMES
    assert project.tables() == {"a", "b", "c"}


def test_name_ordered_targets_relative_and_unknown(project: Project) -> None:
    named_project(project)
    assert project.run("up", "+2").exit_code == 0
    assert project.history() == NAMES[:2]
    assert project.run("down", "-1").exit_code == 0
    assert project.history() == NAMES[:1]
    res = project.run("up", "0001_create_table_z")
    assert res.exit_code == 2, res.output
    assert "no migration has version 0001_create_table_z" in res.stderr
    res = project.run("down", "0002_create_c")  # ahead of the current one
    assert res.exit_code == 2, res.output
    assert "ahead of the current version 0001_create_table_a" in res.stderr
    assert project.history() == NAMES[:1]


def test_name_ordered_out_of_order_and_stamp(project: Project) -> None:
    named_project(project)
    assert project.run("up").exit_code == 0
    project.write("0001_create_table_c.up.sql", "CREATE TABLE late (id INT);")  # sorts before 0002_*
    res = project.run("up")
    assert res.exit_code == 3, res.output
    assert "older than the applied version 0002_create_c" in res.stderr
    assert "0001_create_table_c" in res.stderr
    res = project.run("up", "--out-of-order")
    assert res.exit_code == 0, res.output
    assert "late" in project.tables()

    res = project.run("stamp", "0001_create_table_b", "--force")
    assert res.exit_code == 0, res.output
    assert project.history() == ["0001_create_table_a", "0001_create_table_b"]
    assert project.tables() == {"a", "b", "c", "late"}  # stamp runs nothing
    res = project.run("stamp", "0002_create_c")  # records 0001_create_table_c, 0002_alter_a and itself
    assert res.exit_code == 0, res.output
    assert project.history() == sorted([*NAMES, "0001_create_table_c"])
    res = project.run("validate")
    assert res.exit_code == 0, res.output


def test_name_ordering_file_pattern_captures_any_text(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "beta--add_b.sql").write_text("CREATE TABLE b (id INT);", encoding="utf-8")
    (d / "alpha--add_a.sql").write_text("CREATE TABLE a (id INT);", encoding="utf-8")
    (d / "R__views.sql").write_text("CREATE VIEW v AS SELECT 1;", encoding="utf-8")
    pattern = [r"^(?P<version>[a-z]+)--(?P<name>.+)\.sql$"]
    src = load_source(d, patterns=pattern, ordering="name")
    assert [(m.id, m.name) for m in src.versioned] == [("alpha", "add_a"), ("beta", "add_b")]
    assert [m.id for m in src.repeatables] == ["R__views"]
    from migrata.errors import ConfigError

    with pytest.raises(ConfigError, match="not a version"):
        load_source(d, patterns=pattern)  # by number, 'alpha' is no version


def test_ordering_setting_env_and_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "migrata.toml").write_text('url = "sqlite:///x.db"\n', encoding="utf-8")
    assert load_settings(directory=tmp_path).ordering == "number"
    monkeypatch.setenv("MIGRATA_ORDERING", "name")
    assert load_settings(directory=tmp_path).ordering == "name"
    assert load_settings(directory=tmp_path, ordering="number").ordering == "number"
    from migrata.errors import ConfigError

    with pytest.raises(ConfigError, match="ordering"):
        load_settings(directory=tmp_path, ordering="alphabet")
    project = named_project(Project(tmp_path / "flag"), setting=False)
    res = project.run("--ordering", "name", "up")
    assert res.exit_code == 0, res.output
    assert project.history() == NAMES


def test_no_gaps_check_for_name_or_semantic_sets(project: Project) -> None:
    project.write("0001_a.up.sql", "CREATE TABLE a (id INT);")
    project.write("0005_b.up.sql", "CREATE TABLE b (id INT);")
    project.write("v2.0.0-001_c.up.sql", "CREATE TABLE c (id INT);")
    project.write("v2.0.0-009_d.up.sql", "CREATE TABLE d (id INT);")
    for args in (("--ordering", "name"), ()):
        res = project.run(*args, "validate", "--json")
        assert res.exit_code == 0, res.output
        assert not [p for p in json.loads(res.stdout)["problems"] if p["code"] == "gap"], res.stdout


# --- semantic versions -----------------------------------------------------------------

# major, minor, patch, build (-1: none, a bare release, which sorts before its builds)
_SEMVER = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30), st.integers(-1, 999))


def _spell(v: tuple[int, int, int, int], rnd: random.Random) -> str:
    """One of the ways a file or a command line writes ``v``."""
    major, minor, patch, build = v
    sep = rnd.choice([".", "_"])
    prefix = rnd.choice(["", "v", "V"])
    release = f"{prefix}{major}{sep}{minor}{sep}{patch}"
    return release if build < 0 else f"{release}-{build:0{rnd.choice([1, 3, 4])}d}"


@settings(deadline=None)  # the machine is shared: no per-example time limit
@given(st.lists(_SEMVER, min_size=2, max_size=12), st.integers(0, 2**32))
def test_semantic_versions_order_by_their_parts(versions: list[tuple[int, int, int, int]], seed: int) -> None:
    rnd = random.Random(seed)
    parsed = [(v, Version.parse(_spell(v, rnd))) for v in versions]
    for a, va in parsed:
        for b, vb in parsed:
            assert (va < vb) == (a < b) and (va == vb) == (a == b), (a, b, va, vb)
        # history keeps the canonical text; read back it is the same version
        row = AppliedMigration(va.canonical, "x", "sql", "", "applied", "")
        assert row.version_key == va.key
        assert Version.parse(va.canonical) == va
        assert Version.parse(va.canonical).canonical == va.canonical


def test_semantic_versions_examples_and_plain_numbers() -> None:
    order = ["1", "2.0.0", "2.0.0-001", "2.0.0-002", "2.0.1", "2.1.0-001", "10", "10.0.0-001", "20251016093000"]
    versions = [Version.parse(t) for t in order]
    assert versions == sorted(versions, key=lambda v: v.key)
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False))
    assert Version.parse("v2.0.0-001") == Version.parse("2.0.0-1") == Version.parse("V2_0_0-0001")
    assert Version.parse("v2.0.0-001").canonical == "2.0.0-1"
    with pytest.raises(ValueError):
        Version.parse("2.0.0-")
    with pytest.raises(ValueError):
        Version.parse("2.0.0-beta")
    # one type, three kinds: keys of different kinds compare without raising
    name, number = Version.parse("0001_a", "name"), Version.parse("1")
    assert name != number and (name < number) != (name > number)
    assert Version.parse("0003", "name").canonical == "0003" != Version.parse("0003").canonical


SEMVER_SET = {
    "v2.0.0-001_create_x.up.sql": "CREATE TABLE x (id INT);",
    "v2.0.0-001_create_x.down.sql": "DROP TABLE x;",
    "V2.0.0-002__create_y.sql": "CREATE TABLE y (id INT);",
    "U2.0.0-002__create_y.sql": "DROP TABLE y;",
    "v2.1.0-001_create_z.up.sql": "CREATE TABLE z (id INT);",
    "v2.1.0-001_create_z.down.sql": "DROP TABLE z;",
    "v10.0.0-001_create_w.sql": "-- migrate:up\nCREATE TABLE w (id INT);\n-- migrate:down\nDROP TABLE w;\n",
}


def test_semantic_version_set_targets(project: Project) -> None:
    for name, sql in SEMVER_SET.items():
        project.write(name, sql)
    res = project.run("up", "v2.0.0-001")
    assert res.exit_code == 0, res.output
    assert project.history() == ["2.0.0-1"]
    res = project.run("up", "2.1.0-001")
    assert res.exit_code == 0, res.output
    assert project.tables() == {"x", "y", "z"}
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert project.tables() == {"x", "y", "z", "w"}
    res = project.run("down", "V2.0.0-002")
    assert res.exit_code == 0, res.output
    assert project.tables() == {"x", "y"}
    assert sorted(project.history()) == ["2.0.0-1", "2.0.0-2"]
    res = project.run("stamp", "v2.1.0-001")
    assert res.exit_code == 0, res.output
    res = project.run("status", "--json")
    assert json.loads(res.stdout)["current"] == "2.1.0-1"
    assert json.loads(res.stdout)["pending"] == ["10.0.0-1"]


# --- history round trip on a server ------------------------------------------------------


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with open_server(request.param, tmp_path / "proj") as s:
        yield s


@pytest.mark.slow
def test_name_ordering_history_round_trips_on_a_server(server: Server) -> None:
    for name, sql in NAMED_SET.items():
        server.write(name, sql)
    res = server.run("--ordering", "name", "up")
    assert res.exit_code == 0, res.output
    assert sorted(server.history()) == NAMES
    assert server.tables() == {"a", "b", "c"}
    res = server.run("--ordering", "name", "down", "0001_create_table_a")
    assert res.exit_code == 0, res.output
    assert sorted(server.history()) == NAMES[:1]
    assert server.tables() == {"a"}
    res = server.run("--ordering", "name", "up")
    assert res.exit_code == 0, res.output
    assert sorted(server.history()) == NAMES
    res = server.run("--ordering", "name", "validate")
    assert res.exit_code == 0, res.output


# --- the commands beside up/down: verify scripts, diff's replay --------------------------


def test_verify_scripts_of_name_and_semantic_versions(project: Project) -> None:
    named_project(project)
    project.write("0001_create_table_a.verify.sql", "SELECT COUNT(*) > 0 FROM a;")  # a is empty: fails
    project.write("0001_create_table_b.verify.sql", "SELECT COUNT(*) = 0 FROM b;")
    assert project.run("up").exit_code == 0
    res = project.run("verify")
    assert res.exit_code == 9, res.output
    assert "0001_create_table_a.verify.sql" in res.output and "0001_create_table_b.verify.sql" in res.output

    semver = Project(project.root.parent / "semver")
    for name, sql in SEMVER_SET.items():
        semver.write(name, sql)
    semver.write("v2.0.0-002_y.verify.sql", "SELECT COUNT(*) > 0 FROM y;")  # y is empty: fails
    assert semver.run("up").exit_code == 0
    res = semver.run("verify")
    assert res.exit_code == 9, res.output
    assert "v2.0.0-002_y.verify.sql" in res.output


def test_diff_replays_a_name_ordered_set_to_where_the_database_is(project: Project) -> None:
    named_project(project)
    assert project.run("up", "0001_create_table_a").exit_code == 0
    res = project.run("diff")
    assert res.exit_code == 0, res.output
    assert project.run("down", "base").exit_code == 0
    res = project.run("diff")  # nothing applied: the replay applies nothing either
    assert res.exit_code == 0, res.output
    assert "no differences" in res.stdout


def test_new_numbers_after_a_name_or_a_semantic_version(project: Project) -> None:
    named_project(project)
    res = project.run("new", "add_tags", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["version"] == "0003_add_tags"
    assert (project.migrations / "0003_add_tags.up.sql").is_file()
    assert (project.migrations / "0003_add_tags.down.sql").is_file()

    semver = Project(project.root.parent / "semver")
    for name, sql in SEMVER_SET.items():
        semver.write(name, sql)
    res = semver.run("new", "add_tags", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["version"] == "v10.0.0-002"
    assert (semver.migrations / "v10.0.0-002_add_tags.up.sql").is_file()
    src = load_source(semver.migrations, allow_empty=True)
    assert [m.id for m in src.versioned][-2:] == ["10.0.0-1", "10.0.0-2"]


def test_testing_suite_check_reads_a_name_ordered_set(project: Project) -> None:
    from migrata.testing.suite.checks import upgrade

    named_project(project, setting=False)
    url = f"sqlite:///{project.root / 'suite.db'}"
    res = upgrade(url, "0001_create_table_b", migrations=str(project.migrations), ordering="name")
    assert res.after == "0001_create_table_b"
    res = upgrade(url, migrations=str(project.migrations), ordering="name")
    assert res.after == "0002_create_c"


def test_validate_file_replays_what_sorts_before_it_by_name(project: Project) -> None:
    named_project(project)
    # needs 0001_create_table_a (before it by name) and must not see 0002_create_c (after it)
    res = project.run("validate", "--file", str(project.migrations / "0002_alter_a_up.sql"))
    assert res.exit_code == 0, res.output
    project.write("0002_bad_up.sql", "ALTER TABLE c ADD COLUMN note INT;")  # c comes later, by name
    res = project.run("validate", "--file", str(project.migrations / "0002_bad_up.sql"))
    assert res.exit_code == 3, res.output
    assert "no such table: c" in res.output


def test_adopt_refuses_a_name_ordered_set_and_names_stamp(project: Project) -> None:
    named_project(project)
    project.sql_write("CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)")
    project.sql_write("INSERT INTO schema_migrations VALUES (2, 0)")
    res = project.run("adopt", "--from", "golang-migrate")
    assert res.exit_code == 2, res.output
    assert "ordered by name" in res.stderr and "migrata stamp" in res.stderr
    assert project.history() == []
