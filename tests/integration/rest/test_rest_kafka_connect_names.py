"""Kafka Connect's class names for the built-in connectors, over REST: one listing
entry each, config definitions and validate by the Connect name, and Confluent keys
offramp lacks named one by one."""

from __future__ import annotations

import httpx

from tests.integration.properties_support import CONFIGS, read_properties

JDBC = "io.confluent.connect.jdbc.JdbcSinkConnector"
S3 = "io.confluent.connect.s3.S3SinkConnector"


def test_listing_shows_each_built_in_once(client: httpx.Client) -> None:
    """GET /connector-plugins lists offramp's class names, not the Connect ones too."""
    classes = [p["class"] for p in client.get("/connector-plugins").json()]
    assert len(classes) == len(set(classes))
    assert "offramp.connectors.sql:SqlSinkConnector" in classes
    assert JDBC not in classes


def test_config_definitions_by_kafka_connect_name(client: httpx.Client) -> None:
    """GET /connector-plugins/<Connect class>/config answers the built-in's keys."""
    for name, key in (
        (JDBC, "connection.url"),
        (S3, "s3.bucket.name"),
        ("org.apache.kafka.connect.file.FileStreamSinkConnector", "file"),
        ("io.qdrant.kafka.QdrantSinkConnector", "qdrant.url"),
    ):
        response = client.get(f"/connector-plugins/{name}/config")
        assert response.status_code == 200, (name, response.text)
        assert key in {d["name"] for d in response.json()}


def test_validate_names_each_confluent_jdbc_key_offramp_lacks(client: httpx.Client) -> None:
    """Validate by the Connect name: the quickstart's keys pass, and each unsupported
    key carries its own reason (200, error_count = one per key)."""
    config = read_properties(CONFIGS / "jdbc-sink.properties")
    clean = client.put(f"/connector-plugins/{JDBC}/config/validate", json=config).json()
    assert clean["error_count"] == 0, clean
    refused = {
        **config,
        "max.retries": "10",
        "retry.backoff.ms": "3000",
        "connection.attempts": "3",
        "connection.backoff.ms": "10000",
        "mssql.use.merge.holdlock": "true",
        "trim.sensitive.log": "false",
        "connection.loginTimeout": "10",
        "table.types": "VIEW",
        "db.timezone": "Europe/Berlin",
        "quote.sql.identifiers": "never",
        "dialect.name": "SqlServerDatabaseDialect",
    }
    answer = client.put(f"/connector-plugins/{JDBC}/config/validate", json=refused)
    assert answer.status_code == 200
    body = answer.json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    with_errors = {k for k, v in errors.items() if v}
    assert with_errors == set(refused) - set(config)
    assert body["error_count"] == len(with_errors)
    assert "errors.retry.timeout" in errors["max.retries"][0]
    assert "query string" in errors["connection.loginTimeout"][0]
    assert "SQL Server is not supported" in errors["mssql.use.merge.holdlock"][0]
    assert "only TABLE" in errors["table.types"][0]


def test_validate_names_each_confluent_s3_key_offramp_lacks(client: httpx.Client) -> None:
    """The S3 quickstart validates clean by the Connect name; wall-clock rotation, SSE,
    ACLs, proxies and stored keys are each refused with their reason."""
    config = read_properties(CONFIGS / "s3-sink.properties")
    clean = client.put(f"/connector-plugins/{S3}/config/validate", json=config).json()
    assert clean["error_count"] == 0, clean
    refused = {
        **config,
        "rotate.schedule.interval.ms": "60000",
        "s3.sse.kms.key.id": "key",
        "s3.acl.canned": "bucket-owner-full-control",
        "s3.proxy.url": "http://proxy:3128",
        "store.kafka.keys": "true",
    }
    body = client.put(f"/connector-plugins/{S3}/config/validate", json=refused).json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert {k for k, v in errors.items() if v} == set(refused) - set(config)
    assert "breaks exactly-once" in errors["rotate.schedule.interval.ms"][0]


def test_create_with_refused_keys_is_a_400_listing_them(client: httpx.Client) -> None:
    """POST /connectors with a Confluent config offramp can't honour is refused before
    anything starts, the message naming every key."""
    config = read_properties(CONFIGS / "jdbc-sink-sqlite.properties")
    config.update({"max.retries": "10", "connection.loginTimeout": "5"})
    response = client.post("/connectors", json={"name": "kc-refused", "config": config})
    assert response.status_code == 400
    message = response.json()["message"]
    assert "max.retries" in message and "connection.loginTimeout" in message
    assert client.get("/connectors/kc-refused").status_code == 404
