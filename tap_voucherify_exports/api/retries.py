"""The retry policy for every request to Voucherify, built once: which answers are retried,
how long to wait (the server's own wait when it names one, else exponential backoff), how often,
and what is said about it.

A 429 is retried after the wait the server names (`Retry-After` or `X-Rate-Limit-Retry`, read by
api/rate_gate.py); a wait longer than `RETRY_AFTER_MAX_SECONDS` means the limit will not lift
during this run, so it is raised instead. 5xx answers and connection failures back off
exponentially; a check (`--test`) gives up on a host it cannot connect to sooner
(`connect_tries`). Each try is said once, in one warning line (backoff's own lines are off),
however many requests failed the same way at once: the exports prefetched in parallel all fail
together when Voucherify cannot be reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any, TypeVar

import backoff
import requests

from tap_voucherify_exports.api.rate_gate import named_wait_seconds
from tap_voucherify_exports.errors import ConnectFailedError, RetriableHTTPError

LOGGER = logging.getLogger("tap_voucherify_exports")

MAX_TRIES = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# A server may ask for a long pause (hourly plan limits); waiting longer than this is treated as
# "the limit will not lift during this run" and raised instead.
RETRY_AFTER_MAX_SECONDS = 3600.0
# The same retry warning (same try, wait and error) within this long is one event, said once:
# the requests in flight at once (prefetched exports, polls) fail, and are retried, together.
SAME_WARNING_SECONDS = 60.0
RETRIABLE_STATUSES = frozenset(
    {
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    }
)

F = TypeVar("F", bound=Callable[..., requests.Response])


def retry_after_seconds(response: requests.Response, now: float | None = None) -> float | None:
    """How long the server asked us to wait: `Retry-After`, else `X-Rate-Limit-Retry` (epoch s)."""
    return named_wait_seconds(response.status_code, response.headers, now)


def _wait_gen(
    max_value: float = BACKOFF_MAX_SECONDS, connect_tries: int = MAX_TRIES
) -> Generator[float, Any, None]:
    """Exponential backoff that defers to the server's own wait when it names one, and ends
    (backoff then gives up, raising the error) after `connect_tries` failed connections."""
    expo = backoff.expo(factor=BACKOFF_BASE_SECONDS, max_value=max_value)
    next(expo)  # backoff.expo yields 0 first (its send() primer); start at `factor`
    exception = yield 0.0
    failed_connections = 0
    while True:
        fallback = next(expo)
        if isinstance(exception, ConnectFailedError):
            failed_connections += 1
            if failed_connections >= connect_tries:
                return
        if getattr(exception, "gated", False):
            exception = yield 0.0
            continue
        asked = getattr(exception, "retry_after_seconds", None)
        exception = yield asked if asked is not None else fallback


def _note_giveup(details: Any) -> None:
    # backoff's own "Giving up" line is off: the run's last line names the error and the tries.
    exception = details.get("exception")
    if isinstance(exception, RetriableHTTPError):
        exception.tries = details["tries"]


def _retry_line(details: Any) -> str:
    exception = details["exception"]
    if getattr(exception, "gated", False):
        return (
            f"{str(exception).rstrip('.')}: every request of this run waits "
            f"{exception.retry_after_seconds or 0.0:.1f} s (try {details['tries']})"
        )
    return f"Retrying in {details['wait']:.1f} s after try {details['tries']}: {exception}"


def _asks_too_long(exc: Exception) -> bool:
    return (getattr(exc, "retry_after_seconds", None) or 0) > RETRY_AFTER_MAX_SECONDS


class RetryPolicy:
    """How one client retries, built once per client: `wrap(send)` is `send` retried on
    `RetriableHTTPError` as this module's docstring says, on any thread."""

    def __init__(self, max_tries: int = MAX_TRIES, *, connect_tries: int | None = None) -> None:
        self.max_tries = max_tries
        # A host that cannot be connected to is tried at most this often (at most max_tries).
        self.connect_tries = min(connect_tries or max_tries, max_tries)
        self._said: dict[str, float] = {}  # warning line → when it was said (time.monotonic)
        self._lock = threading.Lock()

    def wrap(self, send: F) -> F:
        """`send`, retried."""
        retried: F = backoff.on_exception(
            _wait_gen,
            RetriableHTTPError,
            max_tries=self.max_tries,
            jitter=None,
            on_backoff=self._say_retry,
            on_giveup=_note_giveup,
            giveup=_asks_too_long,
            logger=None,  # _say_retry says it once; backoff's own lines would repeat it
            connect_tries=self.connect_tries,  # to `_wait_gen`
        )(send)
        return retried

    def _say_retry(self, details: Any) -> None:
        line = _retry_line(details)
        now = time.monotonic()
        with self._lock:
            said = self._said.get(line)
            if said is not None and now - said < SAME_WARNING_SECONDS:
                return
            self._said = {
                other: when
                for other, when in self._said.items()
                if now - when < SAME_WARNING_SECONDS
            }
            self._said[line] = now
            # Said under the lock: threads at different tries must not say them out of order.
            LOGGER.warning("%s", line)
