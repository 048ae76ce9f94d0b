"""Download a DONE export: every file it has, streamed, restarted where a download broke
(after the rows already read) or its token expired (a fresh `result.url` from Get Export)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Generator, Iterator
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol, TextIO, TypeVar, cast

import requests

from tap_voucherify_exports.config.values import origin_of
from tap_voucherify_exports.errors import (
    BROKEN_DOWNLOAD_ERRORS,
    DownloadRefusedError,
    ExportResultError,
    TruncatedCsvError,
    VoucherifyAPIError,
    VoucherifyError,
)
from tap_voucherify_exports.jobs.export import Export, result_urls
from tap_voucherify_exports.jobs.exports_api import RESULT_PREVIEW_CHARS, ExportsAPI
from tap_voucherify_exports.jobs.progress import DownloadProgress, null_note
from tap_voucherify_exports.jobs.request import ExportRequest
from tap_voucherify_exports.redaction import redact_tokens

LOGGER = logging.getLogger("tap_voucherify_exports")

DOWNLOAD_MAX_TRIES = 5
# Download tokens in the spec's examples are JWTs that live 900 s from when they are made; an
# export that waited longer than this behind others gets a fresh `result.url` before its
# download starts, instead of a 401 on its first request (inferred from the examples).
RESULT_URL_MAX_AGE_SECONDS = 600.0
READ_BLOCK_BYTES = 1 << 16
# A 401/403 on the download means the short-lived `token` in result.url expired (Voucherify docs:
# "call Get Export again to obtain a fresh result.url").
TOKEN_EXPIRED_STATUSES = frozenset({HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN})


class ExportCounts(NamedTuple):
    """What one export yielded, for the stream's summary (jobs/progress.py)."""

    rows: int
    nulls: int  # typed cells spelled `null`/`NULL`, read as null (parsing/converters.py)
    outside: int = 0  # rows dropped, outside the window asked for (parsing/window_rows.py)


class RowReader(Protocol):
    """Turns one export file's text into records (parsing/records.py's `CsvRecordReader`)."""

    def records(self, text: TextIO, *, skip_rows: int = 0) -> Iterator[dict[str, Any]]:
        """Yield the file's rows as records, after skipping `skip_rows` already emitted."""
        ...

    @property
    def nulls(self) -> int:
        """Typed cells spelled `null`/`NULL` read as null so far, in every file read."""
        ...

    @property
    def outside(self) -> int:
        """Rows read and dropped so far, outside the export's window, in every file read."""
        ...


T_co = TypeVar("T_co", covariant=True)


class PartReader(Protocol[T_co]):
    """Reads one file (part) of an export; read again after a broken download, it resumes
    after what it already yielded."""

    rows: int  # rows yielded so far

    @property
    def nulls(self) -> int:
        """Typed cells spelled `null`/`NULL` among the rows yielded, read as null."""
        ...

    @property
    def outside(self) -> int:
        """Rows read and dropped, outside the export's window."""
        ...

    def read(self, response: requests.Response) -> Iterator[T_co]:
        """Yield the body's rows (one record, or an encoded batch of them, per item)."""
        ...


