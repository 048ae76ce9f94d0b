"""The installed `tap-voucherify-exports` run as a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.sync import catalog_for

TAP = Path(sys.executable).with_name("tap-voucherify-exports")
RUN_TIMEOUT_SECONDS = 300
WAIT_SECONDS = 120


def patched_tap(module: str, **constants: float) -> list[str]:
    """The tap's CLI, the same entry point as TAP, with module constants set first: for lines a
    run says only after long waits (a 10-minute-old download URL), which no setting shortens
    and a test should not wait for. E.g. `patched_tap("tap_voucherify_exports.jobs.download",
    RESULT_URL_MAX_AGE_SECONDS=1.0)`."""
    assignments = "".join(f"module.{name} = {value!r}; " for name, value in constants.items())
    return [
        sys.executable,
        "-c",
        f"import importlib; module = importlib.import_module({module!r}); {assignments}"
        "from tap_voucherify_exports.tap import TapVoucherifyExports; TapVoucherifyExports.cli()",
    ]


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


class TapRun:
    """One CLI run: config, catalog and state files in `workdir`, stdout and stderr to files."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        config: dict[str, Any],
        streams: set[str],
        state: dict[str, Any] | None = None,
    ) -> None:
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        paths = {kind: workdir / f"{name}.{kind}.json" for kind in ("config", "catalog", "state")}
        paths["config"].write_text(json.dumps(config))
        paths["catalog"].write_text(json.dumps(catalog_for(config, streams)))
        args = [str(TAP), "--config", str(paths["config"]), "--catalog", str(paths["catalog"])]
        if state is not None:
            paths["state"].write_text(json.dumps(state))
            args += ["--state", str(paths["state"])]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(args, stdout=out, stderr=err)

    def kill_when(self, ready: Any) -> None:
        """SIGKILL the run once `ready()` holds (it must hold before the run ends)."""
        wait_for(ready, "the run never got there", self)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)

    def finish(self) -> int:
        return self.process.wait(timeout=WAIT_SECONDS)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def messages(self) -> list[dict[str, Any]]:
        """Every message on stdout, in order; a killed run's partial last line left out."""
        complete = self.out.read_bytes().rpartition(b"\n")[0]
        return [json.loads(line) for line in complete.split(b"\n") if line.strip()]

    def states(self) -> list[dict[str, Any]]:
        """Every STATE on stdout, in order; a killed run's partial last line left out."""
        return [m["value"] for m in self.messages() if m["type"] == "STATE"]


def wait_for(ready: Callable[[], bool], never: str, run: TapRun | None = None) -> None:
    """Return once `ready()` holds; fail with `never` after WAIT_SECONDS, or at once when `run`
    ends first (its stderr's end quoted)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready():
        if run is not None:
            assert run.process.poll() is None, f"the run ended first:\n{run.stderr()[-3000:]}"
        assert time.monotonic() < deadline, never
        time.sleep(0.02)
