"""A stand-in for an OpenAI-compatible ``/v1/embeddings`` endpoint, for tests and the demo.

Deterministic: a text's vector is ``hashed_vector(text, dimension)`` (a signed bag of
hashed words, unit length), so texts sharing words are near each other and a test can
predict every vector. Faults on cue: ``fail_next(status, count, retry_after)`` answers
the next requests with an error, ``refuse_texts_containing(marker)`` answers 400 to any
request with such a text (the way a real service refuses an over-long input).

    with EmbeddingsServer(dimension=64) as server:
        url = server.url          # http://127.0.0.1:<port>/v1

Or on its own: ``python -m devstack.embeddings_server --port 8000 --dimension 384``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from offramp.connectors.qdrant.hash_embedder import hashed_vector

__all__ = ["EmbeddingsServer"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo print what matters

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
        self._reply(status, {"error": {"message": message, "type": kind}}, headers)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        stand_in = self.server.stand_in
        if self.path.rstrip("/") not in ("/v1/embeddings", "/embeddings"):
            self._error(404, f"no route {self.path}")
            return
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._error(400, "body is not JSON")
            return
        texts = body.get("input") if isinstance(body, dict) else None
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            self._error(400, "'input' must be a string or a non-empty list of strings")
            return
        stand_in.last_authorization = self.headers.get("authorization")
        fault = stand_in.take_fault(texts)
        if fault is not None:
            status, message, headers = fault
            self._error(status, message, headers)
            return
        dimension = body.get("dimensions") or stand_in.dimension
        if not isinstance(dimension, int) or dimension < 2:
            self._error(400, "'dimensions' must be an integer >= 2")
            return
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vector = hashed_vector(text, dimension)
            embedding: Any = vector
            if as_base64:
                embedding = base64.b64encode(struct.pack(f"<{dimension}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": embedding})
        words = sum(len(t.split()) for t in texts)
        stand_in.count(len(texts))
        self._reply(
            200,
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model") or "stand-in"),
                "usage": {"prompt_tokens": words, "total_tokens": words},
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stand_in: EmbeddingsServer

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open keep-alive connection, as a server going down does; otherwise
        their handler threads would go on answering after ``stop()``."""
        with self.connections_lock:
            open_now, self.connections = list(self.connections), set()
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EmbeddingsServer:
    """Serves ``/v1/embeddings`` on 127.0.0.1 from a background thread until ``stop()``."""

    def __init__(self, dimension: int = 64, host: str = "127.0.0.1", port: int = 0) -> None:
        self.dimension = dimension
        self._lock = threading.Lock()
        self._faults: list[tuple[int, str, dict[str, str]]] = []
        self._refuse: list[str] = []
        self._pass_before_fault = 0
        self.requests = 0  # answered with vectors
        self.texts = 0
        self.refused = 0  # answered with an error
        self.last_authorization: str | None = None
        self._http = _Server((host, port), _Handler)
        self._http.stand_in = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> EmbeddingsServer:
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join(10)
            self._thread = None
        self._http.server_close()
        self._http.drop_connections()

    def __enter__(self) -> EmbeddingsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- faults on cue ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        message: str = "",
        after: int = 0,
    ) -> None:
        """Answer ``count`` requests with ``status`` (and a Retry-After), once ``after``
        more requests have been answered normally."""
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        with self._lock:
            self._pass_before_fault = after
            self._faults.extend([(status, message or f"injected {status}", headers)] * count)

    def refuse_texts_containing(self, marker: str) -> None:
        """Answer 400 to any request with a text containing ``marker``."""
        with self._lock:
            self._refuse.append(marker)

    def take_fault(self, texts: list[str]) -> tuple[int, str, dict[str, str]] | None:
        with self._lock:
            if self._faults:
                if self._pass_before_fault > 0:
                    self._pass_before_fault -= 1
                else:
                    self.refused += 1
                    return self._faults.pop(0)
            for marker in self._refuse:
                if any(marker in text for text in texts):
                    self.refused += 1
                    return (400, f"input contains the refused marker {marker!r}", {})
        return None

    def count(self, texts: int) -> None:
        with self._lock:
            self.requests += 1
            self.texts += texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dimension", type=int, default=64)
    args = parser.parse_args()
    server = EmbeddingsServer(args.dimension, port=args.port)
    print(f"stand-in embeddings at {server.url} ({args.dimension} dimensions); Ctrl-C stops")
    try:
        server._http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._http.server_close()


if __name__ == "__main__":
    main()
