"""An export job as Voucherify answers it: its id, its status, its result."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from tap_voucherify_exports.errors import VoucherifyError


class ExportStatus(str, enum.Enum):
    """Export job statuses (`status` of the export object), each knowing whether it is final.

    SCHEDULED and IN_PROGRESS mean wait; DONE and ERROR end the wait. A status the spec does not
    list is waited on too, until export_timeout (inferred: the enum is closed today), and logged
    (jobs/polling.py).
    """

    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    ERROR = "ERROR"

    @property
    def is_final(self) -> bool:
        """Whether the job has stopped changing: DONE or ERROR."""
        return self in (ExportStatus.DONE, ExportStatus.ERROR)

    @classmethod
    def is_known(cls, status: str) -> bool:
        """Whether `status` is one the API reference lists."""
        return status in {member.value for member in cls}

    @classmethod
    def is_final_status(cls, status: str) -> bool:
        """Whether the status text `status` ends the wait (an unknown one does not)."""
        return cls.is_known(status) and cls(status).is_final


@dataclass(frozen=True)
class Export:
    """An export object as `GET /v1/exports/{id}` returns it."""

    id: str
    status: str
    result: Any

    @classmethod
    def from_json(cls, body: Any) -> Export:
        """Build from a response body; tolerate missing or extra keys."""
        if not isinstance(body, dict) or not body.get("id"):
            raise VoucherifyError(f"Unexpected export object from Voucherify: {str(body)[:200]}")
        return cls(
            id=str(body["id"]), status=str(body.get("status", "")), result=body.get("result")
        )

    @property
    def is_pending(self) -> bool:
        """Whether the job is still being generated (or in a status this tap does not know)."""
        return not ExportStatus.is_final_status(self.status)


def result_urls(result: Any) -> list[str]:
    """Every download URL in `result`, in order.

    The documented shape is `{"url": "..."}`. Voucherify says a large export may be split into
    several files but documents no shape for it, so lists of URLs (under `url`, `urls`, `parts`,
    `files` or `chunks`, as strings or objects with a `url`) are read too: inferred, not
    documented.
    """
    if isinstance(result, str):
        return [result] if result.strip() else []
    if isinstance(result, list):
        return [url for item in result for url in result_urls(item)]
    if isinstance(result, dict):
        for key in ("url", "urls", "parts", "files", "chunks"):
            urls = result_urls(result.get(key))
            if urls:
                return urls
    return []
