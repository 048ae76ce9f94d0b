"""Run one command, count the Singer RECORD lines it writes, report time and peak memory.

    python benchmarks/measure.py [--stderr FILE] -- COMMAND [ARGS...]

Prints one JSON object: wall seconds (process start to exit), seconds to the first RECORD
line, seconds of streaming (first RECORD line to the last), the number of RECORD lines, the
child's user+system CPU seconds, and its peak RSS.

Peak RSS comes from `getrusage(RUSAGE_CHILDREN).ru_maxrss` after the child has been waited for.
This helper is a fresh process with exactly one child, so that maximum belongs to this run only
(exact, no sampling). A psutil sample every 20 ms is reported beside it as a cross-check.
The child's stdout is a pipe read here, like a target would read it; counting lines costs this
process CPU on another core, not the child.
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


def _sample_rss(pid: int, peak: list[int], done: threading.Event) -> None:
    try:
        process = psutil.Process(pid)
        while not done.wait(SAMPLE_SECONDS):
            peak[0] = max(peak[0], process.memory_info().rss)
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
    peak = [0]
    done = threading.Event()
    sampler = threading.Thread(target=_sample_rss, args=(child.pid, peak, done), daemon=True)
    sampler.start()
    records = 0
    lines = 0
    first = last = None
    batches = 0
    first_batch = last_batch = None
    assert child.stdout is not None
    for line in child.stdout:
        lines += 1
        if line.startswith(RECORD_PREFIXES):
            records += 1
            last = time.perf_counter()
            if first is None:
                first = last
        elif line.startswith(BATCH_PREFIXES):
            batches += 1
            last_batch = time.perf_counter()
            if first_batch is None:
                first_batch = last_batch
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
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
