"""One rate-limit gate per run, shared by every thread that sends a request.

Voucherify counts every call of a project against one limit (Business: 100 a minute; a sandbox:
100 an hour) and "exceeding this limit will block your access to the API immediately" — the
customer's checkout shares that limit. So the tap never lets its threads race for it:

- a 429 (or an answer with `X-Rate-Limit-Remaining: 0`) pauses every request of the run until the
  time the server named (`Retry-After`, else `X-Rate-Limit-Retry`); only requests already in
  flight can land inside the pause;
- as `X-Rate-Limit-Remaining` falls below half of `X-Rate-Limit-Limit`, requests are spaced so
  the remainder lasts until the server's window resets (`X-Rate-Limit-Retry` on ordinary answers,
  inferred to be that reset; without it, one gate window);
- whatever the headers say, at most `max_requests` start in any sliding window of
  `window_seconds` (60 in production), and, when set, at most `max_per_hour` in any window of
  `hour_seconds` (3600), for plans that limit by the hour without sending the headers. A slot is
  held from the request's start until its answer arrives, so even as the server counts (at
  arrival) no window holds more.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from tap_voucherify_exports.errors import ExportCancelledError

LOGGER = logging.getLogger("tap_voucherify_exports")

MINUTE_SECONDS = 60.0
HOUR_SECONDS = 3600.0
# A request held back longer than this says so once, naming the limit that holds it.
LONG_WAIT_NOTICE_SECONDS = 30.0
# Below this share of X-Rate-Limit-Limit left, requests are spread over the rest of the window.
PACE_BELOW_SHARE = 0.5
# Once the sync is stopping, a request (a cleanup delete) waits at most this long for the limit;
# a longer pause would hold the shutdown, so the request is dropped and its export left behind.
STOPPING_WAIT_MAX_SECONDS = 5.0
# When a limit is hit but the server names no time: wait a whole window.
UNNAMED_PAUSE_SECONDS = MINUTE_SECONDS


def named_wait_seconds(
    status: int, headers: Mapping[str, str], now: float | None = None
) -> float | None:
    """How long the server asked us to wait: `Retry-After` (seconds or an HTTP date), else, on a
    429 or when nothing remains, until the `X-Rate-Limit-Retry` epoch second."""
    now = time.time() if now is None else now
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
            except (TypeError, ValueError):
                pass
    retry_at = headers.get("X-Rate-Limit-Retry")
    if retry_at and (
        status == HTTPStatus.TOO_MANY_REQUESTS or headers.get("X-Rate-Limit-Remaining") == "0"
    ):
        try:
            return max(0.0, float(retry_at) - now)
        except ValueError:
            return None
    return None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


@dataclass
class Slot:
    """One request's place in the sliding window: held from its start until its answer."""

    kind: str
    started: float
    answered: float | None = None


@dataclass
class GateStats:
    """What the run cost the project's quota."""

    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    waited_seconds: float = 0.0

    def summary(self) -> str:
        """One log line: calls by kind, 429s, time held back."""
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.calls.items()))
        total = sum(self.calls.values())
        return (
            f"API calls: {total} ({kinds or 'none'}); 429 answers: {self.rate_limited}; "
            f"waited for the rate limit: {self.waited_seconds:.1f} s"
        )


