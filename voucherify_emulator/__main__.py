"""`python -m voucherify_emulator`: run the emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from voucherify_emulator.api import OBJECTS
from voucherify_emulator.emulator import Emulator
from voucherify_emulator.faults import DEFAULT_PARAMS, FAULTS
from voucherify_emulator.shapes import Shape


def _rows(text: str) -> dict[str, int]:
    rows: dict[str, int] = {}
    for part in filter(None, text.split(",")):
        name, _, count = part.partition("=")
        if name not in OBJECTS or not count.isdigit():
            raise argparse.ArgumentTypeError(
                f"expected object=count with object in {list(OBJECTS)}"
            )
        rows[name] = int(count)
    return rows


def _grow(text: str) -> tuple[float, int]:
    seconds, _, count = text.partition(":")
    try:
        return float(seconds), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError("expected SECONDS:COUNT") from None


def _value(raw: str) -> Any:
    # JSON where it parses (numbers, null, true), the raw string otherwise.
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _fault(text: str) -> dict[str, Any]:
    name, _, rest = text.partition(":")
    if name not in FAULTS:
        raise argparse.ArgumentTypeError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    spec: dict[str, Any] = {"fault": name}
    for pair in filter(None, rest.split(",")):
        key, _, raw = pair.partition("=")
        spec[key] = _value(raw)
    return spec


def _shape(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("not an object")
        Shape(**{**value, "swap": tuple(value["swap"]) if value.get("swap") else None})
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"bad --shape {text!r}: {exc}") from None
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring of each option's owner)."""
    parser = argparse.ArgumentParser(
        prog="python -m voucherify_emulator",
        description="Local emulator of the Voucherify Exports API.",
        epilog="Faults: "
        + "; ".join(f"{n}({', '.join(DEFAULT_PARAMS[n])})" for n in FAULTS)
        + ". Common fault keys: phase, times, exported_object.",
    )
    parser.add_argument("--api-port", type=int, default=0)
    parser.add_argument("--download-port", type=int, default=0)
    parser.add_argument("--foreign-port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=_rows, default={}, help="e.g. voucher=1000,customer=500")
    parser.add_argument("--job-latency", type=float, default=0.1, help="seconds per export job")
    parser.add_argument("--edges", choices=("exclusive", "inclusive"), default="exclusive")
    parser.add_argument("--bom", action="store_true", help="start CSV files with a UTF-8 BOM")
    parser.add_argument("--lf", action="store_true", help="LF line endings instead of CRLF")
    parser.add_argument("--token-ttl", type=int, default=900, help="download token lifetime (s)")
    parser.add_argument("--max-rows-per-export", type=int, default=None)
    parser.add_argument("--app-id", default="emulator-app-id")
    parser.add_argument("--app-token", default="emulator-app-token")
    parser.add_argument("--rate-limit", type=int, default=2000, help="requests per minute")
    parser.add_argument(
        "--enforce-rate-limit", action="store_true", help="answer requests over it with 429"
    )
    parser.add_argument(
        "--rate-limit-window", type=float, default=60.0, help="the limit's window (s)"
    )
    parser.add_argument(
        "--no-rate-limit-headers",
        action="store_true",
        help="send no X-Rate-Limit-* headers (a 429 still names its Retry-After)",
    )
    parser.add_argument("--oauth-token-ttl", type=int, default=900, help="OAuth token life (s)")
    parser.add_argument(
        "--grow-every",
        type=_grow,
        default=None,
        metavar="SECONDS:COUNT",
        help="add COUNT rows to every object every SECONDS",
    )
    parser.add_argument(
        "--state-file", default=None, help="persist rows added at runtime so a restart keeps them"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME:key=val,...",
        help="arm a fault at startup (repeatable)",
    )
    parser.add_argument(
        "--shape",
        type=_shape,
        default=None,
        metavar="JSON",
        help='answer exports in this shape (shapes.py), e.g. \'{"order": "reversed", '
        '"metadata": "bare", "null": "NULL", "ignore_filters": ["voucher"]}\'',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start, print the URLs and credentials on one line, serve until a signal."""
    args = parse_args(argv)
    emulator = Emulator(
        seed=args.seed,
        rows=args.rows,
        job_latency_seconds=args.job_latency,
        edges=args.edges,
        bom=args.bom,
        crlf=not args.lf,
        token_ttl_seconds=args.token_ttl,
        max_rows_per_export=args.max_rows_per_export,
        app_id=args.app_id,
        app_token=args.app_token,
        rate_limit_per_minute=args.rate_limit,
        enforce_rate_limit=args.enforce_rate_limit,
        rate_limit_window_seconds=args.rate_limit_window,
        rate_limit_headers=not args.no_rate_limit_headers,
        oauth_token_ttl_seconds=args.oauth_token_ttl,
        api_port=args.api_port,
        download_port=args.download_port,
        foreign_port=args.foreign_port,
        state_file=args.state_file,
    )
    for spec in args.fault:
        emulator.inject(spec.pop("fault"), **spec)
    if args.shape:
        emulator.set_shape(**args.shape)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator.start()
    try:
        print(
            f"api_url={emulator.api_url} download_url={emulator.download_url} "
            f"foreign_url={emulator.foreign_url} app_id={emulator.app_id} "
            f"app_token={emulator.app_token}",
            flush=True,
        )
        if args.grow_every:
            seconds, count = args.grow_every
            while not stop.wait(seconds):
                for name in OBJECTS:
                    emulator.add_rows(name, count)
        else:
            stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
