"""MariaDB/MySQL: a journaled step of plain statements goes to the server in
one batch (its running row, a progress mark before each statement, its
closing rows), and within a run the batch of the step before writes the
next step's running row. These tests check what a run leaves behind when it
goes on, when it is interrupted or dies between two steps, and when a step
fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _servers import Server, open_server
from migrata._core import runner as runner_module


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with open_server("mysql", tmp_path / "proj") as s:
        yield s


def write_three(s: Server) -> None:
    for v in (1, 2, 3):
        up = f"CREATE TABLE t{v} (id INT PRIMARY KEY);\nCREATE INDEX ix_t{v} ON t{v} (id);\n"
        s.write(f"00000{v}_t{v}.up.sql", up)
        s.write(f"00000{v}_t{v}.down.sql", f"DROP TABLE t{v};\n")


def interrupt_after_first(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the run stop (KeyboardInterrupt) right after its first step."""
    done: list[str] = []
    original = runner_module.Runner.run_one

    def run_one(self: Any, item: Any, **kwargs: Any) -> Any:
        if done:
            raise KeyboardInterrupt
        result = original(self, item, **kwargs)
        done.append(result.version)
        return result

    monkeypatch.setattr(runner_module.Runner, "run_one", run_one)
    return done


def interrupt_between_first_and_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the run stop (KeyboardInterrupt) after the first step, before the
    runner calls the second."""
    calls: list[int] = []
    original = runner_module.Runner._may_open_ahead

    def may_open_ahead(self: Any, item: Any, following: Any) -> bool:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return bool(original(self, item, following))

    monkeypatch.setattr(runner_module.Runner, "_may_open_ahead", may_open_ahead)


def test_a_run_records_every_step(server: Server) -> None:
    write_three(server)
    assert server.run("up").exit_code == 0
    assert server.history() == {f"{v}": ("applied", 2, 2) for v in (1, 2, 3)}
    ups = [e for e in server.events() if e[0] == "up"]
    assert [(e[1], e[2], e[4]["statements"]) for e in ups] == [(f"{v}", "ok", 2) for v in (1, 2, 3)]
    assert server.run("down", "base").exit_code == 0
    assert server.history() == {}
    assert server.tables() == set()


def test_an_interrupted_up_leaves_nothing_running(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first step's batch wrote the second step's running row; the run
    stops before the second step is called: that row is taken back."""
    write_three(server)
    interrupt_between_first_and_second(monkeypatch)
    assert server.run("up").exit_code == 130  # the CLI's answer to an interrupt
    assert server.history() == {"1": ("applied", 2, 2)}
    assert server.tables() == {"t1"}
    monkeypatch.undo()
    assert server.run("up").exit_code == 0  # nothing interrupted: the rest simply runs
    assert server.tables() == {"t1", "t2", "t3"}


def test_an_interrupted_down_leaves_the_rest_applied(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    write_three(server)
    assert server.run("up").exit_code == 0
    before = server.sql("SELECT version, status, progress, statements, direction, error FROM migrata_history")
    interrupt_after_first(monkeypatch)
    assert server.run("down", "base").exit_code == 130
    after = server.sql("SELECT version, status, progress, statements, direction, error FROM migrata_history")
    assert sorted(after) == sorted(r for r in before if r[0] != "3")
    assert server.tables() == {"t1", "t2"}
    monkeypatch.undo()
    assert server.run("down", "base").exit_code == 0
    assert server.tables() == set()


def test_a_death_between_steps_reads_as_nothing_completed(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill right after the first step (simulated: the row the first step's
    batch opened for the second is not taken back) leaves the second step
    running with none of its statements done; `repair` then lets the run go on."""
    write_three(server)
    interrupt_between_first_and_second(monkeypatch)
    monkeypatch.setattr(runner_module.Runner, "_take_back", lambda self, item: None)
    assert server.run("up").exit_code == 130
    assert server.history() == {"1": ("applied", 2, 2), "2": ("running", 0, 2)}
    monkeypatch.undo()
    refused = server.run("up")
    assert refused.exit_code != 0 and "repair" in refused.output
    shown = server.run("repair")
    assert "run of 2 t2 was interrupted after 0 of 2 statements (statement 1 is in doubt)" in shown.output
    assert server.run("repair", "--resume", "2").exit_code == 0
    assert server.run("up").exit_code == 0
    assert server.tables() == {"t1", "t2", "t3"}


def test_each_step_logs_its_lines_in_order(server: Server) -> None:
    write_three(server)
    up = server.run("up", "-v")
    assert up.exit_code == 0, up.output
    lines = [line.rsplit(" (", 1)[0] for line in up.stderr.splitlines() if line.startswith(("applying", "applied"))]
    assert lines == [f"{verb} {v} t{v}" for v in (1, 2, 3) for verb in ("applying", "applied")], up.stderr
    down = server.run("down", "base")
    assert down.exit_code == 0, down.output
    assert [line.rsplit(" (", 1)[0] for line in down.stderr.splitlines() if line.startswith("rolled back")] == [
        f"rolled back {v} t{v}" for v in (3, 2, 1)
    ]


def test_the_second_step_failing_still_shows_the_first_as_applied(server: Server) -> None:
    server.write("000001_t1.up.sql", "CREATE TABLE t1 (id INT PRIMARY KEY);\n")
    server.write("000002_t2.up.sql", "CREATE TABLE t2 (id INT PRIMARY KEY);\nCREATE TABLE t1 (id INT);\n")
    failed = server.run("up")
    assert failed.exit_code != 0
    err = failed.stderr
    assert "applied 1 t1" in err and err.index("applied 1 t1") < err.index("t1' already exists")
    assert server.history() == {"1": ("applied", 1, 1), "2": ("failed", 1, 2)}
