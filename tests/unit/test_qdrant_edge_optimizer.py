"""Qdrant Edge's optimizers run in a child process: the worker's threads go on meanwhile,
the index is built, and the child never outlives the process that started it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import qdrant_edge as qe
from qdrant_client import models

from offramp.connectors.qdrant import edge as edge_module
from offramp.connectors.qdrant.edge import EdgeClient, EdgeTuning, stalls_less_in_process

DIM = 384


def _fill(client: EdgeClient, points: int) -> None:
    rnd = random.Random(7)
    client.create_collection(
        "calls", models.VectorParams(size=DIM, distance=models.Distance.COSINE)
    )
    for start in range(0, points, 500):
        batch = [
            models.PointStruct(
                id=start + i, vector=[rnd.random() for _ in range(DIM)], payload={"n": start + i}
            )
            for i in range(500)
        ]
        client.upsert("calls", batch)


def test_other_threads_run_while_a_collection_is_optimized(tmp_path: Path) -> None:
    """A thread ticking every 10 ms keeps ticking through an optimize (in process, Edge
    holds the GIL and it would tick about once); afterwards every point is indexed and
    the collection answers as before."""
    client = EdgeClient(str(tmp_path), EdgeTuning(optimize_points=1))
    try:
        _fill(client, 12_000)
        ticks, stop = [0], threading.Event()

        def tick() -> None:
            while not stop.wait(0.01):
                ticks[0] += 1

        ticker = threading.Thread(target=tick)
        ticker.start()
        began = time.perf_counter()
        try:
            optimized = client.maybe_optimize()
        finally:
            took = time.perf_counter() - began
            stop.set()
            ticker.join()
        assert optimized == ["calls"]
        print(f"optimize {took:.2f} s, {ticks[0]} ticks of 10 ms")
        assert ticks[0] >= 0.5 * took / 0.01
        info = client.get_collection("calls")
        assert info.points_count == 12_000
        assert info.indexed_vectors_count >= 12_000
        assert client.count("calls").count == 12_000
        assert client.maybe_optimize() == []  # counted afresh after the optimize
    finally:
        client.close()


def test_a_failed_optimize_says_why_and_leaves_the_collection_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's error comes back as a RuntimeError naming the collection and what the
    child said (the writer logs it and goes on); the shard opens again on its next use,
    nothing lost, and the next optimize tries again."""
    client = EdgeClient(str(tmp_path), EdgeTuning(optimize_points=1))
    try:
        _fill(client, 500)
        monkeypatch.setattr(sys, "executable", "/bin/false")  # not Python: it fails
        with pytest.raises(RuntimeError, match=r"optimizing 'calls': .+"):
            client.maybe_optimize()
        monkeypatch.undo()
        assert client.count("calls").count == 500
        assert client.maybe_optimize() == ["calls"]
    finally:
        client.close()


_PARENT = textwrap.dedent(
    """
    import random, sys
    from qdrant_client import models
    from offramp.connectors.qdrant.edge import EdgeClient, EdgeTuning
    client = EdgeClient(sys.argv[1], EdgeTuning(optimize_points=1))
    params = models.VectorParams(size=384, distance=models.Distance.COSINE)
    client.create_collection("calls", params)
    rnd = random.Random(7)
    for start in range(0, 30000, 1000):
        client.upsert("calls", [
            models.PointStruct(id=start + i, vector=[rnd.random() for _ in range(384)])
            for i in range(1000)
        ])
    client.flush()
    print("optimizing", flush=True)
    client.maybe_optimize()
    print("optimized", flush=True)
    """
)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_the_optimizer_dies_with_a_worker_killed_mid_optimize(tmp_path: Path) -> None:
    """kill -9 of the process mid-optimize takes its optimizer with it at once (the
    kernel's parent-death signal), so a worker started again finds the store free and
    every point written."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "optimizing"
        deadline = time.monotonic() + 30
        while not (children := _children(parent.pid)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert children, "no optimizer process appeared"
        time.sleep(0.3)  # loaded and optimizing
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        gone_by = time.monotonic() + 2
        while any(Path(f"/proc/{c}").exists() for c in children):
            # A zombie is gone too: it holds no lock and runs nothing.
            states = [_state(c) for c in children]
            if all(s in ("Z", "X", None) for s in states):
                break
            assert time.monotonic() < gone_by, f"optimizer still running: {states}"
            time.sleep(0.02)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    reopened = EdgeClient(str(tmp_path))
    try:
        assert reopened.count("calls").count == 30_000
        assert qe.__name__ == "qdrant_edge"
    finally:
        reopened.close()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def test_a_collection_whose_shard_opens_slower_than_it_optimizes_is_optimized_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening the shard again (GIL held) grows with the collection, the optimize of the
    new points does not: once the reopen took longer than the child's optimize less its
    own opening, the collection is optimized in the worker, and stays so."""
    assert not stalls_less_in_process(0.06, 4.4)  # 12 000 points
    assert stalls_less_in_process(1.3, 2.0)  # past a million: 1.3 s of 2.0 s opening
    client = EdgeClient(str(tmp_path), EdgeTuning(optimize_points=1))
    children: list[str] = []
    real = EdgeClient._optimize_elsewhere

    def elsewhere(self: EdgeClient, name: str, shard: object) -> float:
        children.append(name)
        real(self, name, shard)  # type: ignore[arg-type]
        return 0.01  # as if the child's optimize were quicker than opening the shard

    monkeypatch.setattr(EdgeClient, "_optimize_elsewhere", elsewhere)
    try:
        _fill(client, 500)
        assert client.maybe_optimize() == ["calls"]
        _fill_more(client, 500, 1000)
        assert client.maybe_optimize() == ["calls"]
        assert children == ["calls"]  # the second ran here
        assert client.count("calls").count == 1000
    finally:
        client.close()
    assert edge_module.log.name == "offramp.connectors.qdrant"


def _fill_more(client: EdgeClient, start: int, end: int) -> None:
    rnd = random.Random(start)
    client.upsert(
        "calls",
        [
            models.PointStruct(id=i, vector=[rnd.random() for _ in range(DIM)], payload={"n": i})
            for i in range(start, end)
        ],
    )
