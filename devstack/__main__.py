"""``python -m devstack kafka start|stop|status [--brokers N]``: a broker (or a cluster of
N, replication factor 3 and ``min.insync.replicas=2`` at three) that outlives this command.

State (pids, ports, data directory) is kept in the cache so ``stop`` and ``status`` find
the broker that ``start`` left running.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from devstack.kafka import KafkaBroker, cache_dir
from devstack.kafka_cluster import KafkaCluster


def _state_dir() -> Path:
    """Where a CLI-started broker keeps its state and data (``OFFRAMP_DEVSTACK_DIR``)."""
    return Path(os.environ.get("OFFRAMP_DEVSTACK_DIR") or cache_dir() / "devstack")


def _state_file() -> Path:
    return _state_dir() / "kafka.json"


def _running() -> dict[str, object] | None:
    path = _state_file()
    if not path.exists():
        return None
    state: dict[str, object] = json.loads(path.read_text())
    alive = [pid for pid in _pids(state) if _exists(pid)]
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return state


def _pids(state: dict[str, object]) -> list[int]:
    raw = state.get("pids", [state.get("pid")])
    return [int(str(pid)) for pid in raw] if isinstance(raw, list) else []


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kafka_start(port: int, brokers: int) -> int:
    state = _running()
    if state:
        print(
            f"Kafka already running: bootstrap.servers={state['bootstrap']} (pids {_pids(state)})"
        )
        return 0
    began = time.monotonic()
    if brokers == 1:
        data_dir = _state_dir() / "kafka-data"
        broker = KafkaBroker(port=port, data_dir=data_dir, tied_to_parent=False).start()
        nodes = [broker]
    else:
        data_dir = _state_dir() / f"kafka-cluster-{brokers}"
        cluster = KafkaCluster(
            size=brokers, base_port=port, data_dir=data_dir, tied_to_parent=False
        ).start()
        nodes = list(cluster.nodes.values())
    pids = [node.process.pid for node in nodes if node.process is not None]
    bootstrap = ",".join(node.bootstrap for node in nodes)
    state = {"pids": pids, "bootstrap": bootstrap, "data_dir": str(data_dir)}
    _state_file().write_text(json.dumps(state))
    print(
        f"Kafka {nodes[0].version} ({brokers} broker{'s' if brokers > 1 else ''}) ready in "
        f"{time.monotonic() - began:.1f}s (from start to metadata answered): "
        f"bootstrap.servers={bootstrap}"
    )
    for node in nodes:
        print(f"broker {node.node_id} log: {node.log_path}")
    return 0


def kafka_stop() -> int:
    state = _running()
    if not state:
        print("Kafka is not running")
        return 0
    pids = [pid for pid in _pids(state) if _exists(pid)]
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not any(_exists(pid) for pid in pids):
            break
        time.sleep(0.1)
    else:
        for pid in pids:
            if _exists(pid):
                os.kill(pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    print(f"Kafka stopped (pids {pids})")
    return 0


def kafka_status() -> int:
    state = _running()
    if not state:
        print("Kafka is not running")
        return 1
    print(f"Kafka running: bootstrap.servers={state['bootstrap']} (pids {_pids(state)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="service", required=True)
    kafka = sub.add_parser("kafka", help="a real Apache Kafka broker on loopback")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.add_argument("--port", type=int, default=9092, help="the first broker's port")
    kafka.add_argument(
        "--brokers", type=int, default=1, help="1 (default) or a cluster of N on port, port+1…"
    )
    args = parser.parse_args(argv)
    _state_dir().mkdir(parents=True, exist_ok=True)
    if args.action == "start":
        if args.brokers < 1:
            parser.error("--brokers must be at least 1")
        return kafka_start(args.port, args.brokers)
    if args.action == "stop":
        return kafka_stop()
    return kafka_status()


if __name__ == "__main__":
    sys.exit(main())
