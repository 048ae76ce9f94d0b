"""The emulator's change model and voucher transactions, over real HTTP: `update_rows` moves rows'
`updated_at` and mutable fields, exports filter and order on `updated_at`, the ground truth is
every row's current value."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from tests.support.emulator_http import client, export_csv
from voucherify_emulator import Emulator
from voucherify_emulator.api import OBJECTS
from voucherify_emulator.changes import MUTATIONS

pytestmark = pytest.mark.integration


def records(exported_object: str, text: str) -> list[dict[str, str]]:
    """CSV rows keyed by field key (the emulator writes columns in `fields` order)."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    keys = list(OBJECTS[exported_object].keys)
    return [dict(zip(keys, row, strict=True)) for row in rows[1:]]


def window(key: str, after: str, before: str) -> dict:
    return {"junction": "and", key: {"conditions": {"$after": [after], "$before": [before]}}}


@pytest.mark.parametrize("exported_object", sorted(MUTATIONS))
def test_update_rows_changes_updated_at_and_mutable_fields_of_exactly_n_rows(
    emulator: Emulator, exported_object: str
) -> None:
    before = {row["id"]: row for row in emulator.ground_truth(exported_object)}
    assert emulator.update_rows(exported_object, 7) == 7
    after = {row["id"]: row for row in emulator.ground_truth(exported_object)}
    assert after.keys() == before.keys()
    changed = [key for key in after if after[key] != before[key]]
    assert len(changed) == 7
    for key in changed:
        old, new = before[key], after[key]
        assert new["updated_at"] > max(old["updated_at"], old["created_at"])
        assert new["created_at"] == old["created_at"]
        moved = {field for field in new if new[field] != old[field]} - {"updated_at"}
        assert moved <= set(MUTATIONS[exported_object])


def test_an_updated_at_window_exports_exactly_the_rows_changed_inside_it(
    emulator: Emulator,
) -> None:
    with client(emulator) as s:
        export_csv(s, emulator, "voucher")  # a read: the changes are dated after it
        emulator.update_rows("voucher", 5)
        truth = emulator.ground_truth("voucher")
        stamps = sorted(row["updated_at"] for row in truth if row["updated_at"] >= "2026")
        assert len(stamps) >= 5
        fields = list(OBJECTS["voucher"].keys)
        text = export_csv(
            s, emulator, "voucher", fields=fields, order="updated_at",
            filters=window("updated_at", "2025-06-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"),
        )  # fmt: skip
    exported = records("voucher", text)
    expected = [row for row in truth if row["updated_at"] > "2025-06-01T00:00:00.000Z"]
    assert sorted(r["id"] for r in exported) == sorted(r["id"] for r in expected)
    assert [r["updated_at"] for r in exported] == sorted(r["updated_at"] for r in exported)
    assert {tuple(r.items()) for r in exported} == {tuple(r.items()) for r in expected}


def test_rows_never_updated_are_in_no_updated_at_window(emulator: Emulator) -> None:
    truth = emulator.ground_truth("order")
    never = {row["id"] for row in truth if not row["updated_at"]}
    assert never  # a third of the generated rows
    with client(emulator) as s:
        text = export_csv(
            s, emulator, "order", fields=list(OBJECTS["order"].keys), order="updated_at",
            filters=window("updated_at", "2000-01-01T00:00:00.000Z", "2099-01-01T00:00:00.000Z"),
        )  # fmt: skip
    exported = {row["id"] for row in records("order", text)}
    assert exported == {row["id"] for row in truth} - never


def test_a_created_at_window_exports_changed_rows_as_they_are_now(emulator: Emulator) -> None:
    emulator.update_rows("customer", 20)
    with client(emulator) as s:
        text = export_csv(s, emulator, "customer", fields=list(OBJECTS["customer"].keys))
    assert records("customer", text) == emulator.ground_truth("customer")


def test_an_export_shows_rows_as_they_were_when_it_was_created(emulator: Emulator) -> None:
    emulator.update_rows("voucher", 3)
    first = emulator.ground_truth("voucher")
    with client(emulator) as s:
        text = export_csv(s, emulator, "voucher", fields=list(OBJECTS["voucher"].keys))
        emulator.update_rows("voucher", 3)
        again = export_csv(s, emulator, "voucher", fields=list(OBJECTS["voucher"].keys))
    assert records("voucher", text) == first
    assert records("voucher", again) == emulator.ground_truth("voucher") != first


def test_the_control_endpoint_updates_rows(emulator: Emulator) -> None:
    before = emulator.ground_truth("order")
    answer = requests.post(
        f"{emulator.api_url}/_emulator/updates",
        json={"exported_object": "order", "count": 4},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"exported_object": "order", "updated": 4, "total": 100}
    after = emulator.ground_truth("order")
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 4


@pytest.mark.parametrize("exported_object", ["redemption", "voucher_transactions"])
def test_objects_that_never_change_reject_updates_and_updated_at_filters(
    emulator: Emulator, exported_object: str
) -> None:
    with pytest.raises(ValueError, match="do not change"):
        emulator.update_rows(exported_object, 1)
    with client(emulator) as s:
        answer = s.post(
            f"{emulator.api_url}/v1/exports",
            json={
                "exported_object": exported_object,
                "parameters": {"filters": window("updated_at", "2020-01-01", "2030-01-01")},
            },
        )
    assert answer.status_code == 400
    assert answer.json()["key"] == "invalid_export_params"


def test_voucher_transactions_export_on_created_at_with_dashboard_labels(
    emulator: Emulator,
) -> None:
    with client(emulator) as s:
        text = export_csv(
            s, emulator, "voucher_transactions", fields=list(OBJECTS["voucher_transactions"].keys),
            order="created_at",
            filters=window("created_at", "2022-01-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z"),
        )  # fmt: skip
    header = next(csv.reader(io.StringIO(text)))
    assert header[:3] == ["ID", "Campaign ID", "Voucher ID"]
    assert "Creation date" in header
    exported = records("voucher_transactions", text)
    truth = emulator.ground_truth(
        "voucher_transactions", "2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z"
    )
    assert exported == truth
    assert exported
    assert all(row["id"].startswith("vtx_") for row in exported)


def test_removed_points_expirations_vanish_from_exports_and_ground_truth(
    emulator: Emulator,
) -> None:
    before = {row["id"] for row in emulator.ground_truth("points_expiration")}
    answer = requests.post(
        f"{emulator.api_url}/_emulator/removals",
        json={"exported_object": "points_expiration", "count": 6},
        timeout=10,
    )
    assert answer.json() == {"exported_object": "points_expiration", "removed": 6}
    after = {row["id"] for row in emulator.ground_truth("points_expiration")}
    assert after < before
    assert len(before - after) == 6
    with client(emulator) as s:
        text = export_csv(s, emulator, "points_expiration", fields=["id"])
    assert {row[0] for row in csv.reader(io.StringIO(text))} - {"ID"} == after
    with pytest.raises(ValueError, match="never deleted"):
        emulator.remove_rows("redemption", 1)
