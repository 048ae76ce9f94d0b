"""`Emulator`: the Python API tests use; it owns the dataset, the jobs and the three servers."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from types import TracebackType
from typing import Any

from voucherify_emulator import control
from voucherify_emulator.api import OBJECTS
from voucherify_emulator.config import Config
from voucherify_emulator.data import Dataset
from voucherify_emulator.faults import FaultRegistry, make_fault
from voucherify_emulator.jobs import ExportJob, JobStore
from voucherify_emulator.oauth import TokenStore
from voucherify_emulator.recording import RateCounter, RecordedRequest, Recorder, RequestHook
from voucherify_emulator.server import Backend, Server, make_handler
from voucherify_emulator.shapes import Shape
from voucherify_emulator.tapconfig import tap_config
from voucherify_emulator.timeline import iso_ms, parse_iso
from voucherify_emulator.trashbin import BinEntry, TrashBin, entry_id


class Emulator:
    """A local Voucherify Exports API: API origin, download origin and a foreign origin."""

    def __init__(
        self,
        *,
        seed: int = 7,
        rows: dict[str, int] | None = None,
        job_latency_seconds: float = 0.1,
        edges: str = "exclusive",
        bom: bool = False,
        crlf: bool = True,
        token_ttl_seconds: int = 900,
        max_rows_per_export: int | None = None,
        app_id: str = "emulator-app-id",
        app_token: str = "emulator-app-token",  # noqa: S107 - a fake, local credential
        rate_limit_per_minute: int = 2000,
        enforce_rate_limit: bool = False,
        rate_limit_window_seconds: float = 60.0,
        rate_limit_headers: bool = True,
        oauth_token_ttl_seconds: int = 900,
        api_port: int = 0,
        download_port: int = 0,
        foreign_port: int = 0,
        state_file: str | None = None,
    ) -> None:
        self.config = Config(
            seed=seed,
            rows=dict(rows or {}),
            job_latency_seconds=job_latency_seconds,
            edges=edges,
            bom=bom,
            crlf=crlf,
            token_ttl_seconds=token_ttl_seconds,
            max_rows_per_export=max_rows_per_export,
            app_id=app_id,
            app_token=app_token,
            rate_limit_per_minute=rate_limit_per_minute,
            enforce_rate_limit=enforce_rate_limit,
            rate_limit_window_seconds=rate_limit_window_seconds,
            rate_limit_headers=rate_limit_headers,
            oauth_token_ttl_seconds=oauth_token_ttl_seconds,
        )
        self._ports = {"api": api_port, "download": download_port, "foreign": foreign_port}
        self._state_file = state_file
        self._state_lock = threading.Lock()
        self.dataset = Dataset(seed, self.config.rows)
        self.trash_bin = TrashBin()
        self._load_state()
        self.faults = FaultRegistry()
        self.recorder = Recorder()
        self.oauth = TokenStore(self.config.oauth_token_ttl_seconds, client_id=f"cl_{app_id}")
        self.jobs: JobStore | None = None
        self._servers: dict[str, Server] = {}
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind the three origins on 127.0.0.1 and serve them in background threads."""
        if self._servers:
            return self
        self.jobs = JobStore(self.config, self.dataset, self.faults)
        backend = Backend(
            self.config,
            self.jobs,
            self.faults,
            self.recorder,
            RateCounter(
                self.config.rate_limit_per_minute,
                window_seconds=self.config.rate_limit_window_seconds,
                enforce=self.config.enforce_rate_limit,
                headers=self.config.rate_limit_headers,
            ),
            lambda method, path, query, body: control.handle(self, method, path, query, body),
            self.oauth,
            self.trash_bin,
        )
        for origin, port in self._ports.items():
            server = Server(port, make_handler(origin, backend))
            self._servers[origin] = server
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"emulator-{origin}-{server.server_address[1]}",
            )
            thread.start()
            self._threads.append(thread)
        self.jobs.download_url = self.download_url
        self.jobs.foreign_url = self.foreign_url
        return self

    def stop(self) -> None:
        """Stop serving, end open connections, join threads, delete every export file; then
        raise the first exception a request hook raised (`on_request`), if one did."""
        for server in self._servers.values():
            server.shutdown()
        for server in self._servers.values():
            server.close_connections()
            server.server_close()  # joins the handler threads
        for thread in self._threads:
            thread.join()
        self._servers.clear()
        self._threads.clear()
        if self.jobs is not None:
            self.jobs.close()
        hook_errors = self.recorder.take_hook_errors()
        if hook_errors:
            raise hook_errors[0]

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses and credentials --------------------------------------------------------------
    def _url(self, origin: str) -> str:
        if origin not in self._servers:
            raise RuntimeError("the emulator is not started")
        return f"http://127.0.0.1:{self._servers[origin].server_address[1]}"

    @property
    def api_url(self) -> str:
        """`http://127.0.0.1:PORT` of the API origin."""
        return self._url("api")

    @property
    def download_url(self) -> str:
        """Origin that `result.url` points at."""
        return self._url("download")

    @property
    def foreign_url(self) -> str:
        """Origin used by the `foreign_download_host` fault."""
        return self._url("foreign")

    @property
    def app_id(self) -> str:
        """The accepted X-App-Id."""
        return self.config.app_id

    @property
    def app_token(self) -> str:
        """The accepted X-App-Token."""
        return self.config.app_token

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """A whole tap config against this emulator (`tapconfig.tap_config`), with overrides."""
        own = {
            "api_url": self.api_url,
            "app_id": self.app_id,
            "app_token": self.app_token,
            "download_url": self.download_url,
            # The tap's own cap at this emulator's limit (the tests of the cap set a lower one).
            "max_requests_per_minute": self.config.rate_limit_per_minute,
        }
        # Any of these may be overridden too (a wrong token, a proxy in front of the download).
        return tap_config(**{**own, **overrides})

    # --- shapes ---------------------------------------------------------------------------------
    def set_shape(self, **fields: Any) -> Shape:
        """Answer exports created from now on in this shape (shapes.py); no argument resets it.

        E.g. `set_shape(order="reversed", header="keys")`, `set_shape(metadata="bare")`,
        `set_shape(null="NULL")`, `set_shape(ignore_filters=["voucher"])`,
        `set_shape(reject={"redemption": ["order_id"]})`.
        """
        if "swap" in fields and fields["swap"] is not None:
            fields["swap"] = tuple(fields["swap"])
        self.config.shape = Shape(**fields)
        return self.config.shape

    def shape_summary(self) -> dict[str, Any]:
        """The current shape, as JSON."""
        return self.config.shape.to_json()

    # --- data -----------------------------------------------------------------------------------
    def ground_truth(
        self,
        exported_object: str,
        after: datetime | str | None = None,
        before: datetime | str | None = None,
    ) -> list[dict[str, str]]:
        """Every row in the (after, before) window, all fields keyed by field key, as CSV cell
        strings, in created_at order; edges as configured."""
        if exported_object not in OBJECTS:
            raise ValueError(f"unknown exported_object {exported_object!r}")
        timeline = self.dataset.timelines[exported_object]
        window = timeline.window(
            None if after is None else parse_iso(after),
            None if before is None else parse_iso(before),
            self.config.edges == "inclusive",
        )
        keys = self.dataset.keys(exported_object)
        changed = self.dataset.changes.snapshot(exported_object)
        removed = self.dataset.changes.removed(exported_object)
        indexes = [i for i in window if i not in removed] if removed else window
        rows = self.dataset.rows(exported_object, keys, timeline.snapshot(), indexes, changed)
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def add_rows(self, exported_object: str, count: int) -> int:
        """Append `count` rows dated after every existing row (and after every export created
        so far) and not after now; return `count`, so `ground_truth(o)[-count:]` are the new
        rows. `row_count(o)` gives the total."""
        if exported_object not in OBJECTS:
            raise ValueError(f"unknown exported_object {exported_object!r}")
        self.dataset.add_rows(exported_object, count)
        self._save_state()
        return count

    def update_rows(self, exported_object: str, count: int) -> int:
        """Change `count` existing rows of a voucher, customer or order (distinct rows, picked
        by the seed): `updated_at` moves to the time of the change (after every export created
        so far, not after now) and the mutable fields change (changes.MUTATIONS). Return how
        many rows changed; `ground_truth` shows their current values."""
        if exported_object not in OBJECTS:
            raise ValueError(f"unknown exported_object {exported_object!r}")
        changed = len(self.dataset.update_rows(exported_object, count))
        self._save_state()
        return changed

    def remove_rows(self, exported_object: str, count: int, *, to_bin: bool = False) -> int:
        """Delete `count` rows (picked by the seed): no later export, list `total` or ground
        truth has them. Points expirations vanish (used up or cancelled); vouchers, customers
        and orders are deleted permanently, or, with `to_bin` (vouchers only, as
        vouchers.json's `DELETE /v1/vouchers/{code}` without `force`), moved to the bin, one
        entry each in `GET /v1/trash-bin`. Return how many went."""
        if exported_object not in OBJECTS:
            raise ValueError(f"unknown exported_object {exported_object!r}")
        if to_bin and exported_object != "voucher":
            raise ValueError("only vouchers go to the bin here (bin.json also lists campaigns)")
        total = self.dataset.timelines[exported_object].count
        gone = self.dataset.changes.remove(exported_object, count, total)
        if to_bin and gone:
            self._bin_vouchers(gone)
        self._save_state()
        return len(gone)

    def _bin_vouchers(self, indexes: list[int]) -> None:
        keys = ["id", "code", "campaign_id"]
        segments = self.dataset.timelines["voucher"].snapshot()
        moved_ms = int(time.time() * 1000)
        last = self.trash_bin.entries()
        if last:
            moved_ms = max(moved_ms, parse_iso(last[-1].created_at.replace("Z", "+00:00")) + 1)
        for serial, (voucher_id, code, campaign_id) in enumerate(
            self.dataset.rows("voucher", keys, segments, sorted(indexes))
        ):
            at = moved_ms + serial  # one millisecond each: distinct, ordered created_at
            self.trash_bin.add(
                BinEntry(
                    id=entry_id(at, serial),
                    created_at=iso_ms(at),
                    resource_id=voucher_id,
                    resource_name=code,
                    resource_parent_id=campaign_id or None,
                )
            )

    def row_count(self, exported_object: str) -> int:
        """Current number of rows of an object."""
        return self.dataset.timelines[exported_object].count

    def _load_state(self) -> None:
        # Persisted segments keep rows added by add_rows across restarts (demo runs twice).
        if not self._state_file or not os.path.exists(self._state_file):
            return
        with open(self._state_file, encoding="utf-8") as handle:
            state = json.load(handle)
        if state.get("seed") != self.config.seed or state.get("rows") != self.config.rows:
            # A different dataset: the saved additions do not apply. Said, not silently dropped:
            # the next save replaces the file with this dataset's.
            sys.stderr.write(
                f"voucherify_emulator: {self._state_file} was saved for seed "
                f"{state.get('seed')} and rows {state.get('rows')}, not seed {self.config.seed} "
                f"and rows {self.config.rows}: starting from the seed's rows, and the file will "
                "be overwritten.\n"
            )
            return
        for obj, segments in state.get("added", {}).items():
            for count, start_ms, end_ms in segments:
                self.dataset.timelines[obj].add(count, start_ms, end_ms)
        for obj, indexes in state.get("removed", {}).items():
            self.dataset.changes.restore_removed(obj, indexes)
        for entry in state.get("bin", []):
            self.trash_bin.add(BinEntry(**entry))
        for obj, changes in state.get("updated", {}).items():
            for index, updated_ms, version in changes:
                self.dataset.changes.restore(obj, index, updated_ms, version)

    def _save_state(self) -> None:
        if not self._state_file:
            return
        added = {o: t.added_segments for o, t in self.dataset.timelines.items() if t.added_segments}
        state = {
            "seed": self.config.seed,
            "rows": self.config.rows,
            "added": added,
            "updated": self.dataset.changes.saved(),
            "removed": self.dataset.changes.saved_removed(),
            "bin": [asdict(entry) for entry in self.trash_bin.entries()],
        }
        with self._state_lock:
            tmp = f"{self._state_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
            os.replace(tmp, self._state_file)

    # --- faults and observations ----------------------------------------------------------------
    def inject(
        self,
        fault: str,
        phase: str | None = None,
        times: int | None = 1,
        exported_object: str | None = None,
        **params: Any,
    ) -> None:
        """Arm a fault (see faults.DEFAULT_PARAMS for names and parameters)."""
        if exported_object is not None and exported_object not in OBJECTS:
            raise ValueError(f"unknown exported_object {exported_object!r}")
        self.faults.add(make_fault(fault, phase, times, exported_object, **params))

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.faults.clear()

    def faults_summary(self) -> list[dict[str, Any]]:
        """Armed faults as JSON-ready dicts."""
        return [asdict(f) for f in self.faults.armed]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received on every origin (control endpoint excluded), in order."""
        return self.recorder.all()

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.recorder.clear()

    def on_request(self, hook: RequestHook) -> Callable[[], None]:
        """Call `hook(request)` with each request as it arrives; returns what removes the hook.

        Every request `requests` records (any origin; control requests are not) reaches the hooks
        once it is recorded and before it is answered, on the thread serving it: a hook that arms
        a fault (`inject`) or changes rows affects that very request. Hooks run in the order they
        were added and the request waits for them. One that raises ends the connection with no
        answer, and `stop` (the end of a `with` block) raises that exception, so a test whose
        hook failed fails with the hook's traceback.
        """
        return self.recorder.add_hook(hook)

    @property
    def exports(self) -> list[ExportJob]:
        """Every export job created, oldest first, deleted ones included (`deleted` set);
        `status` is computed on access."""
        return self.jobs.history() if self.jobs else []

    def exports_summary(self) -> list[dict[str, Any]]:
        """Jobs as JSON-ready dicts (for GET /_emulator/exports)."""
        return [
            {
                "id": j.id,
                "exported_object": j.exported_object,
                "parameters": j.parameters,
                "status": j.status,
                "rows": len(j.rows),
                "row_count": j.row_count,
                "size": j.size,
                "foreign": j.foreign,
                "malformed": j.malformed,
                "deleted": j.deleted,
            }
            for j in self.exports
        ]
