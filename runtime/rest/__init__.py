"""The REST API, compatible with Kafka Connect's, served by every worker.

The package is split by job. Only the entry points (``offramp.cli``,
``offramp.standalone``) import it; the worker and the task loop don't, so secret
masking, which they share with these routers, lives in the core (``offramp.masking``).

- ``app``          ``create_app(worker)``: the FastAPI application
- ``server``       ``RestServer``: uvicorn in its own thread and event loop
- ``connectors``, ``lifecycle``, ``offsets``, ``plugins``, ``admin``, ``health``: routers
- ``deps``         the worker as a FastAPI dependency (changes wait for readiness)
- ``shapes``       runtime objects → Kafka Connect's JSON shapes
- ``models``       request and response bodies (they make ``/openapi.json``)
- ``responses``    JSON bodies through orjson, with the last secret-masking pass
- ``errors``       exceptions → ``{"error_code", "message"}``
- ``auth``         bearer / basic authentication, and the listener's safety rules
- ``definitions``  config key definitions from pydantic models; ``config/validate``
- ``prometheus``   ``GET /metrics`` text exposition from ``TaskMetrics``
"""
