"""Recorded requests (every origin), and the rate-limit counter behind X-Rate-Limit-* headers."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: which origin, what was asked and with which headers."""

    origin: str  # "api" | "download" | "foreign"
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any  # parsed JSON, or None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (for GET /_emulator/requests)."""
        return asdict(self)


class Recorder:
    """Thread-safe, append-only request log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def add(self, request: RecordedRequest) -> None:
        """Record one request."""
        with self._lock:
            self._requests.append(request)

    def all(self) -> list[RecordedRequest]:
        """A copy of everything recorded so far."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget everything recorded."""
        with self._lock:
            self._requests.clear()


class RateCounter:
    """Counts requests per minute for the informative X-Rate-Limit-* headers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._window = 0
        self._count = 0

    def hit(self) -> dict[str, str]:
        """Count one request; return the headers every answer carries."""
        now = time.time()
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window, self._count = window, 0
            self._count += 1
            remaining = max(0, self.limit - self._count)
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Retry": str((window + 1) * 60),  # epoch seconds of the next window
        }
