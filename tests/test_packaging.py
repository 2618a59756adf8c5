"""Packaging: environment.yml (conda, Binder) installs what pyproject.toml installs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import REPO


def _split(requirement: str) -> tuple[str, str]:
    """Return (normalised name, sorted version spec); an environment marker is dropped (conda has none)."""
    requirement = requirement.split(";")[0]
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    name, spec = match.group(1), match.group(2).replace(" ", "")
    return name.lower().replace("_", "-"), ",".join(sorted(spec.split(","))) if spec else ""


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_environment_yml_lists_the_same_dependencies_as_pyproject_and_its_test_extra():
    """A conda or Binder user gets what `pip install -e ".[test]"` gets: the README test command runs."""
    project = _pyproject()["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    environment = _environment()
    conda, pip = {}, {}
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            for requirement in entry["pip"]:
                if not requirement.startswith("-e"):
                    pip.update([_split(requirement)])
        elif not entry.startswith(("python", "pip")):
            conda.update([_split(entry)])
    assert {**conda, **pip} == wanted
    assert not set(conda) & set(pip), "a package is listed twice"


def test_environment_yml_is_valid_for_conda_and_binder():
    environment = _environment()
    assert environment["channels"] == ["conda-forge"]
    assert any(isinstance(e, str) and e.startswith("python") for e in environment["dependencies"])
    assert any(isinstance(e, str) and e == "pip" for e in environment["dependencies"])
    pip = next(e["pip"] for e in environment["dependencies"] if isinstance(e, dict))
    assert not any(r.startswith(("-e", ".")) for r in pip), "local installs belong in postBuild"
    post_build = REPO / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable for repo2docker"
    assert "pip install --no-deps -e ." in post_build.read_text()


def test_python_versions_match():
    requires = _pyproject()["project"]["requires-python"]
    conda_python = next(e for e in _environment()["dependencies"]
                        if isinstance(e, str) and e.startswith("python"))
    assert _split(conda_python)[1] == _split("python" + requires)[1]


def test_test_extra_has_what_the_test_command_and_tools_use():
    extra = {_split(r)[0] for r in _pyproject()["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "nbval", "pytest-xdist", "pyyaml", "playwright", "nbclient"} <= extra


def test_dependencies_the_lessons_need_beyond_tensorflow():
    """TensorFlow 2.21 no longer pulls in TensorBoard; lessons use OpenCV and filelock too."""
    names = {_split(r)[0] for r in _pyproject()["project"]["dependencies"]}
    assert {"tensorboard", "opencv-python-headless", "filelock"} <= names


def test_package_lists_its_module_files_and_imports_them_lazily_without_tensorflow():
    """`dir(coursekit)` shows every module file; attribute access imports it; no TensorFlow yet."""
    code = (
        "import sys, coursekit\n"
        "print(sorted(name for name in dir(coursekit) if not name.startswith('_')))\n"
        "module = coursekit.config\n"
        "print(module.__name__, 'tensorflow' in sys.modules)\n"
        "try:\n"
        "    coursekit.no_such_module\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    listed, imported, error = result.stdout.splitlines()
    package = REPO / "coursekit"
    files = {path.stem for path in package.glob("*.py")} | {path.parent.name for path in package.glob("*/__init__.py")}
    files = {name for name in files if not name.startswith("_")}
    assert set(ast.literal_eval(listed)) == files | {"lecture_mode"}
    assert imported == "coursekit.config False"
    assert "no_such_module" in error and "config" in error
    assert "notebooks" not in files, "course maintenance lives in tools/, not in the student package"


def _docstrings(path: Path) -> list[str]:
    nodes = [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return [text for text in map(ast.get_docstring, nodes) if text]


def test_the_test_command_runs_at_least_40_docstring_examples():
    """`make test` runs `--doctest-modules coursekit`; at least 40 docstrings hold runnable examples."""
    recipe = (REPO / "Makefile").read_text().split("\ntest:")[1].split("\n\n")[0]
    assert "--doctest-modules" in recipe and " coursekit " in recipe, recipe
    runnable = [text for path in sorted((REPO / "coursekit").glob("*.py")) for text in _docstrings(path)
                if ">>> " in text and "+SKIP" not in text]
    assert len(runnable) >= 40, f"only {len(runnable)} docstrings with examples that run"


def test_readme_module_table_names_every_module_and_only_modules():
    """The README's layout table stays true as modules are added, split or removed."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("| for | modules |")[1].split("\n\n")[0]
    named = set(re.findall(r"`(\w+)`", table))
    files = {path.stem for path in (REPO / "coursekit").glob("*.py") if not path.stem.startswith("_")}
    assert named == files, f"README lists {sorted(named - files)} that do not exist; misses {sorted(files - named)}"
