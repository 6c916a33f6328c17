"""The shared backend suite: every backend must pass it unchanged.

Use it from a test module with the plugin enabled::

    pytest_plugins = ["migrata.testing.plugin"]
    from migrata.testing.suite import *  # noqa: F403

Each test gets ``migrata_url`` (a fresh database) and keeps its files under
``tmp_path``. Together the tests exercise every method and capability flag of
:class:`~migrata.backends.base.Backend`, on the backend object itself and
through migrata's public API:

* connection: ``connect``/``close``/``connection``/``database_exists``/
  ``server_version``, connection errors with the password masked;
* transactions: ``begin``/``commit``/``rollback``/``in_transaction``;
* statements: ``execute``/``query`` (``placeholder``), ``run_statement``
  (:class:`StatementError` with its line or position), ``run_script``
  (``step_in_one_call``), ``run_batch`` (``journal_in_one_call``), ``split``,
  ``render_statement``, ``transactional_statement``/``transactional_ddl``,
  ``no_transaction_reason``, ``manages_transaction``,
  ``returns_several_results``, ``deferred_commits``
  (``defers_journal_commits``), ``elapsed_ms_sql``;
* timeouts: ``apply_timeout`` and ``statement_guard`` cancel a slow statement;
  ``bound_lock_waits`` makes a blocked statement give up (``lock_timeout``),
  ``lock_blockers``/``session_id``/``twin`` name who blocks it;
* the lock: ``acquire_lock``/``release_lock``/``lock_holder``/``break_lock``/
  ``end_holder``, with a holder in another process;
* backups: ``backup_to``/``check_backup``/``restore_from``/``size_estimate``/
  ``backup_suffix``/``backup_tools``;
* databases: ``create``/``drop``, ``admin``/``create_database``/
  ``drop_database``/``has_database``, ``ensure_namespace``;
* the schema: ``table_names``/``tables_present``/``schema_snapshot``,
  ``scratch``, ``quote_ident``, and the ledger types (``key_type``,
  ``text_type``, ``id_column``) by letting migrata create its own tables.

A capability a dialect lacks by design (its flag False) is checked for what
the flag promises instead (``run_script`` raises NotImplementedError where
``step_in_one_call`` is False), never skipped. The tests speak standard SQL;
what no standard spelling covers (a slow statement, one that cannot run in a
transaction, a trigger, the database's client...) is in one table,
``DIALECTS`` (importable from here), by ``Backend.dialect``: a backend of
another package adds its :class:`Dialect` from its ``conftest.py`` and gives
a ``migrata_url`` fixture making fresh databases of its kind. A contract promise a backend breaks today
is listed in ``KNOWN_BUGS`` beside it; the autouse fixture
``migrata_known_bug`` marks that test as expected to fail there, strictly (the
run fails once the bug is fixed, until its line is struck).

Every successful ``up`` of the suite goes through ``checks.upgrade``: the
database is then read with the plain backend, and the history must hold one
``applied`` row per migration file up to the version reached, with the
file's checksum, a row for every step reported, nothing ``running`` or
``failed``, and every table the applied SQL creates must exist.

Modules: ``statements`` (connection, transactions, statements, timeouts),
``databases`` (the lock, backups, databases, the schema), ``workflows``
(whole runs through the public API), ``checks`` (the check after each
``up``), ``dialects`` (the table and helpers).
"""

from __future__ import annotations

from migrata.testing.suite import databases, statements, workflows
from migrata.testing.suite.databases import *  # noqa: F403
from migrata.testing.suite.dialects import DIALECTS as DIALECTS
from migrata.testing.suite.dialects import Dialect as Dialect
from migrata.testing.suite.dialects import migrata_known_bug
from migrata.testing.suite.statements import *  # noqa: F403
from migrata.testing.suite.workflows import *  # noqa: F403

# DIALECTS and Dialect are importable from here, but not star-imported into test modules
__all__ = ["migrata_known_bug", *statements.__all__, *databases.__all__, *workflows.__all__]
