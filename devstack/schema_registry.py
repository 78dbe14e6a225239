"""A stand-in for Confluent Schema Registry, over a real socket, for tests and the demo.

Apicurio Registry 3.x (which serves Confluent's API under ``/apis/ccompat/v7``) was tried
first: its ``apicurio-registry-app`` jar is on Maven Central, but it is a Quarkus module,
not a runnable application, and a Quarkus build of it here could not resolve its
dependency tree from Maven Central alone (docs/converters.md says what was tried). This
server speaks the part of Confluent's REST API that confluent-kafka's
``SchemaRegistryClient`` uses, unmodified, with its error shapes
(``{"error_code": 40401, "message": ...}``) and content type:

- ``POST /subjects/{s}/versions`` registers (the same schema under a subject keeps its
  id and version; a new one is checked against the subject's compatibility level),
- ``POST /subjects/{s}`` looks a schema up, ``GET /subjects/{s}/versions/{v|latest}``,
  ``GET /subjects``, ``GET /subjects/{s}/versions``, ``GET /schemas/ids/{id}``,
- ``GET/PUT /config`` and ``/config/{s}`` (``compatibilityLevel``).

Compatibility is judged for Avro records only, by the rule that matters to a sink
(``BACKWARD``: a field added needs a default, a kept field keeps its type); other
formats and levels register as given. Basic auth and TLS are optional; ``outage()``
makes every request answer 503, as a registry behind a failing load balancer does.
``SchemaRegistry.secured(directory, user_info)`` starts one behind a TLS listener with
certificates made on the fly (``devstack.certs``, as the SASL_SSL broker's are) that
requires basic auth; its ``ca`` is the CA a client must trust.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["SchemaRegistry"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class _Refusal(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class _Stored:
    id: int
    schema: str
    schema_type: str
    references: list[dict[str, Any]]


@dataclass
class _Store:
    """Schemas by id, and each subject's versions (ids, in order)."""

    schemas: dict[int, _Stored] = field(default_factory=dict)
    subjects: dict[str, list[int]] = field(default_factory=dict)
    compatibility: str = "BACKWARD"
    subject_compatibility: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def id_of(self, schema: str, schema_type: str) -> int | None:
        for stored in self.schemas.values():
            if stored.schema_type == schema_type and _same(stored.schema, schema, schema_type):
                return stored.id
        return None


def _same(a: str, b: str, schema_type: str) -> bool:
    if schema_type == "PROTOBUF":
        return a.strip() == b.strip()
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def _parse(schema: str, schema_type: str) -> Any:
    """The schema checked for syntax (42201 if it is not one)."""
    if schema_type == "PROTOBUF":
        if not schema.strip():
            raise _Refusal(422, 42201, "Invalid schema: empty Protobuf schema")
        return schema
    try:
        doc = json.loads(schema)
    except ValueError as exc:
        raise _Refusal(422, 42201, f"Invalid schema {schema!r}: {exc}") from None
    if schema_type == "AVRO":
        import fastavro

        try:
            fastavro.parse_schema(doc)
        except Exception as exc:
            raise _Refusal(422, 42201, f"Invalid schema: {exc}") from None
    return doc


def _avro_backward(new: Any, old: Any) -> str | None:
    """Why a reader of ``new`` can't read data written with ``old`` (None if it can)."""
    if not (isinstance(new, dict) and isinstance(old, dict) and new.get("type") == "record"):
        return None
    old_fields = {f["name"]: f for f in old.get("fields", ())}
    for f in new.get("fields", ()):
        before = old_fields.get(f["name"])
        if before is None and "default" not in f:
            return f"READER_FIELD_MISSING_DEFAULT_VALUE: {f['name']}"
        if before is not None and json.dumps(before["type"]) != json.dumps(f["type"]):
            return f"TYPE_MISMATCH: {f['name']}"
    return None


