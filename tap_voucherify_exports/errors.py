"""Every exception the tap raises on purpose, at the ground floor: modules above import these.

`VoucherifyError` is the base: its message is meant for the user, one line, with no secret or
download token in it (see redaction.py), and `hint` says what to check where that helps. Settings
problems are a `SettingsError`, singer-sdk's `ConfigValidationError` carrying one line per bad
setting in `errors`, which is what the SDK's CLI prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import requests
import urllib3
from singer_sdk.exceptions import ConfigValidationError

from tap_voucherify_exports.redaction import safe_url


class SettingsError(ConfigValidationError):
    """One or more bad settings; `errors` has one line per problem, naming setting and value."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors) or "Config validation failed", errors=errors)


_T = TypeVar("_T")
# singer-sdk's JSON-schema messages: "<message> in config['<setting>']" and
# "'<setting>' is a required property" (plugin_base._format_validation_error).
_SCHEMA_PATH = re.compile(r" in config\['([^']+)'\]")
_SCHEMA_REQUIRED = re.compile(r"^'([^']+)' is a required property$")


class SettingProblems:
    """Collects one line per bad setting while config/settings.py goes on checking the rest."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: set[str] = set()

    def check(self, name: str, parse: Callable[[], _T], fallback: _T) -> _T:
        """`parse()`, or `fallback` (recording the problem) when it names a bad setting."""
        try:
            return parse()
        except ConfigValidationError as exc:
            self.add(name, str(exc))
            return fallback

    def add(self, name: str, line: str) -> None:
        """Record a problem with setting `name`."""
        self.names.add(name)
        self.lines.append(line)

    def add_schema_error(self, error: str) -> None:
        """Record one of singer-sdk's JSON-schema errors, unless its setting is reported."""
        required = _SCHEMA_REQUIRED.match(error)
        path = _SCHEMA_PATH.search(error)
        if required:
            name, line = required.group(1), f"Setting `{required.group(1)}` is required."
        elif path:
            message = error[: path.start()] + error[path.end() :]
            name, line = path.group(1), f"Setting `{path.group(1)}`: {message}."
        else:
            name, line = "", f"Config: {error}."
        if not name or name not in self.names:
            self.add(name, line)


class VoucherifyError(Exception):
    """Base class of every error this tap raises on purpose."""

    @property
    def hint(self) -> str | None:
        """What the user should check, when the message alone does not say."""
        return None


# --- HTTP (api/client.py) ---


# The list endpoints beside the export API (bin_entries, verify_counts) and the OAuth scope of
# each one's name among those `documentation/openapi/oauth.json` lists (which scope an endpoint
# needs is not documented: inferred).
LIST_SCOPES = {
    "/v1/trash-bin": "trash-bin",
    "/v1/vouchers": "vouchers",
    "/v1/customers": "customers",
    "/v1/redemptions": "redemptions",
}


class ConfigFileError(VoucherifyError):
    """A `--config` file that cannot be read as the tap's settings: missing, unreadable, not JSON,
    or JSON other than an object. The message names the file and what is wrong with it."""


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
        self.sent_authorization: str | None = None  # the bearer a 401 rejected (never logged)
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

    @property
    def hint(self) -> str | None:
        """401/403/404 are most often a config problem: say which settings to look at."""
        listed = next((path for path in LIST_SCOPES if path in self.url), None)
        if listed and self.status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            # A list endpoint refused what the exports accepted: a scope or a permission.
            return (
                f"With auth_method oauth, oauth_scope must allow {listed} (e.g. add "
                f"{LIST_SCOPES[listed]!r}, inferred from oauth.json's scope names); with app "
                "keys, they need read access to it. Else deselect bin_entries (GET "
                "/v1/trash-bin) or set verify_counts off (the other lists)."
            )
        if self.status == HTTPStatus.UNAUTHORIZED:
            return (
                "Check app_id and app_token (Project Settings > API keys), and that api_url "
                "is the region of that project (eu, us1 or as1)."
            )
        if self.status == HTTPStatus.FORBIDDEN:
            return "Check that these API keys may create and read exports in this project."
        if self.status == HTTPStatus.NOT_FOUND and "/v1/exports" in self.url:
            return "Check api_url: it should be a Voucherify API origin or a region name."
        return None


