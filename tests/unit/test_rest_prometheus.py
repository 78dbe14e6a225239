"""/metrics renders TaskMetrics as Prometheus text, and timestamps for replays parse."""

from __future__ import annotations

import re

import pytest

from offramp.config import load_worker_config
from offramp.records import TopicPartition
from offramp.registry import PluginRegistry
from offramp.rest.errors import ApiError
from offramp.rest.offsets import parse_timestamp
from offramp.rest.prometheus import render_metrics
from offramp.task import TaskRunner
from offramp.testing import RecordingSinkConnector
from offramp.worker import Worker

_SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+$')


def test_every_series_is_well_formed_and_histograms_are_cumulative() -> None:
    """Counters, gauges, the latency histogram (cumulative buckets, +Inf = count), lag per
    partition and the task state gauge; label values are escaped."""
    registry = PluginRegistry(load_entry_points=False)
    registry.register("recording", RecordingSinkConnector)
    worker = Worker(load_worker_config({"rest.port": 0}, environ={}), registry)
    name = 'odd"name'
    runtime = worker.create(
        name, {"connector.class": "recording", "topics": "t"}, initial_state="STOPPED"
    )
    task = TaskRunner(runtime.config, 0, worker.config)  # never started: UNASSIGNED
    runtime.tasks = [task]
    m = task.metrics
    m.records_read, m.records_written = 10, 9
    m.observe_write(5, 0.002)
    m.observe_write(4, 0.3)
    m.observe_write(4, 30.0)  # beyond the last bucket: only in +Inf
    m.consumer_lag[TopicPartition("t", 0)] = 7
    text = render_metrics(worker)
    for line in text.splitlines():
        assert line.startswith("# ") or _SAMPLE.match(line), line
    labels = 'connector="odd\\"name",task="0"'
    assert f"offramp_sink_record_read_total{{{labels}}} 10" in text
    assert f'offramp_sink_put_batch_seconds_bucket{{{labels},le="0.005"}} 1' in text
    assert f'offramp_sink_put_batch_seconds_bucket{{{labels},le="0.5"}} 2' in text
    assert f'offramp_sink_put_batch_seconds_bucket{{{labels},le="+Inf"}} 3' in text
    assert f"offramp_sink_put_batch_seconds_count{{{labels}}} 3" in text
    assert f'offramp_sink_consumer_lag{{{labels},topic="t",partition="0"}} 7' in text
    assert f'offramp_task_state{{{labels},state="UNASSIGNED"}} 1' in text
    assert 'offramp_connector_state{connector="odd\\"name",state="STOPPED"} 1' in text
    assert text.count("# TYPE offramp_sink_put_batch_seconds histogram") == 1


def test_replay_timestamps_parse_from_ms_or_iso8601() -> None:
    """Digits are ms since the epoch; ISO-8601 is read (UTC without a zone); junk is 400."""
    assert parse_timestamp("1700000000000") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20Z") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20") == 1_700_000_000_000
    assert parse_timestamp("2023-11-15T00:13:20+02:00") == 1_700_000_000_000
    for bad in ("yesterday", "-5", "0001-01-01T00:00:00+14:00", "9" * 20):
        with pytest.raises(ApiError):
            parse_timestamp(bad)
