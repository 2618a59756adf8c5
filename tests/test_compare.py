"""coursekit.compare: the yardstick every comparison in the course is weighed against."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import compare


def test_the_yardstick_is_two_standard_errors_of_a_difference():
    """Simulated: two classifiers of the same true accuracy, scored on 1,000 photos each, differ
    by more than the yardstick in about 5 % of draws."""
    rng = np.random.default_rng(0)
    a, b = rng.binomial(1000, 0.8, size=(2, 20_000)) / 1000
    beyond = np.mean(np.abs(b - a) > compare.yardstick(0.8, 0.8, 1000))
    assert 0.03 < beyond < 0.07


def test_weigh_counts_photos_and_says_whether_the_difference_stands():
    assert compare.weigh(0.5, 0.6, 1000) == {"difference": 0.1, "photos": 100,
                                             "yardstick": 0.044, "stands": True}
    assert compare.weigh(0.6, 0.5, 1000)["stands"], "a loss stands as much as a gain"
    assert not compare.weigh(0.80, 0.82, 1000)["stands"]
    assert compare.weigh(0.80, 0.82, 100_000)["stands"], "more photos, a smaller yardstick"


@pytest.mark.parametrize("accuracy, count", [(1.2, 100), (-0.1, 100), (0.5, 0), (0.5, 10.5),
                                             (0.5, True)])
def test_nonsense_is_refused_with_what_was_wrong(accuracy, count):
    with pytest.raises(ValueError, match="accuracy|count"):
        compare.weigh(0.5, accuracy, count)
