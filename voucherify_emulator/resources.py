"""The list endpoints of the exported objects, for their `total`: `GET /v1/vouchers`,
`/v1/customers`, `/v1/redemptions`, `/v1/publications` and `/v1/orders`, each with the date
filters its page of the spec (voucherifyio/voucherify-openapi, `documentation/openapi/<name>.json`)
documents, and nothing else:

| path | spec file | date filters |
|---|---|---|
| `/v1/vouchers` | vouchers.json | `created_at`, `updated_at`: `[after]`, `[before]` |
| `/v1/customers` | customers.json | the same four |
| `/v1/redemptions` | redemptions.json | `created_at[after]`, `created_at[before]` |
| `/v1/publications` | publications.json | none |
| `/v1/orders` | orders.json | none (only `limit`, `page`, `order`) |

An answer holds page `page` (1-99, default 1) of `limit` rows (1-100, default 10), as
`{"id", "object"}` only, under the list's `data_ref`, and `total`: how many rows match
(vouchers.json: "how many vouchers in the project meet the limits defined by the query parameter
definitions"). Rows come oldest first; `order=-created_at` reverses them (the spec's default
order is not stated for every list). *Inference*: other query parameters are ignored, and the
date bounds have the edges exports have (`edges`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voucherify_emulator.data import Dataset
from voucherify_emulator.timeline import parse_iso
from voucherify_emulator.validation import invalid_query, list_limit, list_page

# path → (exported object, data_ref, date filters the spec documents)
LISTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "/v1/vouchers": ("voucher", "vouchers", ("created_at", "updated_at")),
    "/v1/customers": ("customer", "customers", ("created_at", "updated_at")),
    "/v1/redemptions": ("redemption", "redemptions", ("created_at",)),
    "/v1/publications": ("publication", "publications", ()),
    "/v1/orders": ("order", "orders", ()),
}


def _bound(query: dict[str, list[str]], key: str) -> int | None:
    values = query.get(key)
    if not values:
        return None
    try:
        return parse_iso(values[0].replace("Z", "+00:00"))
    except ValueError:
        raise invalid_query(f"Property {key} should be an ISO 8601 date") from None


def matching_rows(
    dataset: Dataset, path: str, query: dict[str, list[str]], inclusive: bool
) -> Sequence[int]:
    """Indexes of the rows the list at `path` counts for `query`'s date filters."""
    obj, _, filters = LISTS[path]
    timeline = dataset.timelines[obj]
    changed = dataset.changes.snapshot(obj)
    rows: Sequence[int] = timeline.window(
        _bound(query, "created_at[after]") if "created_at" in filters else None,
        _bound(query, "created_at[before]") if "created_at" in filters else None,
        inclusive,
    )
    if "updated_at" in filters and ("updated_at[after]" in query or "updated_at[before]" in query):
        updated = dataset.updated_at_window(
            obj,
            _bound(query, "updated_at[after]"),
            _bound(query, "updated_at[before]"),
            inclusive,
            changed,
        )
        created = set(rows)
        rows = [i for i in updated if i in created]
    removed = dataset.changes.removed(obj)
    return [i for i in rows if i not in removed] if removed else rows


def list_objects(
    dataset: Dataset, path: str, query: dict[str, list[str]], inclusive: bool
) -> dict[str, Any]:
    """The answer of one list endpoint: the first `limit` rows and `total`."""
    limit, page = list_limit(query), list_page(query)
    obj, data_ref, _ = LISTS[path]
    rows = matching_rows(dataset, path, query, inclusive)
    keys = dataset.keys(obj)
    key = "id" if "id" in keys else keys[0]
    timeline = dataset.timelines[obj]
    ordered = rows[::-1] if query.get("order") == ["-created_at"] else rows
    shown = list(ordered[(page - 1) * limit : page * limit])
    cells = dataset.rows(obj, [key], timeline.snapshot(), shown)
    return {
        "object": "list",
        "data_ref": data_ref,
        data_ref: [{"id": row[0], "object": obj} for row in cells],
        "total": len(rows),
    }
