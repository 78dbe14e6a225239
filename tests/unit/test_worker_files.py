"""Kafka Connect worker and connector files run on offramp: .properties as well as JSON,
the worker keys that mean the same thing mapped, the meaningless ones ignored with a
log line, the rest refused with a reason; config providers and plugin.path as in Kafka."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from offramp.cli import main
from offramp.config import (
    WorkerConfig,
    load_connector_file,
    load_worker_config,
    read_config_file,
    validate_connector,
)
from offramp.errors import ConfigError
from offramp.providers import ConfigProviders
from offramp.registry import PluginRegistry
from offramp.worker_files import add_plugin_path

KAFKA_FILES = Path(__file__).parents[1] / "kafka_files"

# Apache Kafka's config/connect-standalone.properties, with the line the quickstart
# appends to it (echo plugin.path=libs/connect-file-4.0.0.jar >> ...).
QUICKSTART_WORKER = (KAFKA_FILES / "connect-standalone.properties").read_text()

# Apache Kafka's config/connect-file-sink.properties.
QUICKSTART_SINK = """\
name=local-file-sink
connector.class=FileStreamSink
tasks.max=1
file=test.sink.txt
topics=connect-test
"""


def _worker(tmp_path: Path, text: str, name: str = "worker.properties") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----- the quickstart's files -----------------------------------------------------------


def test_quickstart_worker_file_loads_unchanged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """connect-standalone.properties as Kafka ships it: its keys mapped, the offsets file
    ignored with an info line, the jar on plugin.path skipped with a warning."""
    caplog.set_level(logging.INFO, "offramp.config")
    config = load_worker_config(_worker(tmp_path, QUICKSTART_WORKER), environ={})
    assert config.bootstrap_servers == "localhost:9092"
    assert (
        config.key_converter
        == config.value_converter
        == ("org.apache.kafka.connect.json.JsonConverter")
    )
    assert config.family("key.converter.") == {"schemas.enable": "true"}
    assert config.family("value.converter.") == {"schemas.enable": "true"}
    assert config.offset_flush_interval_ms == 10000
    assert config.plugin_path == ["libs/connect-file-4.0.0.jar"]
    assert "offset.storage.file.filename=/tmp/connect.offsets is not used" in caplog.text
    assert add_plugin_path(config.plugin_path) == []
    assert "libs/connect-file-4.0.0.jar is a Java plug-in (.jar); skipped" in caplog.text


def test_quickstart_sink_file_validates(tmp_path: Path) -> None:
    """connect-file-sink.properties as Kafka ships it validates against the quickstart
    worker (FileStreamSink is the file sink)."""
    sink = tmp_path / "connect-file-sink.properties"
    sink.write_text(QUICKSTART_SINK)
    name, raw = load_connector_file(sink)
    assert name == "local-file-sink"
    worker = load_worker_config(_worker(tmp_path, QUICKSTART_WORKER), environ={})
    config = validate_connector(name, raw, worker, PluginRegistry())
    assert config.plugin.alias == "file"
    assert config.settings.topics == ["connect-test"]


def test_validate_and_a_directory_read_properties_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`offramp validate` takes .properties connector and worker files."""
    sink = tmp_path / "sink.properties"
    sink.write_text(QUICKSTART_SINK.replace("test.sink.txt", str(tmp_path / "out.txt")))
    worker = _worker(tmp_path, QUICKSTART_WORKER)
    assert main(["validate", str(sink), "--worker", str(worker)]) == 0
    assert "'local-file-sink' (file) is valid" in capsys.readouterr().out


