"""``offramp new connector NAME``: a connector package to start from (Kafka Connect's
Maven archetype, the Python way).

The package it writes installs with pip and registers its connector under the alias
``NAME`` through the ``offramp.connectors`` entry point; its tests use
``offramp.testing.run_connector`` and pass as generated:

    NAME/
      pyproject.toml               setuptools, depends on offramp, the entry point
      README.md
      src/offramp_NAME/__init__.py the public names
      src/offramp_NAME/config.py   the config model (a ConfigModel: keys, validation)
      src/offramp_NAME/writer.py   the writer (a BatchWriter: write a batch)
      src/offramp_NAME/connector.py the connector (a SinkConnector: ties them together)
      tests/test_NAME.py           the connector run through the runtime, no Kafka

The generated writer appends each record as a JSON line to a file (``NAME.path``) and
refuses values containing ``NAME.refuse`` (to show the dead-letter path): replace both
with your destination.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from offramp import __version__
from offramp.errors import OfframpError

__all__ = ["ScaffoldError", "new_connector"]

NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class ScaffoldError(OfframpError):
    """The package can't be generated (a bad name, a folder that exists)."""


def _check_name(name: str) -> str:
    """The Python identifier for ``name``, or a ScaffoldError saying what is wrong."""
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"bad connector name {name!r}: use lower-case letters, digits, and single "
            "'-' or '_' between them, starting with a letter (e.g. 'webhook', 'my-crm')"
        )
    ident = name.replace("-", "_")
    if keyword.iskeyword(ident):
        raise ScaffoldError(f"bad connector name {name!r}: {ident!r} is a Python keyword")
    return ident


def _class_name(ident: str) -> str:
    return "".join(part.capitalize() for part in ident.split("_"))


def new_connector(name: str, directory: str | Path = ".") -> Path:
    """Write the package for connector ``name`` into ``directory/name``; return it."""
    ident = _check_name(name)
    parent = Path(directory)
    if not parent.is_dir():
        raise ScaffoldError(f"{parent} is not a directory")
    root = parent / name
    if root.exists():
        raise ScaffoldError(f"{root} already exists: choose another name or --dir")
    values = {
        "name": name,
        "ident": ident,
        "cls": _class_name(ident),
        "package": f"offramp_{ident}",
        "dist": f"offramp-{name.replace('_', '-')}",
        "offramp_version": __version__,
        "prefix": name.replace("-", ".").replace("_", "."),
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{values['package']}/__init__.py": INIT,
        f"src/{values['package']}/config.py": CONFIG,
        f"src/{values['package']}/writer.py": WRITER,
        f"src/{values['package']}/connector.py": CONNECTOR,
        f"src/{values['package']}/py.typed": "",
        f"tests/test_{ident}.py": TEST,
    }
    root.mkdir()
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values) if template else "")
    return root


PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "The {name} sink connector for offramp"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["offramp>={offramp_version}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The worker finds the connector here: "connector.class": "{name}" in a config.
[project.entry-points."offramp.connectors"]
{name} = "{package}.connector:{cls}SinkConnector"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
{package} = ["py.typed"]

[tool.ruff]
line-length = 100
src = ["src", "tests"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]
filterwarnings = ["error"]
"""

README = """\
# {dist}

The `{name}` sink connector for [offramp](https://github.com/offramp/offramp).

## Install

    pip install .          # or: pip install -e '.[test]' while you work on it
    offramp plugins        # lists {name}

## Configure

```json
{{
  "name": "my-{name}",
  "config": {{
    "connector.class": "{name}",
    "topics": "calls",
    "value.converter": "json",
    "value.converter.schemas.enable": "false",
    "{prefix}.path": "/tmp/{ident}.jsonl"
  }}
}}
```

| key | default | meaning |
| --- | --- | --- |
| `{prefix}.path` | (required) | the file the records are appended to |
| `{prefix}.refuse` | `""` | values containing this are refused (they go to the dead-letter topic) |

Every other key (`topics`, converters, transforms, `errors.*`, `batch.*`) is offramp's.

## Develop

- `src/{package}/config.py`: the settings (a `ConfigModel`; a field `foo_bar` is the key
  `foo.bar`).
- `src/{package}/writer.py`: writes a batch; returns the records it refused, raises
  `RetriableError` when the destination is briefly unavailable, `BatchError` when it
  refuses the batch without saying which record.
- `src/{package}/connector.py`: ties them together; `check()` tests a connection.

Run the tests (no Kafka needed: `offramp.testing.run_connector` runs the connector
through the runtime's own task loop over scripted records):

    pytest
"""

INIT = '''\
"""The {name} sink connector for offramp."""

from {package}.config import {cls}Config
from {package}.connector import {cls}SinkConnector
from {package}.writer import {cls}Writer

__all__ = ["{cls}Config", "{cls}SinkConnector", "{cls}Writer"]
'''

CONFIG = '''\
"""The {name} connector's settings: the keys a user puts in the connector config."""

from __future__ import annotations

from offramp import ConfigModel
from pydantic import Field

__all__ = ["{cls}Config"]


class {cls}Config(ConfigModel):
    """Validated when the config is submitted: a bad or missing key is named to the user.
    A field ``{ident}_path`` is the key ``{prefix}.path``."""

    {ident}_path: str = Field(description="File the records are appended to")
    {ident}_refuse: str = Field(
        "", description="Values containing this are refused (dead-lettered)"
    )
'''

WRITER = '''\
"""The {name} writer: one batch of records to the destination."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO

from offramp import BatchWriter, FatalError, RecordFailure, RetriableError, SinkRecord

from {package}.config import {cls}Config

__all__ = ["{cls}Writer"]


class {cls}Writer(BatchWriter):
    """Appends each record's value as a JSON line. Replace with your destination:
    return the records it refused, raise ``RetriableError`` when it is briefly down."""

    def __init__(self, config: {cls}Config) -> None:
        self.config = config
        try:
            self._file: IO[str] = open(config.{ident}_path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:  # a setting that can't work: the task fails, clearly
            raise FatalError(f"cannot open {{config.{ident}_path}}: {{exc}}") from exc

    def write(self, records: Sequence[SinkRecord]) -> Sequence[RecordFailure] | None:
        refuse = self.config.{ident}_refuse
        failures: list[RecordFailure] = []
        lines: list[str] = []
        for record in records:
            if refuse and refuse in str(record.value):
                failures.append(RecordFailure(record, ValueError(f"refused: {{refuse!r}}")))
            else:
                lines.append(json.dumps(record.value, default=str))
        try:
            self._file.write("".join(line + "\\n" for line in lines))
            self._file.flush()
        except OSError as exc:  # retried with backoff; the records are written again
            raise RetriableError(f"writing {{self.config.{ident}_path}} failed: {{exc}}") from exc
        return failures

    def stop(self) -> None:
        self._file.close()
'''

CONNECTOR = '''\
"""The {name} connector: its config model and a writer per task."""

from __future__ import annotations

from pathlib import Path

from offramp import BatchWriter, FatalError, SinkConnector, TaskContext

from {package}.config import {cls}Config
from {package}.writer import {cls}Writer

__all__ = ["{cls}SinkConnector"]


class {cls}SinkConnector(SinkConnector[{cls}Config]):
    """Appends records as JSON lines to a file."""

    config_model = {cls}Config
    version = "0.1.0"
    description = "Appends records as JSON lines to a file"

    def check(self, config: {cls}Config) -> str:
        folder = Path(config.{ident}_path).parent
        if not folder.is_dir():
            raise FatalError(f"{{folder}} is not a directory")
        return f"writing to {{config.{ident}_path}}"

    def create_writer(self, config: {cls}Config, context: TaskContext) -> BatchWriter:
        return {cls}Writer(config)
'''

TEST = '''\
"""The {name} connector run through offramp's own task loop, without Kafka."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from offramp import ConfigError, TopicPartition
from offramp.testing import run_connector

from {package} import {cls}SinkConnector


def config(path: Path, **extra: str) -> dict[str, str]:
    return {{
        "connector.class": "{name}",
        "topics": "calls",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "{prefix}.path": str(path),
        **extra,
    }}


def test_records_are_written_and_committed(tmp_path: Path) -> None:
    """Every record is written, in order, and its offset committed."""
    out = tmp_path / "out.jsonl"
    result = run_connector(
        config(out), [{{"id": 1}}, {{"id": 2}}, {{"id": 3}}], connector={cls}SinkConnector
    )
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {{"id": 1}},
        {{"id": 2}},
        {{"id": 3}},
    ]
    assert result.committed == {{TopicPartition("calls", 0): 3}}


def test_a_refused_record_goes_to_the_dead_letter_topic(tmp_path: Path) -> None:
    """A record the destination refuses is dead-lettered with its context; the rest are
    written."""
    result = run_connector(
        config(
            tmp_path / "out.jsonl",
            **{{
                "{prefix}.refuse": "bad",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": "calls-dlq",
                "errors.deadletterqueue.context.headers.enable": "true",
            }},
        ),
        [{{"id": "good"}}, {{"id": "bad"}}],
        connector={cls}SinkConnector,
    )
    assert result.values == [{{"id": "good"}}]
    assert [d.offset for d in result.dead_letters] == [1]
    assert result.committed == {{TopicPartition("calls", 0): 2}}


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    """The config model validates the connector config."""
    with pytest.raises(ConfigError, match=re.escape("{prefix}.path")):
        run_connector(
            {{"connector.class": "{name}", "topics": "calls"}}, connector={cls}SinkConnector
        )
'''
