"""``python -m devstack.hubspot``: the HubSpot stand-in on its own, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import time

import devstack.hubspot
from devstack.hubspot import ALL_SCOPES, HubSpotStub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.hubspot", description=devstack.hubspot.__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--token", action="append", help="accepted bearer token (repeatable)")
    parser.add_argument("--per-10s", type=int, default=None, help="calls per rolling 10 s")
    parser.add_argument("--daily", type=int, default=None, help="calls per day")
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After on 429s")
    parser.add_argument(
        "--fail-when",
        action="append",
        default=[],
        metavar="PROPERTY=REGEX",
        help="inputs whose property matches fail alone in a 207 (repeatable)",
    )
    args = parser.parse_args(argv)
    fail_when = dict(item.split("=", 1) for item in args.fail_when)
    stub = HubSpotStub(
        dict.fromkeys(args.token or ["demo-token"], ALL_SCOPES),
        per_10s=args.per_10s,
        daily=args.daily,
        retry_after=args.retry_after,
        fail_when=fail_when,
        host=args.host,
        port=args.port,
    ).start()
    print(f"HubSpot stand-in on {stub.url} (tokens: {', '.join(stub.tokens)})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly, like on Ctrl-C
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
