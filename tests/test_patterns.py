"""coursekit.patterns: gradient ascent raises the chosen filter, before or after its ReLU."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()

from coursekit import patterns  # noqa: E402

STEPS = 12


def test_filter_patterns_raise_the_chosen_filter(tiny_sequential):
    model = tiny_sequential
    shown = patterns.filter_patterns(model, "conv_b", [0, 1, 2], steps=2)
    assert shown.shape == (3, 32, 32, 3) and 0 <= shown.min() and shown.max() <= 1
    probe = keras.Model(model.inputs[0], model.get_layer("conv_b").output)
    every = list(range(8))
    start = patterns.filter_patterns(model, "conv_b", every, steps=0, for_display=False)
    before = np.asarray(probe(start))
    # After the ReLU, a filter silent on the grey start image has zero gradient: pick live ones.
    alive = [i for i in every if before[i, ..., i].mean() > 0]
    assert 3 <= len(alive) < 8
    raw = patterns.filter_patterns(model, "conv_b", alive, steps=STEPS, for_display=False,
                                   linear=False)
    after = np.asarray(probe(raw))
    gains = np.array([[after[s, ..., i].mean() - before[i, ..., i].mean() for i in alive]
                      for s in range(len(alive))])
    assert (np.diag(gains) > 0).all()
    # Each filter responds most to its own pattern (rows: images, columns: filters).
    assert (np.argmax(gains, axis=0) == np.arange(len(alive))).all()


def test_filter_patterns_before_relu_reach_silent_filters_too(tiny_sequential):
    model, every = tiny_sequential, list(range(8))
    kernel, bias = model.get_layer("conv_b").get_weights()
    below = keras.Model(model.inputs[0], model.get_layer("pool_a").output)

    def pre_activation(images):  # conv_b by hand, without its ReLU
        return np.asarray(keras.ops.conv(below(images), kernel, padding="valid")) + bias

    start = patterns.filter_patterns(model, "conv_b", every, steps=0, for_display=False)
    raw = patterns.filter_patterns(model, "conv_b", every, steps=STEPS, for_display=False)
    before, after = pre_activation(start), pre_activation(raw)
    for index in every:
        assert after[index, 2:-2, 2:-2, index].mean() > before[index, 2:-2, 2:-2, index].mean() + 0.01
    assert model.get_layer("conv_b").activation.__name__ == "relu"  # the model is untouched


def test_bad_choices_say_why(tiny_sequential):
    with pytest.raises(ValueError, match="'conv_a' has output shape \\(30, 30, 4\\), got indices \\[4\\]"):
        patterns.filter_patterns(tiny_sequential, "conv_a", [4])
    with pytest.raises(ValueError, match="needs a layer with feature maps.*'out'"):
        patterns.filter_patterns(tiny_sequential, "out", [0])
    with pytest.raises(ValueError, match="step_size > 0"):
        patterns.filter_patterns(tiny_sequential, "conv_a", [0], step_size=0)
