"""The file sink writes one line per record and refuses unusable paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp import FatalError, RawMessage, SinkRecord, TaskContext
from offramp.connectors.file import FileSinkConfig, FileSinkConnector
from offramp.testing import write_all


def test_values_become_lines(tmp_path: Path) -> None:
    """Strings as text, other values as compact JSON, in order."""
    path = tmp_path / "out.jsonl"
    config = FileSinkConfig.model_validate({"file": str(path)})
    writer = FileSinkConnector().create_writer(config, TaskContext("c", 0, {}))
    records = [
        SinkRecord(RawMessage("t", 0, i), None, value)
        for i, value in enumerate(["plain", {"n": 1}, [1, 2]])
    ]
    failures, committable = write_all(writer, records)
    assert failures == [] and committable == {("t", 0): 3}
    assert path.read_text() == 'plain\n{"n":1}\n[1,2]\n'


def test_unwritable_path_is_fatal(tmp_path: Path) -> None:
    """A path that can't be opened fails the task with the reason."""
    config = FileSinkConfig.model_validate({"file": str(tmp_path / "missing" / "x")})
    with pytest.raises(FatalError, match="cannot open"):
        FileSinkConnector().create_writer(config, TaskContext("c", 0, {}))
