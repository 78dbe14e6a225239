"""``s3``: archives records as objects in S3 or an S3-compatible store, exactly once.

Designed after Confluent's S3 sink: objects named
``<topics.dir>/<topic>/<encoded partition>/<topic>+<partition>+<start offset>.<ext>``,
rotated at deterministic points (``flush.size``, ``rotate.interval.ms`` in record time),
so a redelivered range rewrites the same objects with the same bytes; offsets are
committed only for records inside uploaded objects. Modules, one job each:

- ``config``: the settings (``S3SinkConfig``), Confluent key names and class names
- ``fields``, ``pathformat``, ``partitioners``: where a record goes
- ``formats``, ``compression``: what its bytes are
- ``buffer``, ``files``: open files (spilled to disk past a threshold), per segment
- ``naming``, ``uploader``, ``client``: object keys, PUT/multipart, the boto3 client
- ``errors``: which failures are retried, fatal, or dead-lettered
- ``writer``, ``connector``: the plug-in itself
"""

from offramp.connectors.s3.config import S3SinkConfig
from offramp.connectors.s3.connector import S3SinkConnector
from offramp.connectors.s3.writer import S3Writer

__all__ = ["S3SinkConfig", "S3SinkConnector", "S3Writer"]
