"""Ctrl-C while a migration statement runs, for backends whose driver runs
Python code inside the statement (a callback, or a blocking read).

Python raises KeyboardInterrupt wherever the main thread is when it handles
SIGINT. Inside a statement that can be the wrong place: sqlite3 drops an
exception raised in its trace callback (the statement then runs on), and
PyMySQL stopped in the middle of a result cannot say which statements had
completed. While :meth:`CtrlC.watching`, SIGINT is noted (:attr:`CtrlC.pressed`)
and ``on_press`` runs (ending the statement on the server, say); only when
there is none, or it fails, is KeyboardInterrupt raised there as Python's
own handler would. Only in the main thread, and only over Python's own
handler (an application's own is left alone); it is put back after.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["CtrlC"]


class CtrlC:
    """SIGINT noted while a statement runs (see the module)."""

    def __init__(self, on_press: Callable[[], bool] | None = None) -> None:
        self.on_press = on_press  # True: the statement is being ended, do not raise
        self.pressed = False

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        self.pressed = False
        installed = False
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            with contextlib.suppress(ValueError):  # not the main thread: the signal goes there
                signal.signal(signal.SIGINT, self._noted)
                installed = True
        try:
            yield
        finally:
            if installed:
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def _noted(self, signum: int, frame: Any) -> None:
        self.pressed = True
        if self.on_press is None or not self.on_press():
            raise KeyboardInterrupt

    def take(self) -> bool:
        """Whether Ctrl-C was pressed (and forget it)."""
        pressed, self.pressed = self.pressed, False
        return pressed
