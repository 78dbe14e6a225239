"""Records/s of a latency-bound sink on 1, 2 and 3 ``offramp distributed`` workers.

The sink (``bench/latency_sink.py``, a plug-in the workers load from ``plugin.path``)
sleeps 20 ms per write whatever its size. The topic has 12 partitions, the connector
``tasks.max=2``: each worker runs two task threads (``tasks.max`` is threads per worker,
docs/distributed.md), so 1, 2 and 3 workers run 2, 4 and 6 consumers — 6, 3 and 2
partitions each — and whatever is gained comes from the added workers.

One run starts one broker-backed cluster: worker A, then B, then C, measuring after each
start on a fresh topic and connector (its own consumer group):

1. settle: one warm-up record per partition, every 0.3 s, until a whole round was
   written with every task thread holding its even share of the partitions (the group
   has spread them); the time this took is printed, not counted;
2. load: ``--records`` records produced round-robin over the partitions; records/s is
   that count over the time from the first record produced to the last one written.

Real worker processes, a real broker (devstack); every measured record is checked to
have been written (a duplicate is counted, not an error: at-least-once).

    .venv/bin/python bench/bench_distributed.py [--records 40000] [--runs 3]
        [--batch 50] [--latency-ms 20] [--protocol classic|consumer]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.kafka import KafkaBroker, free_port, produce_waiting

ROOT = Path(__file__).resolve().parents[1]
PARTITIONS = 12
TASKS = 2  # task threads per worker, the same on every worker
TARGET = 2.6  # the bar for 3 workers against 1


def make_plugin_dir(target: Path) -> None:
    """``bench/latency_sink.py`` as an installed plug-in: the module and a dist-info
    whose entry point registers it as ``latency`` (what ``pip install --target`` would
    leave; ``plugin.path`` puts the folder on the workers' ``sys.path``)."""
    target.mkdir(parents=True)
    shutil.copy(ROOT / "bench" / "latency_sink.py", target / "offramp_bench_latency.py")
    info = target / "offramp_bench_latency-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: offramp-bench-latency\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[offramp.connectors]\nlatency = offramp_bench_latency:LatencySink\n"
    )


