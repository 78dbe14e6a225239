"""A HubSpot CRM API stand-in over real HTTP on loopback, for tests, benchmarks and the demo.

It speaks the slice of HubSpot's API the ``hubspot`` sink uses, with HubSpot's JSON
shapes and semantics:

- ``POST /crm/v3/objects/{type}/batch/upsert``: dedupe by ``idProperty`` (emails compare
  case-insensitively), ``results[].new``, at most 100 inputs, duplicate ids refused;
  ``batch/create`` and ``batch/read`` (by id or ``idProperty``); ``GET`` one object or a
  page of them. Object types: ``contacts`` (unique ``email``), ``companies`` (unique
  ``domain``, as a custom unique property would be in a real portal), ``deals`` and one
  custom object ``p_calls`` / ``2-90001`` (unique ``call_id``).
- ``POST /crm/v4/associations/{from}/{to}/batch/associate/default`` and ``GET
  /crm/v4/objects/{from}/{id}/associations/{to}``.
- ``GET /account-info/v3/details``, ``GET /oauth/v1/access-tokens/{token}`` and ``POST
  /oauth/v2/private-apps/get/access-token-info`` (what a connector's ``check`` calls).
- Bearer tokens with scopes: 401 for an unknown token, 403 ``MISSING_SCOPES`` for a call
  the token's scopes don't cover.
- Rate limits per rolling window (``TEN_SECONDLY_ROLLING``), per second (``SECONDLY``)
  and per day (``DAILY``), refused with HubSpot's 429 body and, if configured, a
  ``Retry-After`` header; ``X-HubSpot-RateLimit-*`` headers on answered calls.
- Injection: inputs whose property matches a pattern fail alone in a 207
  (``fail_when``) or make the whole batch a 400 (``reject_when``); ``fail_next`` answers
  the next calls with any status (401, 403, 500…); ``latency`` delays every answer.

Every ``/crm/`` call is logged with its arrival time and outcome (``calls``), so tests
can prove that no call went past a budget. Only ``/crm/`` calls count against the rate
limits, and a call refused with 429 does not use up budget.

``python -m devstack.hubspot --port 8090 --token demo-token`` runs it standalone.

Modules, by concern: ``store`` (object types, objects, indexes, associations),
``limits`` (rate limits and the call log), ``routes`` (auth, scopes, each path's
answer, per-input injected failures), ``answers`` (how an answer ends a request),
``server`` (``HubSpotStub``: lock, HTTP thread, what tests inspect and change).
"""

from devstack.hubspot.limits import CallRecord
from devstack.hubspot.server import HubSpotStub
from devstack.hubspot.store import ALL_SCOPES, ObjectType

__all__ = ["ALL_SCOPES", "CallRecord", "HubSpotStub", "ObjectType"]
