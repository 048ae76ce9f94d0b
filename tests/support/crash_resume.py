"""Crash and resume: SIGKILL the tap at random points, resume from what a target would have kept.

Against a local emulator (six streams, nine 180-day windows each, 0.2 s job latency, ~20,000
rows) the tap runs as a subprocess, `tap-voucherify-exports --config C --catalog K --state S`,
its stdout going to a file, and is killed with SIGKILL after a random delay (fixed seed). Each
next run resumes from the last STATE line fully written to the previous run's output — what a
target would have persisted, since a target commits state only after the records before it —
until a run completes. Then:

- every row of the emulator's ground truth (per stream, by primary key) is among the records a
  target would have committed: those before the last complete STATE of each killed run, and all
  of the completed run;
- no committed record has a key the ground truth lacks;
- across the whole sequence of STATE messages (every run, in order), no bookmark went back,
  neither the creation bookmark nor the change bookmark of vouchers, customers and orders;
- duplicates re-emitted after a kill are counted (allowed: targets upsert on the primary key).

With `--updates N` the sync runs up to now (no end_date) and after every kill N rows of each of
vouchers, customers and orders change and N rows are added to every object, as happens between
two runs on a live project. Then, in addition, the last committed record of every row of a
changing stream carries its current `updated_at` (what an upserting target holds is current).

    python -m tests.support.crash_resume --kills 20 --seed 1    # from the repository root
    python -m tests.support.crash_resume --kills 20 --seed 1 --updates 25

Exit status 0 when every check holds; `--json` prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tap_voucherify_exports.export_stream import CHANGES_STATE_KEY
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.ground_truth import key_of, truth_keys
from tests.support.sync import STREAM_OBJECTS
from voucherify_emulator import Emulator

ROWS = {"voucher": 12000, "redemption": 4000, "publication": 1500, "customer": 2000,
        "order": 1000, "points_expiration": 200, "voucher_transactions": 1500}  # fmt: skip
# Streams whose rows change (exported again when updated); the rest only grow.
CHANGING = {"vouchers": "voucher", "customers": "customer", "orders": "order"}


def tap_command() -> list[str]:
    """The tap's console script beside this Python, else `python -m`."""
    script = Path(sys.executable).with_name("tap-voucherify-exports")
    if script.exists():
        return [str(script)]
    found = shutil.which("tap-voucherify-exports")
    return [found] if found else [sys.executable, "-m", "tap_voucherify_exports"]


