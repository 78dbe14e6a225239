"""Certificates made on the fly for a TLS broker: a CA, the broker's certificate (for
127.0.0.1 and localhost) in a PKCS#12 keystore the broker reads, and a client
certificate for mutual TLS, all as files in one directory.

EC P-256 keys: made in milliseconds, so every broker gets fresh ones and nothing
secret is kept in the repo.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "make_certs"]


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM and PKCS#12 files are; ``password`` guards the keystore."""

    ca: Path
    broker_keystore: Path
    client_certificate: Path
    client_key: Path
    password: str


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    usage: x509.ObjectIdentifier | None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is ExtendedKeyUsageOID.SERVER_AUTH:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path, password: str = "devstack-keystore") -> TlsFiles:
    """A fresh CA, broker keystore and client certificate in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("offramp devstack CA", ca_key, None, None)
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker = _certificate(
        "127.0.0.1", broker_key, (ca.subject, ca_key), ExtendedKeyUsageOID.SERVER_AUTH
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _certificate(
        "offramp-client", client_key, (ca.subject, ca_key), ExtendedKeyUsageOID.CLIENT_AUTH
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(
        ca=directory / "ca.pem",
        broker_keystore=directory / "broker.p12",
        client_certificate=directory / "client.pem",
        client_key=directory / "client.key",
        password=password,
    )
    files.ca.write_bytes(ca.public_bytes(pem))
    files.broker_keystore.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"broker",
            broker_key,
            broker,
            [ca],
            serialization.BestAvailableEncryption(password.encode()),
        )
    )
    files.client_certificate.write_bytes(client.public_bytes(pem))
    files.client_key.write_bytes(
        client_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files
