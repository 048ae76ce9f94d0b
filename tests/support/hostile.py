"""A tiny stdlib HTTP server playing Voucherify with one hostile export file.

`POST /v1/exports` and `GET /v1/exports/{id}` answer a DONE export whose `result.url` is on the
same (trusted) origin; the file is streamed from a generator of byte chunks, so a 50 MB body
costs the server one reused 1 MB chunk, not 50 MB of memory."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Body = Callable[[], tuple[int | None, Iterable[bytes]]]


class HostileServer:
    def __init__(self, body: Body) -> None:
        self.body = body
        self.downloads = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._json(server.export())

            def do_GET(self) -> None:
                if self.path.startswith("/files/"):
                    server.downloads += 1
                    length, chunks = server.body()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; charset=utf-8")
                    if length is None:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    else:
                        self.send_header("Content-Length", str(length))
                    self.end_headers()
                    try:
                        for chunk in chunks:
                            self.wfile.write(chunk)
                    except OSError:
                        pass  # the client gave up: that is the point
                    return
                if self.path.split("?")[0].rstrip("/") == "/v1/exports":
                    # The list call every sync starts with (the access check), and list polling.
                    self._json({"object": "list", "exports": [server.export()], "total": 1})
                    return
                self._json(server.export())

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def export(self) -> dict[str, Any]:
        return {"id": "exp_hostile", "object": "export", "status": "DONE",
                "result": {"url": f"{self.url}/files/exp_hostile.csv?token=abc"}}  # fmt: skip

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def repeated(
    prefix: bytes, filler: bytes, total: int, suffix: bytes
) -> tuple[int, Iterator[bytes]]:
    """`prefix` + `filler` repeated to `total` bytes + `suffix`, as a stream of chunks."""

    def chunks() -> Iterator[bytes]:
        yield prefix
        block = filler * (1 << 20 // len(filler))
        left = total
        while left > 0:
            piece = block if left >= len(block) else block[:left]
            left -= len(piece)
            yield piece
        yield suffix

    return len(prefix) + total + len(suffix), chunks()
