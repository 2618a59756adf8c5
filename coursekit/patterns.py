"""Filter patterns: the input a filter responds to most, found by gradient ascent on the image.

Training turned around: the weights stay fixed and the *pixels* move, step after step, along
the gradient of one filter's mean activation (Chollet, Deep Learning with Python, 9.4).

>>> model = keras.Sequential([keras.Input((16, 16, 3)),
...     keras.layers.Conv2D(4, 3, activation="relu", name="conv")])
>>> filter_patterns(model, "conv", [0, 3], steps=3).shape
(2, 16, 16, 3)
"""

from __future__ import annotations

import functools
from typing import Iterable

import numpy as np

from coursekit import config, model_layers

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)


@functools.lru_cache(maxsize=32)  # one compiled step per (probe, border): traced once
def _ascent_step(extractor, border: int):
    @tf.function(reduce_retracing=True, autograph=False)  # no Python control flow to convert
    def step(images, one_hot, step_size):
        with tf.GradientTape() as tape:
            tape.watch(images)
            activation = extractor(images, training=False)
            if activation.shape[1] > 2 * border and activation.shape[2] > 2 * border:
                activation = activation[:, border:-border, border:-border, :]
            chosen = tf.reduce_sum(activation * one_hot[:, None, None, :], axis=-1)
            loss = tf.reduce_sum(tf.reduce_mean(chosen, axis=[1, 2]))
        gradients = tape.gradient(loss, images)
        # Normalised gradients: every step has the same size, whatever the layer's scale. The
        # order of operations is lesson 6's: the ascent amplifies any rounding difference.
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradients), axis=[1, 2, 3], keepdims=True))
        return images + step_size * (gradients / (rms + 1e-8))

    return step


def _standardize(images: np.ndarray) -> np.ndarray:
    """Standardise each image and map it to [0, 1] for display (as in the lectures)."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = images.std(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) / np.maximum(std, 1e-5) * 0.15 + 0.5, 0, 1).astype("float32")


def filter_patterns(model, layer: str | int, indices: Iterable[int], steps: int = 30,
                    step_size: float = 0.02, input_range: tuple[float, float] = (0.0, 255.0),
                    image_size: tuple[int, int] | None = None, seed: int = 0, border: int = 2,
                    for_display: bool = True, linear: bool = True) -> np.ndarray:
    """Return the input patterns that most excite filters ``indices`` of ``layer``.

    Start from grey noise and ``steps`` times move the image along the (RMS-normalised)
    gradient of each filter's mean activation, ignoring ``border`` pixels at the edge of the
    map; all filters are optimised together, one image each. ``input_range`` is the range of
    pixels the model expects (0-255 for the course models, -1 to 1 for a bare MobileNetV2);
    each step moves pixels by about ``step_size * (high - low)``. With ``linear`` (the default,
    as tf-keras-vis does) the response is taken *before* the layer's activation: a ReLU filter
    silent on the grey start has a zero gradient after it and would never move. Returns
    (len(indices), height, width, channels): standardised to [0, 1] if ``for_display``, else the
    raw inputs (in ``input_range`` units) to feed back into the model.
    """
    found = model_layers.get_layer(model, layer)
    if len(found.output.shape) != 4:
        raise ValueError(f"layer {found.name!r} has output shape {tuple(found.output.shape[1:])}: "
                         f"gradient ascent needs a layer with feature maps, e.g. "
                         f"{', '.join(model_layers.feature_map_layers(model)[:6])}")
    channels = int(found.output.shape[-1])
    indices = [int(index) for index in indices]
    if not indices or any(not 0 <= index < channels for index in indices):
        raise ValueError(f"filter indices must be in 0..{channels - 1} for layer {found.name!r}, "
                         f"got {indices}")
    low, high = (float(value) for value in input_range)
    if int(steps) < 0 or float(step_size) <= 0 or not high > low:
        raise ValueError(f"steps must be >= 0, step_size > 0 and input_range (low, high) with "
                         f"high > low; got {steps}, {step_size}, {input_range}")
    height, width, depth = tuple(model.inputs[0].shape[1:])
    height, width = image_size or (height, width)
    if height is None or width is None:
        raise ValueError("the model accepts any image size: pass image_size=(height, width)")
    extractor = model_layers.probe_model(model, [found], linear=[found] if linear else [])
    step = _ascent_step(extractor, int(border))
    noise = np.random.default_rng(seed).uniform(0.45, 0.55, (len(indices), height, width, depth))
    images = tf.constant(low + (high - low) * noise, dtype="float32")
    one_hot = tf.one_hot(indices, channels)
    size = tf.constant(float(step_size) * (high - low))
    for _ in range(int(steps)):
        images = step(images, one_hot, size)
    return _standardize(images.numpy()) if for_display else images.numpy()


def filter_pattern(model, layer: str | int, index: int, steps: int = 30, **options) -> np.ndarray:
    """Return the pattern that most excites filter ``index`` of ``layer``: (height, width, 3).

    One filter of ``filter_patterns`` (same options).
    """
    return filter_patterns(model, layer, [index], steps=steps, **options)[0]
