"""``python -m devstack kafka start|stop|status``: a broker that outlives this command.

State (pid, port, data directory) is kept in the cache so ``stop`` and ``status`` find
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
    try:
        os.kill(int(str(state["pid"])), 0)
    except (ProcessLookupError, ValueError):
        path.unlink(missing_ok=True)
        return None
    return state


def kafka_start(port: int) -> int:
    state = _running()
    if state:
        print(f"Kafka already running: bootstrap.servers={state['bootstrap']} (pid {state['pid']})")
        return 0
    data_dir = _state_dir() / "kafka-data"
    began = time.monotonic()
    broker = KafkaBroker(port=port, data_dir=data_dir, tied_to_parent=False).start()
    assert broker.process is not None
    state = {"pid": broker.process.pid, "bootstrap": broker.bootstrap, "data_dir": str(data_dir)}
    _state_file().write_text(json.dumps(state))
    print(
        f"Kafka {broker.version} ready in {time.monotonic() - began:.1f}s "
        f"(from start to metadata answered): bootstrap.servers={broker.bootstrap}"
    )
    print(f"broker log: {broker.log_path}")
    return 0


def kafka_stop() -> int:
    state = _running()
    if not state:
        print("Kafka is not running")
        return 0
    pid = int(str(state["pid"]))
    os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    print(f"Kafka stopped (pid {pid})")
    return 0


def kafka_status() -> int:
    state = _running()
    if not state:
        print("Kafka is not running")
        return 1
    print(f"Kafka running: bootstrap.servers={state['bootstrap']} (pid {state['pid']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    sub = parser.add_subparsers(dest="service", required=True)
    kafka = sub.add_parser("kafka", help="a real Apache Kafka broker on loopback")
    kafka.add_argument("action", choices=["start", "stop", "status"])
    kafka.add_argument("--port", type=int, default=9092)
    args = parser.parse_args(argv)
    _state_dir().mkdir(parents=True, exist_ok=True)
    if args.action == "start":
        return kafka_start(args.port)
    if args.action == "stop":
        return kafka_stop()
    return kafka_status()


if __name__ == "__main__":
    sys.exit(main())
