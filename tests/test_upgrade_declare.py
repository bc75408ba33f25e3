"""A dependency a library stopped installing (a record's ``requirement``: pandas 3.0 and pytz):
which projects must declare it, where recode-upgrade declares it (exact file contents), and the
whole run through main(argv): the target environment lacks it, the migrated copy declares it,
the environment resolved again has it, and the tests pass."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from recode.dataset.knowledge import RecordError, load_knowledge_base, parse_record
from recode.server.upgrade import cli, declare
from recode.server.upgrade.runner import Completed
from tests.test_upgrade_cli import FakeRunner, make_project

KB = load_knowledge_base()
PANDAS3 = {"pandas": "3.1.1", "numpy": "2.4.6"}

MIZANI_LIKE = """\
[project]
name = "proj"
dynamic = ["version"]
dependencies = [
    "numpy>=1.19.0",
    "pandas>=1.3.5",
    "tzdata;platform_system=='Windows'"
]

[project.optional-dependencies]
test = [
    "pytest-cov"
]
"""


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "proj"
    for rel, text in {"proj/tz.py": "import pytz\n", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def declared(root: Path) -> tuple[dict[str, str], list[str]]:
    done = declare.declare(root, declare.needed(root, KB, PANDAS3))
    return {rel: new.decode() for rel, new in done.edits.items()}, done.left


def test_pyproject_dependencies_get_it_beside_the_library_formatting_kept(tmp_path):
    root = project(tmp_path, {"pyproject.toml": MIZANI_LIKE})
    [need] = declare.needed(root, KB, PANDAS3)
    assert need.to_dict() == {
        "requirement": "pytz",
        "record": "pandas-3.0-pytz-optional",
        "library": "pandas",
        "version": "3.0.0",
        "imported_by": ["proj/tz.py"],
    }
    edits, left = declared(root)
    assert left == []
    assert edits == {
        "pyproject.toml": MIZANI_LIKE.replace(
            "\"tzdata;platform_system=='Windows'\"\n]",
            '"tzdata;platform_system==\'Windows\'",\n    "pytz"\n]',
        )
    }


def test_a_dependency_two_records_name_is_declared_once(tmp_path):
    record = KB.get("pandas-3.0-pytz-optional")
    twice = KB.with_records([*KB.records, replace(record, id="pandas-3.0-pytz-again")])
    root = project(tmp_path, {"pyproject.toml": MIZANI_LIKE})
    assert [n.record.id for n in declare.needed(root, twice, PANDAS3)] == [record.id]


def test_not_needed_before_the_version_when_declared_or_when_optional(tmp_path):
    root = project(tmp_path, {"pyproject.toml": MIZANI_LIKE})
    assert declare.needed(root, KB, {"pandas": "2.3.3"}) == []
    assert declare.needed(root, KB, {"numpy": "2.4.6"}) == []  # pandas not in the set
    extra = MIZANI_LIKE.replace('"pytest-cov"', '"pytest-cov", "pytz>=2020.1"')
    assert declare.needed(project(tmp_path, {"pyproject.toml": extra}), KB, PANDAS3) == []
    optional = "try:\n    import pytz\nexcept ImportError:\n    pytz = None\n"
    root = project(tmp_path / "o", {"pyproject.toml": MIZANI_LIKE, "proj/tz.py": optional})
    assert declare.needed(root, KB, PANDAS3) == []
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pytz\n"
    root = project(tmp_path / "t", {"pyproject.toml": MIZANI_LIKE, "proj/tz.py": typing_only})
    assert declare.needed(root, KB, PANDAS3) == []
    # an import under a try that catches something else is needed
    other = "try:\n    from pytz import utc\nexcept KeyError:\n    pass\n"
    root = project(tmp_path / "k", {"pyproject.toml": MIZANI_LIKE, "proj/tz.py": other})
    assert [n.requirement for n in declare.needed(root, KB, PANDAS3)] == ["pytz"]


def test_setup_cfg_install_requires_gets_an_indented_line(tmp_path):
    cfg = (
        "[metadata]\nname = proj\n\n[options]\ninstall_requires =\n"
        "  numpy\n  pandas>=1.5  # the frames\n\n# a comment\npackages = find:\n"
    )
    edits, _ = declared(project(tmp_path, {"setup.cfg": cfg, "setup.py": "setup()\n"}))
    assert edits == {"setup.cfg": cfg.replace("frames\n", "frames\n  pytz\n")}
    one_line = "[options]\ninstall_requires = pandas\npython_requires = >=3.8\n"
    edits, _ = declared(project(tmp_path / "b", {"setup.cfg": one_line}))
    assert edits == {"setup.cfg": one_line.replace("pandas\n", "pandas\n    pytz\n")}


def test_the_requirements_file_naming_the_library_is_chosen(tmp_path):
    root = project(
        tmp_path,
        {
            "requirements.txt": "numpy\n",
            "requirements-frames.txt": "pandas==2.0.3 \\\n    --hash=sha256:00\nscipy",
        },
    )
    edits, _ = declared(root)
    assert edits == {
        "requirements-frames.txt": "pandas==2.0.3 \\\n    --hash=sha256:00\nscipy\npytz\n"
    }
    latin1 = project(tmp_path / "l", {"requirements.txt": "pandas\n"})
    (latin1 / "pyproject.toml").write_bytes(b'[project]\nname = "caf\xe9"\ndependencies = []\n')
    assert declared(latin1) == ({"requirements.txt": "pandas\npytz\n"}, [])  # not UTF-8: left
    crlf = project(tmp_path / "c", {"requirements.txt": "numpy\r\npandas\r\n"})
    assert declared(crlf)[0] == {"requirements.txt": "numpy\r\npandas\r\npytz\r\n"}


def test_dynamic_dependencies_and_setup_py_are_reported_not_edited(tmp_path):
    setup_py = "from setuptools import setup\nsetup(install_requires=['pandas'])\n"
    dynamic = '[project]\nname = "proj"\ndynamic = ["dependencies"]\n'
    root = project(tmp_path, {"pyproject.toml": dynamic, "setup.py": setup_py})
    edits, left = declared(root)
    assert edits == {}
    assert left == [
        "setup.py: add 'pytz' to install_requires: pandas 3.0.0 no longer installs it "
        "(pandas-3.0-pytz-optional); imported by proj/tz.py"
    ]
    assert declared(project(tmp_path / "n", {}))[1] == [
        "declare pytz: pandas 3.0.0 no longer installs it (pandas-3.0-pytz-optional); "
        "imported by proj/tz.py; no pyproject.toml [project], setup.cfg install_requires or "
        "requirements file to add it to"
    ]
    poetry = '[tool.poetry]\nname = "proj"\n[tool.poetry.group.dev.dependencies]\npytz = "*"\n'
    assert declare.needed(project(tmp_path / "p", {"pyproject.toml": poetry}), KB, PANDAS3) == []


RECORD = {
    "id": "pandas-3.0-x",
    "library": "pandas",
    "symbol": "pandas.Timestamp.tz",
    "kind": "behavior",
    "changed_in": "3.0.0",
    "note": "n",
    "source": {"url": "https://pandas.pydata.org", "version": "3.0.0"},
}


@pytest.mark.parametrize(
    "value",
    [
        "pytz",
        {"name": "pytz"},
        {"name": "pytz; python_version<'3.9'", "imports": ["pytz"]},
        {"name": "py tz!", "imports": ["pytz"]},
        {"name": "pytz", "imports": []},
        {"name": "pytz", "imports": ["py.tz"]},
    ],
)
def test_a_malformed_requirement_is_refused(value):
    with pytest.raises(RecordError, match="requirement"):
        parse_record({**RECORD, "requirement": value})
    assert parse_record({**RECORD, "requirement": {"name": "pytz>=2020", "imports": ["pytz"]}})


# -- the whole run -------------------------------------------------------------------------------

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tinyproj"
version = "0.1"
dependencies = ["pandas>=1.5"]
"""
NO_PYTZ = "ModuleNotFoundError: No module named 'pytz'"


