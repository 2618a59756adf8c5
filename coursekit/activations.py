"""Feature maps (what each filter responds to in one image) and the filters' own weights.

One probe model (``model_layers.probe_model``, nested models too) gives every feature map of an
image in one forward pass; ``pictures`` lays them out for drawing.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
...                           keras.layers.MaxPooling2D(name="pool")])
>>> maps = feature_maps(model, np.ones((8, 8, 3)))
>>> {name: stack.shape for name, stack in maps.items()}
{'conv': (6, 6, 4), 'pool': (3, 3, 4)}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from coursekit import model_layers


def one_image(image) -> np.ndarray:
    """Return ``image`` as one float32 (height, width, channels) array (a batch of 1 is unwrapped)."""
    array = np.asarray(image, dtype="float32")
    array = array[0] if array.ndim == 4 and array.shape[0] == 1 else array
    if array.ndim != 3:
        raise ValueError(f"image must be one image of shape (height, width, channels), got "
                         f"shape {array.shape}")
    return array


def feature_maps(model, image, layers: Sequence[str | int] | None = None) -> dict[str, np.ndarray]:
    """Return {layer name: activation, no batch axis} of one ``image`` as the model takes it, from
    ONE forward pass; ``layers``: default every feature-map layer (a Dense one gives a vector)."""
    names = list(model_layers.layer_shapes(model, layers))  # checks the names, lists what exists
    outputs = model_layers.probe_model(model, names)(one_image(image)[None], training=False)
    outputs = [outputs] if len(names) == 1 else outputs  # Keras unwraps a one-output model
    return {name: np.asarray(output)[0] for name, output in zip(names, outputs)}


def filter_weights(model, layer: str | int) -> np.ndarray:
    """Return a convolution layer's kernel, shape (kernel height, kernel width, in, out)."""
    found = model_layers.get_layer(model, layer)
    if not isinstance(found, model_layers.CONV_TYPES):
        convolutions = [inner.name for _, inner in model_layers.walk(model)
                        if isinstance(inner, model_layers.CONV_TYPES)]
        raise ValueError(f"layer {found.name!r} ({type(found).__name__}) has no convolution "
                         f"kernel. Convolution layers: {', '.join(convolutions)}")
    return np.asarray(found.get_weights()[0])
