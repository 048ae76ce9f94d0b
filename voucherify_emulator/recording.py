"""Recorded requests (every origin), and the rate-limit counter behind X-Rate-Limit-* headers."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    """One request as received: which origin, what was asked and with which headers, when it
    arrived (epoch seconds), and how it was answered (`status`; for a 429, `retry_at`, the
    epoch second the answer named for the next request)."""

    origin: str  # "api" | "download" | "foreign"
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON (or the form fields of an OAuth call), or None
    at: float = field(default_factory=time.time)
    status: int | None = None
    retry_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (for GET /_emulator/requests)."""
        return asdict(self)


RequestHook = Callable[[RecordedRequest], None]


class Recorder:
    """Thread-safe, append-only request log, and the hooks told of each request recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._hooks: list[RequestHook] = []
        self._hook_errors: list[Exception] = []

    def add(self, request: RecordedRequest) -> None:
        """Record one request, then call every hook with it, in the order they were added.

        What a hook raises is kept for `take_hook_errors` and raised on."""
        with self._lock:
            self._requests.append(request)
            hooks = list(self._hooks)
        for hook in hooks:
            try:
                hook(request)
            except Exception as error:
                with self._lock:
                    self._hook_errors.append(error)
                raise

    def add_hook(self, hook: RequestHook) -> Callable[[], None]:
        """Call `hook` with every request recorded from now on; returns what removes it."""
        with self._lock:
            self._hooks.append(hook)

        def remove() -> None:
            with self._lock:
                if hook in self._hooks:
                    self._hooks.remove(hook)

        return remove

    def take_hook_errors(self) -> list[Exception]:
        """What hooks raised since the last call, oldest first."""
        with self._lock:
            errors, self._hook_errors = self._hook_errors, []
        return errors

    def all(self) -> list[RecordedRequest]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self._requests.clear()


class RateCounter:
    """Counts requests per fixed window (a minute, aligned to the epoch, as Voucherify's per-minute
    limits are inferred to be) for the X-Rate-Limit-* headers, and, when `enforce` is on, answers
    the requests over the limit with a 429 as Voucherify does. `window_seconds` other than 60 is
    for tests that cannot wait whole minutes."""

    def __init__(
        self,
        limit: int,
        *,
        window_seconds: float = 60.0,
        enforce: bool = False,
        headers: bool = True,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.enforce = enforce
        self.headers = headers  # False: none of the X-Rate-Limit-* headers are sent
        self._lock = threading.Lock()
        self._window = 0
        self._count = 0

    def hit(self) -> tuple[bool, dict[str, str]]:
        """Count one request; whether it is over an enforced limit, and the headers to send."""
        now = time.time()
        window = int(now // self.window_seconds)
        with self._lock:
            if window != self._window:
                self._window, self._count = window, 0
            self._count += 1
            count = self._count
        reset = (window + 1) * self.window_seconds  # when the next window starts
        headers = {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - count)),
            "X-Rate-Limit-Retry": str(math.ceil(reset)),  # epoch seconds
        }
        over = self.enforce and count > self.limit
        if not self.headers:
            headers = {}
        if over:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
        return over, headers
