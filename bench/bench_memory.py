"""Memory a connector costs: one ``offramp standalone`` process with N file-sink
connectors (each its own consumer group, the ``ce-type`` Filter on), after it drained
a backlog of call events from a topic of P partitions; RssAnon and VmHWM from
``/proc/<pid>/status``. Also what one consumer's statistics callback costs to parse.

    .venv/bin/python bench/bench_memory.py [--events 20000] [--connectors 1,5,20]
        [--partitions 24,96]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.generator import CALL_COMPLETED, produce_calls
from devstack.kafka import KafkaBroker, free_port

ROOT = Path(__file__).resolve().parents[1]


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "RssAnon", "Threads"):
            out[name] = int(rest.split()[0])
    return out


def run_worker(bootstrap: str, topic: str, connectors: int, expected: int, work: Path) -> dict:
    folder = work / f"c{connectors}-{topic}"
    folder.mkdir()
    template = orjson.loads((ROOT / "configs/connectors/calls-file.json").read_bytes())
    outputs = []
    for i in range(connectors):
        spec = orjson.loads(orjson.dumps(template))
        spec["name"] = f"file-{topic}-{connectors}-{i}"
        spec["config"]["topics"] = topic
        spec["config"]["file"] = str(folder / f"out-{i}.jsonl")
        outputs.append(folder / f"out-{i}.jsonl")
        (folder / f"{i}.json").write_bytes(orjson.dumps(spec))
    env = {
        **os.environ,
        "OFFRAMP_WORKER_BOOTSTRAP_SERVERS": bootstrap,
        "OFFRAMP_WORKER_REST_PORT": str(free_port()),
        "OFFRAMP_LOG_LEVEL": "WARNING",
    }
    with open(folder / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "offramp.cli", "standalone", "configs/worker.json", str(folder)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            began = time.monotonic()
            while time.monotonic() - began < 180:
                lines = sum(p.read_bytes().count(b"\n") for p in outputs if p.exists())
                if lines >= expected * connectors:
                    break
                time.sleep(0.5)
            drained = time.monotonic() - began
            time.sleep(5)  # caught up and idle
            found = status_kb(proc.pid)
            found["drained_s"] = round(drained, 1)
            return found
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def stats_cost(bootstrap: str, topic: str) -> tuple[int, float]:
    """Bytes of one statistics JSON of a consumer of ``topic``, and µs to parse it."""
    captured: list[str] = []
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"stats-{topic}",
            "auto.offset.reset": "earliest",
            "statistics.interval.ms": 1000,
            "stats_cb": captured.append,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 20
    while len(captured) < 4 and time.monotonic() < deadline:
        consumer.consume(500, 0.2)
    consumer.close()
    text = captured[-1]
    began = time.perf_counter()
    for _ in range(200):
        stats = orjson.loads(text)
        for tstats in stats.get("topics", {}).values():
            for pid, pstats in tstats.get("partitions", {}).items():
                int(pid), pstats.get("consumer_lag", -1)
    return len(text), (time.perf_counter() - began) / 200 * 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--connectors", default="1,5,20")
    parser.add_argument("--partitions", default="24,96")
    args = parser.parse_args()
    counts = [int(c) for c in args.connectors.split(",")]
    partitions = [int(p) for p in args.partitions.split(",")]
    work = Path(tempfile.mkdtemp(prefix="offramp-memory-"))
    try:
        with KafkaBroker(heap="1g") as broker:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            expected = 0
            for p in partitions:
                topic = f"calls{p}"
                admin.create_topics([NewTopic(topic, p, 1)])[topic].result(30)
                events = produce_calls(broker.bootstrap, topic, args.events)
                expected = sum(1 for e in events if e.ce_type == CALL_COMPLETED)
            del admin
            print(f"{args.events} events each; file sinks with the ce-type Filter")
            print(
                f"{'partitions':>10} {'connectors':>10} {'RssAnon MB':>11} {'VmHWM MB':>9} "
                f"{'threads':>8} {'drained s':>9}"
            )
            rows = [(partitions[0], c) for c in counts]
            rows += [(p, 5) for p in partitions[1:]]
            for p, c in rows:
                found = run_worker(broker.bootstrap, f"calls{p}", c, expected, work)
                print(
                    f"{p:>10} {c:>10} {found['RssAnon'] / 1024:>11.0f} "
                    f"{found['VmHWM'] / 1024:>9.0f} {found['Threads']:>8} "
                    f"{found['drained_s']:>9}",
                    flush=True,
                )
            for p in partitions:
                size, micros = stats_cost(broker.bootstrap, f"calls{p}")
                print(
                    f"statistics JSON of one consumer, {p} partitions: {size / 1024:.0f} KiB, "
                    f"{micros:.0f} µs to parse and walk"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
