"""The status page: ``/ui``, plain HTML served by the worker, no build step.

- ``sessions``: why a browser gets a cookie session (it can't send a bearer token when
  it loads a page) and how its actions are kept from other sites.
- ``history``: what the page shows over time (throughput, the last error), sampled in
  the background because the counters only say "so far".
- ``routes``: the pages and the JSON they poll; left out of ``/openapi.json``, since
  they are for people, not for API clients.
"""

from offramp.rest.ui.history import ConnectorHistory
from offramp.rest.ui.routes import UI_PREFIX, router
from offramp.rest.ui.sessions import SessionStore

__all__ = ["UI_PREFIX", "ConnectorHistory", "SessionStore", "router"]
