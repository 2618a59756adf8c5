"""Filter patterns: the input a filter responds to most, found by gradient ascent on the image.

Training turned around: the weights stay fixed and the *pixels* move, step after step, along
the gradient of one filter's mean activation (Chollet, Deep Learning with Python, 9.4).

>>> model = keras.Sequential([keras.Input((16, 16, 3)),
...     keras.layers.Conv2D(4, 3, activation="relu", name="conv")])
>>> filter_patterns(model, "conv", [0, 3], steps=3).shape
(2, 16, 16, 3)
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from coursekit import config, model_layers

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)


def _ascent_step(extractor, border: int):
    """The compiled ascent step of one probe (traced once for any batch size)."""
    signature = [tf.TensorSpec(extractor.inputs[0].shape),
                 tf.TensorSpec((None, extractor.outputs[0].shape[-1])), tf.TensorSpec(())]

    @tf.function(input_signature=signature, autograph=False)  # no Python control flow to convert
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
        # order of operations is lesson 7's: the ascent amplifies any rounding difference.
        rms = tf.sqrt(tf.reduce_mean(tf.square(gradients), axis=[1, 2, 3], keepdims=True))
        return images + step_size * (gradients / (rms + 1e-8))

    return step


def filter_patterns(model, layer: str | int, indices: Iterable[int], steps: int = 30,
                    step_size: float = 0.02, input_range: tuple[float, float] = (0.0, 255.0),
                    seed: int = 0, border: int = 2, for_display: bool = True,
                    linear: bool = True) -> np.ndarray:
    """Return the inputs (len(indices), height, width, channels) that most excite filters
    ``indices`` of ``layer``: from grey noise, ``steps`` times move each (all in one batch) by
    ``step_size`` of ``input_range`` (the model's pixel range) along the RMS-normalised gradient of
    its filter's mean activation, ``border`` pixels of the map left out. With ``linear`` (as in
    tf-keras-vis) the response is taken *before* the layer's activation: after a ReLU, a filter
    silent on the grey start has zero gradient. ``for_display``: standardised to [0, 1]."""
    found = model_layers.get_layer(model, layer)
    channels = int(found.output.shape[-1])
    indices = [int(index) for index in indices]
    low, high = (float(value) for value in input_range)
    if len(found.output.shape) != 4 or not indices or not all(0 <= i < channels for i in indices):
        raise ValueError(f"gradient ascent needs a layer with feature maps and filter indices "
                         f"in its range; layer {found.name!r} has output shape "
                         f"{tuple(found.output.shape[1:])}, got indices {indices}")
    if int(steps) < 0 or float(step_size) <= 0 or not high > low:
        raise ValueError(f"steps must be >= 0, step_size > 0 and input_range (low, high) with "
                         f"high > low; got {steps}, {step_size}, {input_range}")
    extractor = model_layers.probe_model(model, [found.name], linear=[found.name] if linear else [])
    step = model_layers.cached(model, ("ascent", id(extractor), int(border)),
                               lambda: _ascent_step(extractor, int(border)))
    noise = np.random.default_rng(seed).uniform(0.45, 0.55, (len(indices),) + model.input_shape[1:])
    images = tf.constant(low + (high - low) * noise, dtype="float32")
    one_hot, size = tf.one_hot(indices, channels), tf.constant(float(step_size) * (high - low))
    for _ in range(int(steps)):
        images = step(images, one_hot, size)
    images = images.numpy()
    if not for_display:
        return images
    mean, std = images.mean(axis=(1, 2, 3), keepdims=True), images.std(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) / np.maximum(std, 1e-5) * 0.15 + 0.5, 0, 1).astype("float32")
