"""Prometheus metrics of migration runs, with the AlertAgent guide's names.

* ``migration_duration_seconds`` (gauge): how long each migration took, last run;
* ``migration_success_total``, ``migration_failure_total``,
  ``migration_rollback_total`` (counters);
* ``migration_lock_retries_total`` (counter): attempts of a migration that
  gave up waiting for a lock (``ddl_lock_timeout``) and ran again, and the
  last, failed one when its retries were used up;
* ``migration_backfill_rows_total`` (counter): rows its backfills updated;

all labelled by ``database`` and ``version``. They go to a file for the
node_exporter textfile collector (``metrics_file``; written atomically, the
counters carried over from the file's previous content) and/or to a
Pushgateway (``pushgateway``; the counters carried over from what the
gateway holds for this job and database). prometheus-client is imported
only here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from migrata.util import mask_url

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["Outcome", "publish"]

log = logging.getLogger("migrata")

JOB = "migrata"
COUNTERS = {
    "success": ("migration_success_total", "Migrations applied successfully"),
    "failure": ("migration_failure_total", "Migrations that failed"),
    "rollback": ("migration_rollback_total", "Migrations rolled back"),
    "lock_retry": ("migration_lock_retries_total", "Attempts of a migration that timed out waiting for a lock"),
    "backfill_rows": ("migration_backfill_rows_total", "Rows updated by the backfills of a migration (ctx.backfill)"),
}
DURATION = ("migration_duration_seconds", "Duration of the migration's last run in seconds")


@dataclass(frozen=True)
class Outcome:
    """One migration's result in a run."""

    version: str
    kind: str  # "success", "failure", "rollback", "lock_retry" or "backfill_rows" (no duration)
    seconds: float
    count: float = 1.0  # how much the counter grows (rows, for backfill_rows)


Previous = dict[tuple[str, str, str], float]  # (metric, database, version) -> value


def _previous(text: str, database: str | None = None) -> Previous:
    """Our metrics' values in an exposition text (of every database, or one)."""
    from prometheus_client.parser import text_string_to_metric_families

    values: Previous = {}
    wanted = {name for name, _ in COUNTERS.values()} | {DURATION[0]}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            db = sample.labels.get("database", "")
            if sample.name in wanted and (database is None or db == database):
                values[(sample.name, db, sample.labels.get("version", ""))] = sample.value
    return values


def _registry(outcomes: Iterable[Outcome], database: str, previous: Previous) -> CollectorRegistry:
    """The run's outcomes added to what was there (other databases' too)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge

    registry = CollectorRegistry()
    counters = {
        kind: Counter(name.removesuffix("_total"), doc, ["database", "version"], registry=registry)
        for kind, (name, doc) in COUNTERS.items()
    }
    duration = Gauge(DURATION[0], DURATION[1], ["database", "version"], registry=registry)
    for (name, db, version), value in previous.items():
        if name == DURATION[0]:
            duration.labels(db, version).set(value)
        else:
            kind = next(k for k, (n, _) in COUNTERS.items() if n == name)
            counters[kind].labels(db, version).inc(value)
    for o in outcomes:
        counters[o.kind].labels(database, o.version).inc(o.count)
        if o.kind not in ("lock_retry", "backfill_rows"):
            duration.labels(database, o.version).set(o.seconds)
    return registry


def publish(
    outcomes: list[Outcome], *, database: str, metrics_file: Path | None = None, pushgateway: str | None = None
) -> None:
    """Write/push the metrics of a run. Failures are logged, never raised:
    metrics must not fail a migration that succeeded."""
    if metrics_file is not None:
        try:
            _write_file(outcomes, database, metrics_file)
        except OSError as exc:
            log.warning("could not write the metrics file %s: %s", metrics_file, exc)
    if pushgateway:
        try:
            _push(outcomes, database, pushgateway)
        except OSError as exc:
            log.warning("could not push metrics to %s: %s", mask_url(pushgateway), exc)


def _write_file(outcomes: list[Outcome], database: str, path: Path) -> None:
    from prometheus_client import write_to_textfile

    previous = _previous(path.read_text(encoding="utf-8")) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), _registry(outcomes, database, previous))


def _push(outcomes: list[Outcome], database: str, gateway: str) -> None:
    import urllib.request  # with its HTTP and e-mail modules, some 10 ms: only when pushing

    from prometheus_client import pushadd_to_gateway

    try:
        with urllib.request.urlopen(gateway.rstrip("/") + "/metrics", timeout=10) as resp:  # noqa: S310
            current = resp.read().decode("utf-8", "replace")
    except OSError:
        current = ""
    previous = _previous(_only_job(current), database)
    pushadd_to_gateway(
        gateway, job=JOB, registry=_registry(outcomes, database, previous), grouping_key={"database": database}
    )


def _only_job(text: str) -> str:
    """The gateway's exposition reduced to samples pushed under our job."""
    keep = []
    for line in text.splitlines():
        if line.startswith("#") or f'job="{JOB}"' in line:
            keep.append(line)
    return "\n".join(keep) + "\n"
