"""The installed `tap-voucherify-exports` run as a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TAP = Path(sys.executable).with_name("tap-voucherify-exports")
RUN_TIMEOUT_SECONDS = 300


def run_tap(
    config: dict[str, Any],
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    tap: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the tap's CLI (`tap`, default TAP) on `config`; return exit status, stdout, stderr."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("TAP_VOUCHERIFY_EXPORTS_") and name != "LOGLEVEL"
    }
    return subprocess.run(
        [*(tap or [str(TAP)]), "--config", str(config_path), *args],
        env=environment | (env or {}),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    """The text of each ERROR log line."""
    return [line.split("| ", 3)[-1] for line in stderr.splitlines() if "| ERROR" in line]