class PandasRunner(FakeRunner):
    """pip resolves pytz where the project declares it, and pandas 2 brings it; the fake
    pytest fails the test that imports pytz where the environment lacks it."""

    def _report(self, argv: list[str]) -> Completed:
        args = argv[argv.index("-") + 1 :]
        install = [
            {"metadata": {"name": a.split("==")[0], "version": a.split("==")[1]}}
            for a in args
            if "==" in a
        ]
        project = Path(args[args.index("-e") + 1])
        if "pandas==2" in " ".join(args) or "pytz" in (project / "pyproject.toml").read_text():
            install.append({"metadata": {"name": "pytz", "version": "2025.2"}})
        return Completed(0, json.dumps({"install": install}), "")

    def _pytest(self, argv: list[str], cwd: Path) -> Completed:
        venv = Path(argv[0]).parent.parent
        has = "pytz==" in (venv / "pins.txt").read_text()
        failure = "" if has else f'<failure message="{NO_PYTZ}">E   {NO_PYTZ}</failure>'
        case = f'<testcase classname="tests.test_tz" name="test_tz">{failure}</testcase>'
        xml = next(a.split("=", 1)[1] for a in argv if a.startswith("--junitxml="))
        Path(xml).write_text(f"<testsuites><testsuite>{case}</testsuite></testsuites>")
        return Completed(0 if has else 1, "", "")


@pytest.fixture
def tz_project(tmp_path, monkeypatch):
    monkeypatch.setenv("RECODE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    monkeypatch.setattr("recode.server.upgrade.venvs.shutil.which", lambda _: None)  # no uv
    env = make_project(tmp_path / "proj")
    (env / "pyproject.toml").write_text(PYPROJECT)
    (env / "tinyproj" / "__init__.py").write_text("import pytz\n")
    return env


def test_recode_upgrade_declares_it_and_tests_in_the_environment_resolved_again(tz_project, capsys):
    runner = PandasRunner()
    argv = [str(tz_project), "--to", "pandas==3.1.1", "--from", "pandas==2.3.3", "--quiet"]
    assert cli.main([*argv, "--format", "json"], runner=runner) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["requirement"] for r in doc["requirements"]] == ["pytz"]
    assert doc["runs"]["target"]["counts"]["failed"] == 1
    assert doc["runs"]["migrated"]["counts"]["passed"] == 1
    assert doc["causes"][0]["label"] == "pandas-3.0-pytz-optional"
    assert doc["summary"]["fixed"] == 1
    assert '-dependencies = ["pandas>=1.5"]\n+dependencies = ["pandas>=1.5", "pytz"]' in doc["diff"]
    assert {"name": "pytz", "before": "2025.2", "after": "2025.2"} not in doc["changes"]
    assert runner.venvs_made == 3  # baseline, target, target with pytz
    assert (tz_project / "pyproject.toml").read_text() == PYPROJECT  # the copy only
    assert cli.main([*argv, "--write"], runner=runner) == 0
    assert (tz_project / "pyproject.toml").read_text() == PYPROJECT.replace(
        '["pandas>=1.5"]', '["pandas>=1.5", "pytz"]'
    )
    assert runner.venvs_made == 3  # cached
    assert "pytz: pandas 3.0.0 no longer installs it" in capsys.readouterr().out
