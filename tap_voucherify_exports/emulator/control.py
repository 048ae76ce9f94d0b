"""The unauthenticated control endpoint, `/_emulator/...` on the API origin.

It mirrors the Python API so a tap running in another process (meltano, a benchmark) can be
driven the same way a pytest test drives `Emulator`.
"""

from __future__ import annotations

from typing import Any, Protocol

from tap_voucherify_exports.emulator.recording import RecordedRequest


class Controls(Protocol):
    """What the control endpoint needs from the emulator."""

    def inject(
        self, fault: str, phase: str | None = None, times: int | None = 1,
        exported_object: str | None = None, **params: Any,
    ) -> None: ...  # noqa: D102

    def clear_faults(self) -> None: ...  # noqa: D102

    def add_rows(self, exported_object: str, count: int) -> int: ...  # noqa: D102

    def ground_truth(
        self, exported_object: str, after: Any = None, before: Any = None
    ) -> list[dict[str, str]]: ...  # noqa: D102

    @property
    def requests(self) -> list[RecordedRequest]: ...  # noqa: D102

    def clear_requests(self) -> None: ...  # noqa: D102

    def exports_summary(self) -> list[dict[str, Any]]: ...  # noqa: D102

    def faults_summary(self) -> list[dict[str, Any]]: ...  # noqa: D102


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None


def handle(
    controls: Controls, method: str, path: str, query: dict[str, list[str]], body: Any
) -> tuple[int, Any]:
    """Serve one control request; return (status, JSON payload or None for 204)."""
    route = (method, path.rstrip("/"))
    try:
        if route == ("POST", "/_emulator/faults"):
            if not isinstance(body, dict) or "fault" not in body:
                return 400, {"error": 'expected {"fault": name, ...params}'}
            params = dict(body)
            controls.inject(params.pop("fault"), **params)
            return 200, {"armed": controls.faults_summary()}
        if route == ("GET", "/_emulator/faults"):
            return 200, {"armed": controls.faults_summary()}
        if route == ("DELETE", "/_emulator/faults"):
            controls.clear_faults()
            return 204, None
        if route == ("POST", "/_emulator/rows"):
            if not isinstance(body, dict):
                return 400, {"error": 'expected {"exported_object": ..., "count": n}'}
            total = controls.add_rows(str(body.get("exported_object")), int(body.get("count", 0)))
            return 200, {"exported_object": body.get("exported_object"), "total": total}
        if route == ("GET", "/_emulator/ground-truth"):
            obj = _first(query, "exported_object")
            if obj is None:
                return 400, {"error": "exported_object is required"}
            rows = controls.ground_truth(obj, _first(query, "after"), _first(query, "before"))
            return 200, rows
        if route == ("GET", "/_emulator/requests"):
            return 200, [r.to_json() for r in controls.requests]
        if route == ("DELETE", "/_emulator/requests"):
            controls.clear_requests()
            return 204, None
        if route == ("GET", "/_emulator/exports"):
            return 200, controls.exports_summary()
    except (ValueError, TypeError, KeyError) as exc:
        return 400, {"error": str(exc)}
    return 404, {"error": f"no control route {method} {path}"}
