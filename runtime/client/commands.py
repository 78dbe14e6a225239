"""The command line's client half: ``offramp health|list|describe|status|apply|pause|
resume|restart|stop|delete|offsets`` against any worker's REST API, in the spirit of kcctl.

Every command takes ``--url`` (else ``OFFRAMP_URL``, else ``http://localhost:8083``) and
``--output table|json``; credentials come from the environment (see
``offramp.client.rest``). ``plugins`` and ``validate`` stay local commands and ask a
worker instead when ``--url`` or ``OFFRAMP_URL`` names one. Exit status: 0 done, 1 the
worker refused or could not be reached (the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from offramp.client.rest import DEFAULT_URL, ClientError, ConnectClient, credentials_from_env
from offramp.client.tables import first_line, render_table, status_rows
from offramp.config import connector_files, load_connector_file
from offramp.errors import ConfigError

__all__ = ["add_client_commands", "remote_url", "run_remote_plugins", "run_remote_validate"]

Handler = Callable[[ConnectClient, argparse.Namespace], int]


def remote_url(args: argparse.Namespace) -> str | None:
    """The worker a local-first command (plugins, validate) should ask, if one is named."""
    return getattr(args, "url", None) or os.environ.get("OFFRAMP_URL") or None


def _client(args: argparse.Namespace) -> ConnectClient:
    url = args.url or os.environ.get("OFFRAMP_URL") or DEFAULT_URL
    return ConnectClient(url, credentials_from_env(args.token_file))


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _wrap(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with _client(args) as client:
                return handler(client, args)
        except ClientError as exc:
            print(f"offramp {args.command}: {exc}", file=sys.stderr)
            return 1

    return run


# -- reading -----------------------------------------------------------------------------
def cmd_health(client: ConnectClient, args: argparse.Namespace) -> int:
    """Exit 0 when the worker is healthy (or, with ``--live``, alive): a probe for
    orchestrators and the image's HEALTHCHECK, as well as a question for a person."""
    code, body = client.health(live=args.live)
    if args.output == "json":
        _print_json(body)
    else:
        print(f"{body.get('status', '')}: {body.get('message', '')}".rstrip(": "))
    return 0 if code < 300 else 1


def cmd_list(client: ConnectClient, args: argparse.Namespace) -> int:
    found = client.connectors_expanded()
    if args.output == "json":
        _print_json(found)
        return 0
    rows = []
    for name in sorted(found):
        status = found[name].get("status", {})
        info = found[name].get("info", {})
        tasks = status.get("tasks") or []
        running = sum(1 for t in tasks if t.get("state") == "RUNNING")
        rows.append(
            [
                name,
                str(status.get("type") or info.get("type") or ""),
                str(status.get("connector", {}).get("state", "")),
                f"{running}/{len(tasks)}",
                str(info.get("config", {}).get("connector.class", "")),
            ]
        )
    print(render_table(["NAME", "TYPE", "STATE", "TASKS", "CLASS"], rows))
    return 0


def cmd_status(client: ConnectClient, args: argparse.Namespace) -> int:
    names = args.names or client.connectors()
    statuses = [client.status(name) for name in names]
    if args.output == "json":
        _print_json(statuses[0] if len(args.names) == 1 else statuses)
        return 0
    rows = [row for status in statuses for row in status_rows(status)]
    print(render_table(["CONNECTOR", "TASK", "STATE", "WORKER", "DETAIL"], rows))
    return 0


def cmd_describe(client: ConnectClient, args: argparse.Namespace) -> int:
    info = client.info(args.name)
    status = client.status(args.name)
    topics = client.topics(args.name)
    if args.output == "json":
        _print_json({"info": info, "status": status, "topics": topics})
        return 0
    config: dict[str, Any] = info.get("config", {})
    connector = status.get("connector", {})
    print(f"Name:    {info.get('name', args.name)}")
    print(f"Type:    {info.get('type', '')}")
    print(f"Class:   {config.get('connector.class', '')}")
    print(f"State:   {connector.get('state', '')} (worker {connector.get('worker_id', '')})")
    if connector.get("trace"):
        print(f"Error:   {first_line(connector['trace'])}")
    print(f"Topics:  {', '.join(topics) if topics else '(none committed yet)'}")
    print("Config:")
    width = max((len(k) for k in config), default=0)
    for key in sorted(config):
        print(f"  {key.ljust(width)}  {config[key]}")
    print("Tasks:")
    task_rows = [row[1:] for row in status_rows(status)[1:]]
    print(_indent(render_table(["ID", "STATE", "WORKER", "DETAIL"], task_rows)))
    return 0


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


# -- changing ----------------------------------------------------------------------------
def _config_files(paths: list[str]) -> list[Path]:
    files = connector_files(paths)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ClientError(f"{', '.join(missing)}: no such file or directory")
    if not files:
        raise ClientError(f"no connector configs (*.json, *.properties) in {', '.join(paths)}")
    return files


