"""The repository's meltano project run by the end-to-end tests, isolated per test.

`install_plugins` installs every plugin in meltano.yml once into the repository's ``.meltano/``
(shared with ``make demo``); `make_meltano_project` gives a test its own ``.meltano`` directory
(system database, hence meltano state; run configs; logs), PostgreSQL schema, DuckDB file and
JSONL folder, with the plugin venvs linked in. tests/e2e/conftest.py wraps both in fixtures.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.ci import unavailable
from tests.support.postgres import PostgresSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_SYS_DIR = REPO_ROOT / ".meltano"
PLUGIN_TYPE_DIRS = ("extractors", "loaders", "utilities")
MELTANO_ENVIRONMENT = "dev"
INSTALL_TIMEOUT_SECONDS = 900
RUN_TIMEOUT_SECONDS = 600
TAP_EXECUTABLE = "tap-voucherify-exports"
# Variables from the developer's shell that would leak into the isolated project's settings.
ISOLATED_ENV_PREFIXES = (
    "MELTANO_",
    "TAP_VOUCHERIFY_EXPORTS_",
    "TARGET_POSTGRES_",
    "TARGET_DUCKDB_",
    "TARGET_JSONL_",
    "TARGET_SNOWFLAKE_",
    "DBT_",
)


def meltano_executable() -> Path | None:
    """The meltano installed beside the running Python, if any."""
    candidate = Path(sys.executable).with_name("meltano")
    return candidate if candidate.exists() else None


def base_env() -> dict[str, str]:
    """This process's environment less the variables that would configure the project."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(ISOLATED_ENV_PREFIXES)
    }


