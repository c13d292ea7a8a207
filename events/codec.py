"""Payload codec for the event log: deterministic msgpack, zstd when large.

Pure: no I/O, no clock. Identical data must give identical bytes (design §2.4), because the stored
bytes feed the log's CRC and hash chain and snapshot digests: msgpack packs a dict in iteration order,
so every dict is rebuilt with its keys sorted before packing.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack
import zstandard

FLAG_ZSTD = 0x1  # the stored bytes are a zstd frame around the msgpack form
KNOWN_FLAGS = FLAG_ZSTD
COMPRESS_THRESHOLD = 1024  # bytes of msgpack above which we try zstd
ZSTD_LEVEL = 1  # design §9: level 3 saves 0.3-3% more for 17-46% more CPU

# zstandard (de)compressor objects are not safe for concurrent use; one per thread is cheap.
_local = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    comp = getattr(_local, "comp", None)
    if comp is None:
        # write_content_size (default) lets decompress() size its output buffer in one shot.
        comp = _local.comp = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    return comp


def _decompressor() -> zstandard.ZstdDecompressor:
    dec = getattr(_local, "dec", None)
    if dec is None:
        dec = _local.dec = zstandard.ZstdDecompressor()
    return dec


def _key_order(key: Any) -> tuple[int, Any]:
    # Group keys by type first so mixed-type maps still sort deterministically (str < bytes < int).
    if isinstance(key, str):
        return (0, key)
    if isinstance(key, bytes):
        return (1, key)
    if isinstance(key, int) and not isinstance(key, bool):
        return (2, key)
    raise TypeError(f"map key {key!r} of type {type(key).__name__} is not allowed in an event payload")


_SCALARS = frozenset({str, int, float, bytes, bool, type(None)})  # packed as-is: no copy needed


def canonical(obj: Any) -> Any:
    """A copy of obj whose dicts (at any depth) iterate in sorted key order; tuples become lists."""
    if isinstance(obj, dict):
        # Fast path (the common case, and the hot loop of append): all keys are str.
        keys = sorted(obj) if all(type(k) is str for k in obj) else sorted(obj, key=_key_order)
        return {k: v if type(v) in _SCALARS else canonical(v) for k in keys for v in (obj[k],)}
    if isinstance(obj, (list, tuple)):
        return [v if type(v) in _SCALARS else canonical(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        # Set iteration order depends on hashing: refusing it keeps replay deterministic.
        raise TypeError("sets are not allowed in an event payload; use a sorted list")
    return obj


def pack(data: dict[Any, Any]) -> bytes:
    """The deterministic msgpack form of data (no compression)."""
    if not isinstance(data, dict):
        raise TypeError(f"event payload must be a dict, not {type(data).__name__}")
    return msgpack.packb(canonical(data), use_bin_type=True)


def encode(data: dict[Any, Any]) -> tuple[bytes, int]:
    """(stored bytes, flags) for data; zstd-compressed (FLAG_ZSTD) when the msgpack form exceeds 1 KiB."""
    raw = pack(data)
    if len(raw) > COMPRESS_THRESHOLD:
        packed = _compressor().compress(raw)
        # Incompressible payloads (already-compressed blobs, random ids) stay raw: smaller and faster to read.
        if len(packed) < len(raw):
            return packed, FLAG_ZSTD
    return raw, 0


def decode(blob: bytes, flags: int) -> dict[Any, Any]:
    """The dict that encode() turned into (blob, flags)."""
    if flags & ~KNOWN_FLAGS:
        raise ValueError(f"unknown payload flags {flags:#x}")
    raw = _decompressor().decompress(blob) if flags & FLAG_ZSTD else blob
    data = msgpack.unpackb(raw, raw=False, strict_map_key=False, use_list=True)
    if not isinstance(data, dict):
        raise ValueError(f"stored payload is a {type(data).__name__}, not a dict")
    return data
