"""Local mode's one-client-per-path rule: shared within a process, refused across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from offramp import FatalError
from offramp.connectors.qdrant import QdrantSinkConfig
from offramp.connectors.qdrant.clients import borrow_local, local_storage_in_use, open_client


def _config(path: Path | str) -> QdrantSinkConfig:
    return QdrantSinkConfig.model_validate({"qdrant.path": str(path)})


def test_tasks_in_one_process_share_one_client_per_path(tmp_path: Path) -> None:
    """Two handles on one path share a client; it closes (lock freed) with the last one."""
    first = open_client(_config(tmp_path), "a")
    second = open_client(_config(tmp_path / "." / ""), "b")  # same directory, other spelling
    try:
        assert first.client is second.client and first.lock is second.lock
        assert local_storage_in_use(str(tmp_path))
        first.release()
        first.release()  # a second release is harmless
        assert local_storage_in_use(str(tmp_path))
    finally:
        second.release()
    assert not local_storage_in_use(str(tmp_path))


def test_memory_stores_are_private_to_each_connector() -> None:
    """``:memory:`` is shared by one connector's tasks, not across connectors."""
    with (
        borrow_local(":memory:", "one") as a,
        borrow_local(":memory:", "one") as b,
        borrow_local(":memory:", "two") as c,
    ):
        assert a.client is b.client and a.client is not c.client


def test_a_path_held_by_another_process_is_refused_clearly(tmp_path: Path) -> None:
    """Another process's lock gives a FatalError saying so, without touching the store."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from qdrant_client import QdrantClient
                client = QdrantClient(path={str(tmp_path)!r})
                print("held", flush=True)
                sys.stdin.read()
                client.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert local_storage_in_use(str(tmp_path))
        with pytest.raises(FatalError, match="in use by another process"):
            open_client(_config(tmp_path), "c")
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(30)
        holder.stdout.close()
    assert not local_storage_in_use(str(tmp_path))
    open_client(_config(tmp_path), "c").release()
