"""Result objects returned by the library functions (:mod:`migrata.api` and
the ``api_*`` modules beside it).

Every result has ``to_dict()`` (what ``--json`` prints) and plain attributes.
They live in one module per family of commands: :mod:`~migrata.results.run`
(migrating and reporting), :mod:`~migrata.results.admin`,
:mod:`~migrata.results.schema` and :mod:`~migrata.results.data`. Each name
is importable from here too and is loaded on first use: a command creates
only the classes it returns (creating all 26 dataclasses at start cost
13-17 ms of every command).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrata._core.model import BackfillReport, MigrationState, Problem, StepResult
from migrata.util import lazy_names

if TYPE_CHECKING:
    from migrata.results.admin import (
        AdoptResult,
        BackupResult,
        CleanupResult,
        DatabaseResult,
        DoctorResult,
        ImportResult,
        InitResult,
        LockResult,
        NewResult,
        RepairResult,
        RestoreResult,
        StampResult,
        VerifyResult,
    )
    from migrata.results.data import CryptoResult, DataKeyResult, DumpResult, LoadResult
    from migrata.results.run import (
        CheckResult,
        CurrentResult,
        HistoryResult,
        MigrateResult,
        StatusResult,
        ValidateResult,
    )
    from migrata.results.schema import AutogenerateResult, DiffResult, SquashResult

__all__ = [
    "AdoptResult",
    "AutogenerateResult",
    "BackfillReport",
    "BackupResult",
    "CheckResult",
    "CleanupResult",
    "CryptoResult",
    "CurrentResult",
    "DataKeyResult",
    "DatabaseResult",
    "DiffResult",
    "DoctorResult",
    "DumpResult",
    "HistoryResult",
    "SquashResult",
    "ImportResult",
    "InitResult",
    "LoadResult",
    "LockResult",
    "MigrateResult",
    "MigrationState",
    "NewResult",
    "Problem",
    "RepairResult",
    "RestoreResult",
    "StampResult",
    "StatusResult",
    "StepResult",
    "ValidateResult",
    "VerifyResult",
]

if not TYPE_CHECKING:  # the families in this order: a command loads the first ones anyway
    __getattr__, __dir__ = lazy_names(
        __name__, __all__, [f"{__name__}.{f}" for f in ("run", "admin", "schema", "data")]
    )
