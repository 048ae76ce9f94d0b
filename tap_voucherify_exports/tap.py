"""The tap: its settings (declared only here) and its streams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from singer_sdk import Tap
from singer_sdk import typing as th

from tap_voucherify_exports import settings as defaults
from tap_voucherify_exports.client import VoucherifyClient
from tap_voucherify_exports.exports import ExportsAPI
from tap_voucherify_exports.output import StateFlushingWriter
from tap_voucherify_exports.pipeline import ExportPipeline
from tap_voucherify_exports.redaction import redact_secrets_in_logs
from tap_voucherify_exports.settings import Settings, parse_settings
from tap_voucherify_exports.streams import STREAM_TYPES, VoucherifyExportStream

try:
    from typing import override  # type: ignore[attr-defined]
except ImportError:  # Python < 3.12
    from typing_extensions import override


@dataclass(frozen=True)
class Runtime:
    """The HTTP client, the export verbs and the job pipeline of one run."""

    client: VoucherifyClient
    api: ExportsAPI
    pipeline: ExportPipeline

    def close(self) -> None:
        """Abandon pending jobs and release connections."""
        self.pipeline.close()
        self.client.close()


class TapVoucherifyExports(Tap):
    """Singer tap for Voucherify, through the asynchronous `/v1/exports` API."""

    name = "tap-voucherify-exports"
    message_writer_class = StateFlushingWriter

    config_jsonschema = th.PropertiesList(
        th.Property("app_id", th.StringType(), required=True, title="Application ID",
                    description="Voucherify Application ID (Project Settings > API keys)."),
        th.Property("app_token", th.StringType(), required=True, secret=True,
                    title="Application Secret Key",
                    description="Voucherify Application Secret Key. Sent only to api_url and "
                                "download_url, never logged."),
        th.Property("api_url", th.StringType(), default=defaults.DEFAULT_API_URL,
                    description="API origin, or a region name: eu, us1, as1."),
        th.Property("download_url", th.StringType(),
                    description="Origin of export files. Default: the region's download host "
                                "(download.voucherify.io, us1.download…, as1.download…), "
                                "else the api_url origin."),
        th.Property("start_date", th.DateTimeType(), required=True,
                    description="Sync rows created at or after this time (UTC)."),
        th.Property("end_date", th.DateTimeType(),
                    description="Sync rows created before this time. Default: now."),
        th.Property("window_days", th.NumberType(), default=defaults.WINDOW_DAYS_DEFAULT,
                    description="Days of created_at covered by one export job (at least 1)."),
        th.Property("min_window_seconds", th.NumberType(),
                    default=defaults.MIN_WINDOW_SECONDS_DEFAULT,
                    description="An export that ends in ERROR is split in half and retried "
                                "down to windows of this many seconds."),
        th.Property("poll_interval_max", th.NumberType(),
                    default=defaults.POLL_INTERVAL_MAX_SECONDS_DEFAULT,
                    description="Longest pause, in seconds, between two status checks of a job."),
        th.Property("export_timeout", th.NumberType(),
                    default=defaults.EXPORT_TIMEOUT_SECONDS_DEFAULT,
                    description="Seconds an export job may take to reach DONE before failing."),
        th.Property("request_timeout", th.NumberType(),
                    default=defaults.REQUEST_TIMEOUT_SECONDS_DEFAULT,
                    description="Read timeout of one HTTP request, in seconds."),
        th.Property("max_concurrent_exports", th.IntegerType(),
                    default=defaults.MAX_CONCURRENT_EXPORTS_DEFAULT,
                    description="Export jobs kept in flight at once (1 = one after another)."),
        th.Property("delete_exports", th.BooleanType(), default=False,
                    description="Delete each export from Voucherify once its rows are synced."),
    ).to_dict()  # fmt: skip

    _runtime: Runtime | None = None

    @override
    def discover_streams(self) -> list[VoucherifyExportStream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    @cached_property
    def settings(self) -> Settings:
        """The validated config; raises `ConfigValidationError` naming the bad setting."""
        parsed = parse_settings(self.config)
        redact_secrets_in_logs(parsed.secrets)
        return parsed

    @cached_property
    def sync_end(self) -> dt.datetime:
        """Where the last window of every stream ends: `end_date`, else the time the sync began."""
        return self.settings.end_date or dt.datetime.now(dt.timezone.utc)

    def runtime_for(self, stream: VoucherifyExportStream) -> Runtime:
        """The run's client, export verbs and pipeline, built when the first stream syncs.

        The pipeline is handed every export of this and every later selected stream, in the
        order the SDK syncs them, so jobs of later windows and streams are generated on
        Voucherify while earlier ones download.
        """
        if self._runtime is None:
            settings = self.settings
            client = VoucherifyClient(settings)
            api = ExportsAPI(client, settings)
            pipeline = ExportPipeline(
                api, settings.max_concurrent_exports, delete_exports=settings.delete_exports
            )
            selected = [
                candidate
                for candidate in self.streams.values()
                if isinstance(candidate, VoucherifyExportStream) and candidate.selected
            ]
            upcoming = selected[selected.index(stream) :] if stream in selected else [stream]
            pipeline.plan(request for each in upcoming for request in each.export_requests())
            self._runtime = Runtime(client, api, pipeline)
        return self._runtime

    def close_runtime(self) -> None:
        """Abandon jobs nobody will download and release connections; a later sync starts anew."""
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()


if __name__ == "__main__":
    TapVoucherifyExports.cli()
