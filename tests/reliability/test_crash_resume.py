"""Crash and resume: tests/reliability/crash_resume.py SIGKILLs the tap 5 times at random points
(seeded) and resumes each time from the last complete STATE; no ground-truth row may be missing
and no bookmark may go back. The 20-kill run is
`python -m tests.reliability.crash_resume --kills 20 --seed 1`, from the repository root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_at_random_points_then_resume_loses_no_row_and_never_moves_a_bookmark_back():
    run = subprocess.run(
        [sys.executable, "-m", "tests.reliability.crash_resume", "--kills", "5", "--seed", "7",
         "--json"],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode in (0, 1), run.stderr[-3000:]
    summary = json.loads(run.stdout)
    assert summary["problems"] == []
    assert summary["ok"]
    assert summary["completed"]
    assert summary["kills"] == 5
    assert summary["bookmarks_monotonic"]
    for stream, counts in summary["streams"].items():
        assert counts["missing"] == 0, stream
        assert counts["committed_unique"] == counts["ground_truth"], stream
    assert summary["state_messages"] > summary["windows_per_full_sync"]
