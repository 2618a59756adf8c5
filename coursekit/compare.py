"""Is a difference between two accuracies more than noise? The course's one yardstick.

An accuracy measured on ``count`` photos is a proportion: had we drawn other photos of the same
classes, it would come out a little different. Two accuracies measured on ``count`` photos each
differ by chance with a standard error of ``sqrt(pa (1 - pa) / count + pb (1 - pb) / count)``. The
course calls a difference real only when it is larger than two of those standard errors (about a
95 % chance that noise stays below). Lessons 1, 4, 5, 6 and 7 weigh their comparisons so.
"""

from __future__ import annotations

import math


def _check(accuracy: float, count: int) -> None:
    if not 0.0 <= float(accuracy) <= 1.0:
        raise ValueError(f"an accuracy is a fraction between 0 and 1, got {accuracy!r}")
    if isinstance(count, bool) or int(count) != count or count < 1:
        raise ValueError(f"count must be the number of photos scored (a positive int), got {count!r}")


def yardstick(accuracy_a: float, accuracy_b: float, count: int) -> float:
    """Return two standard errors of the difference of two accuracies, each on ``count`` photos:
    a difference smaller than this is within the noise of the photos.

    >>> round(yardstick(0.75, 0.80, 1000), 3)
    0.037
    """
    for accuracy in (accuracy_a, accuracy_b):
        _check(accuracy, count)
    return 2 * math.sqrt((accuracy_a * (1 - accuracy_a) + accuracy_b * (1 - accuracy_b)) / count)


def weigh(accuracy_a: float, accuracy_b: float, count: int) -> dict:
    """Return how ``accuracy_b`` compares with ``accuracy_a`` (both on ``count`` photos): the
    ``difference`` (b - a), in ``photos``, the ``yardstick`` and whether it ``stands`` above it.

    >>> weigh(0.750, 0.805, 1000)
    {'difference': 0.055, 'photos': 55, 'yardstick': 0.037, 'stands': True}
    >>> weigh(0.810, 0.809, 1000)["stands"]
    False
    """
    difference = float(accuracy_b) - float(accuracy_a)
    margin = yardstick(accuracy_a, accuracy_b, count)
    return {"difference": round(difference, 3), "photos": round(difference * count),
            "yardstick": round(margin, 3), "stands": abs(difference) > margin}
