"""Canary: the private singer-sdk members the tap overrides or calls still mean what they did.

The tap leans on a few private hooks of singer-sdk (listed under "singer-sdk private hooks" in
streams.py and "singer-sdk seams" in tap.py). An SDK upgrade that renames one, changes its
signature or stops calling it would otherwise fail silently mid-sync (an override nobody calls
means bookmarks move on record values again). These tests fail first, before any sync runs.
"""

import inspect

import pytest
from singer_sdk import Stream, Tap

from tap_voucherify_exports.streams import VoucherifyExportStream
from tap_voucherify_exports.tap import TapVoucherifyExports

# name → the parameter list (names and kinds) the tap's override or call relies on.
STREAM_HOOKS = {
    "_increment_stream_state": "(self, latest_record, *, context=None)",
    "_generate_record_messages": "(self, record)",
    "_write_state_message": "(self)",
}
TAP_SEAMS = {
    "sync_all": "(self)",
    "run_sync_dry_run": "(self, dry_run_record_limit=1, streams=None)",
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
    assert name in vars(VoucherifyExportStream)


def test_the_sdk_still_routes_records_through_the_overridden_hooks() -> None:
    # _sync_records bumps state per record; _write_record_message builds messages per record.
    assert "self._increment_stream_state(" in inspect.getsource(Stream._sync_records)
    assert "self._generate_record_messages(" in inspect.getsource(Stream._write_record_message)


def test_the_record_version_attribute_still_exists() -> None:
    assert "self._stream_version" in inspect.getsource(Stream.__init__)


def test_the_sdk_dry_run_still_goes_through_run_sync_dry_run() -> None:
    # `--test` calls run_connection_test, which must reach the overridden dry run.
    assert "self.run_sync_dry_run(" in inspect.getsource(Tap.run_connection_test)
    assert "sync_all" in vars(TapVoucherifyExports)
    assert "run_sync_dry_run" in vars(TapVoucherifyExports)
