"""`GET /v1/exports?limit=&page=&order=`: the list endpoint, as the spec documents it (no filter
by object or status; `order` one of created_at, -created_at, status, -status)."""

from __future__ import annotations

from typing import Any

from voucherify_emulator.jobs import JobStore
from voucherify_emulator.validation import ApiError, request_id

_LIST_ORDERS = ("created_at", "-created_at", "status", "-status")


def list_exports(jobs: JobStore, query: dict[str, list[str]]) -> dict[str, Any]:
    """The answer: one page; `limit` 1-100, `page` 1-100, `order` as documented."""

    def number(key: str, default: int, low: int, high: int) -> int:
        raw = query.get(key, [str(default)])[0]
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ApiError(
                400,
                {
                    "code": 400,
                    "key": "invalid_query_params",
                    "message": "Invalid query params",
                    "details": f"Property {key} should be between {low} and {high}",
                    "request_id": request_id(),
                },
            )
        return int(raw)

    limit = number("limit", 10, 1, 100)
    page = number("page", 1, 1, 100)
    order = query.get("order", ["-created_at"])[0]
    if order not in _LIST_ORDERS:
        raise ApiError(
            400,
            {
                "code": 400,
                "key": "invalid_query_params",
                "message": "Invalid query params",
                "details": "Property order should be equal to one of the allowed "
                f"values [ {', '.join(_LIST_ORDERS)} ]",
                "request_id": request_id(),
            },
        )
    items = jobs.all()
    if order.lstrip("-") == "status":
        items.sort(key=lambda j: j.status)
    else:
        items.sort(key=lambda j: j.created_mono)
    if order.startswith("-"):
        items.reverse()
    chosen = items[(page - 1) * limit : page * limit]
    return {
        "object": "list",
        "data_ref": "exports",
        "exports": [jobs.body(j) for j in chosen],
        "total": len(items),
    }
