"""Feature maps (what each filter responds to in one image) and the filters' own weights.

The activation model has the model's input and inner layers' outputs (``model_layers``: nested
models work), so one forward pass gives every feature map of an image.

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


def activation_model(model, layers: Sequence[str | int]):
    """Return a ``keras.Model`` from ``model``'s input to the outputs of ``layers`` (built once)."""
    return model_layers.probe_model(model, layers)


def one_image(image) -> np.ndarray:
    """Return ``image`` as one float32 (height, width, channels) array (a batch of 1 is unwrapped)."""
    array = np.asarray(image, dtype="float32")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
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
    names = model_layers.layer_shapes(model, layers)  # checks the names, lists what exists
    chosen = [model_layers.get_layer(model, name) for name in names]
    outputs = activation_model(model, chosen)(one_image(image)[None], training=False)
    outputs = [outputs] if len(chosen) == 1 else outputs  # Keras unwraps a one-output model
    return {layer.name: np.asarray(output)[0] for layer, output in zip(chosen, outputs)}


def select_channel(activation: np.ndarray, channel: int) -> np.ndarray:
    """Return channel ``channel`` of a (height, width, channels) stack as a 2-D map.

    >>> select_channel(np.zeros((4, 4, 8)), 3).shape
    (4, 4)
    >>> select_channel(np.zeros((4, 4, 8)), 8)
    Traceback (most recent call last):
    ValueError: channel 8 is out of range: this layer has 8 channels (0 to 7)
    """
    if activation.ndim != 3:
        raise ValueError(f"a feature map stack has shape (height, width, channels), got shape "
                         f"{activation.shape}: this layer has no feature maps")
    if not 0 <= int(channel) < activation.shape[-1]:
        raise ValueError(f"channel {channel} is out of range: this layer has "
                         f"{activation.shape[-1]} channels (0 to {activation.shape[-1] - 1})")
    return activation[:, :, int(channel)]


def normalize_channels(activation: np.ndarray) -> np.ndarray:
    """Return each channel standardised as in the lectures (Chollet's), scaled to [0, 1].

    Per channel: (x - mean) / std * 64 + 128, clipped to 0-255, divided by 255. A constant
    ("dead") channel gives 0.

    >>> normalize_channels(np.ones((4, 4, 2))).max()
    np.float32(0.0)
    """
    array = np.asarray(activation, dtype="float32")
    if array.ndim != 3:
        raise ValueError(f"activation must have shape (height, width, channels), got {array.shape}")
    mean = array.mean(axis=(0, 1), keepdims=True)
    std = array.std(axis=(0, 1), keepdims=True)
    scaled = np.clip((array - mean) / np.maximum(std, 1e-5) * 64 + 128, 0, 255) / 255
    return np.where(std > 1e-6, scaled, 0.0).astype("float32")


def channel_grid(activation: np.ndarray, columns: int = 16, gap: int = 1) -> np.ndarray:
    """Return all channels of one layer, normalised, tiled into one 2-D image in [0, 1].

    Tile ``k`` sits at row ``k // columns``, column ``k % columns``, ``gap`` pixels of NaN apart.

    >>> channel_grid(np.random.rand(5, 5, 32), columns=16).shape
    (11, 95)
    """
    if int(columns) < 1 or int(gap) < 0:
        raise ValueError(f"columns must be >= 1 and gap >= 0, got columns={columns}, gap={gap}")
    tiles = normalize_channels(activation)
    height, width, count = tiles.shape
    columns = min(int(columns), count)
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), np.nan,
                   dtype="float32")
    for index in range(count):
        top, left = (index // columns) * (height + gap), (index % columns) * (width + gap)
        grid[top:top + height, left:left + width] = tiles[:, :, index]
    return grid


def filter_weights(model, layer: str | int) -> np.ndarray:
    """Return a convolution layer's kernel, shape (kernel height, kernel width, in, out).

    >>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="c")])
    >>> filter_weights(model, "c").shape
    (3, 3, 3, 4)
    """
    found = model_layers.get_layer(model, layer)
    if not isinstance(found, model_layers.CONV_TYPES):
        convolutions = [inner.name for _, inner in model_layers.walk(model)
                        if isinstance(inner, model_layers.CONV_TYPES)]
        raise ValueError(f"layer {found.name!r} ({type(found).__name__}) has no convolution "
                         f"kernel. Convolution layers: {', '.join(convolutions)}")
    kernel = np.asarray(found.get_weights()[0])
    if isinstance(found, keras.layers.DepthwiseConv2D):  # (kh, kw, in, multiplier)
        kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], 1, -1)
    return kernel


def first_layer_rgb(kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Return a first-layer kernel as RGB pictures, one per filter: shape (filters, kh, kw, 3).

    ``"normalized"``: each filter min-max scaled to [0, 1] (mid-grey is not zero);
    ``"positive"`` / ``"negative"``: the positive and the negative weights, each divided by the
    filter's largest absolute weight (black is zero) - what excites and what inhibits.

    >>> first_layer_rgb(np.random.randn(3, 3, 3, 8))["positive"].shape
    (8, 3, 3, 3)
    """
    kernel = np.asarray(kernel, dtype="float32")
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"a first-layer kernel has shape (kh, kw, 3, filters) for RGB input, "
                         f"got {kernel.shape}")
    filters = np.moveaxis(kernel, -1, 0)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    largest = np.maximum(np.abs(filters).max(axis=(1, 2, 3), keepdims=True), 1e-12)
    return {"normalized": (filters - low) / np.maximum(high - low, 1e-12),
            "positive": np.maximum(filters, 0) / largest,
            "negative": np.maximum(-filters, 0) / largest}
