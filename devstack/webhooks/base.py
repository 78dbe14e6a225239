"""What both stand-ins share: a threaded HTTP server on loopback (TLS optional) that
speaks HTTP/1.1 and HTTP/2 (ALPN over TLS, prior knowledge on plain TCP; ``h2serve``),
the request log (each exchange says which version it came over), and answers injected
for the next requests (``fail_next``)."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from devstack.webhooks.exchange import Answer, Exchange
from devstack.webhooks.h2serve import H2Session, speaks_h2

__all__ = ["Answer", "Exchange", "LoopbackServer"]


class LoopbackServer:
    """Subclasses answer in ``handle(exchange) -> Answer`` under ``self.lock``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        latency: float = 0.0,
        http2: bool = True,
    ) -> None:
        """``http2=False``: an HTTP/1.1-only server (ALPN offers http/1.1 alone, the h2c
        preface is answered as a bad HTTP/1.1 request)."""
        self.host, self.port, self.tls, self.latency = host, port, tls, latency
        self.http2 = http2
        self.lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self._injected: deque[Answer] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ------------------------------------------------------------------

    def start(self) -> Self:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do
            # Headers and body go out in two writes; with Nagle on, the body waits for
            # the client's delayed ACK (40 ms a response), which real servers avoid.
            disable_nagle_algorithm = True

            def handle(self) -> None:
                if owner.http2 and speaks_h2(self.connection):
                    H2Session(self.connection, owner.respond).serve()
                else:
                    super().handle()

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                exchange = Exchange(
                    time.monotonic(),
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    protocol=self.request_version,
                )
                answer = owner.respond(exchange)
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

            do_POST = do_PUT = do_GET = do_OPTIONS = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            self.tls.set_alpn_protocols(["h2", "http/1.1"] if self.http2 else ["http/1.1"])
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self._server.server_address[1]}"

    # ----- answers --------------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        status: int = 503,
        body: bytes = b"",
        retry_after: float | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (a 503 storm, 429s…)."""
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        with self.lock:
            self._injected.extend([Answer(status, body, headers, content_type)] * count)

    def respond(self, exchange: Exchange) -> Answer:
        """The answer to one request, after the latency; the exchange is recorded."""
        if self.latency:
            time.sleep(self.latency)
        return self._answer(exchange)

    def _answer(self, exchange: Exchange) -> Answer:
        with self.lock:
            answer = self._injected.popleft() if self._injected else self.handle(exchange)
            exchange.status = answer.status
            self.exchanges.append(exchange)
            return answer

    def handle(self, exchange: Exchange) -> Answer:
        raise NotImplementedError

    def statuses(self) -> list[int]:
        with self.lock:
            return [e.status for e in self.exchanges]

    def protocols(self) -> set[str]:
        """The HTTP versions requests came over (``HTTP/1.1``, ``HTTP/2``)."""
        with self.lock:
            return {e.protocol for e in self.exchanges}
