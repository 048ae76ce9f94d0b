"""What a user sees through `meltano run`: bad settings named before anything is loaded."""

from __future__ import annotations

import pytest

from voucherify_emulator import Emulator

from .conftest import MeltanoProject
from .support import TAP, Postgres, configure_tap

pytestmark = pytest.mark.e2e


def test_meltano_run_with_bad_settings_names_each_and_loads_nothing(
    meltano_project: MeltanoProject, postgres_dsn: str
) -> None:
    with Emulator(seed=3, rows={"voucher": 20}, job_latency_seconds=0.05) as emu:
        configure_tap(meltano_project, emu, end_date="2019-06-01", window_days=0, api_url="us-1")
        result = meltano_project.run("run", TAP, "target-postgres", check=False)
        requests = emu.requests
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for line in (
        # (meltano itself reads a start_date of "yesterday" as a date: not a tap error there)
        "Setting `end_date` must be later than `start_date`; got end_date '2019-06-01",
        "Setting `window_days` must be at least 1; got 0.",
        "or a region name (eu, us1, as1); got 'us-1'.",
        "Config validation failed: nothing was synced.",
    ):
        assert line in output, output
    assert "Traceback" not in output
    assert requests == []
    tables = Postgres(postgres_dsn, meltano_project.target_postgres_schema).query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (meltano_project.target_postgres_schema,),
    )
    assert tables == []
