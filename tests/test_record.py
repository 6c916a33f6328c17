"""migrata._record: the plain data classes every command builds."""

from __future__ import annotations

import dataclasses

import pytest

from migrata._record import FrozenInstanceError, asdict, field, fields, record, replace


@record
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", repr=False, compare=False)
    hidden: int = field(default=7, init=False)


@record(frozen=True)
class Key:
    a: int
    b: str = "b"


@record(slots=True)
class Slim:
    a: int
    b: int | None = None


@record
class Child(Point):
    z: int = 3

    def __post_init__(self) -> None:
        self.tags.append("made")


@dataclasses.dataclass
class Elsewhere:
    p: Point


def test_init_defaults_factories_and_order() -> None:
    p = Point(1)
    assert (p.x, p.y, p.tags, p.note, p.hidden) == (1, 0, [], "", 7)
    assert Point(1).tags is not p.tags  # a new list each time
    assert Point(1, 2, ["t"], note="n").tags == ["t"]
    with pytest.raises(TypeError):
        Point(1, hidden=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    assert [f.name for f in fields(Point)] == ["x", "y", "tags", "note", "hidden"]


def test_repr_and_eq_follow_the_field_options() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[], hidden=7)"
    assert Point(1, note="a") == Point(1, note="b")  # note does not compare
    assert Point(1) != Point(2)
    assert Point(1).__eq__(Key(1)) is NotImplemented
    with pytest.raises(TypeError):
        hash(Point(1))  # mutable with __eq__: unhashable, as dataclasses


def test_frozen_records_refuse_assignment_and_hash() -> None:
    k = Key(1)
    with pytest.raises(FrozenInstanceError):
        k.a = 2  # type: ignore[misc]
    assert hash(k) == hash(Key(1)) and {k, Key(1)} == {k}


def test_slots_leave_no_instance_dict() -> None:
    s = Slim(1)
    assert not hasattr(s, "__dict__") and Slim.__slots__ == ("a", "b")
    assert (s.a, s.b) == (1, None) and s == Slim(1)


def test_inheritance_and_post_init() -> None:
    c = Child(1, z=5)
    assert [f.name for f in fields(c)] == ["x", "y", "tags", "note", "hidden", "z"]
    assert c.tags == ["made"] and c.z == 5


def test_asdict_and_replace() -> None:
    p = Point(1, 2, ["t"])
    assert asdict(p) == {"x": 1, "y": 2, "tags": ["t"], "note": "", "hidden": 7}
    assert asdict({"k": [Key(1)], "t": (Key(2),)}) == {"k": [{"a": 1, "b": "b"}], "t": ({"a": 2, "b": "b"},)}
    assert asdict(Elsewhere(p)) == {"p": p}  # dataclasses.asdict leaves a record as it is
    q = replace(p, y=5)
    assert (q.x, q.y, q.tags) == (1, 5, ["t"]) and q is not p
    with pytest.raises(TypeError):
        replace(p, hidden=1)
