"""Recorded results: the figures a lesson reports, shown in the notebook and kept by the recorder.

A lesson cell names what it measured: ``results.record(val_accuracy=best, epochs_run=17)``
prints the figures and, while ``tools/record.py`` (``make results``) runs the lesson in full mode
(``COURSEKIT_RECORD`` names its JSON file), adds them to ``results/<lesson>.json``, with the
machine, commit and times. ``load("04_training_a_cnn")`` reads that committed record, so a cell
can show the full-mode figures the text quotes (``folders()``: where records are looked for).
"""

from __future__ import annotations

import json
import math
import os
import urllib.request
from pathlib import Path

from coursekit import config

RECORD_VARIABLE = "COURSEKIT_RECORD"


def _plain(name: str, value):
    """Return a figure as JSON can hold it: an int, a finite float, a string or a bool."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # NumPy and 0-d array scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"figure {name}={value!r} is not a finite number")
    if isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"figure {name}={value!r} is a {type(value).__name__}: "
                     "record numbers, strings or booleans (e.g. float(accuracy))")


def record(**figures) -> None:
    """Show the lesson's named figures and, while the recorder runs, save them to its JSON file.

    >>> record(val_accuracy=0.7351, epochs_run=17)
    val_accuracy  0.7351
    epochs_run    17
    """
    if not figures:
        raise ValueError("record() needs named figures, e.g. record(val_accuracy=0.74, epochs_run=17)")
    plain = {name: _plain(name, value) for name, value in figures.items()}
    width = max(map(len, plain))
    for name, value in plain.items():
        print(f"{name:<{width}}  {round(value, 4) if isinstance(value, float) else value}")
    target = os.environ.get(RECORD_VARIABLE)
    if not target:
        return
    path = Path(target)
    saved = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    clashes = {name: (saved[name], value) for name, value in plain.items() if saved.get(name, value) != value}
    if clashes:
        raise ValueError(f"figures recorded twice with different values (before, now): {clashes}; "
                         "give each cell's figures their own names")
    path.write_text(json.dumps({**saved, **plain}, indent=1), encoding="utf-8")


def folders() -> list[Path]:
    """Return the existing folders where committed records are looked for, in order:
    ``COURSEKIT_RESULTS``, the checkout coursekit was installed from, ``results/`` here or above."""
    candidates = [Path(os.environ["COURSEKIT_RESULTS"])] if os.environ.get("COURSEKIT_RESULTS") else []
    candidates += [Path(__file__).resolve().parents[1] / "results", Path.cwd() / "results",
                   Path.cwd().parent / "results"]
    return list(dict.fromkeys(folder for folder in candidates if folder.is_dir()))


def load(lesson: str) -> dict:
    """Return the committed record of a lesson (``"04_training_a_cnn"``, or ``"04"`` but on Colab,
    where it is fetched from the course repository): ``lesson``, ``mode``, ``commit``, ``date``,
    ``machine``, ``seconds``, ``cell_seconds`` and ``figures``; ``FileNotFoundError`` if none.
    """
    name = str(lesson).removesuffix(".ipynb").removesuffix(".json")
    searched = folders()
    for folder in searched:
        found = sorted(folder.glob(f"{name}.json")) or sorted(folder.glob(f"{name}_*.json"))
        if found:
            return json.loads(found[0].read_text(encoding="utf-8"))
    if config.in_colab() and "_" in name:
        url = (f"https://raw.githubusercontent.com/{config.REPOSITORY}/"
               f"{config.REPOSITORY_REF}/results/{name}.json")
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.load(response)
    where = ", ".join(map(str, searched)) or "no results/ folder found"
    raise FileNotFoundError(f"no recorded results for lesson {name!r} (looked in: {where}). Records "
                            "come from full-mode runs: `make results` in the course repository.")
