"""Emulator settings shared by the Python API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from voucherify_emulator.shapes import Shape

EDGES = ("exclusive", "inclusive")


@dataclass
class Config:
    """Everything that shapes the emulator's behaviour (faults aside)."""

    seed: int = 7
    rows: dict[str, int] = field(default_factory=dict)  # per object; 200 when absent
    job_latency_seconds: float = 0.1
    edges: str = "exclusive"  # whether a row exactly at $after/$before is included
    bom: bool = False
    crlf: bool = True
    token_ttl_seconds: int = 900
    max_rows_per_export: int | None = None
    app_id: str = "emulator-app-id"
    app_token: str = "emulator-app-token"  # noqa: S105 - a fake, local credential
    tenant: str = "emulator@example.com"  # the JWT `tenant` claim (a user e-mail in real tokens)
    rate_limit_per_minute: int = 2000  # reported in X-Rate-Limit-* headers
    enforce_rate_limit: bool = False  # answer requests over the limit with 429
    rate_limit_window_seconds: float = 60.0  # "per minute"; shorter only to keep tests quick
    # False: no X-Rate-Limit-* headers (a plan limited by the hour without them, inferred);
    # an enforced 429 still names its Retry-After.
    rate_limit_headers: bool = True
    oauth_token_ttl_seconds: int = 900  # OAuth access tokens (Voucherify: 15 min)
    shape: Shape = field(default_factory=Shape)  # how columns look (shapes.py); set at run time

    def __post_init__(self) -> None:
        if self.edges not in EDGES:
            raise ValueError(f"edges must be one of {EDGES}")
        if self.job_latency_seconds < 0:
            raise ValueError("job_latency_seconds must be >= 0")
        if self.rate_limit_per_minute < 1 or self.rate_limit_window_seconds <= 0:
            raise ValueError("rate_limit_per_minute must be >= 1 and its window > 0")
