"""Grad-CAM: where in an image the evidence for a class comes from (Selvaraju et al., 2017).

``heatmap`` is the keras.io recipe: the gradient of the class score (the logit; one sigmoid
unit: class 0's score is minus it) with respect to a convolution layer's maps, averaged per
channel, weights those maps; their sum, through a ReLU and divided by its maximum, is the
heatmap. Nested models work; the model is never changed.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5, activation="softmax")])
>>> class_count(model), heatmap(model, np.ones((8, 8, 3)), "conv", class_index=4).shape
(5, (6, 6))
"""

from __future__ import annotations

import numpy as np

from coursekit import activations, config, model_layers

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)


def class_count(model) -> int:
    """Return how many classes a classifier separates (one sigmoid unit: 2)."""
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2:
        raise ValueError(f"model {model.name!r} is not a classifier: Grad-CAM needs an output "
                         f"of shape (batch, classes), got {shape}")
    return 2 if shape[1] == 1 else int(shape[1])


def _logits_probe(model, layer: str | None = None):
    """A probe from the input to [``layer``'s output and] the logits (last layer, linear)."""
    head = list(model_layers.walk(model))[-1][1].name
    return model_layers.probe_model(model, [head] if layer is None else [layer, head], linear=[head])


def predicted_class(model, image) -> int:
    """Return the class the model predicts for one image (one sigmoid unit: 1 if p >= 0.5).

    >>> model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.GlobalAveragePooling2D(),
    ...     keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros",
    ...                        bias_initializer=keras.initializers.Constant([0, 5, 1]))])
    >>> predicted_class(model, np.zeros((4, 4, 3)))
    1
    """
    class_count(model)
    logits = np.asarray(_logits_probe(model)(activations.one_image(image)[None], training=False))[0]
    return int(logits[0] >= 0) if len(logits) == 1 else int(np.argmax(logits))


def heatmap(model, image, layer: str | int | None = None,
            class_index: int | None = None) -> np.ndarray:
    """Return the Grad-CAM heatmap of ``image`` for ``class_index``: (h, w) in [0, 1].

    ``layer`` defaults to ``model_layers.last_conv_layer(model)``, ``class_index`` to the
    predicted class. All zeros when nothing in the image speaks for the class.
    """
    classes = class_count(model)
    found = model_layers.get_layer(
        model, model_layers.last_conv_layer(model) if layer is None else layer)
    if len(found.output.shape) != 4:
        raise ValueError(f"layer {found.name!r} has no (height, width, channels) map. Layers "
                         f"Grad-CAM can use: {', '.join(model_layers.gradcam_layers(model))}")
    chosen = predicted_class(model, image) if class_index is None else class_index
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)) or not 0 <= chosen < classes:
        raise ValueError(f"class_index must be an int from 0 to {classes - 1} (model "
                         f"{model.name!r} has {classes} classes), got {class_index!r}")
    probe = _logits_probe(model, found.name)
    with tf.GradientTape() as tape:
        maps, logits = probe(tf.constant(activations.one_image(image)[None]), training=False)
        if logits.shape[-1] == 1:  # one sigmoid unit: class 0's logit is minus class 1's
            score = logits[:, 0] if chosen == 1 else -logits[:, 0]
        else:
            score = logits[:, int(chosen)]
    weights = tf.reduce_mean(tape.gradient(score, maps), axis=(0, 1, 2))  # one per channel
    heat = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1)).numpy()
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).astype("float32")
