"""Packaging: what each host installs (pyproject.toml's dependencies and extras, environment.yml),
that every import of the lessons, the package, the tests and the tools is installed by the right
set, and that the Makefile and CI install and run what they should.

Hosts: Colab installs ``dependencies`` beside its own TensorFlow, Keras and OpenCV (no JupyterLab,
no OpenCV distribution from us); a local JupyterLab (``make lab``, conda, Binder) adds the ``lab``
extra; ``make test`` and CI the ``test`` extra (browser tooling only there).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import REPO

#: Imported only where they exist: Colab's own package, and tomllib's backport on Python 3.10.
GUARDED_IMPORTS = {"google": "google.colab, on Colab only", "tomli": "Python 3.10 only (test extra)"}
OPENCV = {"opencv-python", "opencv-python-headless", "opencv-contrib-python",
          "opencv-contrib-python-headless"}


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


def _requirements(*extras: str) -> list[str]:
    """pyproject's dependencies plus the named extras, a `coursekit[...]` entry expanded."""
    project = _pyproject()["project"]
    found, todo, seen = list(project["dependencies"]), list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in project["optional-dependencies"][extra]:
            parsed = Requirement(requirement)
            if parsed.name == "coursekit":
                todo.extend(parsed.extras)
            else:
                found.append(requirement)
    return found


def _names(requirements) -> set[str]:
    return {_split(r)[0] for r in requirements}


def test_environment_yml_lists_the_runtime_and_lab_dependencies_of_pyproject():
    """A conda or Binder user gets what `pip install -e ".[lab]"` gets, and no test tools."""
    wanted = dict(_split(r) for r in _requirements("lab"))
    conda, pip = {}, {}
    for entry in _environment()["dependencies"]:
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


def test_the_runtime_set_fits_beside_colabs_own_packages():
    """Colab's install cell installs `dependencies`: no JupyterLab or notebook server, no OpenCV
    distribution (Colab ships its own: a second one writes the same cv2 package), no test tools."""
    runtime = _names(_pyproject()["project"]["dependencies"])
    assert not runtime & OPENCV, "Colab has OpenCV: the lab extra brings it elsewhere"
    assert not runtime & {"jupyterlab", "notebook", "jupyter", "playwright", "pytest", "nbval"}
    assert {"tensorflow", "keras", "tensorboard", "ipywidgets", "filelock"} <= runtime


def test_the_lab_extra_brings_jupyterlab_and_one_opencv():
    lab = _names(_pyproject()["project"]["optional-dependencies"]["lab"])
    assert "jupyterlab" in lab
    assert lab & OPENCV == {"opencv-python-headless"}, "one OpenCV distribution, without GUI libraries"


def test_the_test_extra_holds_the_lab_set_and_the_tools_and_only_it_has_browser_tooling():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert any(Requirement(r).name == "coursekit" and {"lab", "site"} <= Requirement(r).extras
               for r in extras["test"]), "make test runs the lessons (lab set) and builds a site"
    assert {"pytest", "nbval", "pytest-xdist", "pyyaml", "playwright", "nbclient"} <= _names(_requirements("test"))
    for name, requirements in [("dependencies", _pyproject()["project"]["dependencies"]),
                               *[(extra, extras[extra]) for extra in extras if extra != "test"]]:
        assert "playwright" not in _names(requirements), f"playwright belongs in the test extra only, not {name}"


def _imports_of_source(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _imports(paths) -> set[str]:
    """Top-level names imported by .py files and notebooks' code cells (magics and shell lines left out)."""
    names = set()
    for path in paths:
        if path.suffix == ".ipynb":
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] == "code":
                    lines = "".join(cell["source"]).splitlines()
                    names |= _imports_of_source("\n".join(
                        "" if line.lstrip().startswith(("%", "!")) else line for line in lines))
        else:
            source = path.read_text(encoding="utf-8")
            names |= _imports_of_source(source)
            # modules run as programs: subprocess.run([sys.executable, "-m", "papermill", ...])
            names |= {name.split(".")[0] for name in re.findall(r"""["']-m["'],\s*["']([\w.]+)["']""", source)}
    own = {"coursekit", "tests", "tools", "__future__"}
    return {name for name in names - own if name not in sys.stdlib_module_names}


