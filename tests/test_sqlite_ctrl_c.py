"""Ctrl-C on SQLite reaches the statement whatever Python code it lands in.

sqlite3 runs Python callbacks of the connection inside a statement: the
progress handler every 2,000 steps, the trace callback as each statement
starts. A KeyboardInterrupt raised in the progress handler stops the
statement (SQLITE_INTERRUPT); one raised in the trace callback is dropped
by sqlite3, and the statement ran on: `migrata up` went on after Ctrl-C
(seen once in test_culprits' Ctrl-C test under load, the SIGINT handled as
the slow statement started). Here the SIGINT comes from inside the trace
callback, as statement 2 starts.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from migrata.backends.base import DatabaseURL, StatementInterrupted
from migrata.backends.registry import create_backend

COUNT = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n"


@pytest.mark.parametrize("way", ["run_script", "run_statement"])
def test_ctrl_c_as_a_statement_starts_stops_it(tmp_path: Path, way: str) -> None:
    backend = create_backend(DatabaseURL.parse(f"sqlite:///{tmp_path / 'a.db'}"))
    backend.connect()
    started: list[str] = []

    def trace(text: str) -> None:  # the backend's own trace callback, replaced: the same place in sqlite3
        started.append(text)
        if COUNT[:20] in text:
            os.kill(os.getpid(), signal.SIGINT)  # handled right here, in the callback

    backend.connection.set_trace_callback(trace)
    try:
        with pytest.raises(StatementInterrupted):  # the progress handler stopped it
            if way == "run_script":
                backend.run_script(f"CREATE TABLE t (a INTEGER);\n{COUNT};\n")
            else:
                backend.run_statement("CREATE TABLE t (a INTEGER)")
                backend.run_statement(COUNT)
        assert any(COUNT[:20] in text for text in started), started  # the signal came as it started
    finally:
        backend.close()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Python's own handler, as before
