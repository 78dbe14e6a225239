"""Running ``offramp standalone`` as a child process and finding its REST API."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

_LISTENING = re.compile(r"REST API listening on (\S+)")


class StandaloneWorker:
    """``python -m offramp.cli standalone worker.json [connectors…]`` with its log in a
    file; ``url`` is read from the log line naming the port it bound."""

    def __init__(
        self,
        directory: Path,
        worker: dict[str, Any],
        connectors: list[Path],
        mode: str = "standalone",
    ) -> None:
        self.directory = directory
        self.mode = mode  # "distributed" runs ``offramp distributed`` (no connector files)
        self.worker_file = directory / "worker.json"
        self.worker_file.write_text(json.dumps(worker))
        self.connectors = connectors
        self.log_file = directory / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> StandaloneWorker:
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "offramp.cli",
                    self.mode,
                    str(self.worker_file),
                    *map(str, self.connectors),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OFFRAMP_LOG_LEVEL": "INFO"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.search(self.log_file.read_bytes()[offset:].decode(errors="replace"))
            if found:
                self.url = found.group(1)
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the worker did not start its REST API:\n{self.log()}")

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if client.get("/health").status_code == 200:
                    return
                time.sleep(0.2)
        raise AssertionError(f"the worker never became healthy:\n{self.log()}")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM; the exit status (the child is killed if it doesn't stop in time)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the worker ignored SIGTERM:\n{self.log()}") from None
