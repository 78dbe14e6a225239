"""A real multi-node Apache Kafka cluster (KRaft, each node broker+controller) on loopback.

Replication factor 3 and ``min.insync.replicas=2`` for every topic (the internal ones
too) when it has three nodes, so one broker may die without losing an acknowledged
record or refusing ``acks=all`` writes. Nodes start together (a KRaft quorum of three
elects no controller with one voter) and each may be killed, stopped and started
again on the same ports and data, which is what the broker fault tests do.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient

from devstack.kafka import KafkaBroker, free_port, new_cluster_id

__all__ = ["KafkaCluster"]


@dataclass
class KafkaCluster:
    """``size`` nodes with ids 1..size. ``bootstrap`` names every node's listener."""

    size: int = 3
    # 0: free ports; otherwise node n listens on base_port + n - 1 (the CLI's 9092, 9093…).
    base_port: int = 0
    data_dir: Path | None = None
    heap: str = "512m"
    tied_to_parent: bool = True
    nodes: dict[int, KafkaBroker] = field(default_factory=dict, init=False)
    _owns_dir: bool = field(default=False, init=False)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes.values())

    def start(self, timeout: float = 120.0) -> KafkaCluster:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="offramp-kafka-cluster-"))
            self._owns_dir = True
        controllers = {node_id: free_port() for node_id in range(1, self.size + 1)}
        voters = ",".join(f"{n}@127.0.0.1:{port}" for n, port in controllers.items())
        cluster_id = new_cluster_id()
        for node_id, controller_port in controllers.items():
            self.nodes[node_id] = KafkaBroker(
                port=self.base_port + node_id - 1 if self.base_port else free_port(),
                data_dir=self.data_dir / f"node-{node_id}",
                heap=self.heap,
                tied_to_parent=self.tied_to_parent,
                node_id=node_id,
                controller_port=controller_port,
                voters=voters,
                cluster_id=cluster_id,
                replication=min(3, self.size),
            )
        try:
            self._start_together(list(self.nodes), timeout)
            self._wait_registered(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_together(self, node_ids: list[int], timeout: float) -> None:
        # Launched from this thread (the parent-death signal follows the forking
        # thread), all before any is waited for: none is ready until a quorum runs.
        for node_id in node_ids:
            self.nodes[node_id].launch()
        for node_id in node_ids:
            self.nodes[node_id].wait_ready(timeout)

    def _wait_registered(self, timeout: float) -> None:
        # Each node answers metadata once it is up itself; a topic placed on all three
        # (replication 3) needs every one registered with the controller first.
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if len(admin.list_topics(timeout=2).brokers) == self.size:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"not all {self.size} brokers registered within {timeout:.0f}s")

    def kill(self, node_id: int) -> None:
        """``kill -9`` one node: no controlled shutdown, its leaderships move on timeout."""
        self.nodes[node_id].kill()

    def stop_node(self, node_id: int) -> None:
        """A clean stop of one node (controlled shutdown hands its leaderships over)."""
        self.nodes[node_id].stop()

    def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        """Start one stopped or killed node again on its ports and data."""
        self._start_together([node_id], timeout)

    def running(self, node_id: int) -> bool:
        process = self.nodes[node_id].process
        return process is not None and process.poll() is None

    def leader(self, topic: str, partition: int = 0, timeout: float = 10.0) -> int:
        """The node id leading ``topic``'s ``partition``, asked of a live node."""
        live = ",".join(n.bootstrap for i, n in self.nodes.items() if self.running(i))
        admin = AdminClient({"bootstrap.servers": live, "log_level": 0})
        metadata = admin.list_topics(topic, timeout=timeout)
        return int(metadata.topics[topic].partitions[partition].leader)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        if self._owns_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
