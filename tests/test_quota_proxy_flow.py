"""The quota-proxy guide's whole move, run by migrata on a copy of the example.

The guide (``seeds/002``) checks the environment, takes a timestamped and
verified backup, stops the service, migrates, starts it, hits its health
check, verifies the data, and restores the backup when something is off.
``examples/quota-proxy/README.md`` shows that flow with migrata; these tests
run it against SQLite with the example's ``[env.prod]`` settings, overriding
only what points at the real server: the database path, the backup folder,
the service commands (``echo`` into ``service.log`` instead of
``docker compose``), the health URL (a tiny HTTP server on 127.0.0.1) and the
metrics file.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from migrata.testing import CliResult, run_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quota-proxy"
BACKUP_NAME = re.compile(r"^quota\.db\.backup\.\d{8}_\d{6}_\d{6}$")

# The service commands of [env.prod], as a rehearsal: they only write down what they would do.
STOP = 'echo "stop quota-proxy before $MIGRATA_COMMAND $MIGRATA_PLANNED" >> service.log && touch service.stopped'
START = 'echo "start quota-proxy at $MIGRATA_TARGET" >> service.log && rm -f service.stopped'
START_AFTER_FAILURE = 'echo "start quota-proxy after a failure" >> service.log; rm -f service.stopped'


class Service:
    """The quota-proxy service as far as migrata sees it: a health endpoint.
    ``status`` is what it answers; ``aware`` makes it answer 503 while the
    hooks have it stopped (``service.stopped`` exists)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.status = 200
        self.aware = False
        self.requests: list[tuple[str, bool]] = []  # (path, stopped at the time)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        stopped = (self.root / "service.stopped").exists()
        self.requests.append((h.path, stopped))
        status = 503 if self.aware and stopped else self.status
        body = b'{"status":"ok"}\n' if status == 200 else b'{"status":"down"}\n'
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


@contextlib.contextmanager
def serve(service: Service) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            service.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/healthz"
    finally:
        server.shutdown()
        server.server_close()


