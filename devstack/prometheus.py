"""A throwaway Prometheus server scraping a worker, for the dashboard test.

Debian's ``prometheus`` package (``scripts/install-packages``); the server runs as a
child with its config and data in a directory the caller owns, on a free loopback
port, scraping every second, and dies with its parent.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from devstack.kafka import free_port
from devstack.scratch import die_with_parent

__all__ = ["PrometheusServer"]

BINARY = Path("/usr/bin/prometheus")


class PrometheusServer:
    def __init__(self, directory: Path, target: str, bearer_token: str | None = None) -> None:
        """``target``: ``host:port`` of a worker's REST API (``/metrics`` is scraped)."""
        if not BINARY.exists():
            raise RuntimeError(
                f"{BINARY} is missing: run scripts/install-packages as root (Debian's prometheus)"
            )
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        job: dict[str, Any] = {
            "job_name": "offramp",
            "scrape_interval": "1s",
            "scrape_timeout": "1s",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [target]}],
        }
        if bearer_token:
            job["authorization"] = {"type": "Bearer", "credentials": bearer_token}
        # JSON is YAML: no YAML library needed to write the config.
        (directory / "prometheus.yml").write_text(
            json.dumps({"global": {"evaluation_interval": "1s"}, "scrape_configs": [job]})
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        log = open(self.directory / "prometheus.log", "wb")  # noqa: SIM115 - the child's
        self.proc = subprocess.Popen(
            [
                str(BINARY),
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGTERM),
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Prometheus did not start: {self.log()}")

    def log(self) -> str:
        path = self.directory / "prometheus.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query's result vector (``ValueError`` for a query Prometheus refuses)."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                body = json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise ValueError(f"{promql}: {exc.read().decode(errors='replace')}") from exc
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def targets_up(self) -> bool:
        return any(sample["value"][1] == "1" for sample in self.query('up{job="offramp"}'))

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
