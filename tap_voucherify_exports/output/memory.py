"""The process's memory allocator, tuned for reading exports."""

from __future__ import annotations

import ctypes
import ctypes.util

# glibc mallopt parameters (malloc.h), and the most a process keeps on its heap once freed.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 64 << 20


def keep_freed_memory() -> None:
    """Have glibc's malloc reuse freed large blocks instead of returning them to the system.

    Reading an export allocates blocks of up to megabytes again and again (64 KiB of text, a
    block's encoded lines; with `parallel_workers` a piece, its text and their pickles); past
    glibc's mmap threshold each is mapped anew and its pages fault in one by one. Measured on a
    million vouchers: 330k-580k page faults and 1-1.5 s of system time per process, against
    15k-20k and 0.25-0.8 s once freed blocks stay on the heap for reuse (the heap stays at its
    peak, a few such blocks). Elsewhere than glibc this does nothing.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES)
