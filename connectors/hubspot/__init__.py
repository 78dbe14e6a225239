"""``hubspot``: upserts records into HubSpot CRM objects, within HubSpot's rate limits.

Modules, one job each:

- ``config``: the settings (``hubspot.*`` keys), validated up front
- ``mapping``: property expressions (``data.caller.email | trim | lower``)
- ``ratelimit``: the client-side budget (rolling 10 s window and daily count)
- ``errors``: what each HubSpot answer means (retry, pause, fail, bisect, dead-letter)
- ``client``: hubspot-api-client with one pool, no hidden retries, every call budgeted
- ``associations``: linking written objects to others found by a unique property
- ``writer``: records → collapsed inputs → batch upserts → failures
- ``connector``: the plug-in class and its ``check``
"""

from offramp.connectors.hubspot.config import HubSpotSinkConfig
from offramp.connectors.hubspot.connector import HubSpotSinkConnector
from offramp.connectors.hubspot.writer import HubSpotWriter

__all__ = ["HubSpotSinkConfig", "HubSpotSinkConnector", "HubSpotWriter"]
