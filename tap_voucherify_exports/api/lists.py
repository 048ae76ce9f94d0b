"""Voucherify's list endpoints, beside the export API: pages of `GET /v1/trash-bin` and the
`total` of `GET /v1/vouchers` and its kin. Every call goes through the run's one client (auth to
trusted origins only, the rate gate, retries)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from tap_voucherify_exports.api.client import VoucherifyClient
from tap_voucherify_exports.errors import VoucherifyError

# `ParameterLimit` of every list endpoint (documentation/openapi/*.json in
# voucherifyio/voucherify-openapi): at most 100 items a page.
LIST_PAGE_LIMIT = 100
# `ParameterPage99`: a list numbered by `page` reaches 99 pages at most.
LIST_PAGES = 99


class ListsAPI:
    """`GET` on a list endpoint of the API origin: a page, every page, or the `total`."""

    def __init__(self, client: VoucherifyClient) -> None:
        self.client = client

    def page(self, path: str, params: Mapping[str, Any], *, kind: str = "list") -> dict[str, Any]:
        """One answer of `path` (e.g. `/v1/trash-bin`) with the query `params`."""
        url = f"{self.client.settings.api_origin}{path}?{urlencode(params)}"
        body = self.client.request("GET", url, kind=kind).json()
        if not isinstance(body, dict):
            raise VoucherifyError(f"Unexpected answer from GET {path}: {str(body)[:200]}")
        return body

    def entries(self, path: str) -> Iterator[dict[str, Any]]:
        """Every item of a list paged by `starting_after_id`, in `id` order: `data`, then the
        next page after `more_starting_after` while `has_more` (bin.json's
        `TrashBinListResponseBody`)."""
        params: dict[str, Any] = {"limit": LIST_PAGE_LIMIT, "order": "id"}
        while True:
            body = self.page(path, params)
            items = body.get("data")
            if not isinstance(items, list):
                raise VoucherifyError(f"Unexpected answer from GET {path}: {str(body)[:200]}")
            yield from (item for item in items if isinstance(item, dict))
            after = body.get("more_starting_after")
            if not body.get("has_more") or not after or not items:
                return
            params = {**params, "starting_after_id": after}

    def ids(self, path: str, params: Mapping[str, Any], count: int) -> list[str]:
        """The `id` of the first `count` items `params` select, oldest first: pages of
        `LIST_PAGE_LIMIT` numbered from 1 (`page`, at most `LIST_PAGES`), sorted by `created_at`,
        which no update changes; each page's items under its `data_ref` (vouchers.json,
        customers.json, redemptions.json)."""
        ids: list[str] = []
        for page in range(1, min(LIST_PAGES, -(-count // LIST_PAGE_LIMIT)) + 1):
            query = {"limit": LIST_PAGE_LIMIT, "page": page, "order": "created_at", **params}
            body = self.page(path, query, kind="count")
            items = body.get(str(body.get("data_ref")))
            if not isinstance(items, list):
                raise VoucherifyError(f"Unexpected answer from GET {path}: {str(body)[:200]}")
            ids.extend(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)
            if len(items) < LIST_PAGE_LIMIT:
                break
        return ids

    def total(self, path: str, params: Mapping[str, Any]) -> int | None:
        """The list's `total` for `params`, read from one call with `limit=1`; None when the
        answer has none (vouchers.json does not mark it required)."""
        body = self.page(path, {"limit": 1, **params}, kind="count")
        total = body.get("total")
        return total if isinstance(total, int) and not isinstance(total, bool) else None
