"""The tap against the emulator answering in each shape the real API might: columns reordered,
headed by keys or unknown labels, metadata per key, a field refused (voucherify_emulator/shapes.py).
"""

from __future__ import annotations

import json
import logging

import pytest

from tap_voucherify_exports.errors import CsvFormatError, ExportFieldsRefusedError
from tap_voucherify_exports.fields import TABLES, FieldType
from tests.support.emulator import tap_config
from tests.support.sync import records, sync

STRINGS = [f.key for f in TABLES["voucher"].fields if f.type is FieldType.STRING]


def assert_strings_match_truth(emulator, got):
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    assert len(got) == len(truth)
    for record in got:
        row = truth[record["id"]]
        for key in STRINGS:
            assert record[key] == (row[key] or None), (record["id"], key)


@pytest.mark.parametrize("header", ["keys", "labels"])
def test_reversed_columns_are_read_by_name(emulator, header, caplog):
    emulator.set_shape(header=header, order="reversed")
    with caplog.at_level(logging.WARNING):
        messages, error = sync(tap_config(emulator))
    assert error is None
    assert_strings_match_truth(emulator, records(messages))
    assert "by position" not in caplog.text


def test_a_swapped_pair_of_string_columns_is_read_by_label(emulator):
    emulator.set_shape(swap=["code", "campaign_id"])
    messages, error = sync(tap_config(emulator))
    assert error is None
    assert_strings_match_truth(emulator, records(messages))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_swapped_pair_whose_labels_are_unknown_fails_before_any_row(emulator, workers):
    # Both columns unknown and trading places: position is all that is left, and the cells of
    # the column taken for `campaign_id` are voucher codes, not campaign ids.
    emulator.set_shape(
        swap=["code", "campaign_id"], relabel={"code": "Kod", "campaign_id": "Kampania"}
    )
    messages, error = sync(tap_config(emulator, parallel_workers=workers))
    assert isinstance(error, CsvFormatError)
    assert str(error).startswith(
        "vouchers: column 8 ('Kod') matches no field key or label and was taken by position "
        "for `campaign_id`, but line 2 holds 'V"
    )
    assert "not an id starting with camp_" in str(error)
    assert records(messages) == []


def test_a_swapped_pair_of_unknown_labels_is_read_by_position_when_the_order_is_trusted(
    emulator,
):
    emulator.set_shape(
        swap=["code", "campaign_id"], relabel={"code": "Kod", "campaign_id": "Kampania"}
    )
    messages, error = sync(tap_config(emulator, trust_column_order=True))
    assert error is None
    got = records(messages)
    assert got
    assert all(record["code"].startswith("camp_") for record in got)  # as the user asked


def all_voucher_fields_relabelled() -> dict[str, str]:
    return {key: f"Spalte {n}" for n, key in enumerate(TABLES["voucher"].keys)}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_header_of_unknown_labels_only_is_refused_unless_the_order_is_trusted(emulator, workers):
    emulator.set_shape(relabel=all_voucher_fields_relabelled())
    messages, error = sync(tap_config(emulator, parallel_workers=workers))
    assert isinstance(error, CsvFormatError)
    assert "no header cell matches a field key or label" in str(error)
    assert "Header seen: Spalte 0, Spalte 1" in str(error)
    assert records(messages) == []
    messages, error = sync(tap_config(emulator, parallel_workers=workers, trust_column_order=True))
    assert error is None
    assert_strings_match_truth(emulator, records(messages))


@pytest.mark.parametrize("workers", [1, 2])
def test_unknown_labels_in_place_whose_cells_fit_are_read_with_one_warning_of_what_was_checked(
    emulator, caplog, workers
):
    emulator.set_shape(relabel={"value": "Wert", "campaign_id": "Kampania", "active": "Aktiv"})
    with caplog.at_level(logging.WARNING):
        messages, error = sync(tap_config(emulator, parallel_workers=workers))
    assert error is None
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    got = records(messages)
    assert len(got) == len(truth)
    assert all(record["campaign_id"] == truth[record["id"]]["campaign_id"] for record in got)
    [warning] = [r.getMessage() for r in caplog.records if "Kampania" in r.getMessage()]
    assert warning.endswith(
        "Their cells in the first rows (up to 100) fit value (a number), campaign_id "
        "(an id starting with camp_), active (a boolean)."
    )


def test_an_unknown_label_in_its_requested_place_is_read_by_position_with_one_warning(
    emulator, caplog
):
    emulator.set_shape(relabel={"discount_type": "Rabatt"})
    with caplog.at_level(logging.WARNING):
        messages, error = sync(tap_config(emulator, window_days=400))
    assert error is None
    assert_strings_match_truth(emulator, records(messages))
    warnings = [r for r in caplog.records if "Rabatt" in r.getMessage()]
    assert len(warnings) == 1, "one warning per run, not per export"
    assert "discount_type" in warnings[0].getMessage()


def test_an_unknown_label_out_of_place_stops_before_any_row(emulator):
    emulator.set_shape(relabel={"discount_type": "Rabatt"}, order="reversed")
    messages, error = sync(tap_config(emulator))
    assert isinstance(error, CsvFormatError)
    assert "Rabatt" in str(error)
    assert "Header seen: " in str(error)
    assert "Requested fields: id, code" in str(error)
    assert records(messages) == []


def expected_metadata_value(cell: str, key: str):
    return json.loads(cell).get(key) if cell else None


