"""Run one command, count the Singer RECORD lines it writes, report time and peak memory.

    python benchmarks/measure.py [--stderr FILE] -- COMMAND [ARGS...]

Prints one JSON object: wall seconds (process start to exit), seconds to the first RECORD
line, seconds of streaming (first RECORD line to the last), the number of RECORD lines, the
child's user+system CPU seconds, and its peak RSS.

Peak RSS comes from `getrusage(RUSAGE_CHILDREN).ru_maxrss` after the child has been waited for.
This helper is a fresh process with exactly one child, so that maximum belongs to this run only
(exact, no sampling; with worker processes it is the largest single process). A psutil sample
every 20 ms is reported beside it as a cross-check, with the sum over the child and its
descendants (the whole process tree of `parallel_workers`). The child's stdout is a pipe read
here, like a target would read it, in 1 MiB blocks counted in C, so the counting takes little
CPU from the program measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time

import psutil

RECORD_PREFIXES = (b'{"type":"RECORD"', b'{"type": "RECORD"')
BATCH_PREFIXES = (b'{"type":"BATCH"', b'{"type": "BATCH"')
SAMPLE_SECONDS = 0.02
READ_BYTES = 1 << 20


def _sample_rss(pid: int, peak: list[int], tree: list[int], done: threading.Event) -> None:
    """Sample the child's RSS, and the sum over it and its descendants (`parallel_workers`)."""
    try:
        process = psutil.Process(pid)
        while not done.wait(SAMPLE_SECONDS):
            own = process.memory_info().rss
            peak[0] = max(peak[0], own)
            total = own
            for child in process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue  # ended between the listing and the sample
            tree[0] = max(tree[0], total)
    except psutil.Error:
        return


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stderr", default=None, help="file for the child's stderr")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    stderr = open(args.stderr, "wb") if args.stderr else subprocess.DEVNULL  # noqa: SIM115

    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, bufsize=1 << 20)
    peak, tree = [0], [0]
    done = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(child.pid, peak, tree, done), daemon=True)
    sampler.start()
    records = 0
    lines = 0
    first = last = None
    batches = 0
    first_batch = last_batch = None
    assert child.stdout is not None
    # Read in blocks and count line starts in C: a Python loop per line would take a share of
    # the CPU from the program measured (and from its workers, with parallel_workers). Times are
    # those of the block holding the first / last RECORD line (1 MiB: a few ms of output).
    carry = b""
    while block := child.stdout.read1(READ_BYTES):
        now = time.perf_counter()
        cut = block.rfind(b"\n") + 1
        whole, carry = b"\n" + carry + block[:cut], block[cut:] if cut else carry + block
        if not cut:
            continue
        lines += whole.count(b"\n") - 1
        found = sum(whole.count(b"\n" + prefix) for prefix in RECORD_PREFIXES)
        if found:
            records += found
            last = now
            first = now if first is None else first
        found = sum(whole.count(b"\n" + prefix) for prefix in BATCH_PREFIXES)
        if found:
            batches += found
            last_batch = now
            first_batch = now if first_batch is None else first_batch
    if carry:
        lines += 1
        if carry.startswith(RECORD_PREFIXES):
            records += 1
            last = time.perf_counter()
    returncode = child.wait()
    ended = time.perf_counter()
    done.set()
    sampler.join()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "returncode": returncode,
        "records": records,
        "lines": lines,
        "wall_s": ended - started,
        "first_record_s": None if first is None else first - started,
        "stream_s": None if first is None or last is None else last - first,
        # BATCH mode: files of `batch_size` rows each but the last; rows between the first
        # and the last BATCH line are (batches - 1) x batch_size.
        "batches": batches,
        "batch_stream_s": None
        if first_batch is None or last_batch is None
        else last_batch - first_batch,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,  # Linux: kilobytes
        "sampled_peak_rss_mib": peak[0] / (1 << 20),
        "sampled_tree_rss_mib": tree[0] / (1 << 20),
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
