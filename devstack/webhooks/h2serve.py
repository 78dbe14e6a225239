"""HTTP/2 for the stand-ins, server side, with the ``h2`` library on the accepted socket.

A connection is HTTP/2 when TLS's ALPN picked ``h2`` or, on plain TCP, when it opens
with the HTTP/2 client preface (h2c with prior knowledge; ``Upgrade: h2c`` is not
offered, as most servers no longer do). Each request (a stream) is answered in a thread
of its own, so requests multiplexed on one connection wait out the stand-in's latency
side by side as they would on a real server, not one after another. One condition
guards the ``H2Connection`` and the socket's writes; readers of flow-control windows
wait on it.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    Event,
    RemoteSettingsChanged,
    RequestReceived,
    StreamEnded,
    StreamReset,
    WindowUpdated,
)
from h2.exceptions import H2Error
from h2.settings import SettingCodes

from devstack.webhooks.exchange import Answer, Exchange

__all__ = ["PREFACE", "H2Session", "speaks_h2"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Bigger than HTTP/2's 64 KiB default, so a 1 MB batch is not held up waiting for
# WINDOW_UPDATEs (the http sink's http.batch.max.bytes default).
WINDOW = 4 * 1024 * 1024


def speaks_h2(sock: socket.socket, wait: float = 5.0) -> bool:
    """Whether the client on ``sock`` speaks HTTP/2 (ALPN ``h2``, or the preface first)."""
    if isinstance(sock, ssl.SSLSocket):
        return sock.selected_alpn_protocol() == "h2"
    deadline = time.monotonic() + wait
    while True:
        try:
            head = sock.recv(len(PREFACE), socket.MSG_PEEK)
        except OSError:
            return False
        # An HTTP/1.1 request line differs from the preface within its first bytes.
        if not head or not PREFACE.startswith(head):
            return False
        if len(head) == len(PREFACE):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)  # the preface came in pieces: look again


@dataclass
class _Stream:
    headers: list[tuple[str, str]]
    body: bytearray = field(default_factory=bytearray)


class H2Session:
    """Serves one HTTP/2 connection until the client closes it; ``respond`` answers
    each request (it records the exchange)."""

    def __init__(self, sock: socket.socket, respond: Callable[[Exchange], Answer]) -> None:
        self.sock = sock
        self.respond = respond
        self.conn = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self.cond = threading.Condition()
        self.streams: dict[int, _Stream] = {}
        self.closed = False

    def serve(self) -> None:
        with self.cond:
            self.conn.initiate_connection()
            self.conn.update_settings(
                {SettingCodes.INITIAL_WINDOW_SIZE: WINDOW, SettingCodes.MAX_CONCURRENT_STREAMS: 512}
            )
            self.conn.increment_flow_control_window(WINDOW)
            self._flush()
        try:
            while not self.closed:
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                with self.cond:
                    try:
                        events = self.conn.receive_data(data)
                    except H2Error:
                        self._flush()  # the GOAWAY h2 queued
                        break
                    for event in events:
                        self._on(event)
                    self._flush()
        finally:
            with self.cond:
                self.closed = True
                self.cond.notify_all()

    def _on(self, event: Event) -> None:
        if isinstance(event, RequestReceived) and event.stream_id is not None:
            self.streams[event.stream_id] = _Stream(
                [(str(k), str(v)) for k, v in event.headers or []]
            )
        elif isinstance(event, DataReceived) and event.stream_id is not None:
            stream = self.streams.get(event.stream_id)
            if stream is not None and event.data is not None:
                stream.body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, event.stream_id)
        elif isinstance(event, StreamEnded) and event.stream_id is not None:
            stream = self.streams.pop(event.stream_id, None)
            if stream is not None:
                exchange = _exchange(stream)
                threading.Thread(
                    target=self._reply, args=(event.stream_id, exchange), daemon=True
                ).start()
        elif isinstance(event, StreamReset) and event.stream_id is not None:
            self.streams.pop(event.stream_id, None)
        elif isinstance(event, WindowUpdated | RemoteSettingsChanged):
            self.cond.notify_all()  # a reply may be waiting for window
        elif isinstance(event, ConnectionTerminated):
            self.closed = True

    def _reply(self, stream_id: int, exchange: Exchange) -> None:
        try:
            answer = self.respond(exchange)
        except Exception:  # a bug in a stand-in: say so, as socketserver would
            traceback.print_exc()
            answer = Answer(500, b'{"error":"stand-in failed"}')
        headers = [
            (":status", str(answer.status)),
            ("content-type", answer.content_type),
            ("content-length", str(len(answer.body))),
            *((name.lower(), value) for name, value in answer.headers),
        ]
        body = memoryview(answer.body)
        with self.cond:
            try:
                self.conn.send_headers(stream_id, headers, end_stream=not body)
                while body and not self.closed:
                    window = min(
                        self.conn.local_flow_control_window(stream_id),
                        self.conn.max_outbound_frame_size,
                    )
                    if window <= 0:
                        self.cond.wait(1.0)
                        continue
                    chunk, body = body[:window], body[window:]
                    self.conn.send_data(stream_id, bytes(chunk), end_stream=not body)
                self._flush()
            except (H2Error, OSError):
                pass  # the client reset the stream or went away: nobody to answer

    def _flush(self) -> None:
        out = self.conn.data_to_send()
        if out:
            try:
                self.sock.sendall(out)
            except OSError:
                self.closed = True


def _exchange(stream: _Stream) -> Exchange:
    pseudo = {k: v for k, v in stream.headers if k.startswith(":")}
    headers = {k: v for k, v in stream.headers if not k.startswith(":")}
    if ":authority" in pseudo:
        headers.setdefault("host", pseudo[":authority"])
    return Exchange(
        time.monotonic(),
        pseudo.get(":method", ""),
        pseudo.get(":path", ""),
        headers,
        bytes(stream.body),
        protocol="HTTP/2",
    )