class RateGate:
    """Admits requests one at a time under the run's limits; thread-safe."""

    def __init__(
        self,
        max_requests: int,
        *,
        window_seconds: float = MINUTE_SECONDS,
        max_per_hour: int | None = None,
        hour_seconds: float = HOUR_SECONDS,
        max_pause_seconds: float = float("inf"),
    ) -> None:
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        # (most starts, window seconds): every sliding window the gate keeps.
        self.limits = [(max_requests, window_seconds, "max_requests_per_minute")]
        if max_per_hour is not None:
            self.limits.append((max_per_hour, hour_seconds, "max_requests_per_hour"))
        self._kept_seconds = max(window for _, window, _ in self.limits)
        self._held_by = ""  # what `_ready_at` found binding last: for the long-wait notice
        # A longer pause than this is not taken: the caller gives up instead (and the gate stays
        # open for its cleanup calls).
        self.max_pause_seconds = max_pause_seconds
        self.stats = GateStats()
        self._cond = threading.Condition()
        self._slots: deque[Slot] = deque()
        self._paused_until = 0.0  # monotonic
        self._next_paced = 0.0  # monotonic: earliest start the header pacing allows
        self._server_limit: int | None = None
        self._server_remaining: int | None = None  # what we believe is left, counting our starts
        self._server_reset = 0.0  # monotonic; 0 = unknown
        self._waiting = 0
        self._waiting_since = 0.0
        self._interruptions = 0  # bumped by `interrupt_waiting`: waits begun before it end
        self._stopping = False  # set by `interrupt_waiting`: only short waits from then on

    # --- admission ------------------------------------------------------------------------------
    def acquire(self, kind: str) -> Slot:
        """Block until a request of `kind` may start; return its slot for `release`."""
        with self._cond:
            waited = False
            interruptions = self._interruptions
            while True:
                now = time.monotonic()
                if self._interruptions != interruptions:
                    self._stop_waiting(now)
                    raise ExportCancelledError(
                        f"A {kind} request was dropped: the sync is stopping."
                    )
                ready = self._ready_at(now)
                if ready <= now:
                    break
                if self._stopping and ready - now > STOPPING_WAIT_MAX_SECONDS:
                    if waited:
                        self._stop_waiting(now)
                    raise ExportCancelledError(
                        f"A {kind} request was dropped: the sync is stopping and the rate limit "
                        f"would hold it {ready - now:.0f} s."
                    )
                if not waited:
                    waited = True
                    if self._waiting == 0:
                        self._waiting_since = now
                        # Said once per spell of waiting, not once per waiting thread.
                        if LONG_WAIT_NOTICE_SECONDS < ready - now < float("inf"):
                            LOGGER.info("Requests wait %.0f s for %s.", ready - now, self._held_by)
                    self._waiting += 1
                # Woken early by any answer (a 429 or a freed slot changes `ready`).
                self._cond.wait(None if ready == float("inf") else ready - now)
            if waited:
                self._stop_waiting(now)
            slot = Slot(kind, now)
            self._slots.append(slot)
            self.stats.calls[kind] += 1
            if self._server_remaining is not None:
                self._server_remaining -= 1
                self._next_paced = now + self._pace_interval(now)
            return slot

    def _stop_waiting(self, now: float) -> None:
        self._waiting -= 1
        if self._waiting == 0:  # time during which at least one request was held back
            self.stats.waited_seconds += now - self._waiting_since

    def interrupt_waiting(self) -> None:
        """End every wait in progress with `ExportCancelledError`: the sync is stopping, and a
        thread held back by a long pause must not hold up its shutdown. Requests asked for
        afterwards (the cleanup's deletes) wait at most `STOPPING_WAIT_MAX_SECONDS`."""
        with self._cond:
            self._interruptions += 1
            self._stopping = True
            self._cond.notify_all()

    def _ready_at(self, now: float) -> float:
        """The earliest time the next request may start (inf: when a slot is released)."""
        kept_from = now - self._kept_seconds
        self._slots = deque(
            slot for slot in self._slots if slot.answered is None or slot.answered > kept_from
        )
        ready = max(self._paused_until, self._next_paced)
        self._held_by = "Voucherify's rate limit"
        for most, window, setting in self.limits:
            held = [s for s in self._slots if s.answered is None or s.answered > now - window]
            if len(held) >= most:
                # The first slot to free is the earliest answered one, a window after its
                # answer; while every slot is still in flight, the next release wakes us.
                answered = [slot.answered for slot in held if slot.answered is not None]
                frees = min(answered) + window if answered else float("inf")
                if frees > ready:
                    ready, self._held_by = frees, f"{setting} ({most})"
        if self._server_remaining is not None and self._server_remaining <= 0:
            reset = self._server_reset or (now + UNNAMED_PAUSE_SECONDS)
            if reset > now:
                ready = max(ready, reset)
            else:  # the server's window is over: its next answer tells the new budget
                self._server_remaining = None
        return ready

    def _pace_interval(self, now: float) -> float:
        limit, remaining = self._server_limit, self._server_remaining
        if not limit or remaining is None or remaining >= limit * PACE_BELOW_SHARE:
            return 0.0
        left = self._server_reset - now if self._server_reset > now else self.window_seconds
        return left / max(remaining, 1)

    # --- answers --------------------------------------------------------------------------------
    def release(self, slot: Slot, status: int | None, headers: Mapping[str, str]) -> None:
        """Record the answer (`status` None: no answer, e.g. a connection error)."""
        now = time.monotonic()
        wall = time.time()
        with self._cond:
            slot.answered = now
            if status is not None:
                self._read_headers(status, headers, now, wall)
            self._cond.notify_all()

    def _read_headers(
        self, status: int, headers: Mapping[str, str], now: float, wall: float
    ) -> None:
        wait = named_wait_seconds(status, headers, wall)
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            # The named time is the whole answer; the budget is learnt afresh after it.
            self.stats.rate_limited += 1
            self._server_remaining = None
            self._pause(UNNAMED_PAUSE_SECONDS if wait is None else wait, now)
            return
        limit = _int_header(headers, "X-Rate-Limit-Limit")
        remaining = _int_header(headers, "X-Rate-Limit-Remaining")
        reset = 0.0
        try:
            reset = now + (float(headers["X-Rate-Limit-Retry"]) - wall)
        except (KeyError, ValueError):
            reset = 0.0
        if limit is not None:
            self._server_limit = limit
        if remaining is None:
            return
        if not reset or reset > self._server_reset + 0.5 or self._server_remaining is None:
            # A new server window, the first answer, or no window named: this count is the
            # truth, less our requests still in flight, which it may not have counted yet.
            in_flight = sum(1 for held in self._slots if held.answered is None)
            self._server_remaining = remaining - in_flight
        else:  # same window: answers arrive out of order; the smallest count is the latest
            self._server_remaining = min(self._server_remaining, remaining)
        self._server_reset = max(self._server_reset, reset)
        if remaining == 0:
            self._pause(UNNAMED_PAUSE_SECONDS if wait is None else wait, now)

    def _pause(self, seconds: float, now: float) -> None:
        if seconds <= self.max_pause_seconds:
            self._paused_until = max(self._paused_until, now + seconds)
