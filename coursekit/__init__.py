"""coursekit: the helper package of the image-classification course.

One module per concern: ``config``, ``datasets``, ``cleaning``, ``eda``, ``models``,
``training``, ``evaluation``, ``visualize``, ``widgets``, ``checks``, ``notebooks``.
Importing ``coursekit`` changes nothing global and does not import TensorFlow; each module is
imported the first time you use it (``coursekit.datasets.load(...)``).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_MODULES = {
    "checks", "cleaning", "config", "datasets", "eda", "evaluation", "models",
    "notebooks", "training", "visualize", "widgets",
}


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"coursekit.{name}")
    if name == "lecture_mode":
        return importlib.import_module("coursekit.config").lecture_mode
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _MODULES | {"lecture_mode"})
