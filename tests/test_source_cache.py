"""status and check take unchanged files from the report cache; an edited
file is always read again (its change time moves), and nothing but reports
uses the cache."""

from __future__ import annotations

import json
import marshal
import os
import time
from pathlib import Path

import pytest

import migrata._core.source as source_module
import migrata._core.sourcecache as cache_module
import migrata._fingerprint as fingerprint_module


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("MIGRATA_CACHE_DIR", str(folder))
    monkeypatch.setattr(fingerprint_module, "RACY_NS", 0)  # the test's files are seconds old at most
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = source_module.read_text

    def counting(path):  # type: ignore[no-untyped-def]
        seen.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(source_module, "read_text", counting)
    return seen


def _project(project) -> None:  # type: ignore[no-untyped-def]
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    project.write("2_two.sql", "-- migrate:up\nCREATE TABLE two (id INTEGER);\n-- migrate:down\nDROP TABLE two;\n")
    project.write("3_three.sql", "-- migrata:no-transaction\n-- migrate:up\nCREATE TABLE three (id INTEGER);\n")
    project.write("4_four.py", "def up(ctx):\n    ctx.execute('CREATE TABLE four (id INTEGER)')\n")


def test_a_second_report_reads_no_file(project, cache_dir: Path, reads: list[str]) -> None:
    _project(project)
    first = project.run("status", "--json")
    assert first.exit_code == 0, first.output
    assert sorted(reads) == ["1_one.up.sql", "2_two.sql", "3_three.sql", "4_four.py"]
    assert len(list(cache_dir.glob("source-*.bin"))) == 1
    reads.clear()
    second = project.run("status", "--json")
    assert reads == []  # (the pending Python migration is still imported, by importlib)
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert project.run("check").exit_code == 5


def test_an_edit_is_seen_even_with_size_and_mtime_kept(project, cache_dir: Path, reads: list[str]) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up").exit_code == 0
    assert project.run("status").exit_code == 0  # stores the file's entry
    path = project.migrations / "1_one.up.sql"
    st = path.stat()
    time.sleep(0.02)  # past the file system's clock tick
    path.write_text("CREATE TABLE One (id INTEGER);", encoding="utf-8")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert path.stat().st_size == st.st_size
    reads.clear()
    res = project.run("status")
    assert reads == ["1_one.up.sql"]
    assert "edited" in res.stdout or "changed" in res.stdout, res.stdout


def test_a_blank_file_is_never_taken_from_the_cache(project, cache_dir: Path) -> None:
    project.write("1_empty.up.sql", "-- nothing yet\n")
    assert project.run("status", "--allow-empty").exit_code == 0
    res = project.run("status")
    assert res.exit_code == 3
    assert "empty" in res.output


def test_a_corrupt_cache_is_ignored_and_replaced(project, cache_dir: Path) -> None:
    _project(project)
    assert project.run("status").exit_code == 0
    (cached,) = cache_dir.glob("source-*.bin")
    cached.write_bytes(b"\x00garbage")
    assert project.run("status").exit_code == 0
    assert marshal.loads(cached.read_bytes())[0] == cache_module.FORMAT


def test_files_changed_just_now_are_not_stored(project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATA_CACHE_DIR", str(tmp_path / "cache"))
    _project(project)
    assert project.run("status").exit_code == 0  # every file is younger than RACY_NS
    assert not list((tmp_path / "cache").glob("source-*.bin"))


def test_the_cache_can_be_turned_off(project, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIGRATA_NO_CACHE", "1")
    _project(project)
    assert project.run("status").exit_code == 0
    assert not cache_dir.exists()


def test_up_reads_only_the_files_it_runs(project, cache_dir: Path, reads: list[str]) -> None:
    _project(project)
    assert project.run("up").exit_code == 0  # checks every file, and keeps their entries
    project.pair("5", "five", "CREATE TABLE five (id INTEGER);", "DROP TABLE five;")
    reads.clear()
    res = project.run("up")
    assert res.exit_code == 0, res.output
    assert reads == ["5_five.up.sql"]  # the new up file is read and checked; a down file waits until it runs
    assert "5" in project.history() and "five" in project.tables()
    reads.clear()
    assert project.run("down").exit_code == 0  # the down part of 5 comes from the cache: read to run it
    assert reads == ["5_five.down.sql"]
    assert "five" not in project.tables()


def test_up_refuses_an_applied_file_edited_behind_the_cache(project, cache_dir: Path) -> None:
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up").exit_code == 0
    path = project.migrations / "1_one.up.sql"
    st = path.stat()
    time.sleep(0.02)
    path.write_text("CREATE TABLE One (id INTEGER);", encoding="utf-8")  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    project.pair("2", "two", "CREATE TABLE two (id INTEGER);")
    res = project.run("up")
    assert res.exit_code == 3, res.output
    assert "1 one" in res.stderr and "two" not in project.tables()


def test_a_step_whose_file_changed_after_planning_is_refused(project, cache_dir: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    project.pair("1", "one", "CREATE TABLE one (id INTEGER);", "DROP TABLE one;")
    assert project.run("up").exit_code == 0
    assert project.run("down").exit_code == 0  # 1 is cached now, and pending
    real = source_module.Source.fill

    def edit_then_fill(self, migration, script):  # type: ignore[no-untyped-def]
        script.path.write_text("CREATE TABLE other (id INTEGER);", encoding="utf-8")
        return real(self, migration, script)

    monkeypatch.setattr(source_module.Source, "fill", edit_then_fill)
    res = project.run("up")
    assert res.exit_code == 3 and "changed while" in res.stderr, res.output
    assert project.tables() == set()