def _closure(requirements) -> set[str]:
    """The installed distributions these requirements pull in (markers evaluated, extras not)."""
    found, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in found or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        found.add(name)
        todo.extend(Requirement(r) for r in requires)
    return found


@pytest.mark.parametrize("where, extras", [
    ("coursekit/*.py notebooks/*.ipynb", ()),
    ("tests/*.py tools/*.py", ("test",)),
])
def test_every_import_is_installed_by_the_set_that_needs_it(where, extras):
    """A lesson or coursekit module imports only what `dependencies` installs (OpenCV: the lab
    extra, Colab has its own); the tests and tools import only what the test extra installs."""
    paths = [path for pattern in where.split() for path in sorted(REPO.glob(pattern))]
    names = _imports(paths)
    runtime, everything = _closure(_requirements()), _closure(_requirements("lab", *extras))
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for name in sorted(names - set(GUARDED_IMPORTS)):
        owners = {owner.lower().replace("_", "-") for owner in distributions.get(name, [])}
        allowed = everything if extras or name == "cv2" else runtime
        if not owners & allowed:
            missing.append(f"{name} (from {sorted(owners) or 'no installed distribution'})")
    assert not missing, f"imported in {where} but not installed by its set: {missing}"


def test_every_data_file_of_the_package_is_installed_with_it():
    """Colab installs coursekit from git, not editable: a file the package reads at run time
    (digests, the explorers' front end) must be package data, or only the checkout has it."""
    import fnmatch

    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["coursekit"]
    package = REPO / "coursekit"
    files = [path.relative_to(package).as_posix() for path in package.rglob("*")
             if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts]
    assert files, "coursekit has data files (digests at least)"
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_the_minimum_versions_run_pins_pyprojects_floors():
    """`make test-min` installs .ci/min-constraints.txt: each pin equals pyproject's floor."""
    pins = dict(_split(line) for line in (REPO / ".ci" / "min-constraints.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#"))
    floors = {name: spec for name, spec in map(_split, _pyproject()["project"]["dependencies"])
              if name in pins}
    assert set(pins) == {"tensorflow", "keras"} == set(floors)
    for name, pin in pins.items():
        floor = re.search(r">=([\w.]+)", floors[name]).group(1)
        assert pin == f"=={floor}", f"{name}: .ci/min-constraints.txt pins {pin}, pyproject promises >={floor}"


def test_make_installs_each_targets_set_and_runs_notebooks_with_a_cell_timeout():
    makefile = (REPO / "Makefile").read_text()
    recipe = lambda target: makefile.split(f"\n{target}:")[1].split("\n\n")[0]  # noqa: E731
    assert '-e ".[lab]"' in recipe("$(LAB_STAMP)") and '-e ".[test]"' in recipe("$(STAMP)")
    assert recipe("lab").startswith(" $(LAB_STAMP)") and recipe("test").startswith(" $(STAMP)")
    assert "-c .ci/min-constraints.txt" in recipe("test-min")
    timeout = int(re.search(r"^CELL_TIMEOUT \?= (\d+)$", makefile, re.M).group(1))
    assert timeout <= 180 and "--nbval-cell-timeout=$(CELL_TIMEOUT)" in makefile
    assert "COURSEKIT_CELL_TIMEOUT=$(CELL_TIMEOUT)" in makefile


def test_ci_fails_on_a_skip_and_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    assert "export COURSEKIT_NO_SKIPS=1" in ci and "make test" in ci


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
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    options = re.search(r"^PYTEST_OPTS :=(.*?[^\\])$", makefile, re.M | re.S).group(1)
    assert "$(PYTEST_OPTS)" in recipe and " coursekit " in recipe, recipe
    assert "--doctest-modules" in options, options
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
