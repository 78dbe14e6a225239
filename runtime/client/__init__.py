"""The command line's client: manages connectors on a running worker through its REST
API (``offramp list``, ``status``, ``apply -f``, ``offramp offsets replay`` …)."""
