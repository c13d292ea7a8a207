"""The payload codec: round trip, deterministic bytes, compression flag."""

from __future__ import annotations

import os

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import codec

scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=40) | st.binary(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=10), inner, max_size=6),
    max_leaves=40,
)
payloads = st.dictionaries(st.text(max_size=12), values, max_size=8)


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_round_trip_property(data: dict) -> None:
    blob, flags = codec.encode(data)
    assert codec.decode(blob, flags) == data


@settings(max_examples=50, deadline=None)
@given(payloads)
def test_bytes_do_not_depend_on_insertion_order(data: dict) -> None:
    def reversed_order(v):
        if isinstance(v, dict):
            return {k: reversed_order(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reversed_order(x) for x in v]
        return v

    assert codec.encode(reversed_order(data)) == codec.encode(data)


def test_nested_keys_are_packed_sorted() -> None:
    blob, flags = codec.encode({"b": 1, "a": {"z": 1, "y": [{"d": 1, "c": 2}]}})
    assert flags == 0
    # Unpack into ordered pairs to see the order in which the bytes list the keys.
    pairs = msgpack.unpackb(blob, object_pairs_hook=list)
    assert [k for k, _ in pairs] == ["a", "b"]
    inner = pairs[0][1]
    assert [k for k, _ in inner] == ["y", "z"]
    assert [k for k, _ in inner[0][1][0]] == ["c", "d"]


def test_small_payload_is_raw_msgpack() -> None:
    blob, flags = codec.encode({"x": "y" * 1000})
    assert len(codec.pack({"x": "y" * 1000})) <= codec.COMPRESS_THRESHOLD
    assert flags == 0
    assert blob == codec.pack({"x": "y" * 1000})


def test_large_payload_is_compressed() -> None:
    data = {"files": [{"name": f"f{i}", "md5": "0" * 32} for i in range(100)]}
    blob, flags = codec.encode(data)
    assert flags & codec.FLAG_ZSTD
    assert len(blob) < len(codec.pack(data))
    assert blob[:4] == b"\x28\xb5\x2f\xfd"  # zstd frame magic
    assert codec.decode(blob, flags) == data


def test_threshold_is_exclusive() -> None:
    # Find a payload whose msgpack form is exactly 1024 bytes: it must stay raw.
    data = {"x": "a" * 500}  # long enough that the str header (3 bytes) no longer changes size
    data["x"] = "a" * (codec.COMPRESS_THRESHOLD - (len(codec.pack(data)) - 500))
    assert len(codec.pack(data)) == codec.COMPRESS_THRESHOLD
    assert codec.encode(data)[1] == 0
    data["x"] += "a"
    assert codec.encode(data)[1] == codec.FLAG_ZSTD


def test_incompressible_large_payload_stays_raw() -> None:
    data = {"blob": os.urandom(4096)}
    blob, flags = codec.encode(data)
    assert flags == 0
    assert codec.decode(blob, flags) == data


def test_bytes_and_str_stay_distinct() -> None:
    data = {"s": "abc", "b": b"abc"}
    assert codec.decode(*codec.encode(data)) == data


def test_tuples_decode_as_lists() -> None:
    assert codec.decode(*codec.encode({"t": (1, 2)})) == {"t": [1, 2]}


@pytest.mark.parametrize("bad", [{"s": {1, 2}}, {1.5: "float key"}, {"o": object()}])
def test_unencodable_values_are_refused(bad: dict) -> None:
    with pytest.raises(TypeError):
        codec.encode(bad)


def test_non_dict_payload_is_refused() -> None:
    with pytest.raises(TypeError):
        codec.encode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        codec.decode(msgpack.packb([1, 2]), 0)


def test_unknown_flags_are_refused() -> None:
    blob, _ = codec.encode({"a": 1})
    with pytest.raises(ValueError, match="unknown payload flags"):
        codec.decode(blob, 0x80)
