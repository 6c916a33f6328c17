"""A batch of statements sent to PostgreSQL in one simple query, read
result by result (psycopg's documented ``Connection.pgconn`` and
:mod:`psycopg.pq` interface).

The server answers each statement of a simple query with a result of its
own; it sends them when it flushes its output, at the latest with an error
(a cancellation, the connection's end), and libpq hands them over one by
one. Counting the results that arrive before the error tells which
statement was running when Ctrl-C or a killed connection stopped the batch
— which ``cursor.execute`` (that drops the results of a batch it could not
finish) cannot tell.
"""

from __future__ import annotations

import select
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Batch", "BatchError", "BatchInterrupted", "run_batch"]


@dataclass
class BatchError(Exception):
    """The statement at ``index`` (0-based, in the batch) failed; the
    attributes mirror a psycopg error's (``sqlstate``, ``diag``), so the
    backend reads both alike."""

    sqlstate: str | None
    diag: Any
    index: int
    text: str = ""
    lost: bool = False  # the connection is gone
    verbs: list[str] = field(default_factory=list)  # the command tags of those that completed

    def __str__(self) -> str:
        return self.text


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C while statement ``index`` ran (the server's side cancelled);
    ``verbs``: the command tags of the statements that had completed."""

    def __init__(self, index: int, verbs: list[str]) -> None:
        super().__init__()
        self.index = index
        self.verbs = verbs


@dataclass
class Batch:
    """What the server answered: one row count (-1: none) and one command
    tag verb per completed statement."""

    counts: list[int] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)


class _Diag:
    """The diagnostic fields of a failed result, named as psycopg's ``Diagnostic``."""

    def __init__(self, result: Any, pq: Any, encoding: str) -> None:
        fields = pq.DiagnosticField
        for name in ("message_primary", "message_detail", "message_hint", "statement_position"):
            raw = result.error_field(getattr(fields, name.upper()))
            setattr(self, name, raw.decode(encoding, "replace") if raw else None)


def run_batch(conn: Any, text: str) -> Batch:
    """Send ``text`` as one simple query on psycopg connection ``conn`` and
    read its results. Raises :class:`BatchError` for a statement the server
    refused (the rest of the batch did not run), :class:`BatchInterrupted`
    on Ctrl-C, and a ``BatchError`` with ``lost`` set when the connection
    is gone (or with the server's reason, e.g. 57P01, when it said one)."""
    from psycopg import pq

    pgconn = conn.pgconn
    encoding = conn.info.encoding
    batch = Batch()
    try:
        pgconn.send_query(text.encode(encoding))
        while pgconn.flush():  # a long script: libpq sends it as the socket takes it
            if select.select([pgconn.socket], [pgconn.socket], [])[0]:
                pgconn.consume_input()
        failure = _collect(pgconn, pq, batch, encoding)
    except KeyboardInterrupt:
        raise _interrupted(conn, pq, batch, encoding) from None
    except Exception as exc:
        if pgconn.status == pq.ConnStatus.OK:
            _drain(pgconn)
            raise
        text = " ".join(str(exc).split())
        raise BatchError(None, None, len(batch.verbs), text, lost=True, verbs=batch.verbs) from None
    if failure is not None:
        failure.verbs = batch.verbs
        raise failure
    return batch


def _collect(pgconn: Any, pq: Any, batch: Batch, encoding: str) -> BatchError | None:
    """Read results until the batch is done; the first failure, if any."""
    status = pq.ExecStatus
    failure: BatchError | None = None
    while True:
        result = _next_result(pgconn)
        if result is None:
            return failure
        if result.status == status.FATAL_ERROR:
            if failure is None:
                failure = _failure(result, pq, len(batch.verbs), encoding)
            continue
        if result.status == status.COPY_IN:
            pgconn.put_copy_end(b"migrata sends no COPY data")
            continue
        if result.status in (status.COPY_OUT, status.COPY_BOTH):
            while pgconn.get_copy_data(0)[0] >= 0:
                pass
            continue
        tag = (result.command_status or b"").decode(encoding, "replace")
        tuples = result.command_tuples
        batch.verbs.append(tag.split(" ", 1)[0].upper())
        batch.counts.append(-1 if tuples is None else int(tuples))


def _interrupted(conn: Any, pq: Any, batch: Batch, encoding: str) -> BatchInterrupted:
    """Ctrl-C: cancel the batch on the server and read the rest of it. The
    server holds back the results of completed statements until it flushes,
    at the latest with the cancellation's error, which answers the
    statement that was running: its place is the index."""
    conn.cancel_safe()
    try:
        failure = _collect(conn.pgconn, pq, batch, encoding)
    except Exception:  # noqa: BLE001 - the connection is gone: which statement ran is unknown
        return BatchInterrupted(len(batch.verbs), [])
    return BatchInterrupted(failure.index if failure else len(batch.verbs), batch.verbs)


def _failure(result: Any, pq: Any, index: int, encoding: str) -> BatchError:
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    message = (result.error_message or b"").decode(encoding, "replace")
    return BatchError(state.decode() if state else None, _Diag(result, pq, encoding), index, " ".join(message.split()))


def _drain(pgconn: Any) -> None:
    """Read what is left of the batch, so the connection is idle again."""
    try:
        while _next_result(pgconn) is not None:
            pass
    except Exception:  # noqa: BLE001 - the connection is gone: nothing left to read
        return


def _next_result(pgconn: Any) -> Any:
    """The next result of the batch, waiting on the socket for it; None at its end."""
    while pgconn.is_busy():
        select.select([pgconn.socket], [], [])
        pgconn.consume_input()
    return pgconn.get_result()
