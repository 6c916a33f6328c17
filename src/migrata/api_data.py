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

from migrata import results
from migrata.errors import UsageError
from migrata.session import ConfigLike, session
from migrata.util import elapsed_ms

__all__ = ["dump_data", "encrypt_column", "load_data", "retire_data_keys", "rotate_data_key", "rotate_encryption"]

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
) -> results.LoadResult:
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
    ms = elapsed_ms(t0)
    return results.LoadResult(table, str(path), fmt, keys, rows, batches, columns, ms)


def dump_data(
    config: ConfigLike = None,
    *,
    table: str,
    format: str = "json",  # noqa: A002 - the option's name
    out: str | os.PathLike[str] | TextIO | None = None,
    **overrides: Any,
) -> results.DumpResult:
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
    ms = elapsed_ms(t0)
    return results.DumpResult(table, str(target), format, rows, columns, ms)


def _columns(specs: list[str] | str) -> list[tuple[str, str]]:
    """``TABLE.COLUMN`` names as (table, column) pairs."""
    items = [specs] if isinstance(specs, str) else list(specs)
    pairs = []
    for item in items:
        table, dot, column = item.rpartition(".")
        if not dot or not table or not column:
            raise UsageError(f"--column {item!r}: write TABLE.COLUMN")
        pairs.append((table, column))
    return pairs


def _data_keys(sess: Any) -> Any:
    from migrata.data.envelope import DataKeys, kek_from_settings
    from migrata.session import call_user

    crypto = sess.settings.crypto
    folder = sess.settings.project_dir
    kek = kek_from_settings(crypto, folder, lambda spec: call_user(spec, folder))
    table = crypto.get("data_keys_table") or "kms_data_keys"
    if not sess.backend.tables_present([table.split(".")[-1]]):
        raise UsageError(
            f"the data-keys table {table} does not exist",
            hint="create it in a migration (see docs/migrations.md, encrypted columns), then run `migrata up`",
        )
    return DataKeys(sess.backend, table, kek, lifetime=crypto.get("data_key_lifetime"))


def rotate_encryption(
    config: ConfigLike = None,
    *,
    table: str,
    column: str,
    key: list[str] | str | None = None,
    envelope: bool = False,
    batch_size: int = 1000,
    **overrides: Any,
) -> results.CryptoResult:
    """Re-encrypt ``column`` of every row of ``table`` under the newest key
    (``[crypto] keys``; with ``envelope`` the active data key), in
    checkpointed batches of ``batch_size`` rows: an interrupted rotation
    resumes where it stopped. Rows no key decrypts are counted and named by
    their key, and left as they are."""
    return _rewrite(config, "rotate", table, column, key, envelope, batch_size, overrides)


def encrypt_column(
    config: ConfigLike = None,
    *,
    table: str,
    column: str,
    key: list[str] | str | None = None,
    envelope: bool = False,
    batch_size: int = 1000,
    **overrides: Any,
) -> results.CryptoResult:
    """Encrypt the plaintext values of ``column`` under the newest key (with
    ``envelope`` the active data key), in resumable batches; values that are
    already encrypted with a configured key are skipped, so it can run again."""
    return _rewrite(config, "encrypt", table, column, key, envelope, batch_size, overrides)


def _rewrite(
    config: ConfigLike,
    action: str,
    table: str,
    column: str,
    key: list[str] | str | None,
    envelope: bool,
    batch_size: int,
    overrides: dict[str, Any],
) -> results.CryptoResult:
    from migrata.data.crypto import rotate_column, rotation_owner
    from migrata.data.service import ProgressLog

    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    t0 = time.perf_counter()
    with session(config, **overrides) as sess, sess.locked():
        backend = sess.backend
        keys = _keys(backend, table, key)
        crypto = _data_keys(sess) if envelope else sess.crypto()
        fn = crypto.rotate_row(column) if action == "rotate" else crypto.encrypt_row(column)
        labels = [f"data key v{crypto.active}"] if envelope else crypto.labels
        report = rotate_column(
            backend, sess.ledger, fn, table=table, column=column, key=keys, batch_size=batch_size,
            progress=ProgressLog(f"{action} {table}.{column}"), owner=rotation_owner(table, column, action),
        )  # fmt: skip
        ms = elapsed_ms(t0)
        res = results.CryptoResult(
            table, column, "envelope" if envelope else "fernet", labels, report.done, report.skipped, report.failed,
            report.batches, report.resumed_after, list(report.failed_keys), ms,
        )  # fmt: skip
        detail = {k: v for k, v in res.to_dict().items() if k not in ("table", "column")}
        outcome = "failed" if res.failed else "ok"
        event = sess.ledger.event(
            f"crypto-{action}", name=f"{table}.{column}", outcome=outcome, duration_ms=ms, detail=detail
        )
        sess.ledger.run(event)
    log.info("%s %s.%s: %d done, %d skipped, %d failed", action, table, column, res.done, res.skipped, res.failed)
    return res


def _key_list(data_keys: Any) -> list[dict[str, Any]]:
    return [{"version": v, "status": s, "expires_at": str(e) if e else None} for v, s, e in data_keys.versions()]


def rotate_data_key(config: ConfigLike = None, **overrides: Any) -> results.DataKeyResult:
    """Generate a new data key, wrapped by the key-encryption key, and make
    it the active one; the previous active key becomes ``inactive`` (it still
    decrypts until :func:`retire_data_keys` retires it)."""
    with session(config, **overrides) as sess, sess.locked():
        data_keys = _data_keys(sess)
        version = data_keys.rotate()
        sess.ledger.run(sess.ledger.event("crypto-data-key", detail={"created": version}))
        return results.DataKeyResult(data_keys.table, version, _key_list(data_keys), created=version)


def retire_data_keys(
    config: ConfigLike = None, *, columns: list[str] | str, dry_run: bool = False, **overrides: Any
) -> results.DataKeyResult:
    """Mark ``revoked`` every non-active data key that no value of ``columns``
    (``TABLE.COLUMN``) still needs; the others are kept and counted. With
    ``dry_run`` nothing changes: ``retired`` lists what would be retired."""
    pairs = _columns(columns)
    with session(config, **overrides) as sess, sess.locked():
        data_keys = _data_keys(sess)
        retired, kept = data_keys.retire(pairs, dry_run=dry_run)
        if not dry_run:
            detail = {"retired": retired, "kept": kept, "columns": [f"{t}.{c}" for t, c in pairs]}
            sess.ledger.run(sess.ledger.event("crypto-retire", detail=detail))
        return results.DataKeyResult(
            data_keys.table, data_keys.active, _key_list(data_keys), retired=retired, kept=kept
        )