def _as_strings(config: dict[str, Any]) -> dict[str, str]:
    """Kafka Connect configs are string maps; JSON files may hold numbers and booleans."""
    return {
        k: (json.dumps(v) if isinstance(v, bool) else str(v)) if not isinstance(v, str) else v
        for k, v in config.items()
    }


def cmd_apply(client: ConnectClient, args: argparse.Namespace) -> int:
    """Creates or updates each connector so that its config is the file's: ``created``,
    ``configured`` or ``unchanged`` (a config whose secrets read back masked is sent
    again; the worker changes nothing when it is the same)."""
    failed = 0
    results: list[dict[str, str]] = []
    existing = set(client.connectors())
    for file in _config_files(args.file):
        try:
            name, raw = load_connector_file(file)
        except ConfigError as exc:
            print(f"{file}: " + "; ".join(f"{k}: {r}" for k, r in exc.errors), file=sys.stderr)
            failed += 1
            continue
        wanted = _as_strings(raw)
        try:
            if name in existing and _as_strings(client.config(name)) == wanted:
                outcome = "unchanged"
            else:
                client.put_config(name, wanted)
                outcome = "configured" if name in existing else "created"
        except ClientError as exc:
            print(f"{file}: connector {name!r}: {exc}", file=sys.stderr)
            failed += 1
            continue
        results.append({"connector": name, "file": str(file), "result": outcome})
        if args.output != "json":
            print(f"connector/{name} {outcome}")
    if args.output == "json":
        _print_json(results)
    return 1 if failed else 0


def _each(action: Callable[[ConnectClient, str], None], verb: str) -> Handler:
    def run(client: ConnectClient, args: argparse.Namespace) -> int:
        for name in args.names:
            action(client, name)
            print(f"connector/{name} {verb}")
        return 0

    return run


def cmd_restart(client: ConnectClient, args: argparse.Namespace) -> int:
    if args.task is not None:
        client.restart_task(args.name, args.task)
        print(f"connector/{args.name} task {args.task} restarted")
        return 0
    answer = client.restart(args.name, include_tasks=args.tasks, only_failed=args.failed_only)
    if args.output == "json" and answer is not None:
        _print_json(answer)
    else:
        print(f"connector/{args.name} restarted")
    return 0


# -- offsets -----------------------------------------------------------------------------
def cmd_offsets_get(client: ConnectClient, args: argparse.Namespace) -> int:
    offsets = client.offsets(args.name)
    if args.output == "json":
        _print_json({"offsets": offsets})
        return 0
    print(render_table(["TOPIC", "PARTITION", "OFFSET"], _offset_rows(offsets)))
    return 0


