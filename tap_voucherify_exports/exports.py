"""The export job: create, wait, download (streamed), delete."""

from __future__ import annotations

import enum
import io
import json
import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol, TextIO, TypeVar, cast

import requests
import urllib3

from tap_voucherify_exports.client import VoucherifyClient
from tap_voucherify_exports.errors import (
    ConnectFailedError,
    ExportFailedError,
    ExportFieldsRejectedError,
    ExportResultError,
    TruncatedCsvError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.progress import DownloadProgress
from tap_voucherify_exports.redaction import redact_tokens
from tap_voucherify_exports.refused import RejectedFields, allowed_fields, is_allowed
from tap_voucherify_exports.settings import Settings, origin_of
from tap_voucherify_exports.windows import Window

LOGGER = logging.getLogger("tap_voucherify_exports")

DOWNLOAD_MAX_TRIES = 5
RESULT_PREVIEW_CHARS = 500
READ_CHUNK_BYTES = 1 << 16
# A 401/403 on the download means the short-lived `token` in result.url expired (Voucherify docs:
# "call Get Export again to obtain a fresh result.url").
TOKEN_EXPIRED_STATUSES = frozenset({401, 403})


class ExportStatus(str, enum.Enum):
    """Export job statuses (`status` of the export object)."""

    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    ERROR = "ERROR"


# SCHEDULED and IN_PROGRESS mean wait; DONE and ERROR end the wait. A status the spec does not
# list is waited on too, until export_timeout (inferred: the enum is closed today), and logged.
FINISHED_STATUSES = frozenset({ExportStatus.DONE, ExportStatus.ERROR})
KNOWN_STATUSES = frozenset(status.value for status in ExportStatus)


class RowReader(Protocol):
    """Turns one export file's text into records (records.py's `CsvRecordReader`)."""

    def records(self, text: TextIO, *, skip_rows: int = 0) -> Iterator[dict[str, Any]]:
        """Yield the file's rows as records, after skipping `skip_rows` already emitted."""
        ...


T_co = TypeVar("T_co", covariant=True)

# What a download that broke off raises while its body is read.
BROKEN_DOWNLOAD = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)


class PartReader(Protocol[T_co]):
    """Reads one file (part) of an export; read again after a broken download, it resumes
    after what it already yielded."""

    rows: int  # rows yielded so far

    def read(self, response: requests.Response) -> Iterator[T_co]:
        """Yield the body's rows (one record, or an encoded batch of them, per item)."""
        ...


