"""Colab: the first cells of every lesson and student copy, run in a simulated Colab (a fake
``google.colab`` module), and the install cell's dependencies against what Colab ships.

There is no network here, so the pip install is recorded instead of run; everything else is the
real cell code run by a real IPython shell, as Colab's kernel would run it. ``.ci/colab-sim``
runs the real install in a Colab-like virtual environment (it downloads TensorFlow).
"""

from __future__ import annotations

import sys
import types

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from coursekit import config
from tests.test_notebooks import BOTH
from tools import course


@pytest.fixture
def shell(monkeypatch):
    """A fresh IPython shell whose %pip magic records its arguments instead of installing."""
    instance = InteractiveShell.instance()
    pip_calls: list[str] = []
    original = instance.run_line_magic

    def run_line_magic(name, line, *args, **kwargs):
        if name == "pip":
            pip_calls.append(line)
            return None
        return original(name, line, *args, **kwargs)

    monkeypatch.setattr(instance, "run_line_magic", run_line_magic)
    instance.pip_calls = pip_calls
    yield instance
    InteractiveShell.clear_instance()


@pytest.fixture
def fake_colab(monkeypatch):
    """Install a fake ``google.colab`` package that records enable_custom_widget_manager()."""
    import google.protobuf  # noqa: F401 - the real 'google' namespace package (TensorFlow needs it)
    import google

    calls: list[str] = []
    colab = types.ModuleType("google.colab")
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enable_custom_widget_manager")
    colab.output = output
    monkeypatch.setattr(google, "colab", colab, raising=False)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    return calls


def _first_code_cells(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    return cells[0].source, cells[1].source


@pytest.mark.parametrize("path", BOTH, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_setup_cell_on_colab_installs_pinned_coursekit_and_enables_widgets(path, shell, fake_colab):
    setup, _ = _first_code_cells(path)
    result = shell.run_cell(setup)
    assert result.success, result.error_in_exec
    assert shell.pip_calls == [f'install -q "coursekit @ git+https://github.com/'
                               f'{config.REPOSITORY}@{config.REPOSITORY_REF}"']
    assert fake_colab == ["enable_custom_widget_manager"]


def test_setup_cell_elsewhere_does_nothing(shell, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    result = shell.run_cell(course.setup_cell_source())
    assert result.success
    assert shell.pip_calls == []


def test_mode_cell_on_colab_without_gpu_says_how_to_switch(shell, fake_colab, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    monkeypatch.setattr(config, "gpu_names", lambda: [])
    result = shell.run_cell(course.mode_cell_source())
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    assert "Quick mode" in out
    assert "Runtime > Change runtime type" in out
    assert shell.user_ns["QUICK"] is True


def test_mode_cell_on_colab_with_gpu_is_quiet_about_it(shell, fake_colab, monkeypatch, capsys):
    monkeypatch.delenv("COURSEKIT_QUICK", raising=False)
    monkeypatch.setattr(config, "gpu_names", lambda: ["/physical_device:GPU:0"])
    assert shell.run_cell(course.mode_cell_source()).success
    out = capsys.readouterr().out
    assert "Full mode" in out and "Change runtime type" not in out


def test_no_code_cell_mounts_drive():
    """The course needs no Google Drive: no cell runs drive.mount. Lesson 0 may show it in its
    text, as one way to bring your own images to Colab."""
    for path in BOTH:
        cells = nbformat.read(path, as_version=4).cells
        assert not [cell.source for cell in cells if cell.cell_type == "code" and "drive.mount" in cell.source], \
            f"{path.name}: a code cell mounts Google Drive"


#: What Colab ships (googlecolab/backend-info, pip-freeze.txt, 2026-08-19) of each package the
#: install cell asks for: a floor above these makes the install cell replace a Colab package.
COLAB = {"tensorflow": "2.20.0", "keras": "3.13.2", "tensorboard": "2.20.0", "ipywidgets": "7.7.1",
         "anywidget": "0.9.21", "numpy": "2.1.3", "pandas": "2.2.3", "matplotlib": "3.10.0",
         "seaborn": "0.13.2", "scikit-learn": "1.6.1", "scipy": "1.16.3", "pillow": "11.3.0",
         "tqdm": "4.67.3", "filelock": "3.32.3", "pooch": "1.9.0"}
#: The one Colab package the install cell upgrades, on purpose: the course's widgets are tested
#: with ipywidgets 8 (Colab's custom widget manager, which the setup cell enables, renders them).
UPGRADED_ON_COLAB = {"ipywidgets"}


def test_the_install_cell_keeps_colabs_own_packages():
    """Every runtime dependency is one Colab has, at a version its floor accepts (but ipywidgets)."""
    from packaging.requirements import Requirement

    from tests.test_packaging import _pyproject

    requirements = [Requirement(r) for r in _pyproject()["project"]["dependencies"]]
    names = {r.name.lower() for r in requirements}
    assert names == set(COLAB), f"add the Colab version of {sorted(names - set(COLAB))} to COLAB"
    rejected = [f"{r.name} {r.specifier} (Colab: {COLAB[r.name.lower()]})" for r in requirements
                if COLAB[r.name.lower()] not in r.specifier and r.name.lower() not in UPGRADED_ON_COLAB]
    assert not rejected, f"the install cell would replace Colab's own: {rejected}"
