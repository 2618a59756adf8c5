"""Feature maps (what each filter responds to in one image) and the filters' own weights.

One probe model (``model_layers.probe_model``: the model's input to inner layers' outputs,
nested models too) gives every feature map of an image in one forward pass.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
...                           keras.layers.MaxPooling2D(name="pool")])
>>> maps = feature_maps(model, np.ones((8, 8, 3)))
>>> {name: stack.shape for name, stack in maps.items()}
{'conv': (6, 6, 4), 'pool': (3, 3, 4)}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from coursekit import config, model_layers

keras = config.import_keras()


def one_image(image) -> np.ndarray:
    """Return ``image`` as one float32 (height, width, channels) array (a batch of 1 is unwrapped)."""
    array = np.asarray(image, dtype="float32")
    array = array[0] if array.ndim == 4 and array.shape[0] == 1 else array
    if array.ndim != 3:
        raise ValueError(f"image must be one image of shape (height, width, channels), got "
                         f"shape {array.shape}")
    return array


def feature_maps(model, image, layers: Sequence[str | int] | None = None) -> dict[str, np.ndarray]:
    """Return {layer name: activation for ``image``} from ONE forward pass.

    ``image`` is one image as the model expects it (the course models take 0-255 pixels).
    ``layers`` defaults to every feature-map layer; any layer may be named (a Dense layer gives
    a vector). Arrays have no batch axis.
    """
    names = list(model_layers.layer_shapes(model, layers))  # checks the names, lists what exists
    outputs = model_layers.probe_model(model, names)(one_image(image)[None], training=False)
    outputs = [outputs] if len(names) == 1 else outputs  # Keras unwraps a one-output model
    return {name: np.asarray(output)[0] for name, output in zip(names, outputs)}


def tile(images: np.ndarray, columns: int = 16, gap: int = 1, fill: float = np.nan) -> np.ndarray:
    """Return ``images`` (n, height, width[, 3]) side by side in one array, ``columns`` a row:
    image ``k`` at row ``k // columns``, column ``k % columns``, ``gap`` pixels of ``fill`` apart.

    >>> tile(np.zeros((5, 2, 3)), columns=2).shape
    (8, 7)
    """
    count, height, width = images.shape[:3]
    columns = min(int(columns), count)
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap) + images.shape[3:],
                   fill, dtype="float32")
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        grid[top:top + height, left:left + width] = image
    return grid


def channel_grid(activation: np.ndarray, columns: int = 16, gap: int = 1) -> np.ndarray:
    """Return all channels of one layer's (height, width, channels) stack ``tile``d into one
    2-D image in [0, 1] with NaN gaps, each channel standardised as in the lectures (Chollet's):
    (x - mean) / std * 64 + 128, clipped to 0-255, divided by 255; a constant channel gives 0.

    >>> channel_grid(np.ones((4, 4, 2)), columns=2)
    array([[ 0.,  0.,  0.,  0., nan,  0.,  0.,  0.,  0.], ...
    """
    array = np.asarray(activation, dtype="float32")
    if array.ndim != 3:
        raise ValueError(f"activation must have shape (height, width, channels), got {array.shape}")
    mean, std = array.mean(axis=(0, 1), keepdims=True), array.std(axis=(0, 1), keepdims=True)
    scaled = np.clip((array - mean) / np.maximum(std, 1e-5) * 64 + 128, 0, 255) / 255
    return tile(np.moveaxis(np.where(std > 1e-6, scaled, 0.0), -1, 0), columns, gap)


def filter_weights(model, layer: str | int) -> np.ndarray:
    """Return a convolution layer's kernel, shape (kernel height, kernel width, in, out)."""
    found = model_layers.get_layer(model, layer)
    if not isinstance(found, model_layers.CONV_TYPES):
        convolutions = [inner.name for _, inner in model_layers.walk(model)
                        if isinstance(inner, model_layers.CONV_TYPES)]
        raise ValueError(f"layer {found.name!r} ({type(found).__name__}) has no convolution "
                         f"kernel. Convolution layers: {', '.join(convolutions)}")
    return np.asarray(found.get_weights()[0])


def first_layer_rgb(kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Return a first-layer kernel as RGB pictures, one per filter: shape (filters, kh, kw, 3).

    ``"normalised"``: each filter min-max scaled to [0, 1] (mid-grey is not zero); ``"positive
    weights"``, ``"negative weights"``: what excites and what inhibits it (black is zero).

    >>> first_layer_rgb(np.random.randn(3, 3, 3, 8))["positive weights"].shape
    (8, 3, 3, 3)
    """
    kernel = np.asarray(kernel, dtype="float32")
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"a first-layer kernel has shape (kh, kw, 3, filters) for RGB input, "
                         f"got {kernel.shape}")
    filters = np.moveaxis(kernel, -1, 0)
    low, high = filters.min(axis=(1, 2, 3), keepdims=True), filters.max(axis=(1, 2, 3), keepdims=True)
    largest = np.maximum(np.abs(filters).max(axis=(1, 2, 3), keepdims=True), 1e-12)
    return {"normalised": (filters - low) / np.maximum(high - low, 1e-12),
            "positive weights": np.maximum(filters, 0) / largest,
            "negative weights": np.maximum(-filters, 0) / largest}
