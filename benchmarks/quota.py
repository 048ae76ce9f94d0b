"""Part 4 of `make bench`: what a sync costs the project's API quota, before and after the rate
gate, list polling and backfill windows (issue 13).

"Before" is the tap as of BEFORE_REF, the last commit without them, taken from git into the
bench's work directory and run with PYTHONPATH pointing at it; "after" is the installed tap. Both
run as subprocesses over real HTTP against one emulator each, with the same catalog, and the
emulator's recorded requests are counted (api and download origins: what Voucherify counts).

4a. A 4-year first-run backfill of the five windowed streams (vouchers, redemptions,
    publications, customers, orders), every setting at its default, the emulator reporting
    Business's 100 a minute without enforcing it: calls by kind, jobs, wall time.
4b. The issue's measurement: 14 jobs over two streams, max_concurrent_exports 5, against an
    emulator that enforces 30 requests a minute with Voucherify's headers and 429s: the 429s
    received, the most calls in any 60 s, total calls.
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voucherify_emulator import Emulator

BEFORE_REF = "3b60bb3"  # main just before the rate gate landed (e5d28e2)
ROOT = Path(__file__).resolve().parents[1]
BACKFILL_STREAMS = ("vouchers", "redemptions", "publications", "customers", "orders")
BACKFILL_LATENCY = 2.0
LIMITED_STREAMS = ("vouchers", "customers")
LIMITED_LATENCY = 3.0


def extract_before(workdir: Path) -> Path | None:
    """The tap package at BEFORE_REF under `workdir`, or None without git history."""
    target = workdir / "before"
    target.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BEFORE_REF, "tap_voucherify_exports"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def kind_of(request: Any) -> str:
    if request.origin == "download":
        return "download"
    if request.path.startswith("/v1/oauth/"):
        return "token"
    if request.method == "POST":
        return "create"
    if request.method == "DELETE":
        return "delete"
    return "list" if request.path.rstrip("/") == "/v1/exports" else "get"


def run_tap(
    label: str, config: dict[str, Any], catalog: str, workdir: Path, before: Path | None
) -> dict[str, Any]:
    """Run one sync; fail loudly unless it exits 0. Returns records and wall time."""
    config_file = workdir / f"quota-{label}.json"
    config_file.write_text(json.dumps(config), encoding="utf-8")
    env = dict(os.environ)
    if before is not None:
        env["PYTHONPATH"] = f"{before}{os.pathsep}{env.get('PYTHONPATH', '')}"
    stderr = workdir / f"quota-{label}.stderr"
    started = time.perf_counter()
    with open(stderr, "wb") as err:
        # cwd: `python -m` puts it first on sys.path, ahead of PYTHONPATH.
        done = subprocess.run(
            [sys.executable, "-m", "tap_voucherify_exports", "--config", str(config_file),
             "--catalog", catalog],
            stdout=subprocess.PIPE, stderr=err, env=env, check=False, cwd=workdir,
        )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = stderr.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"quota {label} failed (exit {done.returncode}):\n{tail}")
    records = done.stdout.count(b'"type":"RECORD"')
    return {"records": records, "wall_s": wall}


def counted(emu: Emulator) -> dict[str, Any]:
    calls = [r for r in emu.requests if r.origin in ("api", "download")]
    times = sorted(r.at for r in calls)
    busiest = max((bisect.bisect_left(times, t + 60) - n for n, t in enumerate(times)), default=0)
    return {
        "calls": len(calls),
        "kinds": Counter(kind_of(r) for r in calls),
        "rate_limited": sum(1 for r in calls if r.status == 429),
        "busiest_minute": busiest,
    }


def kinds_text(kinds: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def part_quota(
    workdir: Path,
    catalog: Callable[[tuple[str, ...]], str],
    log: Callable[[str], None],
    target: Callable[[str, str, bool | None], str],
    quick: bool,
) -> str:
    """Section 4 of the report."""
    before = extract_before(workdir)
    taps = [("before", before), ("after", None)] if before is not None else [("after", None)]
    rows = 100 if quick else 400
    years_end = "2022-01-01T00:00:00Z" if quick else "2025-01-01T00:00:00Z"
    backfill: dict[str, dict[str, Any]] = {}
    for label, path in taps:
        with Emulator(seed=7, rows=dict.fromkeys(("voucher", "redemption", "publication",
                      "customer", "order"), rows), job_latency_seconds=BACKFILL_LATENCY,
                      rate_limit_per_minute=100) as emu:  # fmt: skip
            log(f"quota: {label}: first-run backfill of {len(BACKFILL_STREAMS)} streams …")
            config = emu.tap_config(start_date="2021-01-01T00:00:00Z", end_date=years_end,
                                    poll_interval_max=None, window_days=None,
                                    max_requests_per_minute=None)  # fmt: skip
            run = run_tap(f"backfill-{label}", config, catalog(BACKFILL_STREAMS), workdir, path)
            backfill[label] = {**run, **counted(emu)}
            log(f"  {label}: {backfill[label]['calls']} calls, {run['wall_s']:.0f} s")

    limited: dict[str, dict[str, Any]] = {}
    for label, path in taps:
        with Emulator(seed=7, rows=dict.fromkeys(("voucher", "customer"), rows),
                      job_latency_seconds=LIMITED_LATENCY, rate_limit_per_minute=30,
                      enforce_rate_limit=True) as emu:  # fmt: skip
            log(f"quota: {label}: 14 jobs, 5 in flight, server limit 30/min …")
            config = emu.tap_config(start_date="2021-01-01T00:00:00Z",
                                    end_date="2025-01-01T00:00:00Z", window_days=209,
                                    backfill_window_days=209, max_concurrent_exports=5,
                                    poll_interval_max=None,
                                    max_requests_per_minute=None)  # fmt: skip
            run = run_tap(f"limited-{label}", config, catalog(LIMITED_STREAMS), workdir, path)
            limited[label] = {**run, **counted(emu)}
            log(f"  {label}: {limited[label]['rate_limited']} x 429, {run['wall_s']:.0f} s")

    after_b, after_l = backfill["after"], limited["after"]
    span = "1 year" if quick else "4 years"
    lines = [
        "## 4. API quota: calls per backfill, 429s under a 30/min limit",
        "",
        f"Before = the tap at `{BEFORE_REF}` (per-job polling, `window_days` windows on a first "
        "run, 429s retried per call); after = this tap, every setting at its default "
        f"(`max_requests_per_minute` 30, `backfill_window_days` 365). Emulator job latency "
        f"{BACKFILL_LATENCY:g} s (4a), {LIMITED_LATENCY:g} s (4b); calls counted by the emulator.",
        "",
        f"### 4a. First-run backfill, {span}, {', '.join(BACKFILL_STREAMS)}",
        "",
        "| tap | jobs | API calls | by kind | records | wall s |",
        "|---|--:|--:|---|--:|--:|",
    ]
    for label, r in backfill.items():
        lines.append(
            f"| {label} | {r['kinds']['create']} | {r['calls']} | {kinds_text(r['kinds'])} | "
            f"{r['records']:,} | {r['wall_s']:.0f} |"
        )
    lines += [
        "",
        "### 4b. 14 jobs over vouchers and customers, 5 in flight, server enforcing 30/min",
        "",
        "| tap | 429s | most calls in 60 s | API calls | by kind | records | wall s |",
        "|---|--:|--:|--:|---|--:|--:|",
    ]
    for label, r in limited.items():
        lines.append(
            f"| {label} | {r['rate_limited']} | {r['busiest_minute']} | {r['calls']} | "
            f"{kinds_text(r['kinds'])} | {r['records']:,} | {r['wall_s']:.0f} |"
        )
    lines.append("")
    if "before" in backfill:
        ratio = backfill["before"]["calls"] / after_b["calls"]
        lines.append(
            f"- backfill: {backfill['before']['calls']} → {after_b['calls']} calls, "
            f"**{ratio:.1f} x fewer** (target ≥ 5: "
            f"{target('backfill calls before / after ≥ 5', f'{ratio:.1f}', ratio >= 5)})."
        )
    lines.append(
        f"- under 30/min: {after_l['rate_limited']} x 429 and at most {after_l['busiest_minute']} "
        f"calls in any 60 s (target 0 and ≤ 30: "
        f"{target('429s under a 30/min limit = 0, ≤ 30 calls in any 60 s', str(after_l['rate_limited']), after_l['rate_limited'] == 0 and after_l['busiest_minute'] <= 30)})."  # noqa: E501
    )
    return "\n".join(lines)
