"""Plain data classes for migrata's own records, without :mod:`dataclasses`.

Every command builds a few dozen record classes (migrations, history rows,
results, settings). :mod:`dataclasses` would import :mod:`inspect` (and
with it :mod:`ast`, :mod:`dis`, :mod:`tokenize`) and do much introspection
per class: together about a tenth of what ``migrata status`` costs. This
module does the part migrata uses, the same way:

* ``@record`` (options ``frozen``, ``slots``, ``eq``, ``repr``) reads the
  class's annotations, base classes' first, and gives it ``__init__`` (fields
  in order, defaults as written, ``field(default_factory=...)`` called per
  instance, ``field(init=False)`` set from its default, ``__post_init__``
  called after), and unless told otherwise ``__repr__`` and ``__eq__`` over
  the fields that take part (``field(repr=False)``, ``field(compare=False)``);
  a frozen record refuses assignment and hashes by its compared fields, an
  unfrozen one with ``__eq__`` is unhashable;
* :func:`fields` names a record's fields, :func:`asdict` turns records (and
  lists, tuples and dicts of them) into plain dicts and lists, :func:`replace`
  copies one with some fields changed.

Records built with :mod:`dataclasses` (the operations modules use it) are
understood by :func:`asdict` as well.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:

    def dataclass_transform(**kwargs):
        return lambda f: f


__all__ = ["FrozenInstanceError", "asdict", "field", "fields", "record", "replace"]

_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "<missing>"})()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record."""


class Field:
    """What ``field()`` says about one field."""

    __slots__ = ("compare", "default", "default_factory", "init", "name", "repr")

    def __init__(
        self,
        default: Any,
        default_factory: Any,
        init: bool,
        repr: bool,
        compare: bool,  # noqa: A002
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.init = init
        self.repr = repr
        self.compare = compare


def field(
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] | Any = _MISSING,
    init: bool = True,
    repr: bool = True,  # noqa: A002 - the name dataclasses uses
    compare: bool = True,
) -> Any:
    """Options of one field (as :func:`dataclasses.field`)."""
    return Field(default, default_factory, init, repr, compare)


@dataclass_transform(field_specifiers=(field,))
def record(
    cls: type[T] | None = None,
    /,
    *,
    frozen: bool = False,
    slots: bool = False,
    eq: bool = True,
    repr: bool = True,  # noqa: A002
) -> Any:
    """Make ``cls`` a record (see the module docstring)."""

    def wrap(c: type[T]) -> type[T]:
        return _process(c, frozen=frozen, slots=slots, eq=eq, with_repr=repr)

    return wrap if cls is None else wrap(cls)


def fields(obj: Any) -> tuple[Field, ...]:
    """The fields of a record (class or instance), in order."""
    return tuple(getattr(obj, "__record_fields__", ()))


def asdict(obj: Any) -> Any:
    """A record as a dict of its fields, recursively (records in lists,
    tuples and dicts too); anything else as it is."""
    specs = getattr(type(obj), "__record_fields__", None)
    if specs is not None:
        return {f.name: asdict(getattr(obj, f.name)) for f in specs}
    if hasattr(type(obj), "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(asdict(v) for v in obj) if type(obj) in (list, tuple) else [asdict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: asdict(v) for k, v in obj.items()}
    return obj


def replace(obj: T, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes`` (fields set by ``__init__`` only)."""
    specs = type(obj).__record_fields__  # type: ignore[attr-defined]
    for name in changes:
        if not any(f.name == name and f.init for f in specs):
            raise TypeError(f"{type(obj).__name__} has no field {name!r} that __init__ sets")
    values = {f.name: getattr(obj, f.name) for f in specs if f.init}
    values.update(changes)
    return type(obj)(**values)


# --- making the class -------------------------------------------------------------------


def _own_fields(cls: type) -> list[Field]:
    specs = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if "ClassVar" in str(annotation):
            continue
        value = cls.__dict__.get(name, _MISSING)
        spec = value if isinstance(value, Field) else Field(value, _MISSING, True, True, True)
        spec.name = name
        specs.append(spec)
    return specs


def _collect(cls: type) -> list[Field]:
    """Fields of the bases (records) first, then the class's own; a field
    written again replaces the inherited one in its place."""
    ordered: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for spec in getattr(base, "__record_fields__", ()):
            ordered[spec.name] = spec
    for spec in _own_fields(cls):
        ordered[spec.name] = spec
    return list(ordered.values())


def _init_source(specs: list[Field], frozen: bool, post_init: bool) -> tuple[str, dict[str, Any]]:
    params, body = ["self"], []
    scope: dict[str, Any] = {"_MISSING": _MISSING, "_setattr": object.__setattr__}
    seen_default = False
    for spec in specs:
        name = spec.name
        if spec.default_factory is not _MISSING:
            scope[f"_factory_{name}"] = spec.default_factory
            value = f"_factory_{name}()"
            if spec.init:
                params.append(f"{name}=_MISSING")
                value = f"{value} if {name} is _MISSING else {name}"
            seen_default = True
        elif spec.init:
            if spec.default is not _MISSING:
                scope[f"_default_{name}"] = spec.default
                params.append(f"{name}=_default_{name}")
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default field {name!r} follows a field with a default")
            else:
                params.append(name)
            value = name
        elif spec.default is not _MISSING:
            scope[f"_default_{name}"] = spec.default
            value = f"_default_{name}"
        else:
            continue
        body.append(f"_setattr(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if post_init:
        body.append("self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    return source, scope


def _process(cls: type[T], *, frozen: bool, slots: bool, eq: bool, with_repr: bool) -> type[T]:
    specs = _collect(cls)
    if slots:
        cls = _with_slots(cls, [s.name for s in specs])
    source, scope = _init_source(specs, frozen, hasattr(cls, "__post_init__"))
    exec(source, scope)  # noqa: S102 - our own generated __init__, as dataclasses does
    init = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    cls.__record_fields__ = tuple(specs)  # type: ignore[attr-defined]
    cls.__record_compared__ = tuple(s.name for s in specs if s.compare)  # type: ignore[attr-defined]
    for spec in specs:  # a class attribute holding field() would shadow nothing useful
        if isinstance(cls.__dict__.get(spec.name), Field):
            if spec.default is _MISSING:
                delattr(cls, spec.name)
            else:
                setattr(cls, spec.name, spec.default)
    if with_repr and "__repr__" not in cls.__dict__:
        cls.__repr__ = _repr  # type: ignore[method-assign]
    if eq and "__eq__" not in cls.__dict__:
        cls.__eq__ = _eq  # type: ignore[method-assign]
        if "__hash__" not in cls.__dict__:
            cls.__hash__ = _hash if frozen else None  # type: ignore[method-assign,assignment]
    if frozen:
        cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
        cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
    return cls


def _with_slots(cls: type[T], names: list[str]) -> type[T]:
    """The class made again with ``__slots__`` (defaults live in ``__init__``)."""
    namespace = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    inherited = {n for base in cls.__mro__[1:] for n in getattr(base, "__slots__", ())}
    namespace["__slots__"] = tuple(n for n in names if n not in inherited)
    metaclass: Any = type(cls)
    made = metaclass(cls.__name__, cls.__bases__, namespace)
    made.__qualname__ = cls.__qualname__
    return made


def _repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in type(self).__record_fields__ if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _values(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in type(self).__record_compared__)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _values(self) == _values(other)


def _hash(self: Any) -> int:
    return hash(_values(self))


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen {type(self).__name__}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen {type(self).__name__}")
