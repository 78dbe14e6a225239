"""A boto3 S3 client from the connector's settings.

Each writer gets its own session and client: boto3 sessions are not thread-safe and each
task is a thread. Credentials come from the config when given (``${env:…}`` and
``${file:…}`` references are resolved by the runtime), else from boto3's default chain
(environment, shared files, container or instance role).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from offramp.connectors.s3.config import S3SinkConfig

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["create_client"]


def create_client(config: S3SinkConfig) -> S3Client:
    secret = config.aws_secret_access_key
    token = config.aws_session_token
    session = boto3.session.Session(
        aws_access_key_id=config.aws_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        aws_session_token=token.get_secret_value() if token else None,
        region_name=config.s3_region,
    )
    timeout = config.s3_request_timeout_ms / 1000.0
    settings = Config(
        retries={"mode": "standard", "max_attempts": config.s3_part_retries + 1},
        connect_timeout=timeout,
        read_timeout=timeout,
        s3={"addressing_style": "path" if config.s3_path_style_access_enabled else "auto"},
    )
    return session.client("s3", endpoint_url=config.store_url, config=settings)
