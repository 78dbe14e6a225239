"""``offramp``: the command line, shaped like Kafka Connect's scripts.

offramp standalone WORKER [CONNECTOR… | CONFIG_DIR]   (serves the REST API)
offramp distributed WORKER                          (a worker of a cluster)
offramp plugins
offramp validate CONNECTOR [--worker WORKER] [--check]
offramp new connector NAME [--dir DIR]   (a connector package to start from)

Against a running worker's REST API (``--url``, else ``OFFRAMP_URL``; token from
``OFFRAMP_TOKEN`` or ``--token-file``; ``--output table|json``):
offramp health [--live] | list | status [NAME…] | describe NAME | apply -f FILE_OR_DIR
offramp pause|resume|stop|delete NAME… | restart NAME [--tasks] [--failed-only] [--task N]
offramp offsets get NAME | offsets reset NAME | offsets replay NAME --to-timestamp TIME
``plugins`` and ``validate`` ask a worker instead of this machine when ``--url`` or
``OFFRAMP_URL`` names one.

Environment: ``OFFRAMP_WORKER_<KEY>`` or ``CONNECT_<KEY>`` sets a worker key over the file
(``OFFRAMP_WORKER_REST_PORT=8084``); ``OFFRAMP_LOG_LEVEL`` sets the log level. No other
variable is read as a worker key (see ``offramp.config.WORKER_ENV_PREFIXES``).

Worker and connector files are JSON or Java ``.properties``, as ``connect-standalone``
reads them; a directory of connector configs holds ``*.json`` and ``*.properties``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from offramp.client.commands import (
    add_client_commands,
    client_options,
    remote_url,
    run_remote_plugins,
    run_remote_validate,
)
from offramp.config import (
    WorkerConfig,
    connector_files,
    load_connector_file,
    load_worker_config,
    validate_connector,
)
from offramp.config_store import ConfigStore, PlannedConnector, StoredConnector, merge_connectors
from offramp.errors import ConfigError
from offramp.malloc_arenas import limit_malloc_arenas
from offramp.plugin import check_errors
from offramp.registry import PluginRegistry
from offramp.worker_files import add_plugin_path

__all__ = ["main"]

log = logging.getLogger("offramp")


def _print_config_error(source: str, exc: ConfigError) -> None:
    print(f"{source}: invalid configuration", file=sys.stderr)
    for key, reason in exc.errors:
        print(f"  {key or '(config)'}: {reason}", file=sys.stderr)


def _load_connectors(
    args: argparse.Namespace, worker_config: WorkerConfig, registry: PluginRegistry
) -> tuple[list[PlannedConnector], ConfigStore | None] | None:
    """Every connector to start: the files named on the command line merged with the
    config store (see ``offramp.config_store``), all validated; None if any is invalid."""
    files: list[tuple[str, dict[str, Any], str]] = []
    failed = False
    for file in connector_files(args.connectors):
        try:
            name, raw = load_connector_file(file)
        except ConfigError as exc:
            _print_config_error(str(file), exc)
            failed = True
            continue
        if any(name == other for other, _, _ in files):
            print(f"{file}: connector {name!r} is named by another file too", file=sys.stderr)
            failed = True
        files.append((name, raw, str(file)))
    store: ConfigStore | None = None
    stored: list[StoredConnector] = []
    deleted: set[str] = set()
    if worker_config.config_storage_dir:
        try:
            store = ConfigStore(worker_config.config_storage_dir)
            stored, deleted = store.load()
        except ConfigError as exc:
            _print_config_error(worker_config.config_storage_dir, exc)
            return None
    planned, notes = merge_connectors(files, stored, deleted)
    for note in notes:
        log.warning("%s", note)
    for connector in planned:
        try:
            validate_connector(connector.name, connector.config, worker_config, registry)
        except ConfigError as exc:
            _print_config_error(connector.source, exc)
            failed = True
    if failed:
        return None
    return planned, store


def cmd_standalone(args: argparse.Namespace) -> int:
    from offramp.rest.auth import check_listener
    from offramp.standalone import run_standalone

    limit_malloc_arenas()  # before any thread starts allocating

    try:
        worker_config = load_worker_config(args.worker)
        check_listener(worker_config)
    except ConfigError as exc:
        _print_config_error(args.worker, exc)
        return 1
    add_plugin_path(worker_config.plugin_path)  # before any plug-in is looked for
    registry = PluginRegistry()
    loaded = _load_connectors(args, worker_config, registry)
    if loaded is None:
        return 1  # nothing starts when any config is wrong
    connectors, store = loaded

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run_standalone(worker_config, registry, connectors, stop, store)


def cmd_distributed(args: argparse.Namespace) -> int:
    from offramp.distributed import run_distributed
    from offramp.distributed.run import check_distributed
    from offramp.rest.auth import check_listener

    limit_malloc_arenas()  # before any thread starts allocating

    try:
        worker_config = load_worker_config(args.worker)
        check_listener(worker_config)
        check_distributed(worker_config)
    except ConfigError as exc:
        _print_config_error(args.worker, exc)
        return 1
    add_plugin_path(worker_config.plugin_path)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return run_distributed(worker_config, PluginRegistry(), stop)


def cmd_plugins(args: argparse.Namespace) -> int:
    if remote_url(args):
        return run_remote_plugins(args)
    registry = PluginRegistry()
    if args.output == "json":
        print(
            json.dumps(
                [
                    {"alias": i.alias, "class": i.class_name, "version": i.version}
                    for i in registry.plugins()
                ],
                indent=2,
            )
        )
        return 0
    for info in registry.plugins():
        doc = (info.connector.description or info.connector.__doc__ or "").strip().splitlines()
        print(f"{info.alias:10} {info.class_name:45} {info.version:8} {doc[0] if doc else ''}")
    for alias, reason in sorted(registry.broken.items()):
        print(f"{alias:10} BROKEN: {reason}", file=sys.stderr)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    if remote_url(args):
        return run_remote_validate(args)
    try:
        worker_config = load_worker_config(args.worker)
    except ConfigError as exc:
        _print_config_error(args.worker or "worker config", exc)
        return 1
    add_plugin_path(worker_config.plugin_path)
    try:
        name, raw = load_connector_file(args.connector)
        config = validate_connector(name, raw, worker_config, PluginRegistry())
    except ConfigError as exc:
        _print_config_error(args.connector, exc)
        return 1
    if args.check:  # as config/validate?check=true: a failure is an error on its key
        found, errors = check_errors(config.plugin.connector(), config.plugin_config, raw)
        if errors:
            _print_config_error(args.connector, ConfigError(errors))
            return 1
    print(f"{args.connector}: connector {name!r} ({config.plugin.alias}) is valid")
    if args.check:
        print(f"check: {found}")
    return 0


def cmd_new_connector(args: argparse.Namespace) -> int:
    from offramp.scaffold import ScaffoldError, new_connector

    try:
        root = new_connector(args.name, args.dir)
    except ScaffoldError as exc:
        print(f"offramp new connector: {exc}", file=sys.stderr)
        return 1
    print(f"created {root}/ (connector alias {args.name!r})")
    print(f"  cd {root} && pip install -e . && pytest")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("OFFRAMP_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Sink clients built on httpx log every request at INFO: one line per batch is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(
        prog="offramp",
        description=__doc__.splitlines()[0],
        epilog="environment: OFFRAMP_WORKER_<KEY> or CONNECT_<KEY> sets a worker key "
        "(OFFRAMP_WORKER_REST_PORT=8084 sets rest.port); OFFRAMP_LOG_LEVEL the log level",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("standalone", help="run a worker with connector configs")
    p.add_argument("worker", help="worker config (JSON or .properties)")
    p.add_argument(
        "connectors",
        nargs="*",
        help="connector configs (JSON or .properties) or directories of them",
    )
    p.set_defaults(func=cmd_standalone)
    p = sub.add_parser("distributed", help="run a worker of a cluster (group.id)")
    p.add_argument("worker", help="worker config (JSON or .properties)")
    p.set_defaults(func=cmd_distributed)
    common = client_options()
    p = sub.add_parser("plugins", parents=[common], help="list installed connector plug-ins")
    p.set_defaults(func=cmd_plugins)
    p = sub.add_parser("validate", parents=[common], help="validate a connector config")
    p.add_argument("connector", help="connector config (JSON or .properties)")
    p.add_argument(
        "--worker", default=None, help="worker config, JSON or .properties (defaults otherwise)"
    )
    p.add_argument("--check", action="store_true", help="also test the connection")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("new", help="generate a plug-in package")
    new = p.add_subparsers(dest="kind", required=True)
    p = new.add_parser("connector", help="a sink connector package, its tests passing")
    p.add_argument("name", help="the connector's alias and folder name (e.g. webhook)")
    p.add_argument("--dir", default=".", help="where to create the folder (default: here)")
    p.set_defaults(func=cmd_new_connector)
    add_client_commands(sub, common)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
