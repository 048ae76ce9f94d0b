"""The retry policy for every request to Voucherify, built once: which answers are retried,
how long to wait (the server's own wait when it names one, else exponential backoff), how often,
and what is said about it.

A 429 is retried after the wait the server names (`Retry-After` or `X-Rate-Limit-Retry`, read by
api/rate_gate.py); a wait longer than `RETRY_AFTER_MAX_SECONDS` means the limit will not lift
during this run, so it is raised instead. 5xx answers and connection failures back off
exponentially. Each try is said once, in one warning line (backoff's own lines are off).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any, TypeVar

import backoff
import requests

from tap_voucherify_exports.api.rate_gate import named_wait_seconds
from tap_voucherify_exports.errors import RetriableHTTPError

LOGGER = logging.getLogger("tap_voucherify_exports")

MAX_TRIES = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# A server may ask for a long pause (hourly plan limits); waiting longer than this is treated as
# "the limit will not lift during this run" and raised instead.
RETRY_AFTER_MAX_SECONDS = 3600.0
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


def _wait_gen(max_value: float = BACKOFF_MAX_SECONDS) -> Generator[float, Any, None]:
    """Exponential backoff that defers to the server's own wait when it names one."""
    expo = backoff.expo(factor=BACKOFF_BASE_SECONDS, max_value=max_value)
    next(expo)  # backoff.expo yields 0 first (its send() primer); start at `factor`
    exception = yield 0.0
    while True:
        fallback = next(expo)
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


def _log_retry(details: Any) -> None:
    exception = details["exception"]
    if getattr(exception, "gated", False):
        LOGGER.warning(
            "%s: every request of this run waits %.1f s (try %d)",
            str(exception).rstrip("."),
            exception.retry_after_seconds or 0.0,
            details["tries"],
        )
        return
    LOGGER.warning(
        "Retrying in %.1f s after try %d: %s", details["wait"], details["tries"], exception
    )


def _asks_too_long(exc: Exception) -> bool:
    return (getattr(exc, "retry_after_seconds", None) or 0) > RETRY_AFTER_MAX_SECONDS


def with_retries(send: F, max_tries: int = MAX_TRIES) -> F:
    """`send`, retried on `RetriableHTTPError` as this module's docstring says."""
    retried: F = backoff.on_exception(
        _wait_gen,
        RetriableHTTPError,
        max_tries=max_tries,
        jitter=None,
        on_backoff=_log_retry,
        on_giveup=_note_giveup,
        giveup=_asks_too_long,
        logger=None,  # _log_retry says it once; backoff's own lines would repeat it
    )(send)
    return retried