class Worker:
    """One ``offramp distributed`` process, its REST port chosen here."""

    def __init__(self, home: Path, config: dict[str, Any]) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True)
        self.config_file = home / "worker.json"
        self.config_file.write_text(json.dumps({**config, "rest.port": self.port}))
        self.log_file = home / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OFFRAMP_", "CONNECT_"))}
        env["OFFRAMP_LOG_LEVEL"] = "WARNING"
        with open(self.log_file, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "offramp.cli", "distributed", str(self.config_file)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    break
                try:
                    if client.get("/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"worker {self.url} did not become healthy:\n{self.log_tail()}")

    def log_tail(self) -> str:
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return "\n".join(text.splitlines()[-30:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Writes:
    """What the task threads' files say so far, read incrementally (the bench shares
    the machine with the workers: it rereads nothing)."""

    directory: Path
    offsets: dict[Path, int] = field(default_factory=dict)
    # warm-up round → writer (file name: pid-task) → partitions it wrote that round of
    rounds: dict[int, dict[str, set[int]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    seen: set[str] = field(default_factory=set)  # measured values written
    duplicates: int = 0
    last: float = 0.0  # when the last write of measured records ended
    per_writer: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def read(self) -> None:
        for path in self.directory.glob("*.log"):
            start = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(start)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for next time
            self.offsets[path] = start + end
            for line in chunk[:end].decode().splitlines():
                self._add(path.stem, line)

    def _add(self, writer: str, line: str) -> None:
        stamp, *values = line.split(" ")
        for value in values:
            if value.startswith("m"):
                self.per_writer[writer] += 1
                if value in self.seen:
                    self.duplicates += 1
                self.seen.add(value)
                self.last = max(self.last, float(stamp))
            else:  # w<round>-<partition>
                round_no, partition = value[1:].split("-")
                self.rounds[int(round_no)][writer].add(int(partition))

    def spread(self, writers: int) -> bool:
        """Whether some warm-up round was written by ``writers`` task threads, each
        holding an even share of the partitions."""
        share = PARTITIONS // writers
        return any(
            len(shares) == writers
            and all(len(s) == share for s in shares.values())
            and len(set().union(*shares.values())) == PARTITIONS
            for shares in self.rounds.values()
        )


@dataclass
class Phase:
    workers: int
    rate: float
    settle: float
    duplicates: int
    per_writer: dict[str, int]


def measure(
    bootstrap: str, admin: AdminClient, url: str, workdir: Path, name: str, size: int, args: Any
) -> Phase:
    topic = name
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    out = workdir / name
    out.mkdir()
    config = {
        "connector.class": "latency",
        "topics": topic,
        "tasks.max": str(TASKS),
        "latency.ms": str(args.latency_ms),
        "latency.out.dir": str(out),
        "key.converter": "ByteArrayConverter",
        "value.converter": "ByteArrayConverter",
        "batch.max.records": str(args.batch),
        "batch.max.age.ms": "100",
    }
    writes = Writes(out)
    # Idle between phases, the broker closes its connection: not worth a log line.
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "log.connection.close": False}
    )
    with httpx.Client(base_url=url, timeout=30.0) as client:
        began = time.monotonic()
        created = client.post("/connectors", json={"name": name, "config": config})
        if created.status_code != 201:
            raise RuntimeError(f"create {name}: {created.status_code} {created.text}")
        round_no = 0
        deadline = time.monotonic() + 180
        while not writes.spread(TASKS * size):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the partitions were not spread within 180 s")
            round_no += 1
            for p in range(PARTITIONS):
                produce_waiting(producer, topic, f"w{round_no}-{p}".encode(), partition=p)
            producer.flush(30)
            time.sleep(0.3)
            writes.read()
        settle = time.monotonic() - began
        start = time.monotonic()
        for i in range(args.records):
            produce_waiting(producer, topic, f"m{i}".encode(), partition=i % PARTITIONS)
        producer.flush(60)
        deadline = time.monotonic() + 600
        while True:
            writes.read()
            if len(writes.seen) >= args.records:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {len(writes.seen)} of {args.records} in 600 s")
            time.sleep(0.1)
        client.delete(f"/connectors/{name}")
    rate = args.records / (writes.last - start)
    return Phase(size, rate, settle, writes.duplicates, dict(writes.per_writer))


def one_run(broker: KafkaBroker, admin: AdminClient, run: int, args: Any) -> list[Phase]:
    workdir = Path(tempfile.mkdtemp(prefix="offramp-bench-distributed-"))
    plugins = workdir / "plugins"
    make_plugin_dir(plugins)
    config = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": f"bench-{run}",
        "config.storage.topic": f"bench-{run}-configs",
        "status.storage.topic": f"bench-{run}-status",
        "plugin.path": str(plugins),
        "group.protocol": args.protocol,
        "offset.flush.interval.ms": 1000,
    }
    workers: list[Worker] = []
    phases: list[Phase] = []
    try:
        for size in (1, 2, 3):
            worker = Worker(workdir / f"worker-{size}", config).start()
            workers.append(worker)
            worker.wait_healthy()
            phase = measure(
                broker.bootstrap, admin, workers[0].url, workdir, f"lat-{run}-{size}", size, args
            )
            phases.append(phase)
            print(
                f"  run {run + 1}, {size} worker(s): {phase.rate:>8,.0f} records/s "
                f"(settled in {phase.settle:.1f} s; records per task thread "
                f"{sorted(phase.per_writer.values())}; {phase.duplicates} duplicates)",
                flush=True,
            )
    finally:
        for worker in workers:
            worker.stop()
    shutil.rmtree(workdir, ignore_errors=True)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50, help="batch.max.records")
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--protocol", default="classic", choices=["classic", "consumer"])
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the workers (the finally blocks run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ratios: dict[int, list[float]] = {2: [], 3: []}
    rates: dict[int, list[float]] = {1: [], 2: [], 3: []}
    with KafkaBroker(heap="1g") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for run in range(args.runs):
            phases = one_run(broker, admin, run, args)
            for phase in phases:
                rates[phase.workers].append(phase.rate)
            for size in (2, 3):
                ratios[size].append(phases[size - 1].rate / phases[0].rate)
            print(
                f"run {run + 1}: 2 workers {ratios[2][-1]:.2f}x, 3 workers {ratios[3][-1]:.2f}x",
                flush=True,
            )
        del admin  # its connections close before the broker stops, not after (no log noise)
    medians = {size: statistics.median(values) for size, values in rates.items()}
    print(
        f"median records/s: 1 worker {medians[1]:,.0f}, 2 workers {medians[2]:,.0f}, "
        f"3 workers {medians[3]:,.0f}"
    )
    print(
        f"median ratio: 2 workers {statistics.median(ratios[2]):.2f}x "
        f"(runs: {', '.join(f'{r:.2f}' for r in ratios[2])}), 3 workers "
        f"{statistics.median(ratios[3]):.2f}x (runs: {', '.join(f'{r:.2f}' for r in ratios[3])}); "
        f"target {TARGET}x at 3 workers; {args.records} records, {PARTITIONS} partitions, "
        f"tasks.max {TASKS} per worker, batch {args.batch}, {args.latency_ms} ms per write, "
        f"group.protocol {args.protocol}"
    )
    return 0 if statistics.median(ratios[3]) >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
