"""A requests-mock stand-in for Voucherify's Exports API, for unit tests.

It holds rows per exported object, honours `$after`/`$before` with inclusive or exclusive edges
and renders CSV with human-readable labels, so tests can check what a sync requests and emits.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests_mock

from tap_voucherify_exports.fields import TABLES

# The app token of the unit tests' config: no log line, error or message may show it.
SECRET = "sk-very-secret-token-123"
API = "https://api.voucherify.io"
DOWNLOAD = "https://download.voucherify.io"
FILTER_COLUMN = {"redemption": "date", "publication": "date"}
# The list endpoints the tap counts a window with (jobs/counts.py), by the object they list.
LISTS = {"/v1/vouchers": "voucher", "/v1/customers": "customer", "/v1/redemptions": "redemption"}


def parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts)


@dataclass
class FakeVoucherify:
    mocker: requests_mock.Mocker
    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    inclusive: bool = False
    polls_before_done: int = 1
    final_status: str = "DONE"
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)

    def install(self) -> FakeVoucherify:
        self.mocker.post(f"{API}/v1/exports", json=self._create)
        self.mocker.get(f"{API}/v1/exports", json=self._list)
        self.mocker.get(
            requests_mock.ANY,
            additional_matcher=lambda r: r.url.startswith(f"{API}/v1/exports/"),
            json=self._get,
        )
        self.mocker.get(
            requests_mock.ANY,
            additional_matcher=lambda r: r.url.startswith(f"{DOWNLOAD}/v1/exports/"),
            text=self._download,
        )
        self.mocker.delete(requests_mock.ANY, status_code=204)
        for path in LISTS:
            self.mocker.get(f"{API}{path}", json=self._count)
        self.mocker.get(f"{API}/v1/trash-bin", json={"object": "list", "data": [], "total": 0})
        return self

    def _count(self, request: Any, context: Any) -> dict[str, Any]:
        """A list endpoint's `total` for its `created_at`/`updated_at` bounds, and page `page`
        of `limit` of those rows' ids, oldest first."""
        query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
        path = urlsplit(request.url).path
        key = "updated_at" if "updated_at[after]" in query else "created_at"
        conditions = {"$after": [query[f"{key}[after]"]], "$before": [query[f"{key}[before]"]]}
        body = {
            "exported_object": LISTS[path],
            "parameters": {"filters": {key: {"conditions": conditions}}},
        }
        rows = self.matching_rows(body)
        limit, page = int(query.get("limit", "10")), int(query.get("page", "1"))
        data_ref = path.rsplit("/", 1)[-1]
        shown = [{"id": row["id"]} for row in rows[(page - 1) * limit : page * limit]]
        return {"object": "list", "data_ref": data_ref, data_ref: shown, "total": len(rows)}

    def answer_status_with(self, answer: Any) -> None:
        """Answer `GET /v1/exports/{id}` with `answer(request, context)` from now on (a wrapper
        of `_get` that fails some job, say); the list call keeps its own answer."""
        self.mocker.get(
            requests_mock.ANY,
            additional_matcher=lambda r: r.url.startswith(f"{API}/v1/exports/"),
            json=answer,
        )

    @property
    def created(self) -> list[dict[str, Any]]:
        return [export["body"] for export in self.exports.values()]

    def _create(self, request: Any, context: Any) -> dict[str, Any]:
        export_id = f"exp_{next(self._ids):024d}"
        self.exports[export_id] = {"body": request.json(), "polls": 0}
        return {"id": export_id, "object": "export", "status": "SCHEDULED", "result": None}

    def _list(self, request: Any, context: Any) -> dict[str, Any]:
        newest_first = list(reversed(self.exports))[: int(request.qs.get("limit", ["10"])[0])]
        exports = [self._status(export_id) for export_id in newest_first]
        return {"object": "list", "data_ref": "exports", "exports": exports, "total": len(exports)}

    def _get(self, request: Any, context: Any) -> dict[str, Any]:
        return self._status(request.path.rsplit("/", 1)[-1])

    def _status(self, export_id: str) -> dict[str, Any]:
        export = self.exports[export_id]
        export["polls"] += 1
        if export["polls"] <= self.polls_before_done:
            return {"id": export_id, "status": "IN_PROGRESS", "result": None}
        if self.final_status != "DONE":
            return {"id": export_id, "status": self.final_status, "result": None}
        url = f"{DOWNLOAD}/v1/exports/{export_id}?token=tok{export['polls']}"
        return {"id": export_id, "status": "DONE", "result": {"url": url}}

    def matching_rows(self, body: dict[str, Any]) -> list[dict[str, str]]:
        exported_object = body["exported_object"]
        rows = self.rows.get(exported_object, [])
        filters = body.get("parameters", {}).get("filters", {})
        key = "updated_at" if "updated_at" in filters else "created_at"
        conditions = filters.get(key, {}).get("conditions")
        if not conditions:
            return rows
        after = parse(conditions["$after"][0])
        before = parse(conditions["$before"][0])
        column = FILTER_COLUMN.get(exported_object, "created_at") if key == "created_at" else key
        selected = []
        for row in rows:
            if not row.get(column):
                continue  # a row never updated has no updated_at: no updated_at filter matches
            at = parse(row[column])
            inside = (after <= at <= before) if self.inclusive else (after < at < before)
            if inside:
                selected.append(row)
        return selected

    def _download(self, request: Any, context: Any) -> str:
        export_id = request.path.rsplit("/", 1)[-1]
        body = self.exports[export_id]["body"]
        return render_csv(
            body["exported_object"], body["parameters"]["fields"], self.matching_rows(body)
        )


def render_csv(exported_object: str, fields: list[str], rows: list[dict[str, str]]) -> str:
    table = TABLES[exported_object]
    out = io.StringIO()
    writer = csv.writer(out)
    # A `metadata.<key>` field is not in the static table: its header cell is the key itself.
    writer.writerow([key if key not in table.keys else table.field(key).label for key in fields])
    for row in rows:
        writer.writerow([row.get(key, "") for key in fields])
    return out.getvalue()


def voucher(n: int, created_at: str, updated_at: str = "") -> dict[str, str]:
    return {
        "id": f"v_{n}",
        "code": f"CODE{n}",
        "created_at": created_at,
        "updated_at": updated_at,
        "value": "2000.00",
        "active": "true",
        "metadata": f'{{"n": {n}}}',
    }
