"""Hashes shared with the snippet, which must compute the same numbers in JavaScript."""


def fnv1a32(data: bytes) -> int:
    """FNV-1a, 32 bit: tiny in JavaScript, stable across processes (unlike Python's hash())."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h


def unit_hash(text: str) -> float:
    """A stable number in [0, 1) for a text: FNV-1a over its UTF-8, then MurmurHash3's finalizer.

    The finalizer matters: raw FNV-1a of ids that differ only in their last characters ("v1", "v2",
    …) lands in a few narrow bands, so a 30% share could hold 1 visitor in 150.
    """
    h = fnv1a32(text.encode())
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h / 2**32