class RecordPart:
    """One export file read by a `RowReader`, record by record, in this process."""

    def __init__(self, reader: RowReader) -> None:
        self.reader = reader
        self.rows = 0
        self._nulls_before = reader.nulls  # one reader reads every file of an export
        self._outside_before = reader.outside

    @property
    def nulls(self) -> int:
        """Typed cells spelled `null`/`NULL` read as null in this file."""
        return self.reader.nulls - self._nulls_before

    @property
    def outside(self) -> int:
        """Rows of this file read and dropped, outside the export's window."""
        return self.reader.outside - self._outside_before

    def read(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        """The file's records, after the rows an earlier, broken read went through (those it
        yielded and those it dropped)."""
        for record in self.reader.records(_text(response), skip_rows=self.rows + self.outside):
            self.rows += 1
            yield record


def _text(response: requests.Response) -> io.TextIOWrapper:
    """The body as text, decoded while it streams; a BOM is dropped."""
    raw = response.raw
    raw.decode_content = True
    raw.auto_close = False  # urllib3's switch for wrapping a body in io.TextIOWrapper
    text = io.TextIOWrapper(cast("Any", raw), encoding="utf-8-sig", newline="")
    # One urllib3 `read1` (about 3 µs of Python) per 64 KiB instead of per 8 KiB: parsing/records.py
    # reads 64 KiB blocks. CPython's TextIOWrapper has no public knob for its read size.
    text._CHUNK_SIZE = READ_BLOCK_BYTES  # type: ignore[attr-defined]  # noqa: SLF001 - see above
    return text


def _content_length(response: requests.Response) -> int | None:
    """The body's announced size in bytes, when the server gives one."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def download_urls(api: ExportsAPI, export: Export) -> list[str]:
    """The file URLs of a DONE export, refusing any host that may not receive credentials."""
    urls = result_urls(export.result, export.id)
    if not urls:
        raise ExportResultError(
            f"Export {export.id} is DONE but its result has no download URL: "
            f"{json.dumps(export.result)[:RESULT_PREVIEW_CHARS]}"
        )
    for url in urls:
        if not api.client.is_trusted(url):
            raise ExportResultError(
                f"Export {export.id}: result.url is on {origin_of(url)}, which is neither "
                f"api_url ({api.settings.api_origin}) nor download_url "
                f"({api.settings.download_origin}). Refusing to send credentials there; "
                "set download_url if this host is genuinely Voucherify's."
            )
    return urls


def read_export(
    api: ExportsAPI,
    export: Export,
    request: ExportRequest,
    new_part: Callable[[], PartReader[T_co]],
    create_again: Callable[[Export], Export] | None = None,
) -> Generator[T_co, None, ExportCounts]:
    """Stream every file of a DONE export through a reader `new_part()` makes for each,
    restarting a broken download.

    A restart resumes after the rows already yielded (the reader knows where), so no row is
    emitted twice; an expired token gets a fresh `result.url` from Get Export. When Get Export
    answers the very URL that was just refused, the token will not get any fresher:
    `create_again(export)` creates the export for the same window once more (the pipeline
    tracks it and deletes the dead one), and its file is read from its first row; the rows
    already read may repeat, none can be missed (targets upsert on the primary key). A second
    dead URL raises `DownloadRefusedError`. Returns the number of rows, of null spellings read
    as null and of rows outside the window (the generator's value, for the session's summary);
    jobs/progress.py logs the running total meanwhile.
    """
    started = time.monotonic()
    if started - export.read_at > RESULT_URL_MAX_AGE_SECONDS:
        LOGGER.info(
            "%s: %s finished %.0f s ago; asking for a fresh download URL",
            request.stream_name, export.id, started - export.read_at,
        )  # fmt: skip
        export = api.get_export(export.id)
    progress = DownloadProgress(request.stream_name, export.id, started)
    total = nulls = outside = 0
    part = 0
    created_again = False
    while part < len(urls := download_urls(api, export)):
        if part == 0 and len(urls) > 1:
            LOGGER.info("%s: %s has %d files; reading them in order", request.stream_name,
                        export.id, len(urls))  # fmt: skip
        reader = new_part()
        start_over = False
        for attempt in range(1, DOWNLOAD_MAX_TRIES + 1):
            url = urls[part]
            try:
                with api.client.request("GET", url, kind="download", stream=True) as response:
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
                export = api.get_export(export.id)
                urls = download_urls(api, export)
                if url not in urls:
                    continue
                # The URL just refused, answered again: no fresher token will come (inferred:
                # the docs' "call Get Export again for a fresh result.url" has no example).
                if created_again or create_again is None:
                    raise DownloadRefusedError(
                        f"{request.stream_name}: Voucherify refuses the download URL of "
                        f"{export.id} ({exc.status}) and Get Export answers that same URL"
                        f"{', for the export created again too' if created_again else ''}: "
                        "the file cannot be downloaded. Nothing after the last complete STATE "
                        "was lost; run the sync again later."
                    ) from None
                LOGGER.warning(
                    "%s: Get Export answers the download URL of %s that was just refused (%s); "
                    "creating the export for %s again and reading it from its first row",
                    request.stream_name, export.id, exc.status, request,
                )  # fmt: skip
                export = create_again(export)
                created_again = start_over = True
                break
            except (TruncatedCsvError, *BROKEN_DOWNLOAD_ERRORS) as exc:
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
        nulls += reader.nulls
        outside += reader.outside
        part = 0 if start_over else part + 1
    dropped = f"; {outside} rows outside the window dropped" if outside else ""
    LOGGER.info(
        "%s: %s: %d rows from %s in %.1f s%s%s",
        request.stream_name, request, total, export.id, time.monotonic() - started,
        null_note(nulls), dropped,
    )  # fmt: skip
    return ExportCounts(total, nulls, outside)
