"""The emulator's deletes, bin and list endpoints, over real HTTP: vouchers to the bin
(`GET /v1/trash-bin`, bin.json), permanent deletes, each list endpoint's `total` for the date
filters its spec documents, and an export short by some rows."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from tests.support.emulator_http import client, export_csv
from voucherify_emulator import Emulator

pytestmark = pytest.mark.integration

BOUNDS = ("2022-01-01T00:00:00.000Z", "2023-01-01T00:00:00.000Z")


def total(emu: Emulator, path: str, **query: str) -> int:
    with client(emu) as s:
        answer = s.get(f"{emu.api_url}{path}", params={"limit": "1", **query}, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    assert len(body[body["data_ref"]]) <= 1
    return body["total"]


def exported_ids(emu: Emulator, exported_object: str) -> set[str]:
    with client(emu) as s:
        text = export_csv(s, emu, exported_object, fields=["id"])
    return {row[0] for row in csv.reader(io.StringIO(text))} - {"ID"}


@pytest.mark.parametrize(
    ("path", "exported_object", "key"),
    [
        ("/v1/vouchers", "voucher", "created_at"),
        ("/v1/customers", "customer", "created_at"),
        ("/v1/redemptions", "redemption", "created_at"),
    ],
)
def test_a_list_total_counts_the_rows_created_within_its_bounds(
    emulator: Emulator, path: str, exported_object: str, key: str
) -> None:
    after, before = BOUNDS
    expected = len(emulator.ground_truth(exported_object, after, before))
    assert 0 < expected < emulator.row_count(exported_object)
    assert total(emulator, path, **{f"{key}[after]": after, f"{key}[before]": before}) == expected


@pytest.mark.parametrize(("path", "exported_object"), [("/v1/vouchers", "voucher"),
                                                       ("/v1/customers", "customer")])  # fmt: skip
def test_a_list_total_counts_the_rows_updated_within_its_bounds(
    emulator: Emulator, path: str, exported_object: str
) -> None:
    emulator.update_rows(exported_object, 5)  # dated now, long after every generated update
    query = {"updated_at[after]": "2025-06-01T00:00:00.000Z",
             "updated_at[before]": "2100-01-01T00:00:00.000Z"}  # fmt: skip
    assert total(emulator, path, **query) == 5


@pytest.mark.parametrize(("path", "exported_object"), [("/v1/publications", "publication"),
                                                       ("/v1/orders", "order")])  # fmt: skip
def test_lists_without_a_date_filter_in_the_spec_count_every_row(
    emulator: Emulator, path: str, exported_object: str
) -> None:
    after, before = BOUNDS
    query = {"created_at[after]": after, "created_at[before]": before}
    assert total(emulator, path, **query) == emulator.row_count(exported_object)


def test_binned_vouchers_leave_exports_and_totals_and_are_listed_in_the_bin_by_id(
    emulator: Emulator,
) -> None:
    before = exported_ids(emulator, "voucher")
    answer = requests.post(
        f"{emulator.api_url}/_emulator/removals",
        json={"exported_object": "voucher", "count": 150, "to_bin": True},
        timeout=10,
    )
    assert answer.json() == {"exported_object": "voucher", "removed": 150}
    after = exported_ids(emulator, "voucher")
    assert len(before - after) == 150
    assert total(emulator, "/v1/vouchers") == len(after)
    pages, query = [], {"limit": "100"}
    with client(emulator) as s:
        while True:
            page = s.get(f"{emulator.api_url}/v1/trash-bin", params=query, timeout=10).json()
            pages.append(page)
            if not page["has_more"]:
                break
            query = {"limit": "100", "starting_after_id": page["more_starting_after"]}
    assert [page["total"] for page in pages] == [100, 50]  # the page's count (bin.json)
    entries = [entry for page in pages for entry in page["data"]]
    assert [entry["id"] for entry in entries] == sorted(entry["id"] for entry in entries)
    assert [entry["created_at"] for entry in entries] == sorted(e["created_at"] for e in entries)
    assert {entry["resource_id"] for entry in entries} == before - after
    assert {entry["resource_type"] for entry in entries} == {"voucher"}
    assert {entry["deleted_by_user_id"] for entry in entries} == {None}  # through the API


@pytest.mark.parametrize("exported_object", ["voucher", "customer", "order"])
def test_a_permanent_delete_leaves_exports_and_the_bin_empty(
    emulator: Emulator, exported_object: str
) -> None:
    before = exported_ids(emulator, exported_object)
    assert emulator.remove_rows(exported_object, 3) == 3
    assert len(before - exported_ids(emulator, exported_object)) == 3
    assert emulator.trash_bin.entries() == []
    if exported_object != "voucher":
        with pytest.raises(ValueError, match="only vouchers go to the bin"):
            emulator.remove_rows(exported_object, 1, to_bin=True)


def test_purged_bin_entries_leave_the_bin_oldest_first(emulator: Emulator) -> None:
    emulator.remove_rows("voucher", 5, to_bin=True)
    kept = emulator.trash_bin.entries()[2:]
    assert emulator.trash_bin.purge(2) == 2
    assert emulator.trash_bin.entries() == kept


def test_a_short_export_lacks_its_last_rows_and_says_nothing(emulator: Emulator) -> None:
    whole = exported_ids(emulator, "customer")
    emulator.inject("short_export", exported_object="customer", rows=4)
    assert len(whole - exported_ids(emulator, "customer")) == 4
    assert exported_ids(emulator, "customer") == whole  # once only
