"""Settings of long jobs: one frozen dataclass per job, and one way to write it as JSON and read it back.

Every method's long job takes one frozen dataclass of settings with a ``check()`` that raises
``ValueError`` naming the first bad value. Its record (:func:`to_record`) is what the job stores
beside its results and what a stopped job is resumed from (:func:`from_record`): tuples become lists
and back, fields named in ``omit`` (a device, say) stay out of the record, fields a newer version
added take their defaults, and keys a record has but the class lacks are ignored.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

S = TypeVar("S")


def to_record(settings: Any, omit: Iterable[str] = ()) -> dict[str, Any]:
    """The settings as a JSON-able dict: tuples as lists, ``omit`` left out."""
    left_out = set(omit)
    return {
        f.name: _plain(getattr(settings, f.name)) for f in dataclasses.fields(settings) if f.name not in left_out
    }


def from_record(cls: type[S], record: dict[str, Any]) -> S:
    """The ``cls`` settings :func:`to_record` wrote (lists back to tuples where the field is a tuple)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in record:
            continue
        value = record[f.name]
        if isinstance(value, list) and _is_tuple(hints.get(f.name)):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _is_tuple(hint: Any) -> bool:
    if hint is None:
        return False
    if typing.get_origin(hint) is tuple or hint is tuple:
        return True
    return any(_is_tuple(arg) for arg in typing.get_args(hint) if arg is not type(None))
