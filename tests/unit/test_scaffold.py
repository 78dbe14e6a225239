"""``offramp new connector``: the generated package's shape, its tests passing as
generated, and clear errors for a bad name or an existing folder."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from offramp.cli import main
from offramp.scaffold import ScaffoldError, new_connector

pytestmark = pytest.mark.timeout(120)


def test_the_package_has_the_entry_point_config_writer_connector_readme_and_tests(
    tmp_path: Path,
) -> None:
    """pyproject (setuptools, offramp dependency, entry point), the three modules, a
    README and a test file."""
    root = new_connector("my-crm", tmp_path)
    assert root == tmp_path / "my-crm"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert pyproject["project"]["name"] == "offramp-my-crm"
    assert any(d.startswith("offramp") for d in pyproject["project"]["dependencies"])
    assert pyproject["project"]["entry-points"]["offramp.connectors"] == {
        "my-crm": "offramp_my_crm.connector:MyCrmSinkConnector"
    }
    package = root / "src" / "offramp_my_crm"
    for module in ("__init__.py", "config.py", "writer.py", "connector.py", "py.typed"):
        assert (package / module).exists(), module
    assert "my.crm.path" in (root / "README.md").read_text()
    assert (root / "tests" / "test_my_crm.py").exists()


def test_the_generated_tests_pass_as_generated(tmp_path: Path) -> None:
    """pytest in the generated folder (no install: its pyproject puts src/ on the path)."""
    root = new_connector("webhook", tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout


@pytest.mark.parametrize("name", ["Webhook", "1sink", "my sink", "a--b", "-x", "class", ""])
def test_a_bad_name_is_refused_with_the_rule(tmp_path: Path, name: str) -> None:
    """Names that can't be an alias, a folder and a Python package are refused."""
    with pytest.raises(ScaffoldError, match="bad connector name"):
        new_connector(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    """A second run with the same name stops and leaves the first package alone."""
    (tmp_path / "webhook").mkdir()
    (tmp_path / "webhook" / "mine.txt").write_text("keep")
    with pytest.raises(ScaffoldError, match="already exists"):
        new_connector("webhook", tmp_path)
    assert [p.name for p in (tmp_path / "webhook").iterdir()] == ["mine.txt"]


def test_the_cli_subcommand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``offramp new connector NAME --dir DIR`` creates it; a repeat exits 1 saying why."""
    assert main(["new", "connector", "webhook", "--dir", str(tmp_path)]) == 0
    assert (tmp_path / "webhook" / "pyproject.toml").exists()
    assert "created" in capsys.readouterr().out
    assert main(["new", "connector", "webhook", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
