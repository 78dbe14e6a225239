"""The demo on a cluster (``scripts/demo --workers 3``): the same fan-out on several
``offramp distributed configs/worker-distributed.json`` workers instead of one
``offramp standalone`` worker.

The workers get the same environment as the single worker (the broker's address, the
stand-ins' URLs) and a REST port each; they take no connector files. The connectors of
``configs/connectors`` are created through REST, each through a different worker (any
worker answers for the whole cluster), and every worker runs its share of each. At the
end the demo shows where the work went: each connector's tasks with their
``worker_id``, and the records each worker wrote.

Left out: ``embeddings-qdrant.json``. Its embedded store (``qdrant.path``) is one
process's directory, locked by the process that opens it, so three workers can't share
it; a cluster writes to a Qdrant server (``qdrant.url``), which the devstack does not run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from devstack.demo_base import DemoContext
from devstack.demo_progress import counts
from devstack.kafka import free_port

__all__ = ["LEFT_OUT", "Member", "create_connectors", "members", "spread_report"]

WORKER_CONFIG = "configs/worker-distributed.json"
# Connector files the cluster demo doesn't create, and why (said when it runs).
LEFT_OUT = {
    "embeddings-qdrant.json": "its embedded Qdrant store is one process's directory; "
    "a cluster needs a Qdrant server (qdrant.url)",
}


@dataclass
class Member:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path


@contextlib.contextmanager
def members(ctx: DemoContext, root: Path, count: int) -> Iterator[list[Member]]:
    """``count`` distributed workers of one cluster, each healthy; stopped afterwards."""
    started: list[Member] = []
    logs = []
    try:
        for i in range(1, count + 1):
            port = free_port()
            env = {
                **os.environ,
                **ctx.env,
                "OFFRAMP_WORKER_BOOTSTRAP_SERVERS": ctx.bootstrap,
                "OFFRAMP_WORKER_REST_PORT": str(port),
                "OFFRAMP_LOG_LEVEL": "WARNING",
            }
            path = ctx.workdir / f"worker-{i}.log"
            log = open(path, "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            proc = subprocess.Popen(
                [sys.executable, "-m", "offramp.cli", "distributed", WORKER_CONFIG],
                cwd=root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            started.append(Member(proc, f"http://127.0.0.1:{port}", path))
        for member in started:
            _wait_healthy(member)
        yield started
    finally:
        for member in started:
            member.proc.send_signal(signal.SIGTERM)
        for member in started:
            try:
                member.proc.wait(30)
            except subprocess.TimeoutExpired:
                member.proc.kill()
                member.proc.wait()
        for log in logs:
            log.close()


def _wait_healthy(member: Member, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=member.url, timeout=5.0) as client:
        while time.monotonic() < deadline:
            if member.proc.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/health").status_code == 200:
                    return
            time.sleep(0.2)
    print(member.log.read_text(errors="replace"), file=sys.stderr)
    raise SystemExit(f"the worker at {member.url} did not start; its log is above")


def create_connectors(root: Path, urls: list[str]) -> list[str]:
    """POST every connector file of ``configs/connectors`` (but ``LEFT_OUT``), the
    first through the first worker, the next through the next, and so on; a line per
    connector saying which worker took it."""
    said = []
    files = sorted(p for p in (root / "configs" / "connectors").glob("*.json"))
    for i, path in enumerate(p for p in files if p.name not in LEFT_OUT):
        body = orjson.loads(path.read_bytes())
        url = urls[i % len(urls)]
        response = httpx.post(f"{url}/connectors", json=body, timeout=60)
        if response.status_code != 201:
            raise SystemExit(f"creating {path.name} through {url}: {response.text}")
        said.append(f"  {body['name']:<18} created through {url}")
    for name, why in LEFT_OUT.items():
        said.append(f"  (not {name}: {why})")
    return said


def spread_report(urls: list[str]) -> str:
    """Each connector's tasks by ``worker_id`` (as the first worker reports the whole
    cluster) and the records each worker wrote (its own ``/metrics``)."""
    status = httpx.get(f"{urls[0]}/connectors", params={"expand": "status"}, timeout=10).json()
    written = {url.removeprefix("http://"): counts(url) for url in urls}
    label = {url.removeprefix("http://"): f"worker-{i}" for i, url in enumerate(urls, 1)}
    lines = []
    for name in sorted(status):
        tasks = status[name]["status"]["tasks"]
        by_worker: dict[str, list[str]] = {}
        for task in sorted(tasks, key=lambda t: (label.get(t["worker_id"], ""), t["id"])):
            by_worker.setdefault(task["worker_id"], []).append(f"{task['id']} {task['state']}")
        lines.append(f"  {name}")
        for worker_id in by_worker:
            records = written.get(worker_id, {}).get(name, {}).get("written", 0)
            lines.append(
                f"    {label.get(worker_id, '?')} ({worker_id}): tasks "
                f"{', '.join(by_worker[worker_id])}; wrote {records} records"
            )
    return "\n".join(lines)
