"""``scripts/demo --workers 3``: its workers and connectors, against the real broker."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

from devstack.demo_base import DemoContext
from devstack.demo_cluster import LEFT_OUT, members, spread_report
from devstack.kafka import KafkaBroker
from tests.conftest import produce, wait_for
from tests.integration.distributed.cluster import file_sink, lines, numbers

REPO = Path(__file__).resolve().parents[3]

# What the demo's stand-ins would put in the environment; validating a config resolves
# its ${env:…} values but connects to nothing.
STAND_INS = {
    "DEMO_SLACK_URL": "http://127.0.0.1:9/hooks/demo",
    "DEMO_S3_URL": "http://127.0.0.1:9",
    "DEMO_S3_ACCESS_KEY_ID": "demo",
    "DEMO_S3_SECRET_ACCESS_KEY": "demo-secret",
    "DEMO_SQL_URL": "postgresql://demo:demo@127.0.0.1:9/billing",
    "DEMO_HUBSPOT_URL": "http://127.0.0.1:9",
    "DEMO_HUBSPOT_TOKEN": "demo-token",
}


def test_the_demo_cluster_starts_validates_its_connectors_and_reports_the_spread(
    kafka: KafkaBroker, make_topic: Callable[..., str], unique: str, tmp_path: Path
) -> None:
    """The cluster demo's three workers start from configs/worker-distributed.json with the
    demo's overrides, every connector it creates is valid on them, its report lists each
    worker's tasks and records for a connector whose partitions spread over all three,
    and writes through different workers leave no ERROR or CRITICAL line in their logs."""
    ctx = DemoContext(kafka.bootstrap, tmp_path)
    ctx.env.update(STAND_INS)
    # The demo runs on a broker of its own; here the session's broker is shared.
    ctx.env["OFFRAMP_WORKER_GROUP_ID"] = f"demo-{unique}"
    ctx.env["OFFRAMP_WORKER_CONFIG_STORAGE_TOPIC"] = f"demo-configs-{unique}"
    ctx.env["OFFRAMP_WORKER_STATUS_STORAGE_TOPIC"] = f"demo-status-{unique}"
    topic = make_topic("demo", partitions=6)
    out = tmp_path / "out.jsonl"
    with members(ctx, REPO, 3) as running:
        urls = [m.url for m in running]
        files = sorted((REPO / "configs" / "connectors").glob("*.json"))
        demo = [p for p in files if p.name not in LEFT_OUT]
        assert len(demo) == len(files) - len(LEFT_OUT)
        for i, path in enumerate(demo):
            body = orjson.loads(path.read_bytes())
            config = {**body["config"], "name": body["name"]}
            answer = httpx.put(
                f"{urls[i % 3]}/connector-plugins/{config['connector.class']}/config/validate",
                json=config,
                timeout=30,
            ).json()
            problems = [c["value"] for c in answer["configs"] if c["value"]["errors"]]
            assert answer["error_count"] == 0, (path.name, problems)

        name = f"spread-{unique}"
        body = {"name": name, "config": file_sink(topic, out)}
        assert httpx.post(f"{urls[1]}/connectors", json=body, timeout=60).status_code == 201
        # Worker 3's write fences worker 2's config producer; worker 2's next write finds
        # out and starts over. Routine, so not an ERROR or CRITICAL in the demo's logs.
        assert httpx.put(f"{urls[2]}/connectors/{name}/pause", timeout=60).status_code == 202
        assert httpx.put(f"{urls[1]}/connectors/{name}/resume", timeout=60).status_code == 202
        produce(kafka.bootstrap, topic, numbers(0, 120))
        wait_for(lambda: sorted(lines(out)) == list(range(120)))

        def spread() -> list[str]:
            report = spread_report(urls)
            return re.findall(r"(worker-\d) \(\S+\): tasks 0 RUNNING; wrote (\d+)", report)

        # Each worker's /metrics lags its writes by a moment; every record is counted once.
        wait_for(lambda: sum(int(n) for _, n in spread()) == 120, timeout=30)
        assert sorted(w for w, _ in spread()) == ["worker-1", "worker-2", "worker-3"]
    for member in running:
        alarms = re.findall(r".* (?:ERROR|CRITICAL) .*", member.log.read_text())
        assert not alarms, (member.log.name, alarms)