def catalog(config: dict[str, Any]) -> dict[str, Any]:
    """Every stream selected, every column."""
    result = TapVoucherifyExports(config=config).catalog_dict
    for stream in result["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = True
    return result


def read_output(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """Complete messages in a run's stdout (a killed run may end mid-line); and whether a
    partial last line was dropped."""
    data = path.read_bytes()
    complete, _, tail = data.rpartition(b"\n")
    messages = [json.loads(line) for line in complete.split(b"\n") if line.strip()]
    return messages, bool(tail.strip())


def committed(messages: list[dict[str, Any]], completed: bool) -> list[dict[str, Any]]:
    """What a target keeps: everything of a completed run, else what precedes the last STATE."""
    if completed:
        return messages
    last_state = max((n for n, m in enumerate(messages) if m["type"] == "STATE"), default=-1)
    return messages[: last_state + 1]


def landing(  # noqa: PLR0917
    emu: Emulator,
    requests_before: int,
    exports_before: int,
    stderr: str,
    messages: list[dict[str, Any]],
    partial: bool,
    statuses: dict[str, str],
) -> str:
    """Where a kill landed, from the emulator's view of this run and the tap's own log.

    Only the main thread downloads, one export at a time, in output order, and logs
    "... rows from exp_..." once a window's rows are all written; worker threads create and
    poll the next exports ahead of it.
    """
    requests = emu.requests[requests_before:]
    if not requests:
        return "start-up (no request yet)"
    downloaded = {r.path.rsplit("/", 1)[-1] for r in requests if r.origin == "download"}
    windows_done = stderr.count(" rows from exp_")
    if len(downloaded) > windows_done:
        last_state = max((n for n, m in enumerate(messages) if m["type"] == "STATE"), default=-1)
        if partial or any(m["type"] == "RECORD" for m in messages[last_state + 1 :]):
            return "mid-CSV (a window's records on stdout, its STATE not yet)"
        return "download (body streaming, rows not yet on stdout)"
    pending = [job for job in emu.exports[exports_before:] if job.id not in downloaded]
    if not pending:
        return "create (next export not created yet)"
    status = statuses.get(pending[0].id, "unknown")
    if status == "DONE":
        return "poll (next export DONE on the server, the tap's next poll not made yet)"
    return f"poll (next export {status} on the server)"


def run_once(  # noqa: PLR0917
    emu: Emulator,
    command: list[str],
    workdir: Path,
    index: int,
    state: dict[str, Any] | None,
    kill_after: float | None,
    statuses: dict[str, str],
) -> tuple[Path, bool, float, float | None]:
    """One tap run. Returns its stdout file, whether it completed, its wall time, and when its
    first request reached the emulator (seconds after the start); fills `statuses` with every
    export's status at the kill."""
    args = [*command, "--config", str(workdir / "config.json"),
            "--catalog", str(workdir / "catalog.json")]  # fmt: skip
    if state is not None:
        state_path = workdir / f"state-{index:03d}.json"
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    out_path = workdir / f"out-{index:03d}.jsonl"
    err_path = workdir / f"err-{index:03d}.log"
    seen = len(emu.requests)
    first_request = None
    started = time.monotonic()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(args, stdout=out, stderr=err)
        while process.poll() is None:
            elapsed = time.monotonic() - started
            if first_request is None and len(emu.requests) > seen:
                first_request = elapsed
            if kill_after is not None and elapsed >= kill_after:
                # What the emulator knows at the instant of the kill (statuses move with time).
                statuses.update((job.id, job.status) for job in emu.exports)
                process.send_signal(signal.SIGKILL)
                process.wait()
                return out_path, False, time.monotonic() - started, first_request
            time.sleep(0.002)
    if process.returncode != 0:
        tail = err_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"run {index} exited with {process.returncode}:\n{tail}")
    return out_path, True, time.monotonic() - started, first_request


def last_state(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


def cursors(state: dict[str, Any]) -> dict[str, str]:
    """Every bookmark of a STATE: `<stream>` (creation) and `<stream>/changes` (change)."""
    found = {}
    for stream, mark in state.get("bookmarks", {}).items():
        if mark.get("replication_key_value") is not None:
            found[stream] = mark["replication_key_value"]
        changes = (mark.get(CHANGES_STATE_KEY) or {}).get("replication_key_value")
        if changes is not None:
            found[f"{stream}/{CHANGES_STATE_KEY}"] = changes
    return found


def bookmark_regressions(states: list[dict[str, Any]]) -> list[str]:
    """Every place a bookmark went back (or vanished) in the sequence of STATEs."""
    problems = []
    latest: dict[str, dt.datetime] = {}
    for number, state in enumerate(states):
        marks = cursors(state)
        for cursor, previous in latest.items():
            value = marks.get(cursor)
            if value is None:
                problems.append(f"STATE {number}: {cursor} bookmark vanished")
            elif dt.datetime.fromisoformat(value) < previous:
                problems.append(f"STATE {number}: {cursor} went back to {value} from {previous}")
        for cursor, value in marks.items():
            moment = dt.datetime.fromisoformat(value)
            latest[cursor] = max(moment, latest.get(cursor, moment))
    return problems


def stale_rows(emu: Emulator, kept: list[dict[str, Any]], stream: str) -> int:
    """Rows whose last committed record does not carry their current `updated_at`."""
    last: dict[tuple[str, ...], Any] = {}
    for message in kept:
        if message["stream"] == stream:
            last[key_of(stream, message["record"])] = message["record"].get("updated_at")
    stale = 0
    for row in emu.ground_truth(CHANGING[stream]):
        current = row["updated_at"] or None
        got = last.get(key_of(stream, row))
        if (got is None) != (current is None) or (
            got is not None and parse_ts(got) != parse_ts(str(current))
        ):
            stale += 1
    return stale


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def check(
    emu: Emulator,
    kept: list[dict[str, Any]],
    written: list[dict[str, Any]],
    states: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[str]]:
    """Per-stream counts against the ground truth, and every problem found."""
    problems: list[str] = []
    streams = {}
    for stream in STREAM_OBJECTS:
        truth = set(truth_keys(emu, stream))
        got = Counter(key_of(stream, m["record"]) for m in kept if m["stream"] == stream)
        out = Counter(key_of(stream, m["record"]) for m in written if m["stream"] == stream)
        missing, extra = truth - set(got), set(out) - truth
        if missing:
            problems.append(f"{stream}: {len(missing)} ground-truth rows never committed")
        if extra:
            problems.append(f"{stream}: {len(extra)} emitted keys not in the ground truth")
        streams[stream] = {
            "ground_truth": len(truth), "committed_unique": len(set(got) & truth),
            "missing": len(missing), "duplicates_reemitted": sum(got.values()) - len(got),
            "duplicates_written": sum(out.values()) - len(out),
        }  # fmt: skip
        if stream in CHANGING:
            stale = stale_rows(emu, kept, stream)
            streams[stream]["stale"] = stale
            if stale:
                problems.append(f"{stream}: {stale} rows' last committed record is not current")
    problems += bookmark_regressions(states)
    return streams, problems


STARTUP_KILL_SHARE = 0.2
WINDOWED_STREAMS = [stream for stream in STREAM_OBJECTS if stream != "points_expirations"]


def progress(state: dict[str, Any] | None, config: dict[str, Any]) -> float:
    """Share of the whole sync behind the bookmarks of `state` (0 to 1)."""
    if not state:
        return 0.0
    start = parse_ts(config["start_date"])
    end = parse_ts(config["end_date"]) if "end_date" in config else dt.datetime.now(dt.timezone.utc)
    done = 0.0
    for stream in WINDOWED_STREAMS:
        mark = state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
        if mark:
            done += (dt.datetime.fromisoformat(mark) - start) / (end - start)
    return done / len(WINDOWED_STREAMS)


def kill_delay(rng: random.Random, startup: float, remaining: float, kills_left: int) -> float:
    """A kill during start-up now and then; otherwise uniform over twice an even share of the
    work still to do, so the kills left spread over it (a run may still finish first)."""
    if rng.random() < STARTUP_KILL_SHARE:
        return rng.uniform(0.3, startup)
    return startup + rng.uniform(0.05, 2 * max(0.3, remaining) / (kills_left + 1))


def crash_resume(
    kills: int, seed: int, workdir: Path, updates: int = 0, max_runs: int = 200
) -> dict[str, Any]:
    """Run the whole experiment; return the summary (with `ok` and `problems`)."""
    rng = random.Random(seed)
    command = tap_command()
    with Emulator(seed=seed, rows=ROWS, job_latency_seconds=0.2) as emu:
        # The same 180-day windows on the first run (no bookmark) as on every resumed one. With
        # updates, every run syncs up to its own start, as a scheduled sync does.
        end = {} if updates else {"end_date": "2025-01-02T00:00:00Z"}
        config = emu.tap_config(
            window_days=180, backfill_window_days=180, max_concurrent_exports=3, **end
        )
        (workdir / "config.json").write_text(json.dumps(config))
        (workdir / "catalog.json").write_text(json.dumps(catalog(config)))

        # A reference run, not counted: how long start-up and a whole sync take.
        reference, _, full_time, startup = run_once(emu, command, workdir, 0, None, None, {})
        windows = sum(1 for m in read_output(reference)[0] if m["type"] == "STATE")
        startup = startup or 1.0
        work = max(0.5, full_time - startup)
        emu.clear_requests()

        state: dict[str, Any] | None = None
        states: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        written: list[dict[str, Any]] = []
        landings: Counter[str] = Counter()
        runs: list[dict[str, Any]] = []
        while len(runs) < max_runs and not (runs and runs[-1]["completed"]):
            index = len(runs) + 1
            # Kills land from start-up (20 % of them) to well into the sync; a run may do on
            # average ~1.5/kills of the whole work before its kill, so about `kills` kills
            # happen before a run is let finish.
            delay = None
            if index <= kills:
                delay = kill_delay(rng, startup, work * (1 - progress(state, config)),
                                   kills - index + 1)  # fmt: skip
            seen, exports_seen = len(emu.requests), len(emu.exports)
            statuses: dict[str, str] = {}
            out_path, completed, took, _ = run_once(
                emu, command, workdir, index, state, delay, statuses
            )
            messages, partial = read_output(out_path)
            stderr = (workdir / f"err-{index:03d}.log").read_text(errors="replace")
            where = "completed" if completed else landing(
                emu, seen, exports_seen, stderr, messages, partial, statuses
            )  # fmt: skip
            if not completed:
                landings[where] += 1
            kept_here = [m for m in committed(messages, completed) if m["type"] == "RECORD"]
            kept += kept_here
            written += [m for m in messages if m["type"] == "RECORD"]
            states += [m["value"] for m in messages if m["type"] == "STATE"]
            state = last_state(messages) or state
            if updates and not completed:
                # Between two runs the project lives on: rows change and new rows arrive.
                for exported_object in CHANGING.values():
                    emu.update_rows(exported_object, updates)
                for exported_object in ROWS:
                    emu.add_rows(exported_object, updates)
            runs.append({"run": index, "killed_after": delay, "completed": completed,
                         "seconds": round(took, 2), "landed": where,
                         "records_written": sum(m["type"] == "RECORD" for m in messages),
                         "records_kept": len(kept_here)})  # fmt: skip
        streams, problems = check(emu, kept, written, states)
    done = bool(runs) and runs[-1]["completed"]
    if not done:
        problems.insert(0, f"no run completed within {max_runs} runs")
    return {
        "seed": seed, "kills_asked": kills, "updates_per_kill": updates,
        "kills": sum(not r["completed"] for r in runs),
        "runs": len(runs), "completed": done, "reference_run_seconds": round(full_time, 2),
        "startup_seconds": round(startup, 2), "windows_per_full_sync": windows,
        "state_messages": len(states), "bookmarks_monotonic": not bookmark_regressions(states),
        "kill_landings": dict(landings), "streams": streams,
        "records_committed": len(kept), "records_written": len(written),
        "problems": problems, "ok": not problems, "run_log": runs,
    }  # fmt: skip


def print_summary(summary: dict[str, Any]) -> None:
    print(
        f"crash/resume, seed {summary['seed']}: {summary['kills']} SIGKILLs over "
        f"{summary['runs']} runs, {summary['updates_per_kill']} rows changed and added per "
        f"object after each; last run completed: {summary['completed']}"
    )
    print(
        f"  reference full sync: {summary['reference_run_seconds']} s, "
        f"{summary['windows_per_full_sync']} STATE messages"
    )
    print("  kills landed (heuristic):")
    for where, count in sorted(summary["kill_landings"].items(), key=lambda kv: -kv[1]):
        print(f"    {count:3d}  {where}")
    print(
        f"  {'stream':<22}{'truth':>7}{'kept':>7}{'missing':>9}{'dups kept':>11}"
        f"{'dups written':>14}{'stale':>7}"
    )
    for stream, row in summary["streams"].items():
        print(
            f"  {stream:<22}{row['ground_truth']:>7}{row['committed_unique']:>7}"
            f"{row['missing']:>9}{row['duplicates_reemitted']:>11}"
            f"{row['duplicates_written']:>14}{row.get('stale', '-'):>7}"
        )
    print(
        "  (kept: records before a run's last complete STATE, what a target commits; written:"
        " every complete RECORD line)"
    )
    print(
        f"  STATE messages: {summary['state_messages']}; bookmarks never went back: "
        f"{summary['bookmarks_monotonic']}"
    )
    print(
        f"  records committed {summary['records_committed']} "
        f"(written {summary['records_written']}, incl. those after a run's last STATE)"
    )
    print("  OK" if summary["ok"] else "  FAILED:\n    " + "\n    ".join(summary["problems"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs before a run may finish")
    parser.add_argument(
        "--updates", type=int, default=0, help="rows changed and added per object after each kill"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of delays and emulator data")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--keep", metavar="DIR", help="keep configs, states and outputs in DIR")
    args = parser.parse_args(argv)
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
        summary = crash_resume(args.kills, args.seed, workdir, args.updates)
    else:
        with tempfile.TemporaryDirectory(prefix="crash-resume-") as tmp:
            summary = crash_resume(args.kills, args.seed, Path(tmp), args.updates)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
