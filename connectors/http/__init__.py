"""``http``: sends records to an HTTP endpoint, one request per record or in batches.

Modules, one job each:

- ``config``: the settings (``http.*`` keys), validated up front
- ``template``: ``{data.call_id}`` templates over a record's fields
- ``requests``: records → items (URL, headers, body) → requests (batches, lanes)
- ``client``: one httpx client per task (pool, auth, TLS, timeouts)
- ``answers``: what each answer means, and the refused items a batch answer names
- ``progress``: what earlier attempts at a batch settled, kept across retries
- ``writer``: sending requests in flight and settling the batch
- ``connector``: the plug-in class and its ``check``
"""

from offramp.connectors.http.config import HttpSinkConfig
from offramp.connectors.http.connector import HttpSinkConnector
from offramp.connectors.http.writer import HttpWriter, PipelinedHttpWriter

__all__ = ["HttpSinkConfig", "HttpSinkConnector", "HttpWriter", "PipelinedHttpWriter"]
