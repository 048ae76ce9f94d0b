"""The tap: its settings (declared only here), its streams, and how a run ends.

A run ends one of three ways, each with its own exit status: 0 for a complete sync; 1 with one
line per problem (and a hint where one helps) for an error the tap raises on purpose (cli.py);
128 + the signal's number (130 for SIGINT, 143 for SIGTERM) when stopped, after the last
complete STATE (`_handle_termination`). Anything else is a bug and keeps the SDK's traceback.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterable
from functools import cached_property
from types import FrameType
from typing import Any, TextIO

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.cli import EXIT_ERROR, ONE_LINE_PER_ERROR, errors_end_the_run
from tap_voucherify_exports.config import settings
from tap_voucherify_exports.config.files import check_config_files
from tap_voucherify_exports.config.settings import parse_settings
from tap_voucherify_exports.config.values import parse_metadata_keys
from tap_voucherify_exports.errors import SettingsError
from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.jobs.ledger import STATE_KEY, exports_in_state
from tap_voucherify_exports.output.writer import StateFlushingWriter
from tap_voucherify_exports.probe import run_probe
from tap_voucherify_exports.session import SyncSession
from tap_voucherify_exports.streams import LIST_STREAM_TYPES, STREAM_TYPES

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

# After a stop signal, further signals are ignored this long so the cleanup can finish.
STOP_GRACE_SECONDS = 10.0


class TapVoucherifyExports(Tap):
    """Singer tap for Voucherify, through the asynchronous `/v1/exports` API."""

    name = "tap-voucherify-exports"
    message_writer_class = StateFlushingWriter
    _stopping_since: float | None = None  # when a stop signal arrived (time.monotonic)
    _stop_status = 0
    # Exports an earlier run created and did not delete, as its STATE lists them (`load_state`).
    _exports_left: tuple[str, ...] = ()
    # Settings problems that leave no catalog to discover (see `_validate_config`).
    _catalog_refused: SettingsError | None = None

    config_jsonschema = th.PropertiesList(
        th.Property("app_id", th.StringType(), required=True, title="Application ID",
                    description="Voucherify Application ID (Project Settings > API keys)."),
        th.Property("app_token", th.StringType(), required=True, secret=True,
                    title="Application Secret Key",
                    description="Voucherify Application Secret Key. Sent only to api_url and "
                                "download_url, never logged."),
        th.Property("api_url", th.StringType(), default=settings.DEFAULT_API_URL,
                    description="API origin, or a region name: eu, us1, as1."),
        th.Property("download_url", th.StringType(),
                    description="Origin of export files. Default: the region's download host "
                                "(download.voucherify.io, us1.download…, as1.download…), "
                                "else the api_url origin."),
        th.Property("auth_method", th.StringType(), default="app_keys",
                    allowed_values=list(settings.AUTH_METHODS),
                    description="app_keys: the app keys on every call. oauth: the app keys only "
                                "to get an OAuth token, then the token on every call."),
        th.Property("oauth_scope", th.StringType(), default=settings.OAUTH_SCOPE_DEFAULT,
                    description="Space-separated scopes of the OAuth token (auth_method oauth)."),
        th.Property("start_date", th.DateTimeType(), required=True,
                    description="Sync rows created at or after this time (UTC)."),
        th.Property("end_date", th.DateTimeType(),
                    description="Sync rows created before this time. Default: now."),
        th.Property("window_days", th.IntegerType(), default=settings.WINDOW_DAYS_DEFAULT,
                    description="Days of created_at covered by one export job (at least 1)."),
        th.Property("backfill_window_days", th.IntegerType(),
                    default=settings.BACKFILL_WINDOW_DAYS_DEFAULT,
                    description="Days covered by one export job while a stream's first sync "
                                "(backfill) has not reached the present, resumed runs included "
                                "(at least window_days). An export that ends in ERROR is split "
                                "in half as usual."),
        th.Property("full_refresh_days", th.IntegerType(),
                    default=settings.FULL_REFRESH_DAYS_DEFAULT,
                    description="Every this many days, vouchers, customers and orders export "
                                "every row under a new table version, then ACTIVATE_VERSION, so "
                                "the target drops rows deleted in Voucherify. 0: never."),
        th.Property("min_window_seconds", th.IntegerType(),
                    default=settings.MIN_WINDOW_SECONDS_DEFAULT,
                    description="An export that ends in ERROR is split in half and retried "
                                "down to windows of this many seconds."),
        th.Property("poll_interval_max", th.NumberType(),
                    default=settings.POLL_INTERVAL_MAX_SECONDS_DEFAULT,
                    description="Longest pause, in seconds, between two status checks of a job."),
        th.Property("export_timeout", th.NumberType(),
                    default=settings.EXPORT_TIMEOUT_SECONDS_DEFAULT,
                    description="Seconds an export job may take to reach DONE before failing."),
        th.Property("request_timeout", th.NumberType(),
                    default=settings.REQUEST_TIMEOUT_SECONDS_DEFAULT,
                    description="Read timeout of one HTTP request, in seconds."),
        th.Property("max_concurrent_exports", th.IntegerType(),
                    default=settings.MAX_CONCURRENT_EXPORTS_DEFAULT,
                    description="Export jobs kept in flight at once (1 = one after another)."),
        th.Property("parallel_workers", th.IntegerType(),
                    default=settings.PARALLEL_WORKERS_DEFAULT,
                    description="Processes that parse, type and encode the CSV (1 = the tap's "
                    "own process). 2 pays only with a core to spare for each (README)."),
        th.Property("max_requests_per_minute", th.IntegerType(),
                    default=settings.MAX_REQUESTS_PER_MINUTE_DEFAULT,
                    description="Most API calls (downloads included) the tap starts in any 60 s; "
                                "it also paces itself by Voucherify's X-Rate-Limit headers."),
        th.Property("max_requests_per_hour", th.IntegerType(),
                    description="Most API calls the tap starts in any hour, for plans limited by "
                                "the hour (a sandbox: 100) that send no X-Rate-Limit headers. "
                                "Default: no hourly cap."),
        th.Property("delete_exports", th.BooleanType(), default=settings.DELETE_EXPORTS_DEFAULT,
                    description="Delete each export from Voucherify once its rows are synced "
                                "(abandoned ones when a sync fails or is stopped, and, on the next "
                                "run, those a killed run left). False keeps them, and says so "
                                "with a warning."),
        th.Property("trust_column_order", th.BooleanType(),
                    default=settings.TRUST_COLUMN_ORDER_DEFAULT,
                    description="Read CSV columns whose header matches no field by position "
                                "without first checking their cells in the export's first "
                                "rows (docs/types.md). False: a cell that does not fit its "
                                "field stops the export before its first record."),
        th.Property("metadata_keys", th.ObjectType(additional_properties=True),
                    description="Metadata keys to export as their own typed columns, per "
                                'stream: {"vouchers": ["region"]} or {"customers": {"tier": '
                                '"integer"}} (string, integer, number, boolean, date-time). '
                                "Each becomes the property metadata__<key>."),
        th.Property("creation_only_streams", th.ArrayType(th.StringType()), default=[],
                    description="Streams among vouchers, customers and orders that export only "
                                "rows created since the last sync, not rows updated too: for "
                                "append-only history, or half the export jobs."),
        th.Property("verify_counts", th.StringType(), default=settings.VERIFY_COUNTS_DEFAULT,
                    allowed_values=list(settings.VERIFY_COUNTS_MODES),
                    description="Check each closed window's rows against the list endpoint's "
                                "total (one API call each): off; warn on a difference, a short "
                                "window exported again by the next run; fail: also exit 1 when "
                                "rows are missing, the bookmark kept before the window."),
    ).to_dict()  # fmt: skip

    @cached_property
    def session(self) -> SyncSession:
        """The sync every stream reads through; opened only around a sync or a `--test` run."""
        return SyncSession(self.config)

    @override
    def discover_streams(self) -> list[Stream]:
        if self._catalog_refused is not None:
            # The catalog depends on `metadata_keys`: no catalog rather than a wrong one.
            raise self._catalog_refused
        streams: list[Stream] = [stream_type(self, self.session) for stream_type in STREAM_TYPES]
        streams += [stream_type(self, self.session) for stream_type in LIST_STREAM_TYPES]
        for stream in streams:
            stream.logger.addFilter(ONE_LINE_PER_ERROR)  # a logger keeps one copy of a filter
        return streams

    # --- singer-sdk seams -----------------------------------------------------------------------
    # `_validate_config` (private) is the one place the SDK validates config, called from the
    # constructor with `raise_errors=validate_config` before the tap reads state or catalog, so
    # before any message or request. The override runs the SDK's JSON-schema check and then
    # config/settings.py's, and raises one `SettingsError` listing every problem: the SDK's CLI
    # prints `errors` one line each (its own check's errors would otherwise come without ours).
    # `--discover` (`cb_discover`, public) builds the tap with `validate_config=dynamic_catalog`,
    # False here, and catches a config error of the constructor in its own words; so a setting
    # the catalog depends on is raised later, from `discover_streams` inside `run_discovery`,
    # where the override's one-line reporting catches it.
    #
    # `--probe` is one more click option on the SDK's command (`get_singer_command`, public) and
    # one more keyword of `invoke` (public; the SDK's click callback passes every option to it
    # by name); without `--probe` both hand over to the SDK unchanged. The SDK's parsed
    # `--config` (class `_ConfigInput`, private) is read by its attributes `config` and
    # `parse_env`; the canary test checks they are still there.
    #
    # `sync_all` and `run_sync_dry_run` (the SDK's standard tests) are `@typing.final` in
    # singer-sdk (a typing marker, not enforced at run time), and the SDK offers no hook around
    # a whole sync: these two overrides are the only way to open one session around one. Each
    # calls the SDK's own method inside. `run_connection_test` (final too) is what `--test`
    # calls (from `cb_test`); the override replaces the SDK's one-record sync of every stream
    # with the session's connection check.
    #
    # `load_state` (public, meant to be overridden) copies only the input state's `bookmarks`:
    # the override also reads the ledger of exports an earlier run left (jobs/ledger.py). Every
    # STATE the SDK writes goes through its `StateWriter` to the tap's `message_writer`, where
    # output/writer.py adds the ledger; the canary checks both paths.
    #
    # `Stream.sync` (final) logs SDK_STREAM_ERROR_LINE for every exception; a logging filter on
    # each stream's logger (`Stream.logger`, public) drops it for a `VoucherifyError`, matching
    # the SDK's message text, which the canary checks too.
    # tests/unit/test_sdk_seams.py fails when an upgrade changes either.

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        try:
            super()._validate_config(raise_errors=True)  # also fills in the schema's defaults
            schema_errors: list[str] = []
        except ConfigValidationError as exc:
            schema_errors = list(exc.errors)
        try:
            parse_settings(self.config, schema_errors)
        except SettingsError as exc:
            if raise_errors:
                raise
            # `--discover` builds the tap without validation (meltano runs it before every sync,
            # `meltano select --list` before the secrets may be set). A setting the catalog
            # depends on (`metadata_keys`) stops it, every problem listed, from
            # `discover_streams` (the SDK's `cb_discover` would print its own lines for an error
            # raised here); any other is one warning line each, and a sync refuses to start.
            try:
                parse_metadata_keys(self.config)
            except ConfigValidationError:
                self._catalog_refused = exc
                return list(exc.errors)
            for line in exc.errors:
                self.logger.warning(
                    "%s (The catalog does not depend on it; a sync will not start until it is "
                    "fixed.)",
                    line,
                )
            return list(exc.errors)
        return []

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        # The SDK keeps only `bookmarks` of the input state; the ledger of exports an earlier
        # run left on Voucherify is a top-level key beside it (jobs/ledger.py).
        super().load_state(state)
        ids, ignored = exports_in_state(state)
        self._exports_left = tuple(ids)
        if ignored:
            self.logger.warning(
                "The STATE's %s lists entries that are not export ids; they are ignored: %s",
                STATE_KEY,
                ", ".join(repr(entry) for entry in ignored)[:500],
            )

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK's handler writes STATE and exits 0, so a stopped sync looks complete to cron,
        # Airflow or `meltano run`. Here the STATE already written is the last complete one (the
        # bookmark moves only at window ends, export_stream.py), so this only says so and exits
        # 128 + signum; unwinding the sync closes the session (exports deleted, threads stopped).
        now = time.monotonic()
        if self._stopping_since is not None:
            # meltano follows a Ctrl-C's SIGINT with its own SIGTERM: let the cleanup finish,
            # unless it takes longer than the grace (then a further signal ends it at once).
            if now - self._stopping_since < STOP_GRACE_SECONDS:
                self.logger.info("Already stopping (%s ignored).", signal.Signals(signum).name)
                return
            raise SystemExit(self._stop_status)
        self._stopping_since = now
        self._stop_status = 128 + signum
        self.logger.warning(
            "Stopped by %s: incomplete sync, the last STATE written covers every row before "
            "it; exiting with status %d.",
            signal.Signals(signum).name,
            self._stop_status,
        )
        raise SystemExit(self._stop_status)

    @override
    @classmethod
    def invoke(cls, *, probe: bool = False, **kwargs: Any) -> None:
        with errors_end_the_run(cls.logger):
            if probe and not kwargs.get("about"):
                sys.exit(0 if cls._build_for_probe(**kwargs).probe() else EXIT_ERROR)
            super().invoke(**kwargs)

    @override
    @classmethod
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--probe"],
                is_flag=True,
                help="Create one small export per selected stream and print the header "
                "Voucherify sent, how each column was matched, the first row typed and any "
                "refused field; then delete it. Run it first against a new account: it costs a "
                "few API calls and minutes. Exits 1 if a stream would fail.",
            )
        )
        return command

    @classmethod
    def _build_for_probe(
        cls, *, config: Any = None, catalog: TextIO | None = None, **_: Any
    ) -> TapVoucherifyExports:
        # `config` is the SDK's parsed `--config` (`_ConfigInput`, private: read by its
        # attributes only); `--state` is ignored, the probe moves no bookmark.
        return cls(
            config=None if config is None else config.config,
            catalog=None if catalog is None else json.load(catalog),
            parse_env_config=bool(config is not None and config.parse_env),
            validate_config=True,
        )

    def probe(self) -> bool:
        """`--probe`: one small export per selected stream, described; True if all would sync."""
        # Its own session, deleting every export it creates whatever `delete_exports` says.
        session = SyncSession({**self.config, "delete_exports": True})
        return run_probe(self._selected_streams(), session, click.echo)

    @override
    @classmethod
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        # The SDK reads `--config` in this click callback (eager: before every other option),
        # and a missing file or broken JSON ends in its traceback: each file is checked first,
        # so a bad one is one line naming it, exit status 1, before any message or request.
        with errors_end_the_run(cls.logger):
            check_config_files(value)
        return super().cb_config(ctx, param, value)

    @override
    @classmethod
    def cb_discover(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        # Like `cb_test`: the SDK runs discovery in a click callback, outside `invoke`.
        with errors_end_the_run(cls.logger, "no catalog was written"):
            super().cb_discover(ctx, param, value)

    @override
    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        # The SDK builds the tap for `--test` in a click callback, outside the command's own
        # handling of config errors: the same one-line reporting applies here.
        with errors_end_the_run(cls.logger):
            super().cb_test(ctx, param, value)

    @override  # type: ignore[misc]  # final for typing only: see the seams note above
    def sync_all(self) -> None:
        writer = self.message_writer
        # The SDK's own writer (a test swaps it in) writes no ledger.
        ours = writer if isinstance(writer, StateFlushingWriter) else None
        try:
            with self.session.open(self._exports_left) as session:
                # One call before the first message (the SDK writes a stream's SCHEMA as its
                # sync starts, the ledger a STATE as each export is created): a run whose
                # credentials or region are wrong writes nothing, so a target creates no table.
                session.check_access()
                if ours is not None:
                    # Every STATE lists the exports created and not deleted, and one is written
                    # as each export is created (jobs/ledger.py). Until the SDK writes its first
                    # STATE, that one repeats the input state (no bookmark on a first sync).
                    baseline = {"bookmarks": {}, **self.state}
                    ours.keep_in_state(STATE_KEY, session.ledger.ids, baseline)
                    session.ledger.on_add = ours.write_state_again
                session.delete_left_exports()
                # Every selected stream's exports, in the order the SDK syncs the streams, so
                # jobs of later windows and streams are generated on Voucherify while earlier
                # ones download. Each stream plans from its own bookmark (in the input state).
                session.plan(
                    request
                    for stream in self._selected_streams()
                    for request in stream.export_requests()
                )
                super().sync_all()
        finally:
            if ours is not None:
                # Exports deleted (or reported kept) since the last STATE, at its end: a last
                # STATE says so, its bookmarks those of the STATE before it.
                ours.write_state_again()

    @override  # type: ignore[misc]  # final for typing only: see the seams note above
    def run_connection_test(self) -> bool:
        # `--test`: the SDK's version syncs a record of every stream, an export job per stream
        # (prefetched ones too) left behind. A connection test here costs a handful of calls:
        # one list call (app keys, region), one tiny export created, downloaded and deleted.
        self.session.check_connection()
        return True

    @override  # type: ignore[misc]  # final for typing only: see the seams note above
    def run_sync_dry_run(
        self, dry_run_record_limit: int | None = 1, streams: Iterable[Stream] | None = None
    ) -> bool:
        # `--test` and the SDK's standard tests sync each stream up to a few records: they need
        # an open session too. Nothing is planned ahead: one export per stream, not every window's.
        with self.session.open():
            return super().run_sync_dry_run(dry_run_record_limit, streams)

    def _selected_streams(self) -> list[VoucherifyExportStream]:
        return [
            stream
            for stream in self.streams.values()
            if isinstance(stream, VoucherifyExportStream) and stream.selected
        ]
