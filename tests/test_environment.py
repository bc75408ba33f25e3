"""Which library versions the code runs against: interpreter, installed metadata, pins, targets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from packaging.version import Version

from recode.server import environment as env


def make_dist(site, name: str, version: str) -> None:
    d = site / f"{name}-{version}.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


@pytest.fixture
def venv(tmp_path):
    """A real virtual environment (no pip: fast) with a fake numpy dist-info in it."""
    folder = tmp_path / "proj" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next(folder.glob("lib/python*/site-packages"))
    make_dist(site, "numpy", "1.26.4")
    return folder, site


def test_installed_versions_read_metadata_without_importing(tmp_path):
    make_dist(tmp_path, "numpy", "2.1.3")
    make_dist(tmp_path, "Scikit_Learn", "1.5.2")
    found = env.installed_versions([str(tmp_path)])
    assert found["numpy"] == Version("2.1.3")
    assert found["scikit-learn"] == Version("1.5.2")


def test_project_venv_is_found_and_asked(venv, monkeypatch):
    folder, site = venv
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    root = folder.parent
    (root / "pyproject.toml").write_text("[project]\nname='p'\ndependencies=['numpy==2.0.0']\n")
    e = env.load_environment(root)
    assert e.interpreter == str(folder / "bin" / "python")
    assert e.installed_now()["numpy"] == Version("1.26.4")
    # installed wins over the declared pin
    assert e.versions()["numpy"].version == Version("1.26.4")
    assert e.versions()["numpy"].origin == "installed"


def test_active_virtualenv_wins_over_project_venv(venv, monkeypatch, tmp_path):
    folder, _ = venv
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    monkeypatch.setenv("VIRTUAL_ENV", str(other))
    assert env.find_interpreter(folder.parent) == str(other / "bin" / "python")
    assert env.find_interpreter(folder.parent, str(folder)) == str(folder / "bin" / "python")


def test_missing_interpreter_is_a_clear_error(tmp_path):
    with pytest.raises(env.InterpreterError, match="interpreter not found"):
        env.find_interpreter(tmp_path, str(tmp_path / "nope" / "python"))


def test_pins_from_requirements_and_pyproject(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# comment\nnumpy==1.26.4\npandas>=1.5,<3  # lower bound\n-r other.txt\nscipy\n"
        "matplotlib~=3.7.0\nnot a requirement ===\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname='x'\ndependencies=['torch==2.1.0']\n"
        "[project.optional-dependencies]\nml=['scikit-learn==1.2.2']\n"
    )
    pins = env.declared_pins(tmp_path)
    assert {k: str(v) for k, (v, _) in pins.items()} == {
        "numpy": "1.26.4",
        "pandas": "1.5",
        "matplotlib": "3.7.0",
        "torch": "2.1.0",
        "scikit-learn": "1.2.2",
    }
    assert pins["torch"][1] == "pyproject.toml"


def test_targets_override_installed(tmp_path):
    e = env.Environment(
        "python",
        tmp_path,
        installed={"numpy": Version("1.26.4")},
        targets={"numpy": Version("2.0")},
    )
    assert e.versions()["numpy"].origin == "target"
    assert e.versions()["numpy"].version == Version("2.0")


def test_root_markers(tmp_path):
    (tmp_path / "setup.cfg").write_text("")
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    assert env.find_root(tmp_path / "pkg" / "sub") == tmp_path.resolve()
