"""Self-checks for the exercises: call one with your answer, get a tick or a specific hint.

Every check prints its verdict and returns True/False; none raises on a wrong or oddly
typed answer (a student's typo must not end in a traceback).

Example:
    >>> check_answer(6 * 7, 42, hint="multiply, don't add")
    ✅ Correct!
    True
"""

from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["check_answer", "check_close", "check_choice"]


def _say(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def check_answer(answer: Any, expected: Any, hint: str = "", name: str = "answer") -> bool:
    """Compare ``answer`` with ``expected`` exactly (tuples and lists compare equal).

    Returns True when right; prints a tick, or a cross with ``hint`` when wrong.

    Example:
        >>> check_answer((148, 148, 32), (148, 148, 32))
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    normalise: Callable[[Any], Any] = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v
    try:
        ok = normalise(answer) == normalise(expected)
    except Exception:  # noqa: BLE001 - a strange object must not end in a traceback
        ok = False
    if ok:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: your {name} was {answer!r}. {hint}".strip())


def check_close(answer: Any, expected: float, tolerance: float = 0.01, hint: str = "",
                name: str = "answer") -> bool:
    """Compare a number with ``expected`` within a relative ``tolerance``.

    Example:
        >>> check_close(0.333, 1 / 3, tolerance=0.01)
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    try:
        ok = math.isclose(float(answer), expected, rel_tol=tolerance, abs_tol=tolerance * 1e-3)
    except (TypeError, ValueError):
        return _say(False, f"Your {name} should be a number, got {answer!r}.")
    if ok:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: your {name} was {answer!r}. {hint}".strip())


def check_choice(answer: Any, correct: set | frozenset | list | tuple | str, options=None,
                 hint: str = "", name: str = "choice") -> bool:
    """Check a multiple-choice answer (one option, or a set of options) against ``correct``.

    Comparison ignores case and order. ``options``, when given, are the allowed choices;
    an answer outside them gets a message listing them.

    Example:
        >>> check_choice({"flip", "zoom"}, {"zoom", "flip"})
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    as_set = lambda v: {str(v).lower()} if isinstance(v, str) else {str(x).lower() for x in v}
    try:
        given, wanted = as_set(answer), as_set(correct)
    except TypeError:
        return _say(False, f"Your {name} should be a string or a set of strings, got {answer!r}.")
    if options is not None:
        allowed = as_set(options)
        unknown = given - allowed
        if unknown:
            return _say(False, f"{sorted(unknown)} is not one of the options: {sorted(allowed)}.")
    if given == wanted:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: you chose {sorted(given)}. {hint}".strip())


# ---------------------------------------------------------------- lesson 0: start here


def check_training_images(answer, root) -> bool:
    """Check the number of training images under ``root/train`` (all classes together).

    Example:
        >>> check_training_images(200, datasets.load(quick=True))     # doctest: +SKIP
        ✅ Correct!
        True
    """
    from pathlib import Path

    expected = sum(1 for path in (Path(root) / "train").rglob("*") if path.is_file())
    return check_answer(answer, expected, name="count",
                        hint="Count the files in every class folder under root / 'train' "
                             "(Path.rglob('*.jpg') finds them in all sub-folders).")


# ---------------------------------------------------------------- lessons 1-2: cleaning and EDA


# ---------------------------------------------------------------- lessons 3-4: CNN, augmentation


# ---------------------------------------------------------------- lesson 5: transfer learning


# ---------------------------------------------------------------- lesson 6: what the CNN learned