class SchemaRegistry:
    """Runs on a free loopback port (or ``port``) until ``stop()``; a context manager."""

    def __init__(
        self,
        port: int = 0,
        user_info: str | None = None,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        self.store = _Store()
        self._user_info = user_info
        self.ca: Path | None = None  # the CA that signed certfile, when secured() made it
        self._down = threading.Event()
        self.requests = 0
        registry = self

        class Handler(_Handler):
            owner = registry

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="schema-registry", daemon=True
        )
        self._thread.start()

    @classmethod
    def secured(cls, directory: Path, user_info: str) -> SchemaRegistry:
        """A registry over TLS (a fresh CA and server certificate for 127.0.0.1 in
        ``directory``) that answers 401 to a request without ``user_info``."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        from devstack.certs import make_certs

        files = make_certs(directory)
        key, certificate, _ = pkcs12.load_key_and_certificates(
            files.broker_keystore.read_bytes(), files.password.encode()
        )
        assert key is not None and certificate is not None
        certfile, keyfile = directory / "registry.pem", directory / "registry.key"
        certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        registry = cls(user_info=user_info, certfile=certfile, keyfile=keyfile)
        registry.ca = files.ca
        return registry

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def outage(self, down: bool = True) -> None:
        """Every request answers 503 while ``down``."""
        if down:
            self._down.set()
        else:
            self._down.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SchemaRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- the API, on the store ------------------------------------------------------

    def authorised(self, header: str | None) -> bool:
        if self._user_info is None:
            return True
        expected = "Basic " + base64.b64encode(self._user_info.encode()).decode()
        return header == expected

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        self.requests += 1
        if self._down.is_set():
            raise _Refusal(503, 50003, "Error while forwarding the request to the leader")
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        store = self.store
        with store.lock:
            match method, parts:
                case "GET", ["subjects"]:
                    return sorted(store.subjects)
                case "GET", ["subjects", subject, "versions"]:
                    return list(range(1, len(self._versions(subject)) + 1))
                case "POST", ["subjects", subject, "versions"]:
                    return self._register(subject, body)
                case "GET", ["subjects", subject, "versions", version]:
                    return self._version(subject, version)
                case "POST", ["subjects", subject]:
                    return self._lookup(subject, body)
                case "DELETE", ["subjects", subject]:
                    versions = list(range(1, len(self._versions(subject)) + 1))
                    del store.subjects[subject]
                    return versions
                case "GET", ["schemas", "ids", schema_id]:
                    return self._by_id(schema_id)
                case "GET", ["config"]:
                    return {"compatibilityLevel": store.compatibility}
                case "PUT", ["config"]:
                    store.compatibility = self._level(body)
                    return {"compatibility": store.compatibility}
                case "GET", ["config", subject]:
                    level = store.subject_compatibility.get(subject)
                    if level is None:
                        raise _Refusal(404, 40408, f"Subject '{subject}' does not have config")
                    return {"compatibilityLevel": level}
                case "PUT", ["config", subject]:
                    store.subject_compatibility[subject] = self._level(body)
                    return {"compatibility": store.subject_compatibility[subject]}
        raise _Refusal(404, 404, "HTTP 404 Not Found")

    def _versions(self, subject: str) -> list[int]:
        versions = self.store.subjects.get(subject)
        if not versions:
            raise _Refusal(404, 40401, f"Subject '{subject}' not found.")
        return versions

    def _stored(self, body: Any) -> tuple[str, str, list[dict[str, Any]]]:
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise _Refusal(422, 42201, "Invalid schema: no schema given")
        return body["schema"], str(body.get("schemaType") or "AVRO"), body.get("references") or []

    def _register(self, subject: str, body: Any) -> Any:
        store = self.store
        schema, schema_type, references = self._stored(body)
        parsed = _parse(schema, schema_type)
        versions = store.subjects.setdefault(subject, [])
        known = store.id_of(schema, schema_type)
        if known is not None and known in versions:
            return {"id": known}
        level = store.subject_compatibility.get(subject, store.compatibility)
        if versions and schema_type == "AVRO" and level.startswith("BACKWARD"):
            latest = store.schemas[versions[-1]]
            if latest.schema_type == "AVRO":
                why = _avro_backward(parsed, json.loads(latest.schema))
                if why is not None:
                    raise _Refusal(
                        409,
                        409,
                        f"Schema being registered is incompatible with an earlier schema "
                        f'for subject "{subject}", details: [{why}]',
                    )
        if known is None:
            known = len(store.schemas) + 1
            store.schemas[known] = _Stored(known, schema, schema_type, references)
        versions.append(known)
        return {"id": known}

    def _answer(self, subject: str, version: int, stored: _Stored) -> dict[str, Any]:
        out: dict[str, Any] = {
            "subject": subject,
            "version": version,
            "id": stored.id,
            "schema": stored.schema,
        }
        if stored.schema_type != "AVRO":
            out["schemaType"] = stored.schema_type
        if stored.references:
            out["references"] = stored.references
        return out

    def _version(self, subject: str, version: str) -> Any:
        versions = self._versions(subject)
        if version in ("latest", "-1"):
            number = len(versions)
        elif version.isdigit() and 1 <= int(version) <= len(versions):
            number = int(version)
        else:
            raise _Refusal(404, 40402, f"Version {version} not found.")
        return self._answer(subject, number, self.store.schemas[versions[number - 1]])

    def _lookup(self, subject: str, body: Any) -> Any:
        versions = self._versions(subject)
        schema, schema_type, _ = self._stored(body)
        known = self.store.id_of(schema, schema_type)
        if known is None or known not in versions:
            raise _Refusal(404, 40403, "Schema not found")
        return self._answer(subject, versions.index(known) + 1, self.store.schemas[known])

    def _by_id(self, schema_id: str) -> Any:
        stored = self.store.schemas.get(int(schema_id)) if schema_id.isdigit() else None
        if stored is None:
            raise _Refusal(404, 40403, f"Schema {schema_id} not found")
        out: dict[str, Any] = {"schema": stored.schema}
        if stored.schema_type != "AVRO":
            out["schemaType"] = stored.schema_type
        if stored.references:
            out["references"] = stored.references
        return out

    @staticmethod
    def _level(body: Any) -> str:
        level = body.get("compatibility") if isinstance(body, dict) else None
        known = {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE"}
        if level not in known | {"FULL", "FULL_TRANSITIVE"}:
            raise _Refusal(422, 42203, f"Invalid compatibility level: {level}")
        return str(level)


class _Handler(BaseHTTPRequestHandler):
    owner: SchemaRegistry
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests print what they need; a line per request is noise

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, answer = 200, None
        if not self.owner.authorised(self.headers.get("Authorization")):
            status, answer = 401, {"error_code": 401, "message": "Unauthorized"}
        else:
            try:
                body = json.loads(raw) if raw else None
                split = urlsplit(self.path)
                answer = self.owner.handle(method, split.path, parse_qs(split.query), body)
            except _Refusal as refusal:
                status = refusal.status
                answer = {"error_code": refusal.code, "message": refusal.message}
            except ValueError as exc:
                status, answer = 422, {"error_code": 422, "message": f"Unprocessable: {exc}"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")
