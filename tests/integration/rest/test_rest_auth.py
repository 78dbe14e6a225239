"""Authentication (bearer and basic) and TLS on the REST listener."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.kafka import KafkaBroker
from offramp.rest.server import RestServer
from tests.integration.runtime_support import make_worker, sink_config

Serve = Callable[..., tuple[RestServer, httpx.Client]]


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_unauthenticated_calls_get_401_and_change_nothing(
    kafka: KafkaBroker,
    serve: Serve,
    make_topic: Callable[..., str],
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With tokens and users configured (the token from ${env:…}), a call without or with
    wrong credentials is 401 with WWW-Authenticate and reaches no handler; the right
    bearer token or basic password works; /health stays open for probes."""
    token, password = f"tok-{unique}", f"pw-{unique}"
    monkeypatch.setenv(f"REST_TOKEN_{unique}", token)
    auth: dict[str, Any] = {
        "rest.auth.tokens": f"${{env:REST_TOKEN_{unique}}}",
        "rest.auth.users": {"ops": password},
    }
    worker = make_worker(kafka.bootstrap, **auth)
    try:
        _, client = serve(worker)
        body = {"name": f"a-{unique}", "config": sink_config(make_topic("auth"))}
        for attempt in (
            client.post("/connectors", json=body),
            client.post("/connectors", json=body, headers={"Authorization": "Bearer nope"}),
            client.post("/connectors", json=body, headers=_basic("ops", "wrong")),
            client.post("/connectors", json=body, headers=_basic("nobody", password)),
            client.post("/connectors", json=body, headers={"Authorization": "Basic !!!"}),
            client.get("/openapi.json"),
            client.get("/metrics"),
        ):
            assert attempt.status_code == 401, attempt.text
            assert attempt.json()["error_code"] == 401
            challenges = attempt.headers.get_list("www-authenticate")
            assert challenges == ['Bearer realm="offramp"', 'Basic realm="offramp"']
        assert worker.names() == [], "a refused request changed nothing"
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/connectors", headers=bearer).json() == []
        assert (
            client.post("/connectors", json=body, headers=_basic("ops", password)).status_code
            == 201
        )
        assert client.get("/connectors", headers=bearer).json() == [body["name"]]
        assert client.get("/health").status_code == 200
        assert client.get("/health/live").status_code == 200
    finally:
        worker.shutdown()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "rest.crt", directory / "rest.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_serves_https_with_the_configured_certificate(
    kafka: KafkaBroker, serve: Serve, tmp_path: Path, unique: str
) -> None:
    """rest.tls.cert.file / rest.tls.key.file make the listener speak HTTPS (checked
    against that certificate), together with bearer auth."""
    cert, key = _self_signed(tmp_path)
    worker = make_worker(
        kafka.bootstrap,
        **{
            "rest.tls.cert.file": str(cert),
            "rest.tls.key.file": str(key),
            "rest.auth.tokens": f"t-{unique}",
        },
    )
    try:
        context = ssl.create_default_context(cafile=str(cert))
        server, client = serve(worker, verify=context)
        assert server.url.startswith("https://127.0.0.1:")
        answer = client.get("/", headers={"Authorization": f"Bearer t-{unique}"})
        assert answer.status_code == 200 and answer.json()["version"]
        plain = server.url.replace("https://", "http://")
        with httpx.Client(timeout=5.0) as http, pytest.raises(httpx.HTTPError):
            http.get(plain + "/")
    finally:
        worker.shutdown()
