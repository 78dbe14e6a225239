"""Embedded stores' one-client-per-path rule: shared within a process, refused across
processes, for Qdrant Edge (the default) and qdrant-client's local mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from offramp import FatalError
from offramp.connectors.qdrant import QdrantSinkConfig
from offramp.connectors.qdrant.clients import (
    borrow_edge,
    borrow_local,
    edge_storage_in_use,
    local_storage_in_use,
    open_client,
)
from offramp.connectors.qdrant.edge import EdgeClient

ENGINES = {"edge": edge_storage_in_use, "local": local_storage_in_use}


def _config(path: Path | str, engine: str = "edge") -> QdrantSinkConfig:
    return QdrantSinkConfig.model_validate({"qdrant.path": str(path), "qdrant.embedded": engine})


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_tasks_in_one_process_share_one_client_per_path(tmp_path: Path, engine: str) -> None:
    """Two handles on one path share a client; it closes (lock freed) with the last one."""
    in_use: Callable[[str], bool] = ENGINES[engine]
    first = open_client(_config(tmp_path, engine), "a")
    second = open_client(_config(tmp_path / "." / "", engine), "b")  # other spelling
    try:
        assert first.client is second.client and first.lock is second.lock
        assert first.edge == (engine == "edge") and first.local
        assert in_use(str(tmp_path))
        first.release()
        first.release()  # a second release is harmless
        assert in_use(str(tmp_path))
    finally:
        second.release()
    assert not in_use(str(tmp_path))


def test_qdrant_edge_is_the_default_for_a_path(tmp_path: Path) -> None:
    """Without qdrant.embedded a directory is a Qdrant Edge store."""
    config = QdrantSinkConfig.model_validate({"qdrant.path": str(tmp_path)})
    handle = open_client(config, "default")
    try:
        assert isinstance(handle.client, EdgeClient)
        assert config.location == f"Qdrant Edge at {tmp_path}"
    finally:
        handle.release()


def test_memory_stores_are_private_to_each_connector() -> None:
    """``:memory:`` is shared by one connector's tasks, not across connectors; an Edge
    one lives in a temporary directory that goes with its last user."""
    with (
        borrow_local(":memory:", "one") as a,
        borrow_local(":memory:", "one") as b,
        borrow_local(":memory:", "two") as c,
    ):
        assert a.client is b.client and a.client is not c.client
    with borrow_edge(":memory:", "one") as d, borrow_edge(":memory:", "one") as e:
        assert d.client is e.client and isinstance(d.client, EdgeClient)
        where = d.client.path
        assert where.is_dir()
    assert not where.exists()


def test_a_local_mode_store_is_not_opened_as_edge(tmp_path: Path) -> None:
    """A directory holding local-mode data fails clearly, naming qdrant.embedded=local."""
    with borrow_local(str(tmp_path)):
        pass  # leaves meta.json behind
    with pytest.raises(FatalError, match=r"qdrant\.embedded=local"):
        open_client(_config(tmp_path), "x")


_HOLDERS = {
    "local": """
        from qdrant_client import QdrantClient
        client = QdrantClient(path={path!r})
        """,
    "edge": """
        from offramp.connectors.qdrant.edge import EdgeClient
        client = EdgeClient({path!r})
        """,
}


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_a_path_held_by_another_process_is_refused_clearly(tmp_path: Path, engine: str) -> None:
    """Another process's lock gives a FatalError saying so, without touching the store."""
    in_use = ENGINES[engine]
    script = textwrap.dedent(_HOLDERS[engine]).format(path=str(tmp_path))
    script += 'import sys\nprint("held", flush=True)\nsys.stdin.read()\nclient.close()\n'
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert in_use(str(tmp_path))
        with pytest.raises(FatalError, match="in use by another process"):
            open_client(_config(tmp_path, engine), "c")
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(30)
        holder.stdout.close()
    assert not in_use(str(tmp_path))
    open_client(_config(tmp_path, engine), "c").release()
