"""coursekit.config: mode switch, folders, seeding, environment report, import hygiene."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from coursekit import config


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("TRUE", True),
                                             ("yes", True), ("0", False), ("", False),
                                             ("false", False)])
def test_quick_mode_reads_the_variable(monkeypatch, value, expected):
    monkeypatch.setenv("COURSEKIT_QUICK", value)
    assert config.quick_mode() is expected


def test_quick_mode_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("COURSEKIT_QUICK", "quick-please")
    with pytest.raises(ValueError, match="COURSEKIT_QUICK='quick-please'"):
        config.quick_mode()


def test_quick_mode_default_is_full(monkeypatch):
    monkeypatch.delenv("COURSEKIT_QUICK", raising=False)
    assert config.quick_mode() is False


def test_data_dir_follows_the_variable_and_is_created(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "a" / "b"))
    assert config.data_dir() == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    monkeypatch.delenv("COURSEKIT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.data_dir() == tmp_path / "coursekit_data"


@pytest.mark.parametrize("raw, expected", [
    ("/a:/b", ["/a", "/b"]),
    ("/srv/course:http://10.0.0.5:8000/files", ["/srv/course", "http://10.0.0.5:8000/files"]),
    ("file:///x/y:/z", ["file:///x/y", "/z"]),
    ("http://127.0.0.1:8080:file:///q", ["http://127.0.0.1:8080", "file:///q"]),
    ("", []),
])
def test_mirror_entries(monkeypatch, raw, expected):
    if os.pathsep != ":":
        pytest.skip("POSIX separator")
    monkeypatch.setenv("COURSEKIT_MIRROR", raw)
    assert config.mirrors() == expected


def test_seed_everything_makes_numpy_and_keras_repeatable():
    keras = config.import_keras()
    config.seed_everything(7)
    first = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    config.seed_everything(7)
    second = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    with pytest.raises(ValueError):
        config.seed_everything(-1)


def test_environment_report_has_every_field(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    report = config.environment_report()
    assert set(report) == {"Python", "TensorFlow", "Keras", "NumPy", "ipywidgets", "CPU", "GPU",
                           "mode", "data folder", "Keras cache", "mirror", "Colab"}
    assert report["mode"] == "quick" and report["Colab"] == "no"
    assert report["Keras"].startswith("3.")
    assert "TensorFlow" in capsys.readouterr().out


def test_importing_coursekit_changes_nothing_global():
    code = (
        "import sys, matplotlib, numpy as np\n"
        "before = dict(matplotlib.rcParams); state = np.random.get_state()[1].copy()\n"
        "import coursekit, coursekit.config, coursekit.datasets, coursekit.checks\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
        "assert dict(matplotlib.rcParams) == before, 'rcParams changed'\n"
        "assert (np.random.get_state()[1] == state).all(), 'numpy seeded'\n"
        "print('clean')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "clean", result.stderr


def test_import_keras_is_quiet():
    code = "from coursekit import config; config.import_keras(); import keras; print(keras.__version__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("3.")
    assert "oneDNN" not in result.stderr and "cpu_feature_guard" not in result.stderr


def test_lecture_mode_restores_only_the_settings_it_set(monkeypatch):
    """Undoing lecture mode puts back what it replaced, never matplotlib's defaults: your own
    settings, from before or from while it was on, stay."""
    import matplotlib

    monkeypatch.delenv("COURSEKIT_LECTURE", raising=False)
    with matplotlib.rc_context({"font.size": 11.0, "axes.grid": True, "image.cmap": "gray"}):
        config.lecture_mode()
        config.lecture_mode()  # twice: still the first call's "before" is kept
        assert matplotlib.rcParams["font.size"] == 16 and config.lecture_on()
        assert tuple(matplotlib.rcParams["figure.figsize"]) == (12, 7)
        matplotlib.rcParams["image.cmap"] = "magma"  # yours, set while lecture mode was on
        config.lecture_mode(False)
        assert matplotlib.rcParams["font.size"] == 11.0 and matplotlib.rcParams["axes.grid"]
        assert matplotlib.rcParams["image.cmap"] == "magma" and not config.lecture_on()
        config.lecture_mode(False)  # off when already off changes nothing
        assert matplotlib.rcParams["font.size"] == 11.0
