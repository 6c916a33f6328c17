"""The benchmark harness behind ``benchmarks/run.py``.

Modules: ``peers`` (installing Alembic, yoyo and dbmate into
``benchmarks/.peers``), ``workload`` (the same N migrations in every tool's
format, and the client floors' SQL files), ``servers`` (fresh databases on
SQLite, PostgreSQL and MariaDB, schema checks), ``proc`` (timing a whole
process with its peak RSS), ``tools`` (what each tool runs for each
operation), ``bench`` (the measuring loop) and ``report`` (medians, ratios,
targets, the printed table, ``docs/performance.md`` and its JSON).
"""
