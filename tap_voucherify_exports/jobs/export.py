"""An export job as Voucherify answers it: its id, its status, its result."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from tap_voucherify_exports.errors import ExportResultError, VoucherifyError


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
    # When this answer was read (monotonic seconds): the age of its `result.url` token, at least.
    read_at: float = field(default_factory=time.monotonic, compare=False)

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


# Where a `result` may list its files. Voucherify documents `{"url": "..."}` only; its docs say
# a large export "can split into multiple chunks" but show no shape, so these are inferred: a
# list of URLs (strings, or objects with a `url`) under one of these keys, or as the result.
RESULT_FILE_KEYS = ("url", "urls", "parts", "files", "chunks")


def _every_url(value: Any) -> list[str]:
    """Every http(s) URL anywhere in `value`, in order."""
    if isinstance(value, str):
        return [value] if value.startswith(("https://", "http://")) else []
    if isinstance(value, dict):
        return [url for item in value.values() for url in _every_url(item)]
    if isinstance(value, list):
        return [url for item in value for url in _every_url(item)]
    return []


def _listed(value: Any) -> list[str] | None:
    """The URLs of a recognised file list (a URL, or a list of URLs or of objects with a
    `url`), or None when `value` is not one."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        urls: list[str] = []
        for item in value:
            url = item.get("url") if isinstance(item, dict) else item
            if not isinstance(url, str):
                return None
            urls.append(url)
        return urls
    return None


def result_urls(result: Any, export_id: str = "") -> list[str]:
    """Every download URL of a DONE export's `result`, in order ([] when it has none).

    Read all or refuse: the URLs must sit in a recognised place (`RESULT_FILE_KEYS`), alone in
    the result. A result that holds URLs elsewhere, or keys never seen next to them, raises
    `ExportResultError` quoting its keys: reading one part of a split export would lose rows
    without a word.
    """
    found = _every_url(result)
    if not found:
        # No http(s) URL: the caller says "no download URL", unless the result is one bare
        # string, whose origin the trust check then names.
        return [result] if isinstance(result, str) and result.strip() else []
    keys = sorted(result) if isinstance(result, dict) else []
    if isinstance(result, dict) and len(result) == 1 and keys[0] in RESULT_FILE_KEYS:
        urls = _listed(result[keys[0]])
    else:
        urls = _listed(result)
    if urls is None or sorted(urls) != sorted(found):
        shape = f"keys {keys}" if keys else f"a {type(result).__name__}"
        raise ExportResultError(
            f"Export {export_id or '?'}: its result holds {len(found)} download URL(s) in a "
            f"shape this tap does not read ({shape}). Reading only some of them could lose "
            "rows, so the sync stops; please report this shape (docs/reliability.md)."
        )
    return urls
