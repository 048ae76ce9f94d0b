"""Validate a create-export body the way Voucherify does, and the error bodies it answers with.

Error bodies follow the research digest section 5 verbatim (`invalid_payload`,
`invalid_export_fields`, `not_found`, `unauthorized`, 429). What the emulator does not support
(other `order` values, filters other than one `created_at` or `updated_at` range) is rejected
loudly rather than ignored, so a tap never believes a filter was applied when it was not.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from voucherify_emulator.api import CHANGING_OBJECTS, OBJECTS
from voucherify_emulator.timeline import parse_iso

# The order of the documented 400 example (research digest section 5).
ALLOWED_OBJECTS = ("voucher", "redemption", "customer", "publication", "order", "points_expiration")

# Digest section 2.1; keys missing from the field table (publication `code`) are dropped.
_DEFAULTS = {
    "order": ["id", "source_id", "status"],
    "voucher": ["code", "voucher_type", "value", "discount_type"],
    "publication": ["code", "customer_id", "date", "channel"],
    "redemption": ["id", "object", "voucher_code", "customer_id", "date", "result"],
    "customer": ["name", "source_id"],
    "points_expiration": ["id", "campaign_id", "voucher_id", "status", "expires_at", "points"],
    "voucher_transactions": [
        "id", "type", "source_id", "status", "reason", "source", "balance", "amount", "created_at",
    ],
}  # fmt: skip
# Inference: the default when `order` is omitted is not documented; oldest first is chosen.
DEFAULT_ORDER = {"points_expiration": "expires_at"}


class ApiError(Exception):
    """An HTTP error answer: status code and JSON body."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def request_id() -> str:
    """A Voucherify-looking request id, e.g. `v-0afdb603910a1a14e0`."""
    return "v-" + secrets.token_hex(9)


def api_error(status: int, key: str, message: str, details: str, **extra: str) -> ApiError:
    """An error answer in Voucherify's shape (research digest, error bodies), with a request id."""
    body = {
        "code": status,
        "key": key,
        "message": message,
        "details": details,
        "request_id": request_id(),
        **extra,
    }
    return ApiError(status, body)


def invalid_payload(details: str) -> ApiError:
    """400 invalid_payload."""
    return api_error(400, "invalid_payload", "Invalid payload", details)


def invalid_query(details: str) -> ApiError:
    """400 invalid_query_params (a list endpoint's `limit`, `order` or filter)."""
    return api_error(400, "invalid_query_params", "Invalid query params", details)


# `ParameterLimit` of every list endpoint (the spec's files): 1-100, 10 when omitted.
LIST_PAGE_MAX = 99
LIST_LIMIT_MAX = 100
LIST_LIMIT_DEFAULT = 10


def list_limit(query: dict[str, list[str]]) -> int:
    """A list endpoint's `limit`, or 400 invalid_query_params."""
    raw = query.get("limit", [str(LIST_LIMIT_DEFAULT)])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise invalid_query(f"Property limit should be between 1 and {LIST_LIMIT_MAX}")
    return int(raw)


def list_page(query: dict[str, list[str]]) -> int:
    """A list endpoint's `page` (`ParameterPage99`: 1-99, default 1), or 400
    invalid_query_params."""
    raw = query.get("page", ["1"])[0]
    if not raw.isdigit() or not 1 <= int(raw) <= LIST_PAGE_MAX:
        raise invalid_query(f"Property page should be between 1 and {LIST_PAGE_MAX}")
    return int(raw)


def invalid_params(details: str) -> ApiError:
    """400 invalid_export_params ("export object was specified incorrectly")."""
    return api_error(400, "invalid_export_params", "Invalid Export Params", details)


def not_found(export_id: str) -> ApiError:
    """404 for an unknown export id."""
    return api_error(
        404,
        "not_found",
        "Resource not found",
        f"Cannot find export with id {export_id}",
        resource_id=export_id,
        resource_type="export",
    )


def unauthorized() -> ApiError:
    """401 as the download host answers it."""
    return ApiError(401, {"code": 401, "message": "Unauthorized", "key": "unauthorized"})


def default_fields(exported_object: str) -> list[str]:
    """Documented default fields that exist in the field table."""
    keys = OBJECTS[exported_object].keys
    return [key for key in _DEFAULTS[exported_object] if key in keys]


@dataclass(frozen=True)
class ExportSpec:
    """A validated export request."""

    exported_object: str
    fields: list[str]
    descending: bool
    after_ms: int | None
    before_ms: int | None
    # The date the window is on (`created_at` or `updated_at`) and the one rows are ordered by.
    filter_key: str = "created_at"
    order_key: str = "created_at"


def _condition_time(value: Any, where: str) -> int:
    # Condition values are scalars (OLD23) or one-element arrays (EXP, GUIDE): accept both.
    if isinstance(value, list):
        if len(value) != 1:
            raise invalid_payload(f"Property {where} should contain exactly one item")
        value = value[0]
    if not isinstance(value, str):
        raise invalid_payload(f"Property {where} should be an ISO 8601 date-time string")
    try:
        return parse_iso(value)
    except ValueError:
        raise invalid_payload(f"Property {where} should be an ISO 8601 date-time string") from None


