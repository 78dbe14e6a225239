"""JDBC URLs, as Kafka Connect's JDBC sink takes them, turned into SQLAlchemy URLs.

``jdbc:postgresql://host:5432/db?user=u&password=p`` → ``postgresql+psycopg://u:p@host:5432/db``,
``jdbc:mysql://…`` and ``jdbc:mariadb://…`` → ``mysql+pymysql://…``, ``jdbc:sqlite:path`` →
``sqlite:///path``. The query's ``user`` and ``password`` become the URL's (the
``connection.user``/``connection.password`` keys still win over both); the few driver
parameters with a same-meaning libpq or PyMySQL one are renamed; any other parameter is
refused by name, never passed on to mean something else or nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy.engine import URL

__all__ = ["from_jdbc"]

_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
}

# JDBC driver parameter → the same setting's name for libpq (psycopg) / PyMySQL.
_PARAMS = {
    "postgresql": {
        "sslmode": "sslmode",
        "sslrootcert": "sslrootcert",
        "sslcert": "sslcert",
        "sslkey": "sslkey",
        "ApplicationName": "application_name",
        "connectTimeout": "connect_timeout",  # seconds in both
    },
    "mysql": {},
}


def from_jdbc(url: str) -> str:
    """The SQLAlchemy URL for a ``jdbc:`` URL; any other string is returned unchanged.
    ValueError names what can't be translated."""
    text = url.strip()
    if not text.lower().startswith("jdbc:"):
        return url
    scheme, _, rest = text[5:].partition(":")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _sqlite(rest)
    if scheme not in _DRIVERS:
        raise ValueError(
            f"jdbc:{scheme} URLs are not supported: offramp writes to PostgreSQL "
            "(jdbc:postgresql://), MySQL/MariaDB (jdbc:mysql://, jdbc:mariadb://) and SQLite "
            "(jdbc:sqlite:)"
        )
    if not rest.startswith("//"):
        raise ValueError(f"jdbc:{scheme} URL {_shown(text)!r} has no //host part")
    parts = urlsplit(rest)
    if "," in parts.netloc:
        raise ValueError("JDBC URLs with several hosts are not supported; name one host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in JDBC URL {_shown(text)!r}") from None
    family = "postgresql" if scheme == "postgresql" else "mysql"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    query: dict[str, str] = {}
    unknown = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "user":
            user = value
        elif name == "password":
            password = value
        elif name == "currentSchema" and family == "postgresql":
            query["options"] = f"-csearch_path={value}"
        elif name in _PARAMS[family]:
            query[_PARAMS[family][name]] = value
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"JDBC driver parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'have' if len(unknown) > 1 else 'has'} no {_DRIVERS[scheme]} equivalent offramp "
            "knows; translated are user, password"
            + "".join(f", {p}" for p in _PARAMS[family])
            + (", currentSchema" if family == "postgresql" else "")
            + " (or give a SQLAlchemy URL with the driver's own options)"
        )
    database = unquote(parts.path.lstrip("/")) or None
    return URL.create(
        _DRIVERS[scheme],
        username=user,
        password=password,
        host=parts.hostname,
        port=port,
        database=database,
        query=query,
    ).render_as_string(hide_password=False)


def _sqlite(rest: str) -> str:
    path, _, params = rest.partition("?")
    if params:
        raise ValueError(
            f"jdbc:sqlite parameters ({params}) are not supported; offramp sets the SQLite "
            "pragmas it needs itself"
        )
    if path in ("", ":memory:"):
        raise ValueError(
            "jdbc:sqlite::memory: is one database per connection, so nothing written "
            "would stay; name a file (jdbc:sqlite:path/to/file.db)"
        )
    path = path.removeprefix("file:")
    return f"sqlite:///{path}"  # an absolute path gives sqlite:////abs, as SQLAlchemy wants


def _shown(url: str) -> str:
    """The URL without its query (which may hold the password)."""
    return url.partition("?")[0]