class RetriableHTTPError(VoucherifyError):
    """A 429, a 5xx, or a connection failure: worth another try."""

    def __init__(
        self, message: str, retry_after_seconds: float | None = None, *, gated: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        # A 429: the rate gate already holds every request until the named time, so the retry
        # needs no backoff of its own.
        self.gated = gated
        self.tries: int | None = None  # set when the retries gave up (api/client.py)

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} (gave up after {self.tries} tries)" if self.tries else message


class ConnectFailedError(RetriableHTTPError):
    """No connection to a host at all (refused, DNS, connect timeout); after the retries it names
    the setting the host comes from, so a wrong or unreachable `api_url` says so."""

    def __init__(
        self, method: str, url: str, reason: str, setting: str | None, origin: str
    ) -> None:
        super().__init__(f"{method} {safe_url(url)} failed: {reason}")
        self.request_line = f"{method} {safe_url(url)}"
        self.reason = reason
        self.setting = setting
        self.origin = origin

    def __str__(self) -> str:
        host = f"{self.setting} {self.origin}" if self.setting else self.origin
        tries = f" after {self.tries} tries" if self.tries else ""
        return f"Cannot connect to {host}: {self.reason}{tries} ({self.request_line})."

    @property
    def hint(self) -> str | None:
        """Which setting to check, and what usually stands in the way."""
        if self.setting == "download_url":
            return (
                "Check download_url (by default the download host of api_url's region): this "
                "machine must resolve its host name and reach it (DNS, firewall, proxy)."
            )
        if self.setting == "api_url":
            return (
                "Check api_url (a region name, eu, us1 or as1, or an https origin): this machine "
                "must resolve its host name and reach it (DNS, firewall, proxy)."
            )
        return None


# --- Export jobs (jobs/exports_api.py) ---


class ExportFailedError(VoucherifyError):
    """The export ended in `ERROR`; a smaller window may succeed."""


class IgnoredFilterExportError(VoucherifyError):
    """An export ended in `ERROR` while Voucherify ignores its stream's filter: every export of
    that cursor holds the whole table, so a smaller window cannot make it smaller."""


class ExportTimeoutError(VoucherifyError):
    """The export did not reach `DONE` within `export_timeout`."""

    @property
    def hint(self) -> str | None:
        """A big window may simply need longer."""
        return "Raise export_timeout, or lower window_days so each export is smaller."


class ExportResultError(VoucherifyError):
    """A `DONE` export whose `result` cannot be downloaded (no URL, or an untrusted host)."""


class DownloadRefusedError(VoucherifyError):
    """Voucherify refuses an export's download URL (401/403) and Get Export keeps answering that
    same URL, also for the export created again."""


class ExportedObjectRefusedError(VoucherifyError):
    """Voucherify will not export the stream's object on this account (a 400 naming
    `exported_object`): the stream must be deselected."""


class ExportFieldsRefusedError(VoucherifyError):
    """Voucherify refuses a field the stream cannot do without (its primary or replication key)."""


class CountMismatchError(VoucherifyError):
    """`verify_counts: fail`: a closed window's export holds fewer rows than the list endpoint's
    `total` for the same bounds (jobs/counts.py)."""

    @property
    def hint(self) -> str | None:
        """The window is exported again by the next run; the docs say what to check."""
        return (
            "The bookmark stays before this window, so the next run exports it again; "
            "docs/reliability.md#completeness says what a difference can mean."
        )


class ExportCancelledError(VoucherifyError):
    """The sync stopped while this export was still being waited for."""


# --- CSV files (parsing/records.py) ---


# Stands for the line number in a CSV error's message. A NUL is never in a cell that reaches a
# message (parsing/records.py refuses the body first), so no cell text can be mistaken for it.
LINE = "\x00line\x00"


class CsvFormatError(VoucherifyError):
    """The export file does not match what was requested; names stream, line, column and value.

    With `line`, the message says it where it has `LINE`; `moved` gives the same error in a
    file where more lines come first (output/workers.py reads a file in pieces, each from its
    line 0).
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message, line)  # the args pickle: a worker process raises these
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message.replace(LINE, str(self.line))

    def moved(self, lines: int) -> CsvFormatError:
        """This error, `lines` lines further into the file."""
        return type(self)(self.message, None if self.line is None else self.line + lines)


class TruncatedCsvError(CsvFormatError):
    """The body ended in the middle of a row: the download was cut short and should be retried."""


# What a download that broke off raises while its body is read (jobs/download.py restarts it;
# output/workers.py hands on the pieces cut before the break).
BROKEN_DOWNLOAD_ERRORS = (urllib3.exceptions.HTTPError, requests.RequestException, OSError)