class RecordPart:
    """One export file read by a `RowReader`, record by record, in this process."""

    def __init__(self, reader: RowReader) -> None:
        self.reader = reader
        self.rows = 0

    def read(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        """The file's records, after the `rows` already yielded (by an earlier, broken read)."""
        for record in self.reader.records(_text(response), skip_rows=self.rows):
            self.rows += 1
            yield record


@dataclass(frozen=True)
class ExportRequest:
    """What one export job is asked for: the object, fields, order and window."""

    stream_name: str
    exported_object: str
    fields: tuple[str, ...]
    window: Window | None = None
    filter_key: str | None = None
    # Fields never dropped when Voucherify refuses some: the stream's primary and replication keys.
    required: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """The `POST /v1/exports` body."""
        parameters: dict[str, Any] = {"fields": list(self.fields)}
        if self.window is not None and self.filter_key:
            parameters["order"] = self.filter_key  # ascending: oldest first
            parameters["filters"] = self.window.filters(self.filter_key)
        return {"exported_object": self.exported_object, "parameters": parameters}

    def split(self) -> tuple[ExportRequest, ExportRequest]:
        """The same request over each half of the window."""
        assert self.window is not None
        first, second = self.window.halves()
        return replace(self, window=first), replace(self, window=second)

    def __str__(self) -> str:
        scope = f"window {self.window}" if self.window else "all rows"
        return f"{self.exported_object} export ({scope})"


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
        return self.status not in FINISHED_STATUSES


def result_urls(result: Any) -> list[str]:
    """Every download URL in `result`, in order.

    The documented shape is `{"url": "..."}`. Voucherify says a large export may be split into
    chunks but documents no shape for it, so lists of URLs (under `url`, `urls`, `parts`, `files`
    or `chunks`, as strings or objects with a `url`) are read too: inferred, not documented.
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


def _text(response: requests.Response) -> io.TextIOWrapper:
    """The body as text, decoded while it streams; a BOM is dropped."""
    raw = response.raw
    raw.decode_content = True
    raw.auto_close = False  # urllib3's switch for wrapping a body in io.TextIOWrapper
    text = io.TextIOWrapper(cast("Any", raw), encoding="utf-8-sig", newline="")
    # One urllib3 `read1` (about 3 µs of Python) per 64 KiB instead of per 8 KiB: records.py
    # reads 64 KiB blocks. CPython's TextIOWrapper has no public knob for its read size.
    text._CHUNK_SIZE = READ_CHUNK_BYTES  # type: ignore[attr-defined]  # noqa: SLF001 - see above
    return text


def _content_length(response: requests.Response) -> int | None:
    """The body's announced size in bytes, when the server gives one."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


class ExportsAPI:
    """The verbs of an export job against one Voucherify project."""

    def __init__(
        self,
        client: VoucherifyClient,
        settings: Settings,
        rejected: RejectedFields | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.rejected = RejectedFields() if rejected is None else rejected
        self._exports_url = f"{settings.api_origin}/v1/exports"

    def create_export(self, request: ExportRequest) -> Export:
        """`POST /v1/exports`, without the fields refused so far in this run.

        A 400 `invalid_export_fields` drops the requested fields its "Allowed fields" list
        lacks (never a `required` one: that fails), warns once, and creates again.
        """
        request = self.as_sent(request)
        while True:
            try:
                response = self.client.request(
                    "POST", self._exports_url, kind="create", json_body=request.body()
                )
            except VoucherifyAPIError as exc:
                request = self._without_refused(request, exc)
                continue
            export = Export.from_json(response.json())
            LOGGER.info("%s: created %s for %s", request.stream_name, export.id, request)
            return export

    def as_sent(self, request: ExportRequest) -> ExportRequest:
        """`request` as it is created: without the fields refused so far in this run."""
        fields = self.rejected.without(request.exported_object, request.fields)
        return request if fields == request.fields else replace(request, fields=fields)

    def _without_refused(self, request: ExportRequest, error: VoucherifyAPIError) -> ExportRequest:
        """The request minus the fields `error` refuses; re-raise what cannot be recovered."""
        allowed = allowed_fields(error)
        refused = (
            [] if allowed is None else [f for f in request.fields if not is_allowed(f, allowed)]
        )
        if not refused:
            raise error  # not a field refusal, or none of ours: nothing to drop
        needed = [field for field in refused if field in request.required]
        if needed:
            raise ExportFieldsRejectedError(
                f"{request.stream_name}: Voucherify refuses the field(s) {', '.join(needed)}, "
                f"which the stream needs as its primary or replication key, so it cannot be "
                f"synced from this account. {error}"
            ) from None
        new = self.rejected.add(request.exported_object, refused)
        if new:
            LOGGER.warning(
                "%s: Voucherify refuses the field(s) %s (%s); they are left out of every %s "
                "export for the rest of this run, and records lack those properties.",
                request.stream_name, ", ".join(new), error, request.exported_object,
            )  # fmt: skip
        return replace(request, fields=tuple(f for f in request.fields if f not in refused))

    def get_export(self, export_id: str) -> Export:
        """`GET /v1/exports/{id}`."""
        response = self.client.request("GET", f"{self._exports_url}/{export_id}", kind="get")
        return Export.from_json(response.json())

    def list_exports(self, limit: int) -> list[Export]:
        """`GET /v1/exports?order=-created_at&limit=…`: the project's newest exports, first page."""
        response = self.client.request(
            "GET", f"{self._exports_url}?order=-created_at&limit={limit}", kind="list"
        )
        body = response.json()
        items = body.get("exports") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise VoucherifyError(f"Unexpected export list from Voucherify: {str(body)[:200]}")
        return [Export.from_json(item) for item in items]

    def interrupt_waits(self) -> None:
        """The sync is stopping: requests waiting for the rate limit give up now."""
        self.client.interrupt_waits()

    def delete_export(self, export_id: str) -> bool:
        """`DELETE /v1/exports/{id}`; a failure is only a warning, the data is already synced.
        False when the API could not be reached at all (pipeline.py then stops trying)."""
        try:
            self.client.request("DELETE", f"{self._exports_url}/{export_id}", kind="delete")
        except VoucherifyError as exc:
            LOGGER.warning("Could not delete export %s: %s", export_id, exc)
            return not isinstance(exc, ConnectFailedError)
        LOGGER.info("Deleted export %s", export_id)
        return True

    def finished(self, export: Export, request: ExportRequest, started: float) -> Export:
        """A job that is no longer pending, made ready to download: raise on ERROR, and read a
        DONE job once more if its answer had no `result` (polling.py does the waiting)."""
        if export.status == ExportStatus.DONE and not result_urls(export.result):
            # The create answer carries no `result`: a job already DONE by then (tiny, or a slow
            # client) is read once more, as Voucherify says, for its result.url.
            export = self.get_export(export.id)
        if export.status == ExportStatus.ERROR:
            raise ExportFailedError(
                f"{request.stream_name}: {export.id} ({request}) ended in ERROR; "
                f"result: {json.dumps(export.result)[:RESULT_PREVIEW_CHARS]}"
            )
        LOGGER.info(
            "%s: %s is DONE after %.1f s",
            request.stream_name,
            export.id,
            time.monotonic() - started,
        )
        return export

    def download_urls(self, export: Export) -> list[str]:
        """The file URLs of a DONE export, refusing any host that may not receive credentials."""
        urls = result_urls(export.result)
        if not urls:
            raise ExportResultError(
                f"Export {export.id} is DONE but its result has no download URL: "
                f"{json.dumps(export.result)[:RESULT_PREVIEW_CHARS]}"
            )
        for url in urls:
            if not self.client.is_trusted(url):
                raise ExportResultError(
                    f"Export {export.id}: result.url is on {origin_of(url)}, which is neither "
                    f"api_url ({self.settings.api_origin}) nor download_url "
                    f"({self.settings.download_origin}). Refusing to send credentials there; "
                    "set download_url if this host is genuinely Voucherify's."
                )
        return urls

    def read_records(
        self, export: Export, request: ExportRequest, new_part: Callable[[], PartReader[T_co]]
    ) -> Generator[T_co, None, int]:
        """Stream every file of a DONE export through a reader `new_part()` makes for each,
        restarting a broken download.

        A restart resumes after the rows already yielded (the reader knows where), so no row is
        emitted twice; an expired token gets a fresh `result.url` from Get Export. Returns the
        number of rows (the generator's value, for the session's summary); progress.py logs
        the running total meanwhile.
        """
        started = time.monotonic()
        progress = DownloadProgress(request.stream_name, export.id, started)
        total = 0
        part = 0
        while part < len(urls := self.download_urls(export)):
            reader = new_part()
            for attempt in range(1, DOWNLOAD_MAX_TRIES + 1):
                url = urls[part]
                try:
                    with self.client.request("GET", url, kind="download", stream=True) as response:
                        length = _content_length(response)
                        check = reader.rows + progress.check_every
                        for item in reader.read(response):
                            if reader.rows >= check:
                                progress.update(total + reader.rows, response.raw.tell(), length)
                                check = reader.rows + progress.check_every
                            yield item
                    break
                except VoucherifyAPIError as exc:
                    if exc.status not in TOKEN_EXPIRED_STATUSES or attempt == DOWNLOAD_MAX_TRIES:
                        raise
                    LOGGER.warning(
                        "%s: download token rejected (%s); refreshing", export.id, exc.status
                    )
                    export = self.get_export(export.id)
                    urls = self.download_urls(export)
                except (TruncatedCsvError, *BROKEN_DOWNLOAD) as exc:
                    if attempt == DOWNLOAD_MAX_TRIES:
                        raise VoucherifyError(
                            f"{request.stream_name}: download of {export.id} failed "
                            f"{DOWNLOAD_MAX_TRIES} times; last error: {redact_tokens(str(exc))}"
                        ) from None
                    LOGGER.warning(
                        "%s: download of %s broke after %d rows (%s: %s); restarting it",
                        request.stream_name, export.id, reader.rows, type(exc).__name__,
                        redact_tokens(str(exc)),
                    )  # fmt: skip
            total += reader.rows
            part += 1
        LOGGER.info(
            "%s: %s: %d rows from %s in %.1f s",
            request.stream_name, request, total, export.id, time.monotonic() - started,
        )  # fmt: skip
        return total
