"""Conversion between dataclasses and plain data (dicts, lists, scalars) that msgpack can encode.

Events and messages are plain data (design §2.6); the folded state uses dataclasses for readability.
These two functions are the only bridge, so a snapshot of the state is just `to_plain(state)`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


_SCALARS = (str, int, float, bool, bytes, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    names = _FIELD_NAMES.get(cls)
    if names is None and dataclasses.is_dataclass(cls):
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def to_plain(obj: Any) -> Any:
    # Hot on snapshots of a large state: scalars first, dataclass fields looked up once per type.
    if isinstance(obj, _SCALARS):
        return obj
    names = _field_names(type(obj))
    if names is not None:
        return {n: to_plain(getattr(obj, n)) for n in names}
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_plain(tp: Any, data: Any) -> Any:
    """Rebuild a value of type `tp` from plain data produced by `to_plain`."""
    if data is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return from_plain(args[0], data) if len(args) == 1 else data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        kwargs = {f.name: from_plain(hints[f.name], data[f.name]) for f in dataclasses.fields(tp) if f.name in data}
        return tp(**kwargs)
    if origin is dict:
        key_t, val_t = typing.get_args(tp)
        return {(int(k) if key_t is int else k): from_plain(val_t, v) for k, v in data.items()}
    if origin is list:
        (item_t,) = typing.get_args(tp)
        return [from_plain(item_t, v) for v in data]
    if origin is tuple:
        items = typing.get_args(tp)
        if len(items) == 2 and items[1] is Ellipsis:
            return tuple(from_plain(items[0], v) for v in data)
        return tuple(from_plain(a, v) for a, v in zip(items, data, strict=True))
    return data


def load(cls: type[T], data: Any) -> T:
    return typing.cast(T, from_plain(cls, data))
