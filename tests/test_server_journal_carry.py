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


def test_a_step_writes_its_line_while_the_next_step_runs(server: Server) -> None:
    """Within a run, the line of a step is written once the next step's packet
    is sent (the server works on it meanwhile); the lines keep their order,
    with -v too, and the last one is written when the run ends."""
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


def _batch_backend(server: Server) -> Any:
    from migrata.backends import create_backend
    from migrata.backends.base import DatabaseURL

    backend = create_backend(DatabaseURL.parse(server.url))
    backend.connect()
    return backend


def test_run_batch_calls_meanwhile_while_the_server_works(server: Server) -> None:
    """The packet is sent before ``meanwhile`` runs and its results are read
    after: a packet that waits on the server (at a lock this test's own
    session holds) is seen at work when ``meanwhile`` is called, which then
    lets it go on; and what ``meanwhile`` raises comes after the results were
    read, the connection still usable."""
    from migrata.backends.base import StatementError
    from migrata.testing import wait_for

    backend = _batch_backend(server)
    gate = f"{server.name}_carry"  # GET_LOCK names are per server: this database's own
    try:
        backend.execute("CREATE TABLE carry_t (id INT PRIMARY KEY)")
        session = backend.query("SELECT CONNECTION_ID()")[0][0]
        assert server.sql("SELECT GET_LOCK(%s, 0)", (gate,)) == [(1,)]
        seen_running: list[str] = []

        def at_the_gate() -> bool:
            info = server.sql("SELECT info FROM information_schema.processlist WHERE id = %s", (session,))
            if info and info[0][0] and "GET_LOCK" in info[0][0]:
                seen_running.append(info[0][0])
            return bool(seen_running)

        def look() -> None:  # from another session: the server is at work on the packet
            try:
                wait_for(at_the_gate, 60, "the packet to wait at the gate")
            finally:
                server.sql("SELECT RELEASE_LOCK(%s)", (gate,))

        gated = [f"DO GET_LOCK('{gate}', 300)", f"DO RELEASE_LOCK('{gate}')"]
        backend.run_batch([*gated, "INSERT INTO carry_t VALUES (1)"], meanwhile=look)
        assert seen_running
        assert backend.query("SELECT id FROM carry_t") == [(1,)]

        def interrupted() -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            backend.run_batch(["DO SLEEP(0.1)", "INSERT INTO carry_t VALUES (2)"], meanwhile=interrupted)
        assert backend.query("SELECT id FROM carry_t ORDER BY id") == [(1,), (2,)]

        seen: list[bool] = []
        with pytest.raises(StatementError) as failed:
            backend.run_batch(
                ["INSERT INTO carry_t VALUES (3)", "INSERT INTO carry_t VALUES (3)", "INSERT INTO carry_t VALUES (4)"],
                meanwhile=lambda: seen.append(True),
            )
        assert failed.value.index == 1 and seen == [True]
        assert backend.query("SELECT id FROM carry_t ORDER BY id") == [(1,), (2,), (3,)]
    finally:
        backend.close()


def test_an_interrupt_while_a_packet_runs_stops_the_run_after_that_step(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the line of step 1 is written during step 2's packet:
    step 2 still ends applied and recorded, the run stops there, and the
    row step 2's packet opened ahead for step 3 is taken back."""
    write_three(server)
    say, say_meanwhile = runner_module.Runner._say, runner_module.Runner._say_meanwhile
    state = {"in_packet": False, "interrupted": False}

    def interrupting_say(self: Any) -> None:
        if state["in_packet"] and not state["interrupted"]:
            state["interrupted"] = True
            raise KeyboardInterrupt
        say(self)

    def marked_meanwhile(self: Any) -> None:
        state["in_packet"] = True
        try:
            say_meanwhile(self)
        finally:
            state["in_packet"] = False

    monkeypatch.setattr(runner_module.Runner, "_say", interrupting_say)
    monkeypatch.setattr(runner_module.Runner, "_say_meanwhile", marked_meanwhile)
    stopped = server.run("up")
    assert stopped.exit_code == 130 and state["interrupted"], stopped.output
    assert server.history() == {"1": ("applied", 2, 2), "2": ("applied", 2, 2)}
    assert server.tables() == {"t1", "t2"}
    monkeypatch.undo()
    assert server.run("up").exit_code == 0
    assert server.tables() == {"t1", "t2", "t3"}
