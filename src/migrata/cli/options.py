"""Options every command accepts, before or after the command name.

``migrata --url U up`` and ``migrata up --url U`` mean the same; a value
given after the command wins. Values are collected in ``ctx.meta`` (shared by
the group's and the command's contexts) and read by :func:`overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from migrata.cli.argv import OPTIONS
from migrata.config import KEYS

F = TypeVar("F", bound=Callable[..., Any])

_META = "migrata.options"


def _store(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        source = ctx.get_parameter_source(param.name or key)
        if value is None or source in (click.core.ParameterSource.DEFAULT, None):
            return
        if isinstance(value, tuple) and not value:
            return
        ctx.meta.setdefault(_META, {})[key] = list(value) if isinstance(value, tuple) else value

    return callback


def _counter(key: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: int) -> None:
        if value:
            store = ctx.meta.setdefault(_META, {})
            store[key] = store.get(key, 0) + value

    return callback


_SHARED: list[click.Option] = []


def _shared() -> list[click.Option]:
    """The shared options, built once: every command holds the same objects
    (they keep no per-command state), so starting the CLI builds ~40 options,
    not ~40 per command."""
    if not _SHARED:
        _SHARED.append(
            click.Option(
                ["-v", "--verbose", "verbose"],
                count=True,
                expose_value=False,
                callback=_counter("verbose"),
                help="More output.",
            )
        )
        _SHARED.append(
            click.Option(
                ["-q", "--quiet", "quiet"],
                count=True,
                expose_value=False,
                callback=_counter("quiet"),
                help="Less output (-qq: errors only).",
            )
        )
        for flags, key, spec in OPTIONS:
            kwargs = dict(spec)
            if "choices" in kwargs:
                kwargs["type"] = click.Choice(kwargs.pop("choices"), case_sensitive=kwargs.pop("case_sensitive", True))
            _SHARED.append(click.Option([*flags, key], expose_value=False, callback=_store(key), **kwargs))
    return _SHARED


def common_options(f: F) -> F:
    """Add the shared options to a command or the group."""
    # click's decorators collect parameters in reverse order of appearance
    params = f.__dict__.setdefault("__click_params__", [])
    params.extend(reversed(_shared()))
    return f


def collected(ctx: click.Context) -> dict[str, Any]:
    return dict(ctx.meta.get(_META, {}))


def overrides(ctx: click.Context) -> dict[str, Any]:
    """Setting overrides given on the command line."""
    values = collected(ctx)
    return {k: values[k] for k in KEYS if k in values}