def _offset_rows(offsets: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for entry in offsets:
        partition = entry.get("partition") or {}
        offset = entry.get("offset") or {}
        rows.append(
            [
                str(partition.get("kafka_topic", "")),
                str(partition.get("kafka_partition", "")),
                str(offset.get("kafka_offset", "earliest")),
            ]
        )
    rows.sort(key=lambda r: (r[0], int(r[1]) if r[1].isdigit() else 0))
    return rows


def _stopped(client: ConnectClient, name: str, timeout: float) -> bool:
    """Stops the connector unless it is STOPPED already (offsets change only then) and
    waits until it is; True if this call stopped it."""
    if client.status(name).get("connector", {}).get("state") == "STOPPED":
        return False
    client.stop(name)
    deadline = time.monotonic() + timeout
    while client.status(name).get("connector", {}).get("state") != "STOPPED":
        if time.monotonic() > deadline:
            raise ClientError(f"connector {name!r} did not reach STOPPED within {timeout:.0f} s")
        time.sleep(0.2)
    print(f"connector/{name} stopped (offsets change only while STOPPED)")
    return True


def _offsets_change(
    change: Callable[[ConnectClient, argparse.Namespace], dict[str, Any]],
) -> Handler:
    def run(client: ConnectClient, args: argparse.Namespace) -> int:
        _stopped(client, args.name, args.wait)
        answer = change(client, args)
        if args.output == "json":
            _print_json(answer)
        else:
            print(answer.get("message", "offsets changed"))
            if answer.get("offsets"):
                print(
                    render_table(["TOPIC", "PARTITION", "OFFSET"], _offset_rows(answer["offsets"]))
                )
        if args.resume:
            client.resume(args.name)
            print(f"connector/{args.name} resumed")
        return 0

    return run


def _replay(client: ConnectClient, args: argparse.Namespace) -> dict[str, Any]:
    return client.offsets_to_timestamp(args.name, args.to_timestamp)


def _reset(client: ConnectClient, args: argparse.Namespace) -> dict[str, Any]:
    return client.reset_offsets(args.name)


# -- local-first commands asking a worker ------------------------------------------------
def run_remote_plugins(args: argparse.Namespace) -> int:
    def plugins(client: ConnectClient, args: argparse.Namespace) -> int:
        found = client.plugins()
        if args.output == "json":
            _print_json(found)
            return 0
        rows = [
            [str(p.get("class", "")), str(p.get("type", "")), str(p.get("version", ""))]
            for p in found
        ]
        print(render_table(["CLASS", "TYPE", "VERSION"], rows))
        return 0

    return _wrap(plugins)(args)


def run_remote_validate(args: argparse.Namespace) -> int:
    def validate(client: ConnectClient, args: argparse.Namespace) -> int:
        try:
            name, raw = load_connector_file(args.connector)
        except ConfigError as exc:
            raise ClientError("; ".join(f"{k}: {r}" for k, r in exc.errors)) from exc
        plugin = str(raw.get("connector.class", ""))
        if not plugin:
            raise ClientError(f"{args.connector}: connector.class is missing")
        answer = client.validate(plugin, _as_strings(raw))
        if args.output == "json":
            _print_json(answer)
        errors = [
            (c["value"]["name"], error)
            for c in answer.get("configs", [])
            for error in c.get("value", {}).get("errors", [])
        ]
        for key, error in errors:
            print(f"  {key}: {error}", file=sys.stderr)
        if errors:
            print(
                f"{args.connector}: invalid configuration ({len(errors)} error(s))", file=sys.stderr
            )
            return 1
        if args.output != "json":
            print(f"{args.connector}: connector {name!r} is valid on {client.url}")
        return 0

    return _wrap(validate)(args)


# -- the tree ----------------------------------------------------------------------------
def client_options() -> argparse.ArgumentParser:
    """The options every command that talks to a worker takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", default=None, help=f"a worker's REST URL (default: $OFFRAMP_URL or {DEFAULT_URL})"
    )
    common.add_argument(
        "--token-file", default=None, help="a file holding the bearer token (or $OFFRAMP_TOKEN)"
    )
    common.add_argument(
        "-o", "--output", choices=["table", "json"], default="table", help="output format"
    )
    return common


def add_client_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Adds the commands that manage connectors on a running worker."""

    def add(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, parents=[common], help=help)
        p.set_defaults(func=_wrap(handler))
        return p

    p = add("health", cmd_health, "is the worker ready (Kafka reachable, connectors started)?")
    p.add_argument(
        "--live", action="store_true", help="only whether the process answers (liveness)"
    )
    add("list", cmd_list, "list connectors: name, type, state, running tasks, class")
    p = add("status", cmd_status, "connector and task states as a table")
    p.add_argument("names", nargs="*", help="connectors (default: all)")
    p = add("describe", cmd_describe, "one connector: config, state, topics, tasks")
    p.add_argument("name")
    p = add("apply", cmd_apply, "create or update connectors from config files (idempotent)")
    p.add_argument(
        "-f", "--file", action="append", required=True, help="a config file or a directory of them"
    )
    for verb, action, done, text in (
        ("pause", ConnectClient.pause, "paused", "stop reading; keep partitions"),
        ("resume", ConnectClient.resume, "resumed", "resume reading (a STOPPED one too)"),
        ("stop", ConnectClient.stop, "stopped", "write, commit and release partitions"),
        ("delete", ConnectClient.delete, "deleted", "remove connectors (offsets stay in Kafka)"),
    ):
        p = add(verb, _each(action, done), text)
        p.add_argument("names", nargs="+", help="connector names")
    p = add("restart", cmd_restart, "restart a connector, its tasks, or one task")
    p.add_argument("name")
    p.add_argument("--tasks", action="store_true", help="restart its tasks too")
    p.add_argument("--failed-only", action="store_true", help="only what is FAILED")
    p.add_argument("--task", type=int, default=None, help="restart this one task")
    offsets = sub.add_parser("offsets", help="a connector's committed offsets: get, reset, replay")
    verbs = offsets.add_subparsers(dest="offsets_command", required=True)
    p = verbs.add_parser("get", parents=[common], help="committed offsets per partition")
    p.add_argument("name")
    p.set_defaults(func=_wrap(cmd_offsets_get))
    for verb, change, text in (
        ("reset", _reset, "forget the offsets: start again from auto.offset.reset"),
        ("replay", _replay, "move every partition to its first record at or after a time"),
    ):
        p = verbs.add_parser(verb, parents=[common], help=text)
        p.add_argument("name")
        if verb == "replay":
            p.add_argument(
                "--to-timestamp",
                required=True,
                help="ISO-8601 time (no zone: UTC) or milliseconds since the epoch",
            )
        p.add_argument(
            "--no-resume", dest="resume", action="store_false", help="leave it STOPPED afterwards"
        )
        p.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for STOPPED (default 60)"
        )
        p.set_defaults(func=_wrap(_offsets_change(change)))
