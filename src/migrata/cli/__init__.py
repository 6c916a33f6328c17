"""The ``migrata`` command line: parses, calls :mod:`migrata.api`, prints, exits.

The only place that prints or exits. A :class:`~migrata.errors.MigrataError`
becomes one ``error:`` line, an optional ``hint:`` line and its exit code; a
traceback appears only with ``--debug``. The commands are click commands
(:mod:`migrata.cli.app`), each a thin function over one :mod:`migrata.api` call.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["main", "run"]


def _run_click(args: list[str]) -> int:
    import click

    from migrata.cli.app import cli

    try:
        rv = cli.main(args=args, prog_name="migrata", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort as exc:
        # Ctrl-C during a run: the KeyboardInterrupt says where it stopped
        said = exc.__cause__ if isinstance(exc.__cause__, KeyboardInterrupt) else None
        sys.stderr.write(f"error: {said}\n" if said is not None and said.args else "aborted\n")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


def _print_traceback() -> None:
    """The traceback of the exception being handled (--debug), URLs masked."""
    import traceback

    from migrata.util import mask_url

    sys.stderr.write(mask_url(traceback.format_exc()))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = sys.argv[1:] if argv is None else argv
    from migrata.errors import MigrataError
    from migrata.util import mask_url

    debug = "--debug" in args
    as_json = "--json" in args
    try:
        code = _run_click(args)
    except MigrataError as exc:
        if debug:
            _print_traceback()
        if as_json:
            import json

            shown = {k: mask_url(v) if isinstance(v, str) else v for k, v in exc.to_dict().items()}
            sys.stdout.write(json.dumps(shown, indent=2) + "\n")
        from migrata.cli.logs import report_error

        message, hint = mask_url(exc.message), mask_url(exc.hint) if exc.hint else None
        if not report_error(message, hint, exc.exit_code, type(exc).__name__):
            sys.stderr.write(f"error: {message}\n")
            if hint:
                sys.stderr.write(f"hint: {hint}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        sys.stderr.write(f"error: {exc}\n" if exc.args else "interrupted\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback only with --debug
        if debug:
            _print_traceback()
        sys.stderr.write(f"error: internal error: {type(exc).__name__}: {mask_url(str(exc))}\n")
        sys.stderr.write("hint: run again with --debug for the traceback, and report it\n")
        sys.exit(1)
    sys.exit(code)


def run() -> None:
    """The ``migrata`` program (the console script and ``python -m migrata``):
    :func:`main`, then the process ends without the cyclic collector's last
    pass over every object it made (about 5% of a ``status``; the objects
    are freed with the process, and files and connections are closed by then)."""
    try:
        main()
    finally:
        gc.freeze()