def install_plugins(throwaway_dir: Path) -> Path:
    """Install every plugin in meltano.yml (`meltano install`); return the shared `.meltano`.

    Skips (fails under CI) without meltano beside the running Python; `throwaway_dir` holds the
    install's system database, which keeps nothing worth keeping."""
    meltano = meltano_executable()
    if meltano is None:
        unavailable(f"meltano is not installed beside {sys.executable}; run `make install`")

    SHARED_SYS_DIR.mkdir(exist_ok=True)
    env = base_env() | {
        "MELTANO_PROJECT_ROOT": str(REPO_ROOT),
        # The install writes nothing worth keeping to the system database: use a throwaway one.
        "MELTANO_DATABASE_URI": f"sqlite:///{throwaway_dir}/db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    }
    # Each pytest-xdist worker that runs an e2e test reaches this session fixture: one installer
    # at a time, and once one has installed for this run (the stamp names the run's xdist id),
    # the others use its install rather than each spending seconds of CPU on a `meltano install`
    # that finds nothing to do. Without xdist there is no run id, and it installs as before.
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    stamp = SHARED_SYS_DIR / ".e2e-installed-by"
    with (SHARED_SYS_DIR / ".e2e-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if run_id is not None and stamp.exists() and stamp.read_text() == run_id:
            return SHARED_SYS_DIR
        stamp.unlink(missing_ok=True)
        result = subprocess.run(
            [str(meltano), "install"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode == 0 and run_id is not None:
            stamp.write_text(run_id)
    if result.returncode != 0:
        pytest.fail(f"meltano install failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    return SHARED_SYS_DIR


@dataclass
class MeltanoProject:
    """The repository's meltano project, with per-test state and destinations.

    `env` is the complete environment every `run` gets; tests may add to it, though
    `set_config` is the usual way to change a plugin setting.
    """

    meltano: Path
    root: Path
    sys_dir: Path
    target_postgres_schema: str
    duckdb_path: Path
    jsonl_dir: Path
    dbt_target_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def dbt_postgres_schema(self) -> str:
        """Where dbt-postgres builds the models: beside the loaded schema, dropped with it."""
        return f"{self.target_postgres_schema}_analytics"

    def set_config(self, plugin: str, **settings: object) -> None:
        """Set plugin settings through meltano's env vars (`TAP_VOUCHERIFY_EXPORTS_API_URL`...).

        Booleans become ``true``/``false``, dicts and lists JSON, anything else `str`.
        """
        prefix = plugin.upper().replace("-", "_")
        for name, value in settings.items():
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, dict | list):
                text = json.dumps(value)
            else:
                text = str(value)
            self.env[f"{prefix}_{name.upper()}"] = text

    def run(
        self,
        *args: str,
        input_text: str | None = None,
        check: bool = True,
        timeout: float = RUN_TIMEOUT_SECONDS,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``meltano *args`` in the project, `input_text` on its stdin.

        With `check`, a non-zero exit fails the test, showing meltano's stdout and stderr.
        """
        result = subprocess.run(
            [str(self.meltano), *args],
            cwd=self.root,
            env=self.env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"meltano {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
                pytrace=False,
            )
        return result

    def start(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start ``meltano *args`` in the project, its stdout and stderr into `log`; for a run
        the test stops halfway (`kill_tap_when`)."""
        with log.open("wb") as out:
            return subprocess.Popen(
                [str(self.meltano), *args],
                cwd=self.root, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @staticmethod
    def state_id(extractor: str = "tap-voucherify-exports", loader: str = "target-postgres") -> str:
        """The state ID `meltano run EXTRACTOR LOADER` uses in the dev environment."""
        return f"{MELTANO_ENVIRONMENT}:{extractor}-to-{loader}"

    def state(self, state_id: str | None = None) -> dict[str, object]:
        """The stored state for `state_id` (default: the tap into target-postgres); {} if none
        (meltano 4.4 prints `{}` for a state ID it does not know: one call, no `state list`)."""
        stored: dict[str, object] = json.loads(
            self.run("state", "get", state_id or self.state_id()).stdout
        )
        return stored

    def singer_state(self, state_id: str | None = None) -> dict[str, Any]:
        """The singer state (`bookmarks`, …) in the stored state for `state_id`; {} if none."""
        stored = self.state(state_id)
        singer = stored.get("singer_state", {})
        assert isinstance(singer, dict), stored
        return singer


def make_meltano_project(meltano_plugins: Path, tmp_path: Path) -> MeltanoProject:
    """What `meltano_project` returns, in `tmp_path`: for fixtures of a wider scope (a module
    whose tests all read one sync) that cannot request the function-scoped fixture."""
    meltano = meltano_executable()
    assert meltano is not None  # meltano_plugins skipped or failed otherwise

    sys_dir = tmp_path / ".meltano"
    sys_dir.mkdir()
    for plugin_type in PLUGIN_TYPE_DIRS:
        (sys_dir / plugin_type).symlink_to(meltano_plugins / plugin_type, target_is_directory=True)

    settings = PostgresSettings.from_env()
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    project = MeltanoProject(
        meltano=meltano,
        root=REPO_ROOT,
        sys_dir=sys_dir,
        target_postgres_schema=schema,
        duckdb_path=tmp_path / "output" / "e2e.duckdb",
        jsonl_dir=tmp_path / "output" / "jsonl",
        dbt_target_dir=tmp_path / "dbt" / "target",
    )
    project.jsonl_dir.mkdir(parents=True)
    project.env = base_env() | {
        "MELTANO_PROJECT_ROOT": str(REPO_ROOT),
        "MELTANO_SYS_DIR_ROOT": str(sys_dir),
        "MELTANO_ENVIRONMENT": MELTANO_ENVIRONMENT,
        "MELTANO_DATABASE_URI": f"sqlite:///{sys_dir}/meltano.db",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        # Installed once by meltano_plugins; a missing plugin is an error, not a silent install.
        "MELTANO_AUTO_INSTALL": "false",
    }
    project.set_config(
        "target-postgres",
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password,
        database=settings.database,
        default_target_schema=schema,
    )
    project.set_config("target-duckdb", path=project.duckdb_path)
    project.set_config("target-jsonl", destination_path=project.jsonl_dir)
    # The dbt utilities (transform/); DBT_SOURCE_SCHEMA (default `voucherify`, target-duckdb's
    # schema) names the schema they read.
    project.set_config("dbt-duckdb", path=project.duckdb_path)
    project.set_config(
        "dbt-postgres",
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password,
        dbname=settings.database,
        schema=project.dbt_postgres_schema,
        # Its Hub definition sets DBT_TARGET_PATH itself (under .meltano/); the others read it
        # from the environment below.
        target_path=project.dbt_target_dir,
    )
    project.env |= {
        "DBT_TARGET_PATH": str(project.dbt_target_dir),
        "DBT_LOG_PATH": str(tmp_path / "dbt" / "logs"),
    }
    return project


def tap_pid(meltano_pid: int) -> int | None:
    """The tap process meltano started (a child running TAP_EXECUTABLE, not its `--discover`),
    if it is running."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        # The console script, run by its venv's Python (`python …/bin/tap-…`) or by itself.
        names = {Path(os.fsdecode(part)).name for part in command[:2]}
        if parent == meltano_pid and TAP_EXECUTABLE in names and b"--discover" not in command:
            return int(entry.name)
    return None


def kill_tap_when(
    process: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    timeout: float = RUN_TIMEOUT_SECONDS,
) -> None:
    """SIGKILL the tap under the `meltano run` `process` (what an OOM killer does to one process)
    once `ready()` holds and half a second has passed, then wait for meltano to end.

    Only the tap: meltano and the target go on, so the target, its input ended, loads what it
    was given and emits the last STATE it received, and meltano stores that state, as it does
    when a tap is killed in production. (Killing the whole process group would stop the target
    before it emits any state: singer-sdk targets emit STATE only when they drain every sink.)
    """
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, "meltano ended before the tap got there"
        assert time.monotonic() < deadline, "the tap never got there"
        time.sleep(0.05)
    time.sleep(0.5)
    pid = tap_pid(process.pid)
    assert pid is not None, "no tap process under meltano"
    os.kill(pid, signal.SIGKILL)
    process.wait(timeout=timeout)