class QuotaProxy:
    """A copy of the example and the ``migrata`` command run on it with ``--env prod``."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "quota-proxy"
        shutil.copytree(
            EXAMPLE,
            self.root,
            ignore=shutil.ignore_patterns("*.db", "*.db-*", "*-migrata.lock", "*.backup.*", "__pycache__", "backups"),
        )
        self.db = self.root / "data" / "quota.db"
        self.health_url = ""

    def prod(self, *args: str) -> CliResult:
        """``migrata --env prod ARGS`` with only the server-bound settings replaced."""
        return run_cli(
            [
                "-C",
                str(self.root),
                "--env",
                "prod",
                "--url",
                "sqlite:///data/quota.db",
                "--backup-dir",
                "data",
                "--metrics-file",
                "metrics/migrata-quota-proxy.prom",
                "--log-file",
                str(self.root / "logs" / "migration.log"),
                "--health-url",
                self.health_url,
                "--health-timeout",
                "1s",
                "--before-up",
                STOP,
                "--after-up",
                START,
                "--before-down",
                STOP,
                "--after-down",
                START,
                "--on-failure",
                START_AFTER_FAILURE,
                *args,
            ]
        )

    def service_log(self) -> list[str]:
        path = self.root / "service.log"
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            rows = conn.execute(query, params).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()

    def snapshot(self) -> dict[str, Any]:
        """Schema, every row of every table, and migrata_history (the event
        log, which a restore appends to, and sqlite_sequence left out)."""
        schema = sorted(self.sql("SELECT type, name, tbl_name, sql FROM sqlite_master"), key=repr)
        rows = {}
        for (name,) in self.sql("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if name not in ("migrata_events", "sqlite_sequence"):
                rows[name] = sorted(self.sql(f'SELECT * FROM "{name}"'), key=repr)
        return {"schema": schema, "rows": rows}

    def applied(self) -> list[str]:
        rows = self.sql("SELECT version FROM migrata_history WHERE kind NOT IN ('ledger', 'repeatable') ORDER BY 1")
        return [r[0] for r in rows]

    def backups(self) -> list[Path]:
        return sorted(p for p in (self.root / "data").iterdir() if BACKUP_NAME.match(p.name))

    def metrics(self) -> dict[tuple[str, str], float]:
        text = (self.root / "metrics" / "migrata-quota-proxy.prom").read_text(encoding="utf-8")
        out = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name.endswith("_total"):
                    assert s.labels["database"] == "quota.db"
                    out[(s.name, s.labels["version"])] = s.value
        return out


def the_error(stderr: str) -> tuple[str, str]:
    """The (message, hint) that ended a failed command. With [env.prod]'s
    log_format = "json" every stderr line is a JSON object, the error too."""
    records = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    [error] = [rec for rec in records if rec["level"] == "error" and "exit_code" in rec]
    return error["message"], error.get("hint") or ""


@pytest.fixture
def qp(tmp_path: Path) -> QuotaProxy:
    return QuotaProxy(tmp_path)


def test_the_prod_environment_carries_the_operations_and_the_default_stays_offline(qp: QuotaProxy) -> None:
    r = run_cli(["-C", str(qp.root), "--env", "prod", "config", "--json"])
    assert r.exit_code == 0, r.output
    prod = json.loads(r.stdout)["settings"] if "settings" in r.stdout else json.loads(r.stdout)
    assert prod["backup"] is True and prod["restore_on_failure"] is True and prod["verify"] is True
    assert prod["backup_dir"] == "/opt/roc/quota-proxy/data"
    assert prod["health_url"] == "http://127.0.0.1:8787/healthz"
    assert any("stop quota-proxy" in c for c in prod["before_up"])
    assert any("up -d" in c for c in prod["after_up"]) and any("up -d" in c for c in prod["on_failure"])
    r = run_cli(["-C", str(qp.root), "config", "--json"])
    default = json.loads(r.stdout)["settings"] if "settings" in r.stdout else json.loads(r.stdout)
    assert default["verify"] is True
    assert default["before_up"] == [] and default["after_up"] == [] and default["on_failure"] == []
    assert default["health_url"] is None and default["backup"] is False


def test_the_guides_whole_move(qp: QuotaProxy) -> None:
    service = Service(qp.root)
    with serve(service) as health_url:
        qp.health_url = health_url
        _the_move(qp, service)


def _the_move(qp: QuotaProxy, service: Service) -> None:
    # 1. Look before moving: doctor checks config, connection, privileges, tools, disk, lock, files.
    #    On a fresh install the database does not exist yet (a warning, not a failure).
    r = qp.prod("doctor")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("ready to migrate")
    assert not [line for line in r.stdout.splitlines() if line.startswith("fail")]
    assert json.loads(qp.prod("doctor", "--json").stdout)["ready"] is True

    # 2-5. The move: stop the service, back up, migrate, verify the data, start it, health check.
    r = qp.prod("up")
    assert r.exit_code == 0, r.output
    assert "Applied 4 migration(s)" in r.stdout and "now at 4" in r.stdout
    assert "Verified: 5 check(s) passed." in r.stdout  # four verify scripts and the health check
    assert qp.service_log() == ["stop quota-proxy before up 1 2 3 4", "start quota-proxy at 4"]
    assert [path for path, _ in service.requests] == ["/healthz"]
    [b0] = qp.backups()  # the backup taken before the move, the guide's name and place
    assert b0.stat().st_mode & 0o777 == 0o600
    assert "Backup before the run" in r.stdout and b0.name in r.stdout

    # the data, checked as the guide does with sqlite3
    tables = {n for (n,) in qp.sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"api_keys", "usage_stats", "migrata_history", "migrata_events"} <= tables
    assert qp.sql("SELECT key, name, quota_used, quota_limit FROM api_keys ORDER BY key") == [
        ("demo-key-123", "演示密钥", 0, 100),
        ("test-key-456", "测试密钥", 0, 500),
    ]
    indexes = {n for (n,) in qp.sql("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    assert indexes == {"idx_api_keys_key", "idx_usage_stats_api_key", "idx_usage_stats_timestamp"}
    fks = qp.sql("PRAGMA foreign_key_list(usage_stats)")
    assert [(f[2], f[3], f[4]) for f in fks] == [("api_keys", "api_key", "key")]
    assert qp.applied() == ["1", "2", "3", "4"]
    r = qp.prod("verify")
    assert r.exit_code == 0, r.output
    assert r.stdout.count("ok  ") == 5

    # the service runs and counts requests
    for endpoint, ms in (("/api/test", 12), ("/api/quota", 8)):
        qp.sql(
            "INSERT INTO usage_stats (api_key, endpoint, response_time_ms, status_code) VALUES (?, ?, ?, 200)",
            ("demo-key-123", endpoint, ms),
        )
    qp.sql("UPDATE api_keys SET quota_used = 2 WHERE key = 'demo-key-123'")

    # a manual, timestamped, verified backup, as the guide's daily cron does
    r = qp.prod("backup")
    assert r.exit_code == 0, r.output
    assert "verified" in r.stdout
    b1 = next(p for p in qp.backups() if p != b0)
    listed = json.loads(qp.prod("backups", "--json").stdout)["backups"]
    assert [(Path(b["path"]).name, b["version"], b["verified"]) for b in listed] == [
        (b1.name, "4", True),
        (b0.name, None, True),
    ]
    at_b1 = qp.snapshot()

    # the service goes on writing
    qp.sql(
        "INSERT INTO usage_stats (api_key, endpoint, response_time_ms, status_code) VALUES (?, ?, ?, ?)",
        ("test-key-456", "/api/test", 30, 429),
    )
    before_change = qp.snapshot()
    assert before_change != at_b1

    # 6. A change that goes wrong, three ways; each time the database is put back as it was.
    (qp.root / "migrations" / "000005_rate_limits.up.sql").write_text(
        "ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER DEFAULT 60;\n"
        "UPDATE api_keys SET quota_limit = quota_limit * 10;\n"
        "DELETE FROM usage_stats WHERE status_code = 429;\n",
        encoding="utf-8",
    )
    (qp.root / "migrations" / "000005_rate_limits.verify.sql").write_text(
        "-- no quota may grow past 1000 requests\nSELECT COUNT(*) = 0 FROM api_keys WHERE quota_limit > 1000;\n",
        encoding="utf-8",
    )
    r = qp.prod("doctor")
    assert r.exit_code == 0 and "at 4, 1 pending" in r.stdout, r.output

    # a) its verify script fails
    (qp.root / "service.log").unlink()
    r = qp.prod("up", "--restore-on-failure")
    assert r.exit_code == 9, r.output
    error, hint = the_error(r.stderr)
    assert "000005_rate_limits.verify.sql" in error
    assert "restored" in hint and "the database is as it was" in hint
    assert qp.snapshot() == before_change
    assert qp.service_log() == ["stop quota-proxy before up 5", "start quota-proxy after a failure"]

    # b) the data is right but the service is unhealthy after the change
    (qp.root / "migrations" / "000005_rate_limits.verify.sql").write_text(
        "SELECT COUNT(*) = 0 FROM api_keys WHERE rate_limit_per_minute IS NULL;\n", encoding="utf-8"
    )
    service.status = 500
    r = qp.prod("up", "--restore-on-failure")
    assert r.exit_code == 9, r.output
    error, hint = the_error(r.stderr)
    assert "HTTP 500" in error and "restored" in hint
    assert qp.snapshot() == before_change
    service.status = 200

    # c) the migration itself fails half-way
    (qp.root / "migrations" / "000005_rate_limits.up.sql").write_text(
        "ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER DEFAULT 60;\n"
        "INSERT INTO rate_limits (api_key) VALUES ('demo-key-123');\n",
        encoding="utf-8",
    )
    r = qp.prod("up", "--restore-on-failure")
    assert r.exit_code == 1, r.output
    error, hint = the_error(r.stderr)
    assert "000005_rate_limits.up.sql" in error and "restored" in hint
    assert qp.snapshot() == before_change
    r = qp.prod("status")
    assert "Current:  4 seed_demo_keys" in r.stdout and "Pending:  1" in r.stdout
    (qp.root / "migrations" / "000005_rate_limits.up.sql").unlink()
    (qp.root / "migrations" / "000005_rate_limits.verify.sql").unlink()

    # 7. Back to the manual backup: schema, data and history exactly as they were then.
    r = qp.prod("restore", b1.name, "--yes")
    assert r.exit_code == 0, r.output
    assert "now at 4" in r.stdout
    assert qp.snapshot() == at_b1
    assert qp.prod("verify").exit_code == 0

    # and to the first backup: the state before the move, nothing of it left
    r = qp.prod("restore", b0.name, "--yes")
    assert r.exit_code == 0, r.output
    assert "now at base" in r.stdout
    tables = {n for (n,) in qp.sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"api_keys", "usage_stats"}
    r = qp.prod("status")
    assert "Pending:  4" in r.stdout

    # the move can be made again from there
    r = qp.prod("up")
    assert r.exit_code == 0, r.output
    assert qp.applied() == ["1", "2", "3", "4"]
    assert [k for (k,) in qp.sql("SELECT key FROM api_keys ORDER BY key")] == ["demo-key-123", "test-key-456"]

    # what the monitoring saw: metrics (counters over all runs) and the JSON log
    m = qp.metrics()
    success = {v: n for (name, v), n in m.items() if name == "migration_success_total"}
    assert {v: success[v] for v in ("1", "2", "3", "4")} == {"1": 2, "2": 2, "3": 2, "4": 2}
    assert {v: n for (name, v), n in m.items() if name == "migration_failure_total"} == {"run": 2, "5": 1}
    log = (qp.root / "logs" / "migration.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in log]
    assert all({"time", "level", "message"} <= set(rec) for rec in records)
    messages = [rec["message"] for rec in records]
    assert any("restored the backup" in msg for msg in messages)
    assert any("applied 4 seed_demo_keys" in msg for msg in messages)
    r = qp.prod("history", "--json")
    actions = [e["action"] for e in json.loads(r.stdout)["events"]]
    assert "restore" in actions


def test_the_health_check_sees_the_restarted_service(qp: QuotaProxy) -> None:
    service = Service(qp.root)
    service.aware = True  # 503 while the hooks have the service stopped
    with serve(service) as health_url:
        qp.health_url = health_url
        r = qp.prod("up")
    assert r.exit_code == 0, r.output
    assert service.requests == [("/healthz", False)]
    assert qp.service_log() == ["stop quota-proxy before up 1 2 3 4", "start quota-proxy at 4"]


@pytest.mark.parametrize(
    ("damage", "script"),
    [
        ("DELETE FROM api_keys WHERE key = 'test-key-456'", "000004_seed_demo_keys.verify.sql"),
        ("UPDATE api_keys SET quota_limit = 1000 WHERE key = 'demo-key-123'", "000004_seed_demo_keys.verify.sql"),
        ("DROP INDEX idx_usage_stats_timestamp", "000003_add_indexes.verify.sql"),
        ("ALTER TABLE usage_stats DROP COLUMN status_code", "000002_create_usage_stats.verify.sql"),
        ("ALTER TABLE api_keys RENAME COLUMN quota_used TO used", "000001_create_api_keys.verify.sql"),
    ],
    ids=["demo-key-gone", "quota-changed", "index-gone", "column-gone", "column-renamed"],
)
def test_the_example_verify_scripts_catch_a_damaged_database(qp: QuotaProxy, damage: str, script: str) -> None:
    r = run_cli(["-C", str(qp.root), "up"])
    assert r.exit_code == 0, r.output
    assert "Verified: 4 check(s) passed." in r.stdout
    qp.sql(damage)
    r = run_cli(["-C", str(qp.root), "verify", "--json"])
    assert r.exit_code == 9, r.output
    failed = [c["name"] for c in json.loads(r.stdout)["checks"] if not c["ok"]]
    assert failed == [script]
