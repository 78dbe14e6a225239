"""The distribution installs one import name, ``offramp``, and its public API is pinned."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import warnings
import zipfile
from pathlib import Path

import pytest

import offramp
from offramp.registry import PluginRegistry

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"offramp": ROOT / "runtime", "offramp.connectors": ROOT / "connectors"}

PUBLIC_API = [
    "BatchError",
    "BatchWriter",
    "CommaList",
    "ConfigError",
    "ConfigModel",
    "ConversionError",
    "FatalError",
    "Headers",
    "OfframpError",
    "PluginNotFoundError",
    "RawMessage",
    "RecordFailure",
    "RetriableError",
    "SinkConnector",
    "SinkError",
    "SinkRecord",
    "TaskContext",
    "ThrottledError",
    "TopicPartition",
    "TransformError",
    "dotted",
    "parse_retry_after",
    "settle_in_halves",
]


def _packages_on_disk() -> set[str]:
    found = set()
    for name, folder in FOLDERS.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder).parts
            found.add(".".join((name, *rel)))
    return found


def test_public_api_is_pinned() -> None:
    """``offramp.__all__`` is exactly what plug-in authors are promised, and all of it imports."""
    assert sorted(offramp.__all__) == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(offramp, name) is not None


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    """pyproject's package list names every package folder under runtime/ and connectors/."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(meta["tool"]["setuptools"]["packages"])
    assert listed == _packages_on_disk()


def test_no_source_imports_the_folder_names() -> None:
    """Nothing imports ``runtime`` or ``connectors``: the folders exist only as offramp."""
    pattern = re.compile(r"^\s*(from|import)\s+(runtime|connectors)\b", re.M)
    offenders = []
    for folder in ("runtime", "connectors", "devstack", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            if pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_old_class_names_resolve_with_a_warning_naming_the_new_one() -> None:
    """A config stored with ``connectors.file:FileSinkConnector`` still finds the file sink."""
    registry = PluginRegistry()
    with pytest.warns(DeprecationWarning, match=r"offramp\.connectors\.file:FileSinkConnector"):
        info = registry.get("connectors.file:FileSinkConnector")
    assert info.alias == "file"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.get("offramp.connectors.file:FileSinkConnector") is info


def test_the_wheel_holds_offramp_alone_and_imports_on_its_own(tmp_path: Path) -> None:
    """The built wheel's only top-level name is ``offramp/`` (and its metadata), and every
    module in it imports from the wheel alone, without the checkout."""
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = out.glob("offramp-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "unpacked")
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"offramp"}
    assert "offramp/py.typed" in names
    assert "offramp/connectors/sql/writer.py" in names
    unpacked = str(tmp_path / "unpacked")
    probe = (
        "import importlib, pkgutil, offramp\n"
        f"assert offramp.__file__.startswith({unpacked!r}), offramp.__file__\n"
        "for m in pkgutil.walk_packages(offramp.__path__, 'offramp.'):\n"
        "    importlib.import_module(m.name)\n"
        "for name in ('runtime', 'connectors', 'devstack'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    raise AssertionError(name + ' is importable')\n"
    )
    # -S: no .pth files, so neither the editable install nor devstack's link is seen;
    # the dependencies come from site-packages, named directly.
    paths = [p for p in sys.path if p.endswith("site-packages")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([unpacked, *paths])}
    subprocess.run(
        [sys.executable, "-S", "-P", "-c", probe],
        check=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