def _date_keys(exported_object: str) -> tuple[str, ...]:
    """The date fields an export of this object may be filtered and ordered by."""
    if exported_object == "points_expiration":
        return ("expires_at",)
    if exported_object in CHANGING_OBJECTS:
        return ("created_at", "updated_at")
    return ("created_at",)


def _filters(exported_object: str, filters: Any) -> tuple[str, int | None, int | None]:
    """The filtered date key and its (after, before) bounds."""
    if filters is None:
        return "created_at", None, None
    if not isinstance(filters, dict):
        raise invalid_payload("Property .parameters.filters should be object")
    after: int | None = None
    before: int | None = None
    filtered: list[str] = []
    for key, spec in filters.items():
        if key == "junction":
            if not isinstance(spec, str) or spec.lower() not in ("and", "or"):
                raise invalid_payload(
                    "Property .parameters.filters.junction should be equal to one of the "
                    "allowed values [ and, or ]"
                )
            continue
        conditions = spec.get("conditions") if isinstance(spec, dict) else None
        if not isinstance(conditions, dict):
            raise invalid_payload(f"Property .parameters.filters.{key}.conditions should be object")
        if exported_object == "points_expiration":
            if key not in ("campaign_id", "voucher_id"):
                raise invalid_params(f"Filter {key} is not supported for points_expiration export")
            continue  # accepted, not applied (see the emulator README)
        if key not in _date_keys(exported_object):
            raise invalid_params(f"Filter {key} is not supported by the emulator")
        filtered.append(key)
        after, before = _date_range(key, conditions)
    if len(filtered) > 1:
        raise invalid_params("The emulator filters on one of created_at or updated_at, not both")
    return (filtered[0] if filtered else "created_at"), after, before


def _date_range(key: str, conditions: dict[str, Any]) -> tuple[int | None, int | None]:
    bounds: dict[str, int | None] = {"$after": None, "$before": None}
    for op, value in conditions.items():
        if op not in bounds:
            raise invalid_params(f"Operator {op} is not supported for {key}")
        bounds[op] = _condition_time(value, f".parameters.filters.{key}.conditions.{op}")
    return bounds["$after"], bounds["$before"]


def _exportable(keys: tuple[str, ...], field: str) -> bool:
    # `metadata.X` ("expressed as metadata.X, where X is the name of the custom metadata
    # property", digest §3) for every object that exports `metadata`. Whether Voucherify checks X
    # against the project's metadata schema is not documented: any non-empty X is accepted.
    if field.startswith("metadata.") and "metadata" in keys:
        return bool(field[len("metadata.") :])
    return field in keys


def validate_create(
    body: Any,
    rejected: dict[str, list[str]] | None = None,
    refused_objects: Collection[str] = (),
) -> ExportSpec:
    """Validate a POST /v1/exports body; raise ApiError like Voucherify would.

    `rejected`: exported_object → field keys this emulator refuses; `refused_objects`: the
    exported_objects this account cannot export at all (see shapes.py)."""
    if not isinstance(body, dict):
        raise invalid_payload("Payload should be object")
    exported_object = body.get("exported_object")
    if exported_object not in OBJECTS or exported_object in refused_objects:
        allowed = [obj for obj in ALLOWED_OBJECTS if obj not in refused_objects]
        raise invalid_payload(
            "Property .exported_object should be equal to one of the allowed values "
            f"[ {', '.join(allowed)} ]"
        )
    parameters = body.get("parameters", {})
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise invalid_payload("Property .parameters should be object")
    table = OBJECTS[exported_object]
    fields = parameters.get("fields")
    if fields is None or fields == []:
        fields = default_fields(exported_object)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid_payload("Property .parameters.fields should be array of strings")
    refused = set((rejected or {}).get(exported_object, ()))
    if any(not _exportable(table.keys, f) or f in refused for f in fields):
        allowed = [key for key in table.keys if key not in refused]
        raise api_error(
            400,
            "invalid_export_fields",
            "Invalid Export",
            f"Unsupported field used. Allowed fields: {', '.join(allowed)}",
        )
    orders = [o for key in _date_keys(exported_object) for o in (key, f"-{key}")]
    order = parameters.get("order") or DEFAULT_ORDER.get(exported_object, "created_at")
    if order not in orders:
        raise invalid_payload(
            "Property .parameters.order should be equal to one of the allowed values "
            f"[ {', '.join(orders)} ] (emulator subset)"
        )
    filter_key, after, before = _filters(exported_object, parameters.get("filters"))
    return ExportSpec(
        exported_object,
        list(fields),
        order.startswith("-"),
        after,
        before,
        filter_key=filter_key,
        order_key=order.lstrip("-"),
    )
