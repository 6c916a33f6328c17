"""Rows in and out of a table: ``migrata data load`` and ``migrata data dump``.

Formats: ``json`` (an array of objects, or an object whose member named
after the table holds that array, so one dump of several tables feeds each
load), ``jsonl`` (one object per line) and ``csv`` (a header line; every value
a string, an empty field NULL). A load is an idempotent upsert keyed on the
table's primary key or the given key columns (which must be unique):
``INSERT ... ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, ``ON DUPLICATE
KEY UPDATE`` on MySQL/MariaDB, one transaction per batch.
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import json
import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from migrata.data.backfill import quote_name
from migrata.errors import DatabaseError, UsageError

if TYPE_CHECKING:
    from migrata.backends.base import Backend

__all__ = ["FORMATS", "dump_rows", "guess_format", "load_rows", "read_records", "table_columns"]

log = logging.getLogger("migrata.data")

FORMATS = ("json", "jsonl", "csv")


def guess_format(path: str, given: str | None) -> str:
    if given:
        if given not in FORMATS:
            raise UsageError(f"unknown format {given!r}: use one of {', '.join(FORMATS)}")
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix == "ndjson":
        return "jsonl"
    raise UsageError(f"cannot tell the format of {path}", hint="pass --format json, jsonl or csv")


def _value(v: Any) -> Any:
    """A JSON value as a column value: objects and arrays as JSON text."""
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v


def read_records(path: Path, fmt: str, table: str) -> Iterator[dict[str, Any]]:
    """The records of ``path`` (for ``table``, when a JSON object holds several)."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        if fmt == "csv":
            for row in csv.DictReader(handle):
                yield {k: (v if v != "" else None) for k, v in row.items()}
        elif fmt == "jsonl":
            for n, line in enumerate(handle, 1):
                if line.strip():
                    yield _record(_parse(line, path, n), path, n)
        else:
            data = _parse(handle.read(), path, None)
            if isinstance(data, dict):
                if table not in data:
                    raise UsageError(f"{path} has no member {table!r} (it has {', '.join(map(str, data)) or 'none'})")
                data = data[table]
            if not isinstance(data, list):
                raise UsageError(f"{path}: expected an array of objects for {table}")
            for n, item in enumerate(data, 1):
                yield _record(item, path, n)


def _parse(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno}"
        raise UsageError(f"{path}: invalid JSON at {where}: {exc.msg}") from None


def _record(item: Any, path: Path, n: int) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise UsageError(f"{path}: record {n} is not an object")
    return {str(k): _value(v) for k, v in item.items()}


def table_columns(backend: Backend, table: str) -> list[str]:
    """The columns of ``table``, in order (a clear error when it is missing)."""
    cur = backend.connection.cursor()
    try:
        cur.execute(f"SELECT * FROM {quote_name(backend, table)} WHERE 1 = 0")
        cur.fetchall()
        return [str(d[0]) for d in cur.description or []]
    except Exception as exc:  # noqa: BLE001 - the driver's error, reported as ours
        raise DatabaseError(f"cannot read table {table}: {exc}", hint="check --table (and the URL)") from None
    finally:
        cur.close()


def load_rows(
    backend: Backend,
    table: str,
    records: Iterator[dict[str, Any]],
    keys: list[str],
    *,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int, list[str]]:
    """Upsert ``records`` into ``table`` keyed on ``keys``, one transaction
    per batch. Returns (rows, batches, columns seen)."""
    known = table_columns(backend, table)
    lookup = {c.lower(): c for c in known}
    rows = batches = 0
    seen: list[str] = []
    batch: list[dict[str, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= batch_size:
            _write(backend, table, batch, keys, lookup, seen)
            rows, batches, batch = rows + len(batch), batches + 1, []
            if progress is not None:
                progress(rows, batches)
    if batch:
        _write(backend, table, batch, keys, lookup, seen)
        rows, batches = rows + len(batch), batches + 1
        if progress is not None:
            progress(rows, batches)
    return rows, batches, seen


def _write(
    backend: Backend, table: str, batch: list[dict[str, Any]], keys: list[str], lookup: dict[str, str], seen: list[str]
) -> None:
    groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for record in batch:
        columns = tuple(record)
        groups.setdefault(columns, []).append(tuple(record[c] for c in columns))
    backend.begin()
    try:
        cur = backend.connection.cursor()
        try:
            for columns, values in groups.items():
                names = _columns(columns, keys, lookup, table)
                seen.extend(c for c in names if c not in seen)
                cur.executemany(backend.upsert_sql(table, names, keys), values)
        finally:
            cur.close()
        backend.commit()
    except (UsageError, DatabaseError):
        backend.rollback()
        raise
    except Exception as exc:  # noqa: BLE001 - the driver's error: the batch did not load
        backend.rollback()
        raise DatabaseError(f"loading into {table} failed: {exc}", hint="no row of this batch was written") from None


def _columns(columns: tuple[str, ...], keys: list[str], lookup: dict[str, str], table: str) -> list[str]:
    names = []
    for c in columns:
        if c.lower() not in lookup:
            raise UsageError(f"column {c!r} of the file is not a column of {table}")
        names.append(lookup[c.lower()])
    missing = [k for k in keys if k not in names]
    if missing:
        raise UsageError(
            f"records without the key column(s) {', '.join(missing)} cannot be upserted into {table}",
            hint="pass --key with unique column(s) the records have",
        )
    return names


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(v)).decode("ascii")
    if isinstance(v, _dt.timedelta):
        return v.total_seconds()
    return v


def dump_rows(backend: Backend, table: str, fmt: str, out: TextIO, order: list[str]) -> tuple[int, list[str]]:
    """Write every row of ``table`` (ordered by ``order``) to ``out``; returns (rows, columns)."""
    q = backend.quote_ident
    sql = f"SELECT * FROM {quote_name(backend, table)}" + (
        f" ORDER BY {', '.join(q(c) for c in order)}" if order else ""
    )
    cur = backend.connection.cursor()
    rows = 0
    try:
        cur.execute(sql)
        names = [str(d[0]) for d in cur.description or []]
        writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writerow(names)
        elif fmt == "json":
            out.write("[")
        while chunk := cur.fetchmany(1000):
            for raw in chunk:
                values = [_jsonable(v) for v in raw]
                if writer is not None:
                    writer.writerow(["" if v is None else v for v in values])
                else:
                    text = json.dumps(dict(zip(names, values, strict=True)), ensure_ascii=False, default=str)
                    out.write((",\n " if rows else "\n ") + text if fmt == "json" else text + "\n")
                rows += 1
        if fmt == "json":
            out.write("\n]\n" if rows else "]\n")
    finally:
        cur.close()
    return rows, names
