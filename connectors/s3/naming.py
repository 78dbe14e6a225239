"""Object keys, as Confluent's S3 sink names them.

``<topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<start offset>.<ext>``
with the start offset zero-padded to 10 digits, so keys sort in offset order. The name
depends only on the first record's coordinates: a redelivered file gets the same key.
"""

from __future__ import annotations

__all__ = ["object_key"]


def object_key(
    topics_dir: str,
    topic: str,
    encoded_partition: str,
    kafka_partition: int,
    start_offset: int,
    extension: str,
) -> str:
    prefix = f"{topics_dir}/" if topics_dir else ""
    return (
        f"{prefix}{topic}/{encoded_partition}/"
        f"{topic}+{kafka_partition}+{start_offset:010d}{extension}"
    )
