"""One `requests.Session`, timeouts, retries with backoff, Voucherify error bodies → exceptions."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator
from email.utils import parsedate_to_datetime
from typing import Any

import backoff
import requests
from requests.adapters import HTTPAdapter

from tap_voucherify_exports.auth import AppKeyAuth, TrustedOriginSession
from tap_voucherify_exports.errors import RetriableHTTPError, VoucherifyAPIError
from tap_voucherify_exports.redaction import safe_url
from tap_voucherify_exports.settings import Settings

LOGGER = logging.getLogger("tap_voucherify_exports")

MAX_TRIES = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# A server may ask for a long pause (hourly plan limits); waiting longer than this is treated as
# "the limit will not lift during this run" and raised instead.
RETRY_AFTER_MAX_SECONDS = 3600.0
CONNECT_TIMEOUT_MAX_SECONDS = 30.0
RETRIABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "tap-voucherify-exports"


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text[:500].strip()
    return {"message": text or response.reason or "no body"}


def retry_after_seconds(response: requests.Response, now: float | None = None) -> float | None:
    """How long the server asked us to wait: `Retry-After`, else `X-Rate-Limit-Retry` (epoch s)."""
    now = time.time() if now is None else now
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    retry_at = response.headers.get("X-Rate-Limit-Retry")
    if retry_at and response.status_code == 429:  # noqa: PLR2004 - only a 429 means "wait for it"
        try:
            return max(0.0, float(retry_at) - now)
        except ValueError:
            return None
    return None


def _wait_gen(max_value: float = BACKOFF_MAX_SECONDS) -> Generator[float, Any, None]:
    """Exponential backoff that defers to the server's own wait when it names one."""
    expo = backoff.expo(factor=BACKOFF_BASE_SECONDS, max_value=max_value)
    next(expo)  # backoff.expo yields 0 first (its send() primer); start at `factor`
    exception = yield 0.0
    while True:
        fallback = next(expo)
        asked = getattr(exception, "retry_after_seconds", None)
        exception = yield asked if asked is not None else fallback


def _log_retry(details: Any) -> None:
    LOGGER.warning(
        "Retrying in %.1f s after try %d: %s",
        details["wait"],
        details["tries"],
        details["exception"],
    )


class VoucherifyClient:
    """Sends requests with the app keys (to trusted origins only), retrying what is retriable."""

    def __init__(self, settings: Settings, *, max_tries: int = MAX_TRIES) -> None:
        self.settings = settings
        self.auth = AppKeyAuth(settings.app_id, settings.app_token, settings.trusted_origins)
        self.session = TrustedOriginSession(self.auth)
        self.session.headers["User-Agent"] = USER_AGENT
        # One connection per export that may be in flight, plus the download.
        pool = max(10, settings.max_concurrent_exports * 2 + 2)
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.timeout = (
            min(CONNECT_TIMEOUT_MAX_SECONDS, settings.request_timeout_seconds),
            settings.request_timeout_seconds,
        )
        self._send_with_retries = backoff.on_exception(
            _wait_gen,
            RetriableHTTPError,
            max_tries=max_tries,
            jitter=None,
            on_backoff=_log_retry,
            giveup=lambda exc: (exc.retry_after_seconds or 0) > RETRY_AFTER_MAX_SECONDS,
        )(self._send)

    def is_trusted(self, url: str) -> bool:
        """Whether the app keys may be sent to this URL."""
        return self.auth.is_trusted(url)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send a request, retrying 429/5xx/connection errors; raise `VoucherifyAPIError` else."""
        return self._send_with_retries(method, url, json_body, stream)

    def _send(
        self,
        method: str,
        url: str,
        json_body: dict[str, Any] | None,
        stream: bool,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                url,
                data=None if json_body is None else json.dumps(json_body),
                headers={"Content-Type": "application/json"} if json_body is not None else None,
                stream=stream,
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableHTTPError(
                f"{method} {safe_url(url)} failed: {type(exc).__name__}"
            ) from None
        if response.status_code < 400:  # noqa: PLR2004
            return response
        body = _error_body(response)
        response.close()
        if response.status_code in RETRIABLE_STATUSES:
            raise RetriableHTTPError(
                f"{method} {safe_url(url)} answered {response.status_code}: "
                f"{body.get('message', '')}".rstrip(": "),
                retry_after_seconds(response),
            )
        raise VoucherifyAPIError(method, url, response.status_code, body)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def __enter__(self) -> VoucherifyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
