"""The ``migrata data`` commands as library functions: loading rows into a
table and dumping them out (:mod:`migrata.data.load`). Beside
:mod:`migrata.api`, and like it, they take ``config`` plus overrides, return
a result and never print."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from migrata.errors import UsageError
from migrata.results import DumpResult, LoadResult
from migrata.session import ConfigLike, session

__all__ = ["dump_data", "load_data"]

log = logging.getLogger("migrata.data")


def _keys(backend: Any, table: str, key: list[str] | str | None) -> list[str]:
    if key:
        return [k.strip() for k in key.split(",")] if isinstance(key, str) else list(key)
    keys = backend.primary_key(table.split(".")[-1])
    if not keys:
        raise UsageError(f"{table} has no primary key", hint="pass --key with unique column(s)")
    return keys


def load_data(
    config: ConfigLike = None,
    file: str | os.PathLike[str] = "",
    *,
    table: str,
    key: list[str] | str | None = None,
    format: str | None = None,  # noqa: A002 - the option's name
    batch_size: int = 1000,
    **overrides: Any,
) -> LoadResult:
    """Upsert the records of ``file`` into ``table``, keyed on its primary
    key or ``key``, ``batch_size`` rows per transaction: loading the same
    file twice leaves the same rows."""
    from migrata.data.load import guess_format, load_rows, read_records, table_columns

    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    t0 = time.perf_counter()
    path = Path(file)
    fmt = guess_format(str(path), format)
    with session(config, **overrides) as sess:
        backend = sess.backend
        table_columns(backend, table)  # a missing table is one clear error
        keys = _keys(backend, table, key)
        label = f"load {table}"

        def progress(rows: int, batches: int) -> None:
            log.debug("%s: %d rows", label, rows, extra={"backfill": {"label": label, "done": rows, "total": None}})

        rows, batches, columns = load_rows(
            backend, table, read_records(path, fmt, table), keys, batch_size=batch_size, progress=progress
        )
    log.info("loaded %d row(s) into %s from %s", rows, table, path.name)
    ms = int((time.perf_counter() - t0) * 1000)
    return LoadResult(table, str(path), fmt, keys, rows, batches, columns, ms)


def dump_data(
    config: ConfigLike = None,
    *,
    table: str,
    format: str = "json",  # noqa: A002 - the option's name
    out: str | os.PathLike[str] | TextIO | None = None,
    **overrides: Any,
) -> DumpResult:
    """Write every row of ``table`` (in primary-key order) as ``format`` to
    ``out``: a file path (written whole or not at all) or an open text
    stream (``None``: standard output)."""
    from migrata.data.load import FORMATS, dump_rows

    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    t0 = time.perf_counter()
    with session(config, **overrides) as sess:
        backend = sess.backend
        from migrata.data.load import table_columns

        table_columns(backend, table)  # a missing table is one clear error
        order = backend.primary_key(table.split(".")[-1])
        if out is None or hasattr(out, "write"):
            stream: Any = out if out is not None else sys.stdout
            rows, columns = dump_rows(backend, table, format, stream, order)
            target = getattr(stream, "name", "<stream>")
        else:
            path = Path(out)
            tmp = path.with_name(path.name + ".part")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as handle:
                    rows, columns = dump_rows(backend, table, format, handle, order)
                tmp.replace(path)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror}") from None
            finally:
                tmp.unlink(missing_ok=True)
            target = str(path)
    ms = int((time.perf_counter() - t0) * 1000)
    return DumpResult(table, str(target), format, rows, columns, ms)
