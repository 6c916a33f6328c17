"""MariaDB/MySQL: a journaled step's running row rides on the step before.

Where DDL commits implicitly, the running row that opens a journaled step
would otherwise be committed on its own by the step's first DDL statement.
The runner writes it at the end of the previous step's packet instead, so it
costs no commit. These tests check the three things that can follow:

* the run goes on: every step ends applied (or deleted, for downs) with the
  same history and events as before;
* the run stops between the two steps (an interrupt): the row opened ahead is
  taken back, so the next command sees nothing interrupted;
* the process dies between the two steps: the row says the step is running
  with none of its statements completed, which `repair` resolves like any
  other interrupted run.
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


def test_a_run_records_every_step(server: Server) -> None:
    write_three(server)
    assert server.run("up").exit_code == 0
    assert server.history() == {f"{v}": ("applied", 2, 2) for v in (1, 2, 3)}
    ups = [e for e in server.events() if e[0] == "up"]
    assert [(e[1], e[2], e[4]["statements"]) for e in ups] == [(f"{v}", "ok", 2) for v in (1, 2, 3)]
    assert server.run("down", "base").exit_code == 0
    assert server.history() == {}
    assert server.tables() == set()


def test_an_interrupted_up_takes_back_the_row_opened_ahead(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    write_three(server)
    done = interrupt_after_first(monkeypatch)
    assert server.run("up").exit_code == 130  # the CLI's answer to an interrupt
    assert done == ["1"]
    assert server.history() == {"1": ("applied", 2, 2)}
    assert server.tables() == {"t1"}
    monkeypatch.undo()
    assert server.run("up").exit_code == 0  # nothing interrupted: the rest simply runs
    assert server.tables() == {"t1", "t2", "t3"}


def test_an_interrupted_down_puts_the_applied_row_back(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
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
    """A kill right after the first step's packet (simulated: the row opened
    ahead is not taken back) leaves the second step running with none of its
    statements done; `repair` then lets the run continue."""
    write_three(server)
    interrupt_after_first(monkeypatch)
    monkeypatch.setattr(runner_module.Runner, "_take_back_opening", lambda self: None)
    assert server.run("up").exit_code == 130  # the CLI's answer to an interrupt
    assert server.history() == {"1": ("applied", 2, 2), "2": ("running", 0, 2)}
    monkeypatch.undo()
    refused = server.run("up")
    assert refused.exit_code != 0 and "repair" in refused.output
    shown = server.run("repair")
    assert "run of 2 t2 was interrupted after 0 of 2 statements (statement 1 is in doubt)" in shown.output
    assert server.run("repair", "--resume", "2").exit_code == 0
    assert server.run("up").exit_code == 0
    assert server.tables() == {"t1", "t2", "t3"}
