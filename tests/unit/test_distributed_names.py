"""Connector names that the distributed config topic keeps for its own requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.config import load_worker_config
from offramp.distributed.config_log import is_request_key
from offramp.distributed.worker import DistributedWorker
from offramp.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "reserved"),
    [("restart:calls", True), ("restart:", False), ("restarts:calls", False), ("calls", False)],
)
def test_only_a_kind_colon_connector_is_a_request_key(name: str, reserved: bool) -> None:
    """``restart:<connector>`` is a request; other names with colons are connectors."""
    assert is_request_key(name) is reserved


def test_a_connector_named_like_a_request_is_refused(tmp_path: Path) -> None:
    """A distributed worker refuses a connector named ``restart:…`` by its name key, so
    its config records can't be read as restart requests."""
    worker = DistributedWorker(
        load_worker_config({"group.id": "names", "rest.port": 0}, environ={})
    )
    config = {"connector.class": "file", "topics": "t", "file": str(tmp_path / "out")}
    with pytest.raises(ConfigError) as refused:
        worker.validate("restart:calls", config)
    assert [key for key, _ in refused.value.errors] == ["name"]
    assert worker.validate("re:start", config).name == "re:start"
