"""Deterministic per-row randomness: a pure function of (seed, object, index)."""

from __future__ import annotations

import hashlib

MASK64 = (1 << 64) - 1


def base(seed: int, name: str) -> int:
    """A 64-bit starting point for one (seed, name) stream; stable across processes."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def mix(x: int) -> int:
    """splitmix64 finaliser: a well-spread 64-bit value for consecutive inputs."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def permute64(i: int, salt: int) -> int:
    """A bijection on 64-bit integers, so ids derived from distinct indexes never collide."""
    return ((i ^ salt) * 0x9E3779B97F4A7C15 + salt) & MASK64


def permute32(i: int, salt: int) -> int:
    """A bijection on 32-bit integers (for short voucher codes)."""
    return ((i ^ (salt & 0xFFFFFFFF)) * 0x2545F491 + (salt >> 32)) & 0xFFFFFFFF
