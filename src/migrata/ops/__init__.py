"""Operating migrations: backups and restore, hooks, verification, doctor,
metrics and structured logs. Built on :mod:`migrata._workspace` and the
backend contract; imported lazily, only by the commands that need them."""
