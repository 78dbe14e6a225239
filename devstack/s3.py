"""A real S3 API server on loopback for tests, the demo and benchmarks: moto's server.

moto's ``ThreadedMotoServer`` speaks the S3 REST API over HTTP from a thread of this
process; clients (boto3 in a test, a worker subprocess) reach it at ``url`` with any
credentials. Its data lives in moto's in-process backends, so stopping and starting a
server on the same port in the same process keeps every bucket and object — which is how
tests simulate an outage.

``python -m devstack.s3 --port 9000`` runs one in its own process until SIGTERM/Ctrl-C
(benchmarks use that, so the server doesn't share a GIL with what they measure).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from devstack.kafka import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ACCESS_KEY", "SECRET_KEY", "S3Server"]

ACCESS_KEY = "offramp-test"
SECRET_KEY = "offramp-test-secret"
REGION = "us-east-1"


class S3Server:
    """moto's S3 server on ``127.0.0.1:<port>``; ``start()`` returns once it answers."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> S3Server:
        from moto.server import ThreadedMotoServer

        # One log line per request would drown every other log.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        if not self.port:
            self.port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        self._server = server
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    return self
            except OSError:
                if time.monotonic() >= deadline:
                    self.stop()
                    raise TimeoutError(f"moto's S3 server did not answer on {self.url}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        # ThreadedMotoServer stops serving but leaves its listening socket open.
        inner = getattr(server, "_server", None)
        if inner is not None:
            inner.server_close()

    def client(self) -> S3Client:
        """A boto3 client for this server (close it when done)."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session(
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        ).client(
            "s3",
            endpoint_url=self.url,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def create_bucket(self, name: str, versioned: bool = False) -> None:
        """Create ``name``; ``versioned`` keeps every write of a key as its own version."""
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
            if versioned:
                client.put_bucket_versioning(
                    Bucket=name, VersioningConfiguration={"Status": "Enabled"}
                )
        finally:
            client.close()

    def set_auth(self, enabled: bool) -> None:
        """Turn moto's IAM checks on (unknown keys and denied actions are refused) or off.
        Process-wide: only for tests that run alone."""
        body = b"0" if enabled else b"inf"
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            body,
            method="POST",
            headers={"Content-Type": "text/plain"},  # a form type would hide the body
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def config(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """Connector keys that point the ``s3`` sink at this server and ``bucket``."""
        return {
            "s3.bucket.name": bucket,
            "s3.region": REGION,
            "store.url": self.url,
            "aws.access.key.id": ACCESS_KEY,
            "aws.secret.access.key": SECRET_KEY,
            **extra,
        }

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.s3")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = S3Server(args.port).start()
    print(f"S3 API (moto) listening on {server.url}", flush=True)
    try:
        stop.wait()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
