"""Canary: the private singer-sdk members the tap overrides or calls still mean what they did.

The tap leans on a few private hooks of singer-sdk (listed under "singer-sdk private hooks" in
export_stream.py and "singer-sdk seams" in tap.py). An SDK upgrade that renames one, changes its
signature or stops calling it would otherwise fail silently mid-sync (an override nobody calls
means bookmarks move on record values again). These tests fail first, before any sync runs.
"""

import inspect
import logging
import re
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap, plugin_base
from singer_sdk.plugin_base import PluginBase, SingerCommand

from tap_voucherify_exports.cli import ONE_LINE_PER_ERROR, SDK_STREAM_ERROR_LINE
from tap_voucherify_exports.errors import VoucherifyError
from tap_voucherify_exports.export_stream import VoucherifyExportStream
from tap_voucherify_exports.streams import BinEntriesStream
from tap_voucherify_exports.tap import TapVoucherifyExports
from tests.support.fake_api import API
from tests.support.sync import run_sync

# name → the parameter list (names and kinds) the tap's override or call relies on.
STREAM_HOOKS = {
    "_increment_stream_state": "(self, latest_record, *, context=None)",
    "_generate_record_messages": "(self, record)",
    "_write_state_message": "(self)",
    "_write_activate_version_message": "(self, full_table_version)",
}
TAP_SEAMS = {
    "sync_all": "(self)",
    "run_sync_dry_run": "(self, dry_run_record_limit=1, streams=None)",
    "_validate_config": "(self, *, raise_errors=True)",
    "run_connection_test": "(self)",
    "_handle_termination": "(self, signum, frame)",
    "load_state": "(self, state)",
}


