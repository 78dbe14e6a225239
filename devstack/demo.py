"""The demo: the main job on local defaults, end to end.

Starts a real Kafka broker, runs ``offramp standalone configs/worker.json
configs/connectors`` as a separate process, produces sample ``call.completed``
CloudEvents and prints what every sink received. Each sink contributes a
``DemoSection`` (start its service, say when the sink has everything, summarise it;
see ``devstack.demo_base``). ``--workers N`` (N > 1) runs the same fan-out on N
``offramp distributed`` workers instead (``devstack.demo_cluster``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from devstack.demo_base import DemoContext, DemoSection
from devstack.demo_cluster import Member, create_connectors, members, spread_report
from devstack.demo_hubspot import HubSpotSection
from devstack.demo_progress import Progress, summary_table
from devstack.demo_qdrant import QdrantSection
from devstack.demo_s3 import S3Section
from devstack.demo_slack import SlackSection
from devstack.demo_sql import SqlSection
from devstack.generator import produce_calls
from devstack.kafka import KafkaBroker, free_port
from offramp.kafka_logs import client_logger

ROOT = Path(__file__).resolve().parents[1]
EVENTS = 3000


class FileSection:
    title = "training set, file sink through a share group (configs/connectors/calls-file.json)"

    def _path(self, ctx: DemoContext) -> Path:
        return ctx.workdir / "calls-completed.jsonl"

    def setup(self, ctx: DemoContext) -> None:
        self._path(ctx).unlink(missing_ok=True)

    def ready(self, ctx: DemoContext) -> bool:
        path = self._path(ctx)
        return path.exists() and path.read_bytes().count(b"\n") >= len(ctx.completed)

    def report(self, ctx: DemoContext) -> str:
        lines = self._path(ctx).read_bytes().splitlines()
        first = orjson.loads(lines[0])
        return (
            f"{len(lines)} call.completed events in {self._path(ctx)} "
            f"({len(ctx.events) - len(ctx.completed)} call.started filtered out); first:\n"
            f"  type={first['type']} id={first['id']} tenant={first['data']['tenant']} "
            f"cost_usd={first['data']['billing']['cost_usd']}"
        )

    def teardown(self) -> None:
        pass


def sections(cluster: bool = False) -> list[DemoSection]:
    """Every sink's section; on a cluster not Qdrant's (``demo_cluster.LEFT_OUT``)."""
    return [
        FileSection(),
        HubSpotSection(),
        *([] if cluster else [QdrantSection()]),
        S3Section(),
        SqlSection(),
        SlackSection(),
    ]


@contextlib.contextmanager
def _standalone(ctx: DemoContext) -> Iterator[list[Member]]:
    """The one standalone worker, running every connector file."""
    rest_port = free_port()
    with _worker(ctx, rest_port) as proc:
        yield [Member(proc, f"http://127.0.0.1:{rest_port}", ctx.workdir / "worker.log")]


@contextlib.contextmanager
def _worker(ctx: DemoContext, rest_port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        **ctx.env,
        "OFFRAMP_WORKER_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "OFFRAMP_WORKER_REST_PORT": str(rest_port),
        "OFFRAMP_LOG_LEVEL": "WARNING",
    }
    log = open(ctx.workdir / "worker.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "offramp.cli",
            "standalone",
            "configs/worker.json",
            "configs/connectors",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _where_to_look(url: str, workdir: Path) -> None:
    print("\n== where to look")
    print(f"  status page   {url}/ui   (while the worker runs)")
    print(f"  CLI           OFFRAMP_URL={url} .venv/bin/offramp status")
    print(f"  REST, metrics {url}/connectors?expand=status · {url}/metrics")
    for path in sorted(workdir.iterdir()):
        if path.is_file():
            print(f"  {path.name:<13} {path}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="1: one offramp standalone worker (the default); more: that many "
        "offramp distributed workers of one cluster",
    )
    parser.add_argument("--no-wait", action="store_true", help="stop at the end, don't ask")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    cluster = args.workers > 1
    workdir = ROOT / "var" / "demo"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    began = time.monotonic()
    print("starting Kafka (jars from Maven Central on first run)...", flush=True)
    with KafkaBroker(log_level="WARN") as broker:
        print(
            f"Kafka {broker.version} ready on {broker.bootstrap} in {broker.startup_seconds:.1f}s",
            flush=True,
        )
        ctx = DemoContext(broker.bootstrap, workdir)
        parts = sections(cluster)
        try:
            for part in parts:
                part.setup(ctx)
            from confluent_kafka.admin import AdminClient, NewTopic

            admin = AdminClient({"bootstrap.servers": broker.bootstrap, "logger": client_logger()})
            admin.create_topics([NewTopic("calls", 6, 1)])["calls"].result(30)
            workers = members(ctx, ROOT, args.workers) if cluster else _standalone(ctx)
            with workers as running:
                urls = [m.url for m in running]
                if cluster:
                    print(
                        f"{len(running)} offramp distributed workers running (REST on "
                        f"{', '.join(urls)}); creating the connectors:",
                        flush=True,
                    )
                    print("\n".join(create_connectors(ROOT, urls)), flush=True)
                    print(f"producing {EVENTS} call events...", flush=True)
                else:
                    print(
                        f"offramp worker running (REST on {urls[0]}); "
                        f"producing {EVENTS} call events...",
                        flush=True,
                    )
                ctx.events = produce_calls(broker.bootstrap, "calls", EVENTS)
                print(
                    f"produced {len(ctx.events)} events ({len(ctx.completed)} call.completed);"
                    " waiting for every sink to have them:",
                    flush=True,
                )
                progress = Progress(*urls)
                deadline = time.monotonic() + 120
                pending = list(parts)
                while pending and time.monotonic() < deadline:
                    for member in running:
                        if member.proc.poll() is not None:
                            print(member.log.read_text(), file=sys.stderr)
                            raise SystemExit(
                                f"the worker at {member.url} exited with {member.proc.returncode}"
                            )
                    pending = [p for p in pending if not p.ready(ctx)]
                    progress.tick()
                    time.sleep(0.5)
                progress.done()
                logs = ", ".join(f"var/demo/{m.log.name}" for m in running)
                which = "worker logs" if cluster else "worker log"
                names = "worker-*.log" if cluster else "worker.log"
                for part in parts:
                    print(f"\n== {part.title}")
                    print(
                        part.report(ctx)
                        if part not in pending
                        else f"did not receive everything within 120 s; see {logs}"
                    )
                if cluster:
                    print("\n== where the work went (GET /connectors?expand=status, /metrics)")
                    print(spread_report(urls))
                print(
                    "\n== summary (from the workers' /metrics)"
                    if cluster
                    else "\n== summary (from the worker's /metrics)"
                )
                print(summary_table(*urls))
                _where_to_look(urls[0], workdir)
                if sys.stdin.isatty() and not args.no_wait:
                    with contextlib.suppress(EOFError, KeyboardInterrupt):
                        them = "workers are" if cluster else "worker is"
                        input(f"\nThe {them} still running. Press Enter to stop. ")
        finally:
            for part in parts:
                part.teardown()
    print(f"\ndemo finished in {time.monotonic() - began:.0f}s; {which}: {workdir}/{names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
