"""Hashes shared with the snippet, which must compute the same numbers in JavaScript."""


def fnv1a32(data: bytes) -> int:
    """FNV-1a, 32 bit: tiny in JavaScript, stable across processes (unlike Python's hash())."""
    h = 2166136261
    for byte in data:
        h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
    return h
