"""Every exception the tap raises on purpose, at the ground floor: modules above import these.

`VoucherifyError` is the base: its message is meant for the user, one line, with no secret or
download token in it (see redaction.py). Settings problems are singer-sdk's
`ConfigValidationError`, raised by settings.py, so the SDK's CLI reports them as config errors.
"""

from __future__ import annotations

from typing import Any

from tap_voucherify_exports.redaction import safe_url


class VoucherifyError(Exception):
    """Base class of every error this tap raises on purpose."""


# --- HTTP (client.py) ---


class VoucherifyAPIError(VoucherifyError):
    """A non-retriable HTTP error with Voucherify's error body (`key`, `message`, `details`)."""

    def __init__(self, method: str, url: str, status: int, body: dict[str, Any]) -> None:
        self.method = method
        self.url = safe_url(url)
        self.status = status
        self.code = body.get("code", body.get("statusCode", status))
        self.key = body.get("key") or body.get("error")
        self.message = body.get("message") or "no message"
        self.details = body.get("details")
        self.request_id = body.get("request_id")
        parts = [f"Voucherify API error {status}"]
        if self.key:
            parts.append(f" ({self.key})")
        parts.append(f": {self.message}")
        if self.details:
            parts.append(f": {self.details}")
        if self.request_id:
            parts.append(f" [request_id {self.request_id}]")
        parts.append(f" on {method} {self.url}")
        super().__init__("".join(parts))


class RetriableHTTPError(VoucherifyError):
    """A 429, a 5xx, or a connection failure: worth another try."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# --- Export jobs (exports.py) ---


class ExportFailedError(VoucherifyError):
    """The export ended in `ERROR`; a smaller window may succeed."""


class ExportTimeoutError(VoucherifyError):
    """The export did not reach `DONE` within `export_timeout`."""


class ExportResultError(VoucherifyError):
    """A `DONE` export whose `result` cannot be downloaded (no URL, or an untrusted host)."""


class ExportCancelledError(VoucherifyError):
    """The sync stopped while this export was still being waited for."""


# --- CSV files (records.py) ---


class CsvFormatError(VoucherifyError):
    """The export file does not match what was requested; names stream, line, column and value."""


class TruncatedCsvError(CsvFormatError):
    """The body ended in the middle of a row: the download was cut short and should be retried."""