def test_standalone_reads_every_config_of_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory of connector configs contributes its .json and .properties files (both
    are validated: each bad one is named)."""
    configs = tmp_path / "connectors"
    configs.mkdir()
    (configs / "a.properties").write_text("name=a\nconnector.class=fiel\ntopics=t\n")
    (configs / "b.json").write_text(json.dumps({"name": "b", "connector.class": "fiel"}))
    (configs / "notes.txt").write_text("not a config")
    worker = _worker(tmp_path, "bootstrap.servers=127.0.0.1:1\n")
    assert main(["standalone", str(worker), str(configs)]) == 1
    err = capsys.readouterr().err
    assert "a.properties: invalid configuration" in err
    assert "b.json: invalid configuration" in err
    assert "notes.txt" not in err


def test_file_format_by_suffix_or_content(tmp_path: Path) -> None:
    """.json is JSON, .properties is properties; another name is JSON if it starts with {."""
    (tmp_path / "a.conf").write_text('  {"name": "x"}')
    (tmp_path / "b.conf").write_text("name=x\n")
    (tmp_path / "c.properties").write_text("name : x\n")
    assert read_config_file(tmp_path / "a.conf") == {"name": "x"}
    assert read_config_file(tmp_path / "b.conf") == {"name": "x"}
    assert read_config_file(tmp_path / "c.properties") == {"name": "x"}


# ----- listeners and the advertised address --------------------------------------------


@pytest.mark.parametrize(
    ("listeners", "host", "port"),
    [
        ("http://127.0.0.1:8084", "127.0.0.1", 8084),
        ("HTTP://localhost:0", "localhost", 0),
        ("http://[::1]:8085/", "::1", 8085),
        ("http://:8083", "0.0.0.0", 8083),
    ],
)
def test_listeners_set_the_rest_address(listeners: str, host: str, port: int) -> None:
    """listeners=http://host:port is rest.host and rest.port; no host is every interface."""
    config = load_worker_config({"listeners": listeners}, environ={})
    assert (config.rest_host, config.rest_port) == (host, port)


def test_https_listener_needs_offramp_tls_keys(tmp_path: Path) -> None:
    """https:// serves TLS with rest.tls.cert.file/key.file, and is refused without them."""
    tls = {"rest.tls.cert.file": "c.pem", "rest.tls.key.file": "k.pem"}
    config = load_worker_config(
        {"listeners": "http://127.0.0.1:8083,https://127.0.0.1:8443", **tls}, environ={}
    )
    assert config.rest_port == 8443
    assert config.advertised_url == "https://127.0.0.1:8443"
    with pytest.raises(ConfigError, match=r"needs rest\.tls\.cert\.file"):
        load_worker_config({"listeners": "https://127.0.0.1:8443"}, environ={})
    with pytest.raises(ConfigError, match="no https:// listener"):
        load_worker_config({"listeners": "http://127.0.0.1:8083", **tls}, environ={})


def test_several_listeners_serve_the_first_http_one(caplog: pytest.LogCaptureFixture) -> None:
    """offramp serves one listener: the first http one; the warning names the others."""
    config = load_worker_config(
        {"listeners": "https://0.0.0.0:8443, http://127.0.0.1:8083,http://127.0.0.1:8084"},
        environ={},
    )
    assert config.rest_port == 8083
    assert "not serving https://0.0.0.0:8443, http://127.0.0.1:8084" in caplog.text


@pytest.mark.parametrize(
    ("worker", "message"),
    [
        ({"listeners": "tcp://127.0.0.1:8083"}, "is not http://HOST:PORT"),
        ({"listeners": "http://127.0.0.1"}, "is not http://HOST:PORT"),
        ({"listeners": "http://127.0.0.1:99999"}, "is not http://HOST:PORT"),
        ({"listeners": " , "}, "names no listener"),
        ({"listeners": "http://127.0.0.1:8083", "rest.port": 9000}, "disagrees with rest.port"),
    ],
)
def test_bad_listeners_are_refused(worker: dict[str, object], message: str) -> None:
    """A listener that isn't http(s)://HOST:PORT, or one contradicting rest.port, is a
    ConfigError on listeners."""
    with pytest.raises(ConfigError, match=message) as caught:
        load_worker_config(worker, environ={})
    assert caught.value.errors[0][0] == "listeners"


def test_listeners_from_the_connect_environment_variable() -> None:
    """CONNECT_LISTENERS (Confluent's images) works like the key."""
    config = load_worker_config({}, environ={"CONNECT_LISTENERS": "http://127.0.0.1:8090"})
    assert config.rest_port == 8090


def test_advertised_address_names_the_worker() -> None:
    """rest.advertised.host.name/port/listener are what worker_id and the advertised URL
    say, also after the listener's real port is bound."""
    config = load_worker_config(
        {
            "listeners": "http://127.0.0.1:0",
            "rest.advertised.host.name": "connect-1.example",
            "rest.advertised.port": "18083",
            "rest.advertised.listener": "HTTPS",
        },
        environ={},
    )
    bound = config.model_copy(update={"rest_port": 40123})
    assert bound.worker_id == "connect-1.example:18083"
    assert bound.advertised_url == "https://connect-1.example:18083"
    plain = WorkerConfig.model_validate({"rest.port": 40123})
    assert (plain.worker_id, plain.advertised_url) == (
        "127.0.0.1:40123",
        "http://127.0.0.1:40123",
    )
    with pytest.raises(ConfigError, match=r"rest\.advertised\.listener"):
        load_worker_config({"rest.advertised.listener": "tcp"}, environ={})


# ----- ignored and refused worker keys --------------------------------------------------


def test_distributed_mode_keys_are_ignored_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connect-distributed.properties' keys offramp has no use for start a worker;
    one line names them (group.id and the config/status topics are read)."""
    caplog.set_level(logging.INFO, "offramp.config")
    load_worker_config(
        {
            "group.id": "connect-cluster",
            "config.storage.topic": "connect-configs",
            "offset.storage.topic": "connect-offsets",
            "status.storage.topic": "connect-status",
            "config.storage.replication.factor": "1",
            "internal.key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "internal.key.converter.schemas.enable": "false",
            "connector.client.config.override.policy": "All",
        },
        environ={},
    )
    assert (
        "ignored: config.storage.replication.factor, offset.storage.topic (distributed-mode keys"
    ) in caplog.text
    assert "internal.key.converter, internal.key.converter.schemas.enable" in caplog.text


def test_java_only_worker_keys_are_refused_with_the_reason() -> None:
    """REST extensions (Java code) and an unknown override policy are refused, each
    with the reason; a plain unknown key stays an error too."""
    with pytest.raises(ConfigError) as caught:
        load_worker_config(
            {
                "rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension."
                "BasicAuthSecurityRestExtension",
            },
            environ={},
        )
    reasons = dict(caught.value.errors)
    assert "rest.auth" in reasons["rest.extension.classes"]
    with pytest.raises(ConfigError) as caught:
        load_worker_config({"connector.client.config.override.policy": "Some"}, environ={})
    assert "Principal" in dict(caught.value.errors)["connector.client.config.override.policy"]
    with pytest.raises(ConfigError, match="unknown configuration key"):
        load_worker_config({"offset.flush.intervall.ms": "1"}, environ={})


# ----- config providers -----------------------------------------------------------------

_KAFKA = "org.apache.kafka.common.config.provider."


def test_kafka_providers_resolve_in_connector_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """${file:path:key}, ${env:VAR} and ${directory:dir:file} work as in Kafka, under the
    names config.providers gives them; the file is a Java properties file."""
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("out.file = " + str(tmp_path).replace("\\", "\\\\") + "/out\\u002etxt\n")
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    (mounted / "topic").write_text("orders")
    monkeypatch.setenv("SINK_TASKS", "2")
    worker = load_worker_config(
        {
            "config.providers": "file, env,secrets",
            "config.providers.file.class": _KAFKA + "FileConfigProvider",
            "config.providers.env.class": _KAFKA + "EnvVarConfigProvider",
            "config.providers.secrets.class": _KAFKA + "DirectoryConfigProvider",
        },
        environ={},
    )
    raw = {
        "connector.class": "file",
        "file": f"${{file:{secrets}:out.file}}",
        "tasks.max": "${env:SINK_TASKS}",
        "topics": f"${{secrets:{mounted}:topic}}",
    }
    config = validate_connector("c", raw, worker, PluginRegistry())
    assert config.plugin_config.file == f"{tmp_path}/out.txt"  # type: ignore[attr-defined]
    assert config.settings.tasks_max == 2
    assert config.settings.topics == ["orders"]
    assert config.raw["file"].startswith("${file:")  # the reference is what is stored


def test_a_reference_to_an_undeclared_provider_stays_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With config.providers set, only those providers exist; ${env:…} is then plain
    text, as in Kafka."""
    monkeypatch.setenv("X", "resolved")
    only_file = ConfigProviders.from_worker(
        {"config.providers": "file", "config.providers.file.class": "FileConfigProvider"}
    )
    assert only_file.resolve({"k": "${env:X}"}) == {"k": "${env:X}"}
    assert ConfigProviders.from_worker({}).resolve({"k": "a-${env:X}"}) == {"k": "a-resolved"}


def test_provider_parameters(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config.providers.<n>.param.*: the env provider's allowlist.pattern and the file
    and directory providers' allowed.paths."""
    monkeypatch.setenv("SINK_TOKEN", "t")
    monkeypatch.setenv("HOME_SECRET", "h")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "a.properties").write_text("k=v\n")
    (tmp_path / "b.properties").write_text("k=v\n")
    providers = ConfigProviders.from_worker(
        {
            "config.providers": "env,file",
            "config.providers.env.class": _KAFKA + "EnvVarConfigProvider",
            "config.providers.env.param.allowlist.pattern": "SINK_.*",
            "config.providers.file.class": _KAFKA + "FileConfigProvider",
            "config.providers.file.param.allowed.paths": str(allowed),
        }
    )
    assert providers.resolve({"a": "${env:SINK_TOKEN}"}) == {"a": "t"}
    assert providers.resolve({"a": f"${{file:{allowed}/a.properties:k}}"}) == {"a": "v"}
    with pytest.raises(ConfigError) as caught:
        providers.resolve(
            {
                "a": "${env:HOME_SECRET}",
                "b": f"${{file:{tmp_path}/b.properties:k}}",
                "c": f"${{file:{allowed}/../b.properties:k}}",
                "d": "${env:SINK_UNSET}",
            }
        )
    reasons = dict(caught.value.errors)
    assert "not allowed by allowlist.pattern" in reasons["a"]
    assert "allowed.paths" in reasons["b"] and "allowed.paths" in reasons["c"]
    assert "is not set" in reasons["d"]


def test_bad_provider_declarations_are_refused() -> None:
    """A provider without a class, a class offramp doesn't have, an unknown parameter and
    a declaration for an unlisted name are each named."""
    with pytest.raises(ConfigError) as caught:
        load_worker_config(
            {
                "config.providers": "a,vault,env",
                "config.providers.vault.class": "com.example.VaultConfigProvider",
                "config.providers.env.class": _KAFKA + "EnvVarConfigProvider",
                "config.providers.env.param.allowlist": "x",
                "config.providers.other.class": _KAFKA + "FileConfigProvider",
            },
            environ={},
        )
    keys = [key for key, _ in caught.value.errors]
    assert keys == [
        "config.providers.a.class",
        "config.providers.vault.class",
        "config.providers.env.param.allowlist",
        "config.providers.other.class",
    ]


def test_worker_keys_resolve_with_the_workers_own_providers(tmp_path: Path) -> None:
    """The worker file's own references (a REST token) use its config.providers."""
    (tmp_path / "token").write_text("s3cret")
    config = load_worker_config(
        {
            "config.providers": "dir",
            "config.providers.dir.class": "DirectoryConfigProvider",
            "rest.auth.tokens": f"${{dir:{tmp_path}:token}}",
        },
        environ={},
    )
    assert [t.get_secret_value() for t in config.rest_auth_tokens] == ["s3cret"]


# ----- plugin.path ----------------------------------------------------------------------


def test_plugin_path_packages_are_discovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package installed into a plugin.path directory (as pip install --target lays it
    out: the package plus its dist-info with entry points) is a plug-in by its alias."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    plugins = tmp_path / "plugins"
    package = plugins / "offramp_pathsink"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from offramp.connectors.file import FileSinkConnector\n\n"
        "class PathSink(FileSinkConnector):\n    version = '9.9'\n"
    )
    info = plugins / "offramp_pathsink-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: offramp-pathsink\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(
        "[offramp.connectors]\npathsink = offramp_pathsink:PathSink\n"
    )
    monkeypatch.delitem(sys.modules, "offramp_pathsink", raising=False)
    config = load_worker_config({"plugin.path": f"{plugins}, {tmp_path / 'missing'}"}, environ={})
    assert "pathsink" not in {p.alias for p in PluginRegistry().plugins()}
    assert add_plugin_path(config.plugin_path) == [str(plugins)]
    found = {p.alias: p for p in PluginRegistry().plugins()}
    assert found["pathsink"].version == "9.9"
    monkeypatch.delitem(sys.modules, "offramp_pathsink", raising=False)
