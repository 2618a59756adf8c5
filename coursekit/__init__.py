"""coursekit: the helper package of the image-classification course.

One module per concern (``dir(coursekit)`` lists them). Importing ``coursekit`` changes nothing
global and does not import TensorFlow; each module is imported the first time you use it
(``coursekit.datasets.load(...)``), or with ``from coursekit import datasets``.
"""

import importlib as _importlib
import pkgutil as _pkgutil

__version__ = "0.1.0"


def _module_names() -> set[str]:
    """The public module files of this package (read from the folder: no list to keep by hand)."""
    return {info.name for info in _pkgutil.iter_modules(__path__) if not info.name.startswith("_")}


def __getattr__(name: str):
    if name in _module_names():
        return _importlib.import_module(f"{__name__}.{name}")
    if name == "lecture_mode":
        return _importlib.import_module(f"{__name__}.config").lecture_mode
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}; "
                         f"its modules are {', '.join(sorted(_module_names()))}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _module_names() | {"lecture_mode"})
