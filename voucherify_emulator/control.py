"""The unauthenticated control endpoint, `/_emulator/...` on the API origin.

It mirrors the Python API so a tap running in another process (meltano, a benchmark) can be
driven the same way a pytest test drives `Emulator`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from voucherify_emulator.recording import RecordedRequest

Query = dict[str, list[str]]
Answer = tuple[int, Any]


class Controls(Protocol):
    """What the control endpoint needs from the emulator."""

    def inject(
        self,
        fault: str,
        phase: str | None = None,
        times: int | None = 1,
        exported_object: str | None = None,
        **params: Any,
    ) -> None: ...

    def clear_faults(self) -> None: ...

    def add_rows(self, exported_object: str, count: int) -> int: ...

    def update_rows(self, exported_object: str, count: int) -> int: ...

    def remove_rows(self, exported_object: str, count: int, *, to_bin: bool = False) -> int: ...

    def row_count(self, exported_object: str) -> int: ...

    def ground_truth(
        self, exported_object: str, after: Any = None, before: Any = None
    ) -> list[dict[str, str]]: ...

    @property
    def requests(self) -> list[RecordedRequest]: ...

    def clear_requests(self) -> None: ...

    def exports_summary(self) -> list[dict[str, Any]]: ...

    def faults_summary(self) -> list[dict[str, Any]]: ...

    def set_shape(self, **fields: Any) -> Any: ...

    def shape_summary(self) -> dict[str, Any]: ...


def _first(query: Query, key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def _inject(c: Controls, query: Query, body: Any) -> Answer:
    if not isinstance(body, dict) or "fault" not in body:
        return 400, {"error": 'expected {"fault": name, ...params}'}
    params = dict(body)
    c.inject(params.pop("fault"), **params)
    return 200, {"armed": c.faults_summary()}


def _clear_faults(c: Controls, query: Query, body: Any) -> Answer:
    c.clear_faults()
    return 204, None


Handler = Callable[["Controls", Query, Any], Answer]


def _row_change(verb: str, change: Callable[[Controls, str, int], int], total: bool) -> Handler:
    """A handler for `{"exported_object": ..., "count": n}`: add, update or remove n rows."""

    def handle(c: Controls, query: Query, body: Any) -> Answer:
        if not isinstance(body, dict):
            return 400, {"error": 'expected {"exported_object": ..., "count": n}'}
        obj = str(body.get("exported_object"))
        answer = {"exported_object": obj, verb: change(c, obj, int(body.get("count", 0)))}
        return 200, answer | ({"total": c.row_count(obj)} if total else {})

    return handle


_add_rows = _row_change("added", lambda c, obj, n: c.add_rows(obj, n), total=True)
_update_rows = _row_change("updated", lambda c, obj, n: c.update_rows(obj, n), total=True)


def _remove_rows(c: Controls, query: Query, body: Any) -> Answer:
    if not isinstance(body, dict):
        return 400, {"error": 'expected {"exported_object": ..., "count": n, "to_bin": false}'}
    obj = str(body.get("exported_object"))
    removed = c.remove_rows(obj, int(body.get("count", 0)), to_bin=bool(body.get("to_bin")))
    return 200, {"exported_object": obj, "removed": removed}


def _ground_truth(c: Controls, query: Query, body: Any) -> Answer:
    obj = _first(query, "exported_object")
    if obj is None:
        return 400, {"error": "exported_object is required"}
    return 200, c.ground_truth(obj, _first(query, "after"), _first(query, "before"))


def _set_shape(c: Controls, query: Query, body: Any) -> Answer:
    if not isinstance(body, dict):
        return 400, {"error": 'expected {"header": ..., "order": ..., "metadata": ..., ...}'}
    c.set_shape(**body)
    return 200, c.shape_summary()


def _clear_requests(c: Controls, query: Query, body: Any) -> Answer:
    c.clear_requests()
    return 204, None


_ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/_emulator/faults"): _inject,
    ("GET", "/_emulator/faults"): lambda c, q, b: (200, {"armed": c.faults_summary()}),
    ("DELETE", "/_emulator/faults"): _clear_faults,
    ("POST", "/_emulator/rows"): _add_rows,
    ("POST", "/_emulator/updates"): _update_rows,
    ("POST", "/_emulator/removals"): _remove_rows,
    ("GET", "/_emulator/ground-truth"): _ground_truth,
    ("GET", "/_emulator/requests"): lambda c, q, b: (200, [r.to_json() for r in c.requests]),
    ("DELETE", "/_emulator/requests"): _clear_requests,
    ("GET", "/_emulator/exports"): lambda c, q, b: (200, c.exports_summary()),
    ("PUT", "/_emulator/shape"): _set_shape,
    ("GET", "/_emulator/shape"): lambda c, q, b: (200, c.shape_summary()),
}


def handle(controls: Controls, method: str, path: str, query: Query, body: Any) -> Answer:
    """Serve one control request; return (status, JSON payload, or None for 204)."""
    route = _ROUTES.get((method, path.rstrip("/")))
    if route is None:
        return 404, {"error": f"no control route {method} {path}"}
    try:
        return route(controls, query, body)
    except (ValueError, TypeError, KeyError) as exc:
        return 400, {"error": str(exc)}