def _shape(function: object) -> str:
    """The signature without annotations: names, kinds and defaults are what calls depend on."""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    bare = [
        parameter.replace(annotation=inspect.Parameter.empty)
        for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize(("name", "shape"), STREAM_HOOKS.items())
def test_stream_hooks_keep_their_signatures(name: str, shape: str) -> None:
    assert _shape(getattr(Stream, name)) == shape


@pytest.mark.parametrize(("name", "shape"), TAP_SEAMS.items())
def test_tap_seams_keep_their_signatures(name: str, shape: str) -> None:
    assert _shape(getattr(Tap, name)) == shape


@pytest.mark.parametrize("name", ["_increment_stream_state", "_generate_record_messages"])
def test_overridden_stream_hooks_are_defined_by_the_tap(name: str) -> None:
    # Defined in the tap's own classes (export_stream.py or routing.py), not inherited from the SDK.
    owner = next(cls for cls in VoucherifyExportStream.__mro__ if name in vars(cls))
    assert owner.__module__.startswith("tap_voucherify_exports.")


def test_the_sdk_still_routes_records_through_the_overridden_hooks() -> None:
    # _sync_records bumps state per record; _write_record_message builds messages per record.
    assert "self._increment_stream_state(" in inspect.getsource(Stream._sync_records)
    assert "self._generate_record_messages(" in inspect.getsource(Stream._write_record_message)


def test_the_sdk_loop_still_does_what_the_fast_path_stands_in_for() -> None:
    # output/fastpath.py writes, counts and asks for STATE itself and hands `_sync_records` no
    # record: that is equivalent only while the loop opens the counter (public `get_record_counter`)
    # before it reads `get_records`, asks for STATE every STATE_MSG_FREQUENCY records, marks
    # state unflushed per record, and does nothing else per record this tap does not override.
    loop = inspect.getsource(Stream._sync_records)
    assert loop.index("self.get_record_counter()") < loop.index("self.get_records(")
    assert "% self.STATE_MSG_FREQUENCY == 0" in loop
    assert "record_counter.increment()" in loop
    assert "self.state_manager.is_flushed = False" in inspect.getsource(
        Stream._write_record_message
    )
    assert _shape(Stream.get_record_counter) == "(self, *, endpoint=None, log_interval=60.0)"
    assert VoucherifyExportStream.get_record_counter is not Stream.get_record_counter
    per_record = loop[loop.index("for idx, record_result in") : loop.index("record_index += 1")]
    calls = set(re.findall(r"self\.[\w.]+\(", per_record))
    assert calls == {
        "self.get_records(", "self._check_max_record_limit(", "self.post_process(",
        "self._process_record(",
        "self.state_manager.log_sort_error(", "self._write_record_message(",
        "self._increment_stream_state(", "self._write_state_message(",
    }, "the SDK's per-record loop changed: is the fast path still equivalent?"  # fmt: skip


def test_batches_are_still_written_batch_message_then_state() -> None:
    # export_stream.py hands a window's last batch file over after its bookmark moved, relying on
    # `_sync_batches` writing each BATCH message and then STATE; the SDK's own batcher reads
    # `get_records` through `_sync_records` without writing messages.
    sync_batches = inspect.getsource(Stream._sync_batches)
    assert "self.get_batches(" in sync_batches
    assert sync_batches.index("self._write_batch_message(") < sync_batches.index(
        "self._write_state_message()"
    )
    assert "self._sync_records(context, write_messages=False)" in inspect.getsource(
        Stream.get_batches
    )
    assert _shape(Stream.get_batches) == "(self, batch_config, context=None)"
    # export_stream.py and output/batch.py type `get_batches` with the private module's classes.
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig

    config = Stream.get_batch_config(
        None,  # type: ignore[arg-type]  # the method does not read self
        {"batch_config": {"encoding": {"format": "jsonl"}, "storage": {"root": "file:///tmp"}}},
    )
    assert isinstance(config, BatchConfig)
    assert isinstance(config.encoding, BaseBatchFileEncoding)
    assert "get_batches" in vars(VoucherifyExportStream)
    assert "self._sync_batches(" in inspect.getsource(Stream.sync)


def test_the_record_version_attribute_still_exists() -> None:
    assert "self._stream_version" in inspect.getsource(Stream.__init__)


def test_the_sdk_dry_run_still_goes_through_run_sync_dry_run() -> None:
    # `--test` calls run_connection_test (overridden: the connection check), the SDK's standard
    # tests run_sync_dry_run (overridden: opens the session).
    assert "run_connection_test" in vars(TapVoucherifyExports)
    assert "sync_all" in vars(TapVoucherifyExports)
    assert "run_sync_dry_run" in vars(TapVoucherifyExports)


def test_config_is_still_validated_once_in_the_constructor_through_the_override() -> None:
    # Before state, catalog or any message: the override raises the settings' SettingsError.
    assert "self._validate_config(raise_errors=validate_config)" in inspect.getsource(
        PluginBase.__init__
    )
    assert "_validate_config" in vars(TapVoucherifyExports)


def test_the_cli_still_prints_config_errors_one_line_each() -> None:
    # What the README promises users see: SingerCommand logs every entry of `errors`.
    source = inspect.getsource(SingerCommand.invoke)
    assert "for error in exc.errors:" in source
    # config/settings.py reads the setting's name out of the SDK's JSON-schema messages this way.
    assert "in config[" in inspect.getsource(plugin_base._format_validation_error)


def test_signals_still_reach_the_overridden_termination_handler() -> None:
    source = inspect.getsource(PluginBase._setup_signal_handlers)
    assert "signal.signal(signal.SIGINT, self._handle_termination)" in source
    assert "signal.signal(signal.SIGTERM, self._handle_termination)" in source
    assert "_handle_termination" in vars(TapVoucherifyExports)


def test_discovery_still_builds_the_tap_unvalidated_and_discovers_outside_its_except() -> None:
    # tap.py raises a bad `metadata_keys` from `discover_streams`, so that `run_discovery` lets it
    # reach the override's one-line reporting instead of the SDK's own `except`.
    source = inspect.getsource(Tap.cb_discover)
    assert "validate_config=cls.dynamic_catalog" in source
    assert not TapVoucherifyExports.dynamic_catalog
    body = source[source.index("except ConfigValidationError") :]
    assert body.index("ctx.exit(1)") < body.index("tap.run_discovery()")
    assert "cb_discover" in vars(TapVoucherifyExports)


def test_test_mode_still_builds_the_tap_in_cb_test() -> None:
    # cb_test and invoke are public, but the tap wraps them for its error reporting.
    assert "tap.run_connection_test()" in inspect.getsource(Tap.cb_test)
    assert "tap.sync_all()" in inspect.getsource(Tap.invoke)


def test_the_probe_option_reaches_invoke_through_the_sdks_click_command() -> None:
    # `--probe` is appended to the SDK's command, whose callback is `invoke` with every option
    # passed by name; `invoke` reads `--config` by the attributes of the SDK's `_ConfigInput`.
    from singer_sdk.plugin_base import _ConfigInput

    command = TapVoucherifyExports.get_singer_command()
    assert "--probe" in {opt for param in command.params for opt in param.opts}
    assert {"--config", "--catalog"} <= {opt for param in command.params for opt in param.opts}
    assert command.callback == TapVoucherifyExports.invoke
    parsed = _ConfigInput.from_cli_args()
    assert hasattr(parsed, "config")
    assert hasattr(parsed, "parse_env")
    assert {"config", "catalog"} <= set(inspect.signature(Tap.invoke).parameters)


def test_the_config_option_still_reads_its_files_in_the_overridden_callback() -> None:
    # `--config` files are checked in the tap's `cb_config` before the SDK reads them: the
    # option must still call the class's `cb_config`, eagerly, with every path in one tuple.
    command = TapVoucherifyExports.get_singer_command()
    [option] = [param for param in command.params if "--config" in param.opts]
    assert option.callback == TapVoucherifyExports.cb_config
    assert option.is_eager
    assert option.multiple
    assert _shape(Tap.cb_config) == "(ctx, param, value)"


def test_the_sdk_still_opens_full_table_syncs_with_activate_version_when_asked() -> None:
    # The opening ACTIVATE_VERSION (and `_stream_version`) come from `Stream.sync` when
    # `emit_activate_version_messages` is true; the tap sends the closing one itself.
    source = inspect.getsource(Stream.sync)
    assert "self.emit_activate_version_messages" in source
    assert "self._stream_version = " in source
    assert isinstance(inspect.getattr_static(Stream, "emit_activate_version_messages"), property)


def test_the_sdk_still_opens_no_incremental_sync_with_activate_version() -> None:
    # A refresh (vouchers, customers, orders: INCREMENTAL) must not open with ACTIVATE_VERSION:
    # target-postgres acts on it at once, marking every row deleted until the refresh ends (for
    # good if it is killed). `Stream.sync` sends it, and sets `_stream_version`, for FULL_TABLE
    # only; the tap sets the version from state and sends the closing message itself.
    source = inspect.getsource(Stream.sync)
    condition = source[source.index("if (") : source.index("self._write_activate_version_message")]
    assert "self.replication_method == REPLICATION_FULL_TABLE" in condition
    assert "self._stream_version = " in condition
    assert source.count("self._write_activate_version_message") == 1


def test_the_sdk_still_logs_its_stream_error_line_from_sync() -> None:
    # cli.py's ONE_LINE_PER_ERROR recognises the line by this text, on the stream's logger.
    source = inspect.getsource(Stream.sync)
    assert f'"{SDK_STREAM_ERROR_LINE}"' in source
    assert "self.log(" in source
    assert "self._logger.log(" in inspect.getsource(Stream.log)


def test_the_stream_error_line_is_dropped_only_for_the_taps_own_errors(config) -> None:
    tap = TapVoucherifyExports(config=config)
    assert all(ONE_LINE_PER_ERROR in stream.logger.filters for stream in tap.streams.values())
    record = logging.LogRecord(
        "tap-voucherify-exports.vouchers", logging.ERROR, __file__, 0, SDK_STREAM_ERROR_LINE,
        ("vouchers",), None,
    )  # fmt: skip
    other = logging.LogRecord("x", logging.ERROR, __file__, 0, "something else", (), None)
    for error, kept in [(VoucherifyError("the tap's"), False), (ValueError("a bug"), True)]:
        try:
            raise error
        except Exception:
            assert ONE_LINE_PER_ERROR.filter(record) is kept
            assert ONE_LINE_PER_ERROR.filter(other)


def test_the_architecture_page_has_a_row_for_every_seam_naming_canaries_that_exist() -> None:
    # docs/architecture.md's seams table is where each seam is explained: a seam added to the
    # lists above without a row there, or a row naming a canary test that is gone, fails here.
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page[page.index("## singer-sdk seams") : page.index("## Glossary")]
    for name in [*STREAM_HOOKS, *TAP_SEAMS]:
        assert f".{name}" in table, f"docs/architecture.md has no row for {name}"
    defined = {
        match
        for path in (root / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M)
    }
    named = set(re.findall(r"`(test_\w+)`", table))
    assert named, "the seams table names no canary test"
    assert named <= defined, f"named in docs/architecture.md but not defined: {named - defined}"


def test_every_state_still_passes_the_taps_writer_and_load_state_still_gets_the_input_state() -> (
    None
):
    # tap.py lists the exports created and not deleted in every STATE at its writer
    # (output/writer.py) and reads them back from the input state in `load_state`: the SDK's
    # state writer must still write through the tap's message writer, and keep only `bookmarks`.
    from singer_sdk.helpers._state import StateWriter

    assert "self._message_writer.write_message(StateMessage(value=state))" in inspect.getsource(
        StateWriter.write_state
    )
    init = inspect.getsource(Tap.__init__)
    assert "StateWriter(self.message_writer)" in init
    assert "self.load_state(state_dict)" in init
    assert 'state.get("bookmarks", {})' in inspect.getsource(Tap.load_state)
    assert "load_state" in vars(TapVoucherifyExports)


def test_an_unsorted_stream_still_moves_its_bookmark_only_at_its_end_to_the_greatest_value(
    config, fake, monkeypatch
) -> None:
    # `bin_entries` (list_stream.py) leans on singer-sdk's handling of `is_sorted = False`: while
    # the stream runs, a STATE carries progress markers only; at its end the bookmark is the
    # greatest replication value emitted, whatever the order the records came in.
    created = ["2024-03-02T00:00:00.000Z", "2024-03-05T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
    entries = [{"id": f"tbe_{n}", "created_at": at} for n, at in enumerate(created)]
    fake.mocker.get(f"{API}/v1/trash-bin", json={"data": entries, "has_more": False})
    monkeypatch.setattr(BinEntriesStream, "STATE_MSG_FREQUENCY", 1)  # a STATE after each record
    messages = run_sync({**config, "end_date": None}, streams={"bin_entries"})
    bookmarks = [
        m["value"]["bookmarks"].get("bin_entries", {}) for m in messages if m["type"] == "STATE"
    ]
    moved = [n for n, b in enumerate(bookmarks) if b.get("replication_key_value")]
    assert bookmarks[moved[0]]["replication_key_value"] == "2024-03-05T00:00:00.000Z"
    assert all(b == bookmarks[moved[0]] for b in bookmarks[moved[0] :])
    assert any("progress_markers" in b for b in bookmarks[: moved[0]])
