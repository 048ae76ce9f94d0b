"""HTTP handlers for the three origins: `api`, `download` and `foreign`.

stdlib ThreadingHTTPServer speaking HTTP/1.1 with keep-alive (every answer has a
Content-Length). The API origin serves the export JSON endpoints and `/_emulator/...`; the
download origin serves `GET /v1/exports/{id}?token=` from the file on disk with sendfile; the
foreign origin does the same for `foreign_download_host`, without asking for app keys, so a test
can show that a tap never went there (or at least never sent its credentials there).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from voucherify_emulator import tokens
from voucherify_emulator.config import Config
from voucherify_emulator.csvfile import clean_cut_offset
from voucherify_emulator.faults import Fault, FaultRegistry
from voucherify_emulator.jobs import JobStore
from voucherify_emulator.listing import list_exports
from voucherify_emulator.oauth import TokenStore
from voucherify_emulator.recording import RateCounter, RecordedRequest, Recorder
from voucherify_emulator.resources import LISTS, list_objects
from voucherify_emulator.trashbin import TrashBin
from voucherify_emulator.validation import (
    ApiError,
    invalid_payload,
    invalid_query,
    list_limit,
    request_id,
    unauthorized,
)

_PREFIX = "/v1/exports"
_OAUTH = "/v1/oauth/token"
_BIN = "/v1/trash-bin"
_TOO_MANY = {"code": 429, "message": "Too many requests hit the API too quickly."}
ControlFn = Callable[[str, str, dict[str, list[str]], Any], tuple[int, Any]]


@dataclass
class Backend:
    """State shared by every handler of one emulator."""

    config: Config
    jobs: JobStore
    faults: FaultRegistry
    recorder: Recorder
    rates: RateCounter
    control: ControlFn
    oauth: TokenStore
    trash_bin: TrashBin


class Server(ThreadingHTTPServer):
    """Non-daemon handler threads, joined on close; open connections are tracked so that
    `close_connections` can end idle keep-alive connections and shutdown never hangs."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), handler)

    def close_connections(self) -> None:
        """Shut down every open connection (handlers then see EOF and exit)."""
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients dropping connections mid-download is normal here; stay quiet."""


def _phase(method: str, path: str, origin: str) -> str:
    """The fault phase a request belongs to."""
    if origin != "api":
        return "download"
    if path.startswith(_OAUTH):
        return "token"
    return {"POST": "create", "DELETE": "delete"}.get(method, "poll")


def make_handler(origin: str, backend: Backend) -> type[BaseHTTPRequestHandler]:
    """A handler class bound to one origin."""
    return type(f"{origin.title()}Handler", (_Handler,), {"origin": origin, "backend": backend})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    origin: ClassVar[str]
    backend: ClassVar[Backend]
    server: Server

    # --- plumbing -------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {**self._rate_headers, **(headers or {})}
        self._answered(status, headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _answered(self, status: int, headers: dict[str, str]) -> None:
        """Note the answer on the request's record; a 429's named time is when it was sent plus
        `Retry-After`, else its `X-Rate-Limit-Retry` epoch second."""
        record = self._record
        if record is None:
            return
        record.status = status
        if status == 429:  # noqa: PLR2004 - the rate-limit status
            if "Retry-After" in headers:
                record.retry_at = time.time() + float(headers["Retry-After"])
            elif "X-Rate-Limit-Retry" in headers:
                record.retry_at = float(headers["X-Rate-Limit-Retry"])

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        bad_json = False
        self._record: RecordedRequest | None = None
        self._rate_headers: dict[str, str] = {}
        form = "x-www-form-urlencoded" in (self.headers.get("Content-Type") or "")
        if form and not (url.path.startswith("/_emulator/") and raw.lstrip()[:1] in (b"{", b"[")):
            body = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                bad_json = True
        if self.origin == "api" and url.path.startswith("/_emulator/"):
            status, payload = self.backend.control(method, url.path, query, body)
            self._send_json(status, payload)
            return
        self._record = RecordedRequest(
            self.origin, method, url.path, query, dict(self.headers.items()), body
        )
        self.backend.recorder.add(self._record)
        over, self._rate_headers = self.backend.rates.hit()
        try:
            if over and self.origin != "foreign":
                raise ApiError(429, dict(_TOO_MANY))
            if self.backend.faults.take(
                ("expire_oauth_token",), _phase(method, url.path, self.origin), None
            ):
                self.backend.oauth.expire_all()
            if bad_json:
                raise invalid_payload("Payload should be valid JSON")
            if self.origin == "api" and url.path.startswith(_OAUTH):
                self._oauth(method, url.path, body)
            elif self.origin == "api":
                self._api(method, url.path, query, body)
            else:
                self._download(method, url.path, query)
        except ApiError as exc:
            self._send_json(exc.status, exc.body, exc.headers)

    def _check_auth(self) -> None:
        """App keys, or an active OAuth token with an exports scope (`Authorization: Bearer`)."""
        authorization = self.headers.get("Authorization") or ""
        if authorization.startswith("Bearer "):
            if not self.backend.oauth.allows_exports(authorization.removeprefix("Bearer ")):
                raise unauthorized()
            return
        self._check_app_keys()

    def _check_app_keys(self) -> None:
        config = self.backend.config
        if (
            self.headers.get("X-App-Id") != config.app_id
            or self.headers.get("X-App-Token") != config.app_token
        ):
            raise unauthorized()

    def _oauth(self, method: str, path: str, form: Any) -> None:
        """`POST /v1/oauth/token` and `POST /v1/oauth/token/revoke`: app keys only."""
        self._check_app_keys()
        form = form if isinstance(form, dict) else {}
        if method == "POST" and path == _OAUTH:
            self._send_json(200, self.backend.oauth.issue(form))
        elif method == "POST" and path == f"{_OAUTH}/revoke":
            if self.backend.oauth.revoke(form):
                self._send_json(204, None)
            else:
                self._send_json(404, None)
        else:
            raise ApiError(404, {"code": 404, "key": "not_found", "message": "Resource not found"})

    def _request_faults(self, phase: str, exported_object: str | None) -> None:
        fault = self.backend.faults.take(("rate_limit", "server_error"), phase, exported_object)
        if fault is None:
            return
        if fault.name == "server_error":
            status = int(fault.param("status"))
            phrase = HTTPStatus(status).phrase
            raise ApiError(
                status,
                {
                    "code": status,
                    "message": phrase,
                    "key": "server_error",
                    "details": "Injected by the emulator",
                    "request_id": request_id(),
                },
            )
        retry_after = fault.param("retry_after")
        retry_in = fault.param("retry_in")
        wait = float(retry_in if retry_in is not None else (retry_after or 1))
        headers = {
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Retry": str(int(time.time() + wait + 0.999)),
        }
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        raise ApiError(
            429, {"code": 429, "message": "Too many requests hit the API too quickly."}, headers
        )

    # --- API origin -----------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> None:
        jobs = self.backend.jobs
        self._check_auth()
        export_id = path[len(_PREFIX) + 1 :] if path.startswith(_PREFIX + "/") else None
        if path.rstrip("/") == _PREFIX and method == "POST":
            obj = body.get("exported_object") if isinstance(body, dict) else None
            self._request_faults("create", obj if isinstance(obj, str) else None)
            job = jobs.create(body)
            # Voucherify's create answer is always SCHEDULED with result null (the spec's
            # ExportScheduledBase), however fast the job is.
            self._send_json(200, {**jobs.body(job, mint=False), "status": "SCHEDULED"})
        elif path.rstrip("/") == _PREFIX and method == "GET":
            self._request_faults("poll", None)
            self._send_json(200, list_exports(self.backend.jobs, query))
        elif export_id and "/" not in export_id and method in ("GET", "DELETE"):
            known = {j.id: j.exported_object for j in jobs.all()}
            phase = "poll" if method == "GET" else "delete"
            self._request_faults(phase, known.get(export_id))
            if method == "GET":
                self._send_json(200, jobs.body(jobs.get(export_id)))
            else:
                jobs.delete(export_id)
                self._send_json(204, None)
        elif method == "GET" and path.rstrip("/") == _BIN:
            self._request_faults("list", None)
            self._send_json(200, self._bin_page(query))
        elif method == "GET" and path.rstrip("/") in LISTS:
            self._request_faults("list", LISTS[path.rstrip("/")][0])
            inclusive = self.backend.config.edges == "inclusive"
            self._send_json(200, list_objects(jobs.dataset, path.rstrip("/"), query, inclusive))
        else:
            self._send_json(
                404,
                {
                    "code": 404,
                    "key": "not_found",
                    "message": "Resource not found",
                    "details": f"Cannot {method} {path}",
                    "request_id": request_id(),
                },
            )

    def _bin_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """`GET /v1/trash-bin?limit=&starting_after_id=&order=` (bin.json)."""
        limit = list_limit(query)
        order = query.get("order", ["id"])[0]
        if order not in ("id", "-id"):
            raise invalid_query("Property order should be id or -id")
        after = query.get("starting_after_id", [""])[0] or None
        return self.backend.trash_bin.page(limit, after, descending=order == "-id")

    # --- download and foreign origins -----------------------------------------------------------
    def _download(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        jobs = self.backend.jobs
        if self.origin == "download":
            self._check_auth()
        export_id = path[len(_PREFIX) + 1 :] if path.startswith(_PREFIX + "/") else ""
        known = {j.id: j.exported_object for j in jobs.all()}
        if method != "GET" or not export_id:
            raise ApiError(404, {"code": 404, "key": "not_found", "message": "Resource not found"})
        self._request_faults("download", known.get(export_id))
        token = query.get("token", [""])[0]
        try:
            tokens.verify(jobs.secret, token, export_id)
        except tokens.TokenError:
            raise unauthorized() from None
        job = jobs.get(export_id)
        if job.status != "DONE" or (self.origin == "foreign") != job.foreign:
            raise unauthorized()
        path, size = job.path, job.size or 0
        if job.part_paths:
            try:
                path = job.part_paths[int(query.get("part", [""])[0])]
            except (ValueError, IndexError):
                raise unauthorized() from None
            size = os.path.getsize(path)
        fault = self.backend.faults.take(
            ("reset_download", "truncate_download"), "download", job.exported_object
        )
        self._stream(path, size, fault)

    def _stream(self, path: str, size: int, fault: Fault | None) -> None:
        announced, send = size, size
        clean = fault is not None and fault.param("mode") == "clean"
        if fault is not None and fault.name == "truncate_download" and clean:
            announced = send = clean_cut_offset(path, size)
        elif fault is not None:
            after = fault.param("after_bytes")
            # Always stop short of the announced length, even for a tiny file.
            send = max(0, min(size - 1, int(after) if after is not None else size // 2))
        self._answered(200, self._rate_headers)
        self.send_response(200)
        for name, value in self._rate_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(announced))
        self.end_headers()
        with open(path, "rb") as handle:
            # sendfile: the kernel copies file -> socket; no Python loop, far beyond 100 MB/s.
            if send:
                self.connection.sendfile(handle, 0, send)
        if send < announced:
            self.close_connection = True
            if fault is not None and fault.name == "reset_download":
                # SO_LINGER 0: closing sends RST, an abrupt reset rather than a clean FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
