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


def _logits_probe(model, layers=()):
    """A probe from the input to ``layers``' outputs and the logits (last layer, linear)."""
    head = list(model_layers.walk(model))[-1][1].name
    return model_layers.probe_model(model, [*layers, head], linear=[head])


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


def heatmap(model, image, layer: str | int | None = None, class_index: int | None = None) -> np.ndarray:
    """Return the Grad-CAM heatmap (h, w) in [0, 1] of ``image`` at ``layer`` (default: the last
    conv layer) for ``class_index`` (default: predicted); zeros if nothing speaks for the class."""
    chosen = predicted_class(model, image) if class_index is None else class_index
    name = model_layers.last_conv_layer(model) if layer is None else layer
    (heat,) = heatmaps(model, activations.one_image(image)[None], [name], chosen).values()
    return heat[0]


def heatmaps(model, images, layers, class_index: int) -> dict[str, np.ndarray]:
    """Return {layer name: Grad-CAM heatmaps (n, h, w) in [0, 1]} of a batch of ``images`` for
    class ``class_index``, every layer from ONE forward and backward pass.

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="a"),
    ...     keras.layers.Conv2D(2, 3, name="b"), keras.layers.Flatten(), keras.layers.Dense(3)])
    >>> {name: heat.shape for name, heat in heatmaps(model, np.ones((5, 8, 8, 3)), ["a", "b"], 2).items()}
    {'a': (5, 6, 6), 'b': (5, 4, 4)}
    """
    classes = class_count(model)
    found = [model_layers.get_layer(model, layer) for layer in layers]
    flat = [layer.name for layer in found if len(layer.output.shape) != 4]
    if flat or not found:
        raise ValueError(f"layers {flat or list(layers)} have no (height, width, channels) map. "
                         f"Layers Grad-CAM can use: {', '.join(model_layers.gradcam_layers(model))}")
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= class_index < classes:
        raise ValueError(f"class_index must be an int from 0 to {classes - 1} (model "
                         f"{model.name!r} has {classes} classes), got {class_index!r}")
    probe = _logits_probe(model, [layer.name for layer in found])
    with tf.GradientTape() as tape:
        *maps, logits = probe(tf.constant(np.asarray(images, dtype="float32")), training=False)
        if logits.shape[-1] == 1:  # one sigmoid unit: class 0's logit is minus class 1's
            score = logits[:, 0] if class_index == 1 else -logits[:, 0]
        else:
            score = logits[:, int(class_index)]
    result = {}  # each image's score depends on that image only: one gradient for the batch
    for layer, layer_maps, gradients in zip(found, maps, tape.gradient(score, maps)):
        weights = tf.reduce_mean(gradients, axis=(1, 2))  # one per image and channel
        heat = tf.nn.relu(tf.einsum("nhwc,nc->nhw", layer_maps, weights)).numpy()
        peak = heat.max(axis=(1, 2), keepdims=True)
        result[layer.name] = np.where(peak > 0, heat / np.where(peak > 0, peak, 1), 0).astype("float32")
    return result
