"""Fault injection: a registry of armed faults, each firing a limited number of times.

A fault targets a phase (`create`, `poll`, `download`, `delete` or `any`), optionally one
exported_object, and fires `times` times (None = every time until cleared).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PHASES = ("create", "poll", "download", "delete", "token", "list", "any")

# name -> default phase. Request-level faults default to "any"; download-stream faults to
# "download"; job-level faults are decided when the export is created.
FAULTS: dict[str, str] = {
    "rate_limit": "any",
    "server_error": "any",
    "reset_download": "download",
    "truncate_download": "download",
    "expire_token": "poll",
    "dead_url": "create",
    "job_error": "create",
    "never_finish": "create",
    "max_rows_per_export": "create",
    "foreign_download_host": "create",
    "malformed_row": "create",
    "expire_oauth_token": "download",
    "short_export": "create",
}

# Parameters each fault understands, with defaults (documented in the package README/report).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "rate_limit": {"retry_after": 1, "retry_in": None},
    "server_error": {"status": 500},
    "reset_download": {"after_bytes": 1024},
    "truncate_download": {"mode": "content_length", "after_bytes": None},
    "expire_token": {"ttl_seconds": 0},
    # The export's result.url is expired from the start, and every Get Export answers that
    # same URL: a token that never gets fresher.
    "dead_url": {},
    "job_error": {},
    "never_finish": {},
    "max_rows_per_export": {"max_rows": 0},
    "foreign_download_host": {},
    "malformed_row": {"kind": "cell_count"},
    "expire_oauth_token": {},
    "short_export": {"rows": 1},
}


@dataclass
class Fault:
    """One armed fault."""

    name: str
    phase: str
    times: int | None = 1
    exported_object: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def param(self, key: str) -> Any:
        """A parameter, falling back to the fault's default."""
        return self.params.get(key, DEFAULT_PARAMS[self.name].get(key))


def make_fault(
    name: str,
    phase: str | None = None,
    times: int | None = 1,
    exported_object: str | None = None,
    **params: Any,
) -> Fault:
    """Validate and build a fault (ValueError on a bad name, phase or parameter)."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    phase = phase or FAULTS[name]
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; known: {', '.join(PHASES)}")
    unknown = set(params) - set(DEFAULT_PARAMS[name])
    if unknown:
        raise ValueError(f"fault {name} takes no parameter(s) {sorted(unknown)}")
    if times is not None and times < 1:
        raise ValueError("times must be >= 1 (or None for unlimited)")
    return Fault(name, phase, times, exported_object, dict(params))


class FaultRegistry:
    """Thread-safe list of armed faults, consumed in injection order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Arm a fault."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def armed(self) -> list[Fault]:
        """A copy of the faults still armed."""
        with self._lock:
            return list(self._faults)

    def take(
        self,
        names: tuple[str, ...],
        phase: str,
        exported_object: str | None,
        when: Callable[[Fault], bool] | None = None,
    ) -> Fault | None:
        """Fire the first armed fault matching; count it down and return it (or None)."""
        with self._lock:
            for fault in self._faults:
                if fault.name not in names or fault.phase not in (phase, "any"):
                    continue
                if fault.exported_object not in (None, exported_object):
                    continue
                if when is not None and not when(fault):
                    continue
                fault.fired += 1
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                return fault
        return None