def as_cell(value):
    """A metadata value as its own CSV cell: text as is, anything else as JSON text."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize("header", ["keys", "labels"])
def test_metadata_keys_arrive_as_typed_columns(emulator, header):
    emulator.set_shape(header=header, order="reversed")
    config = tap_config(
        emulator,
        metadata_keys={"vouchers": {"region": "string", "count": "integer", "ok": "boolean"}},
    )
    messages, error = sync(config)
    assert error is None
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    got = records(messages)
    assert any(r["metadata__region"] for r in got)
    assert any(r["metadata__count"] is not None for r in got)
    for record in got:
        cell = truth[record["id"]]["metadata"]
        for key in ("region", "count", "ok"):
            assert record[f"metadata__{key}"] == expected_metadata_value(cell, key)
        assert record["metadata"] == (json.loads(cell) if cell else None)
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "vouchers")
    assert schema["schema"]["properties"]["metadata__count"]["type"] == ["integer", "null"]


def test_metadata_split_into_per_key_columns_is_folded_into_the_object(emulator):
    emulator.set_shape(metadata="split")
    messages, error = sync(tap_config(emulator))
    assert error is None
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    got = records(messages)
    for record in got:
        cell = truth[record["id"]]["metadata"]
        document = json.loads(cell) if cell else {}
        expected = {key: as_cell(value) for key, value in document.items()}
        assert record["metadata"] == (expected or None), record["id"]
    assert any(r["metadata"] for r in got)


def creates(emulator, exported_object):
    return [
        r.body["parameters"]["fields"]
        for r in emulator.requests
        if r.method == "POST"
        and r.path == "/v1/exports"
        and r.body["exported_object"] == exported_object
    ]


@pytest.mark.parametrize("in_flight", [1, 3])
def test_a_refused_field_is_dropped_once_and_left_out_for_the_rest_of_the_run(
    emulator, caplog, in_flight
):
    # The spec's own 400 example lists the allowed redemption fields without order_id.
    emulator.set_shape(reject={"redemption": ["order_id"]})
    config = tap_config(emulator, window_days=200, max_concurrent_exports=in_flight)
    with caplog.at_level(logging.WARNING):
        messages, error = sync(config, streams={"redemptions"})
    assert error is None
    got = records(messages, "redemptions")
    assert len(got) == len(emulator.ground_truth("redemption"))
    assert all("order_id" not in record and record["id"] for record in got)
    fields = creates(emulator, "redemption")
    refused = [f for f in fields if "order_id" in f]
    # Refused once per create already in flight when the first 400 came back, then never again.
    assert 1 <= len(refused) <= in_flight
    assert fields[0] == refused[0]
    assert len(fields) - len(refused) > 2  # one export per window, all without order_id
    warnings = [r.getMessage() for r in caplog.records if "refuses the field(s)" in r.getMessage()]
    assert len(warnings) == 1
    assert "order_id" in warnings[0]
    assert "invalid_export_fields" in warnings[0]
    schema = next(m for m in messages if m["type"] == "SCHEMA" and m["stream"] == "redemptions")
    assert "order_id" in schema["schema"]["properties"]


def test_a_refused_replication_key_stops_the_stream_with_the_api_message(emulator):
    emulator.set_shape(reject={"redemption": ["date"]})
    messages, error = sync(tap_config(emulator), streams={"redemptions"})
    assert isinstance(error, ExportFieldsRefusedError)
    assert "refuses the field(s) date, which the stream needs" in str(error)
    assert "Allowed fields: id, object" in str(error)
    assert records(messages, "redemptions") == []


@pytest.mark.parametrize("workers", [1, 2])
def test_metadata_as_bare_key_columns_is_folded_with_one_warning_naming_the_keys(
    emulator, caplog, workers
):
    emulator.set_shape(metadata="bare")
    with caplog.at_level(logging.WARNING):
        messages, error = sync(tap_config(emulator, parallel_workers=workers))
    assert error is None
    truth = {row["id"]: row for row in emulator.ground_truth("voucher")}
    got = records(messages)
    assert len(got) == len(truth)
    for record in got:
        cell = truth[record["id"]]["metadata"]
        document = json.loads(cell) if cell else {}
        expected = {key: as_cell(value) for key, value in document.items()}
        assert record["metadata"] == (expected or None), record["id"]
    warnings = [r.getMessage() for r in caplog.records if "metadata keys" in r.getMessage()]
    assert warnings == [
        "vouchers: the export's header has no `metadata` column but every other requested "
        "field; its column(s) city, cjk, count, emoji, nested, note, ok, region, tags, tier, "
        "which match no field, are taken as metadata keys and folded into the `metadata` object."
    ]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("spelling", ["null", "NULL"])
def test_null_cells_in_typed_columns_read_as_empty_cells_do_and_are_counted(
    emulator, caplog, spelling, workers
):
    streams = {"vouchers", "customers", "orders"}
    config = tap_config(emulator, parallel_workers=workers)
    plain, error = sync(config, streams=streams)
    assert error is None
    emulator.set_shape(null=spelling)
    with caplog.at_level(logging.INFO):
        spelled, error = sync(config, streams=streams)
    assert error is None
    for stream in streams:
        assert records(spelled, stream) == records(plain, stream), stream
    [vouchers] = [
        line
        for line in (r.getMessage() for r in caplog.records)
        if line.startswith("vouchers: ") and " s waiting for exports, " in line
    ]
    nulls = sum(
        1
        for row in emulator.ground_truth("voucher")
        for key, cell in row.items()
        if cell == "" and TABLES["voucher"].field(key).type is not FieldType.STRING
    )
    assert vouchers.endswith(f"; {nulls} cells spelled null/NULL in typed columns read as null")
