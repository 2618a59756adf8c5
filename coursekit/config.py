"""Course-wide settings: quick mode, seeds, where data lives, the environment report.

Everything here reads environment variables at call time, so a notebook (or a test) can change
a variable and the next call sees it. Importing this module imports neither TensorFlow nor Keras.

``COURSEKIT_QUICK``    ``1``/``true``: every lesson runs on a small subset with few epochs.
``COURSEKIT_DATA``     datasets, cached features and models (default ``~/coursekit_data``).
``COURSEKIT_MIRROR``   folders or ``file://``/``http://`` URLs holding the course files,
                       separated by ``os.pathsep`` (see :mod:`coursekit.downloads`).
``COURSEKIT_LECTURE``  ``1``/``true``: projector-friendly figures (``lecture_mode``).
``KERAS_HOME``         Keras' own cache (default ``~/.keras``); ``prefetch()`` fills it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
from pathlib import Path

import numpy as np

#: The repository the Colab badges and install cells point at: the one place to change it.
REPOSITORY = "coursekit-org/image-classification-course"
#: The git ref (branch or tag) that Colab installs ``coursekit`` from.
REPOSITORY_REF = "main"


def _flag(name: str) -> bool:
    """Read a yes/no environment variable; raise ValueError for anything else."""
    value = os.environ.get(name, "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"", "0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not understood: use 1/true or 0/false.")


def quick_mode(quick: bool | None = None) -> bool:
    """Return ``quick`` if given, else whether ``COURSEKIT_QUICK`` asks for quick mode."""
    return _flag("COURSEKIT_QUICK") if quick is None else bool(quick)


def data_dir() -> Path:
    """Return (and create) the folder for data, features and models: ``COURSEKIT_DATA``."""
    folder = Path(os.environ.get("COURSEKIT_DATA") or Path.home() / "coursekit_data").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keras_home() -> Path:
    """Return Keras' cache folder as Keras finds it: ``KERAS_HOME`` (read once, when Keras is
    imported) or ``~/.keras``, else ``/tmp/.keras`` when that cannot be written."""
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path("/tmp/.keras")
    return home if os.access(home, os.W_OK) else Path("/tmp/.keras")


def in_colab() -> bool:
    """Return True when running inside Google Colab."""
    return "google.colab" in sys.modules


def seed_everything(seed: int = 42) -> None:
    """Seed Python's ``random``, NumPy and Keras/TensorFlow in one call
    (``keras.utils.set_random_seed``): initial weights, shuffles and augmentations repeat."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import_keras().utils.set_random_seed(seed)


@contextlib.contextmanager
def _silence_stderr_fd():
    """Redirect file descriptor 2 to /dev/null for the duration (TensorFlow's C++ start-up noise),
    which ``contextlib.redirect_stderr`` (Python's ``sys.stderr`` only) does not."""
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (some embedded consoles)
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_keras():
    """Import TensorFlow and Keras quietly and return ``keras``: TensorFlow's C++ start-up lines,
    which ``TF_CPP_MIN_LOG_LEVEL`` cannot silence, would land in every notebook as red stderr.

    >>> import_keras().__version__.startswith("3.")
    True
    """
    if "tensorflow" not in sys.modules:
        with _silence_stderr_fd():
            import tensorflow as tf

            tf.config.list_physical_devices()  # the CUDA probe prints here on GPU builds
    import keras

    return keras


def gpu_names() -> list[str]:
    """Return the names of the GPUs TensorFlow can use (empty list on a CPU-only machine)."""
    import_keras()
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def mirrors() -> list[str]:
    """Return the entries of ``COURSEKIT_MIRROR`` (folders or URLs, ``os.pathsep`` apart), in
    order; a ``:`` before ``//`` (a scheme) or a port number is part of a URL, not a separator.

    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"COURSEKIT_MIRROR": "/srv/c:http://10.0.0.5:8000/f"}):
    ...     mirrors()
    ['/srv/c', 'http://10.0.0.5:8000/f']
    """
    raw = os.environ.get("COURSEKIT_MIRROR", "")
    separator = r":(?!//)(?!\d+(?:/|:|$))" if os.pathsep == ":" else re.escape(os.pathsep)
    return [entry.strip() for entry in re.split(separator, raw) if entry.strip()]


def environment_report(display: bool = True) -> dict[str, str]:
    """Return (and print, with ``display``) versions, CPU, GPU, mode, folders, mirror, Colab.

    >>> environment_report(display=False)["mode"] in {"quick", "full"}
    True
    """
    import ipywidgets

    keras = import_keras()
    gpus = gpu_names()
    report = {
        "Python": platform.python_version(), "TensorFlow": sys.modules["tensorflow"].__version__,
        "Keras": keras.__version__, "NumPy": np.__version__, "ipywidgets": ipywidgets.__version__,
        "CPU": f"{platform.machine()}, {os.cpu_count()} cores",
        "GPU": ", ".join(gpus) if gpus else "none (training runs on the CPU)",
        "mode": "quick" if quick_mode() else "full",
        "data folder": str(data_dir()),
        "Keras cache": str(keras_home()),
        "mirror": os.pathsep.join(mirrors()) or "none (downloads from the internet)",
        "Colab": "yes" if in_colab() else "no",
    }
    if display:
        width = max(map(len, report))
        print("\n".join(f"{key:<{width}}  {value}" for key, value in report.items()))
    return report


#: Projector-friendly matplotlib settings (``lecture_mode``), equal to what ``rcParams`` holds.
LECTURE_RC = {"figure.figsize": [12, 7], "figure.dpi": 100, "font.size": 16, "axes.titlesize": 20,
              "axes.labelsize": 18, "xtick.labelsize": 14, "ytick.labelsize": 14,
              "legend.fontsize": 14, "lines.linewidth": 2.5, "image.cmap": "viridis"}
_BEFORE_LECTURE: dict = {}  # the settings lecture_mode(True) replaced


def lecture_mode(on: bool = True) -> None:
    """Make figures and widgets projector-friendly (``LECTURE_RC``; ``COURSEKIT_LECTURE=1`` at
    ``start_lesson``), the one helper that changes global matplotlib settings, when you call it;
    ``lecture_mode(False)`` puts back what it replaced, except the settings you changed since."""
    from matplotlib import rcParams as rc

    if on:
        os.environ["COURSEKIT_LECTURE"] = "1"  # widgets read this to size their controls
        _BEFORE_LECTURE.update({key: _BEFORE_LECTURE.get(key, rc[key]) for key in LECTURE_RC})
        rc.update(LECTURE_RC)
    else:
        os.environ.pop("COURSEKIT_LECTURE", None)
        rc.update({key: value for key, value in _BEFORE_LECTURE.items() if rc[key] == LECTURE_RC[key]})
        _BEFORE_LECTURE.clear()


def lecture_on() -> bool:
    """Return True when lecture mode is on (``COURSEKIT_LECTURE``)."""
    return _flag("COURSEKIT_LECTURE")


def start_lesson() -> None:
    """Print the lesson's mode, warn on Colab without a GPU, apply lecture mode (each lesson's top)."""
    import_keras()  # load TensorFlow now, quietly, so later `import keras` cells print no noise
    print("Quick mode: small subset of the data, few epochs. Numbers will be rough." if quick_mode()
          else "Full mode: the whole dataset and the real number of epochs.")
    if in_colab() and not gpu_names():
        print("No GPU found. On Colab choose Runtime > Change runtime type > T4 GPU, "
              "then run the notebook again; on a CPU training takes much longer.")
    if lecture_on():
        lecture_mode(True)
        print("Lecture mode: large figures and fonts.")
