"""What a CNN learned, as arrays: feature maps, filters, filter patterns and Grad-CAM.

Every function here takes a model and arrays and returns NumPy arrays; the ``plot_*``
functions at the end draw those arrays into a ``matplotlib.figure.Figure`` and compute
nothing themselves. The widgets of lesson 6 (``coursekit.widgets``) are thin views over both.

Nested models work everywhere. A transfer-learning model usually holds its pretrained base
as *one* layer (``inputs -> MobileNetV2 -> pooling -> Dense``). Under Keras 3 the base's inner
layers live in the base's own graph, so ``keras.Model(model.inputs, inner_layer.output)``
fails with "not connected". Here every lookup walks into nested models, and the activation
model is rebuilt by running the outer graph again on a fresh input while stepping *into* each
nested model that holds a requested layer. The layers (and their weights) are shared, never
copied or changed: the user's model is not modified.

Layer names: a nested model's inner layers are found by their own name (``"block_1_expand"``)
or by a path (``"mobilenetv2_0.35_224/block_1_expand"``); an int is an index into
``layer_names(model)`` (nested layers listed in place, ``-1`` is the last).

Example:
    >>> maps = feature_maps(model, image)                      # doctest: +SKIP
    >>> {name: array.shape for name, array in maps.items()}     # doctest: +SKIP
    {'conv1': (148, 148, 32), 'pool1': (74, 74, 32), ...}
"""

from __future__ import annotations

import weakref
from typing import Iterable, Sequence

import numpy as np
from matplotlib.figure import Figure

from coursekit import config

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)

__all__ = [
    "QUICK_MAX_ASCENT_STEPS",
    "activation_model",
    "channel_grid",
    "colorize",
    "feature_map_picture",
    "class_count",
    "feature_map_layers",
    "feature_maps",
    "filter_pattern",
    "filter_patterns",
    "filter_weights",
    "first_layer_rgb",
    "get_layer",
    "gradcam",
    "gradcam_picture",
    "gradcam_layers",
    "last_conv_layer",
    "layer_names",
    "layer_table",
    "normalize_channels",
    "output_shape",
    "overlay",
    "plot_channel_grid",
    "plot_feature_map",
    "plot_filter_patterns",
    "plot_first_layer_filters",
    "plot_gradcam",
    "predicted_class",
    "select_channel",
    "to_display",
]

#: In quick mode (``COURSEKIT_QUICK=1``) gradient ascent runs at most this many steps.
QUICK_MAX_ASCENT_STEPS = 5

_CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D,
               keras.layers.Conv2DTranspose)
_POOL_TYPES = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
_ACTIVATION_TYPES = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU,
                     keras.layers.ELU, keras.layers.PReLU)
_MERGE_TYPES = (keras.layers.Add, keras.layers.Concatenate)


# ---------------------------------------------------------------- finding layers (nested too)

def _walk(model, prefix: str = ""):
    """Yield (path, layer) for every layer, nested models expanded in place (inputs skipped)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        path = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            yield from _walk(layer, prefix=f"{path}/")
        else:
            yield path, layer


def _check_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise ValueError(f"expected a keras.Model, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(f"model {model.name!r} has no known input yet: build it with "
                         "keras.Input(shape=...) as its first layer (or call it once on an "
                         "image) before looking inside it")
    if len(inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(inputs)} inputs; only single-input "
                         "image models are supported")


def layer_names(model) -> list[str]:
    """Return the names of all layers in order, layers of nested models listed in place.

    Input layers are left out, and a nested model appears as its inner layers (not itself).

    Example:
        >>> layer_names(scratch)[:3]                 # doctest: +SKIP
        ['rescaling', 'conv1', 'pool1']
    """
    _check_model(model)
    return [layer.name for _, layer in _walk(model)]


def get_layer(model, layer: str | int):
    """Return the layer named ``layer`` (or at that index of ``layer_names(model)``).

    Looks inside nested models too; ``"outer/inner"`` paths are accepted. The error lists
    the layers that exist.

    Example:
        >>> get_layer(transfer_model, "block_1_expand").name     # doctest: +SKIP
        'block_1_expand'
    """
    _check_model(model)
    if isinstance(layer, keras.layers.Layer):
        if any(found is layer for _, found in _walk(model)):
            return layer
        raise ValueError(f"layer {layer.name!r} is not part of model {model.name!r}")
    entries = list(_walk(model))
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if -len(entries) <= int(layer) < len(entries):
            return entries[int(layer)][1]
        raise ValueError(f"layer index {layer} is out of range: model {model.name!r} has "
                         f"{len(entries)} layers (indices 0 to {len(entries) - 1}, or negative)")
    if isinstance(layer, str):
        for path, found in entries:
            if layer in (found.name, path):
                return found
        names = ", ".join(found.name for _, found in entries)
        raise ValueError(f"no layer named {layer!r} in model {model.name!r}. "
                         f"Layers that exist: {names}")
    raise ValueError(f"layer must be a name (str) or an index (int), got {layer!r}")


def output_shape(model, layer: str | int) -> tuple:
    """Return a layer's output shape for one image (the batch axis dropped).

    Example:
        >>> output_shape(scratch, "conv1")          # doctest: +SKIP
        (148, 148, 32)
    """
    found = get_layer(model, layer)
    return tuple(found.output.shape[1:])


def _is_spatial(layer) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):
        return False


def feature_map_layers(model) -> list[str]:
    """Return the layers whose output is a stack of feature maps worth looking at.

    Convolutions, pooling, activations and residual adds/concatenations with a
    (height, width, channels) output; batch-norm, padding, rescaling and augmentation
    layers are left out. Nested models are walked.

    Example:
        >>> feature_map_layers(scratch)             # doctest: +SKIP
        ['conv1', 'pool1', 'conv2', 'pool2', 'conv3', 'pool3', 'conv4', 'pool4']
    """
    kinds = _CONV_TYPES + _POOL_TYPES + _ACTIVATION_TYPES + _MERGE_TYPES
    return [layer.name for _, layer in _walk(model)
            if isinstance(layer, kinds) and _is_spatial(layer)]


def gradcam_layers(model) -> list[str]:
    """Return the layers Grad-CAM can explain: convolutions and activations with a spatial output.

    Example:
        >>> gradcam_layers(scratch)[-1]             # doctest: +SKIP
        'conv4'
    """
    return [layer.name for _, layer in _walk(model)
            if isinstance(layer, _CONV_TYPES + _ACTIVATION_TYPES + _MERGE_TYPES)
            and _is_spatial(layer)]


def last_conv_layer(model) -> str:
    """Return the name of the last convolution (or activation after one) with a spatial output.

    This is the layer Grad-CAM uses by default: the deepest one that still has a map.

    Example:
        >>> last_conv_layer(transfer_model)         # doctest: +SKIP
        'out_relu'
    """
    candidates = gradcam_layers(model)
    if not candidates:
        raise ValueError(f"model {model.name!r} has no convolution layer with a spatial "
                         f"output. Layers that exist: {', '.join(layer_names(model))}")
    return candidates[-1]


def layer_table(model):
    """Return a pandas DataFrame with one row per layer: path, type, output shape, feature maps?

    Example:
        >>> layer_table(scratch).head(2)            # doctest: +SKIP
    """
    import pandas as pd

    _check_model(model)
    feature = set(feature_map_layers(model))
    rows = [{"layer": path, "type": type(layer).__name__,
             "output shape": tuple(layer.output.shape[1:]),
             "feature maps": layer.name in feature}
            for path, layer in _walk(model)]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the activation model

def _rebuild(model, inputs, wanted: set[int], found: dict, replace: dict | None = None):
    """Run ``model``'s graph again on the symbolic ``inputs``, stepping into nested models.

    Records the (new) output tensor of every layer whose id is in ``wanted`` into ``found``.
    ``replace`` maps a layer id to a callable used instead of that layer. Layers are reused,
    so the rebuilt graph shares all weights with ``model``.
    """
    replace = replace or {}

    def call(layer, *args, **kwargs):
        if id(layer) in replace:
            out = replace[id(layer)](*args)
        elif isinstance(layer, keras.Model) and _holds(layer, wanted | set(replace)):
            # Step inside: rebuild the nested model on a fresh input as a probe model whose
            # extra outputs are the wanted inner tensors, then call the probe here.
            inner_input = keras.Input(batch_shape=args[0].shape, dtype=args[0].dtype)
            inner_found: dict = {}
            inner_output = _rebuild(layer, inner_input, wanted, inner_found, replace)
            keys = list(inner_found)
            probe = keras.Model(inner_input, [inner_output] + [inner_found[key] for key in keys],
                                name=f"{layer.name}_probe")
            results = probe(args[0])
            out = results[0]
            for key, result in zip(keys, results[1:]):
                found.setdefault(key, result)
        else:
            out = layer(*args, **kwargs)
        if id(layer) in wanted and id(layer) not in found:
            found[id(layer)] = out
        return out

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
        return x
    structure = model.input
    model_inputs = [inputs] if isinstance(structure, (list, tuple)) else inputs
    try:
        clone = keras.models.clone_model(model, input_tensors=model_inputs,
                                         clone_function=lambda layer: layer,
                                         call_function=call)
    except ValueError as error:
        raise ValueError(f"cannot look inside model {model.name!r} ({type(model).__name__}): "
                         f"only Sequential and Functional models can be taken apart ({error})"
                         ) from error
    return clone.output


def _holds(model, ids: set[int]) -> bool:
    return any(id(layer) in ids for _, layer in _walk(model))


# Built activation models, per user model (weakly held: forgetting the model frees them).
_ACTIVATION_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def activation_model(model, layers: Sequence[str | int]):
    """Return a ``keras.Model`` from ``model``'s input to the outputs of ``layers`` (a list).

    One forward pass of it gives every requested activation at once. Works for Sequential,
    Functional and nested models; built once per (model, layers) and cached. Shares the
    weights of ``model`` (nothing is copied, nothing in ``model`` changes).

    Example:
        >>> probe = activation_model(scratch, ["conv1", "pool1"])     # doctest: +SKIP
        >>> [a.shape for a in probe(images)]                            # doctest: +SKIP
        [TensorShape([8, 148, 148, 32]), TensorShape([8, 74, 74, 32])]
    """
    _check_model(model)
    chosen = [get_layer(model, layer) for layer in layers]
    if not chosen:
        raise ValueError("layers is empty: name at least one layer")
    key = tuple(id(layer) for layer in chosen)
    cache = _ACTIVATION_MODELS.setdefault(model, {})
    if key not in cache:
        inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        found: dict = {}
        _rebuild(model, inputs, set(key), found)
        missing = [layer.name for layer in chosen if id(layer) not in found]
        if missing:
            raise ValueError(f"layers {missing} are not on the path from the input to the "
                             "output of the model, so they have no activation")
        cache[key] = keras.Model(inputs, [found[i] for i in key],
                                 name=f"{model.name}_activations")
    return cache[key]


def _one_image(image) -> np.ndarray:
    array = np.asarray(image, dtype="float32")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(f"image must be one image of shape (height, width, channels), got "
                         f"shape {array.shape}")
    return array


def feature_maps(model, image, layers: Sequence[str | int] | None = None) -> dict[str, np.ndarray]:
    """Return {layer name: activation for ``image``} from ONE forward pass.

    ``image`` is one image (height, width, channels) as the model expects it (for the course
    models: raw 0-255 pixels, the models rescale themselves). ``layers`` defaults to
    ``feature_map_layers(model)``; any layer may be named (a Dense layer gives a vector).
    Arrays have no batch axis: (height, width, channels) for feature maps.

    Example:
        >>> maps = feature_maps(scratch, image, ["conv1"])      # doctest: +SKIP
        >>> maps["conv1"].shape                                  # doctest: +SKIP
        (148, 148, 32)
    """
    _check_model(model)
    names = feature_map_layers(model) if layers is None else list(layers)
    if not names:
        raise ValueError(f"model {model.name!r} has no layer with feature maps; name the "
                         f"layers you want. Layers that exist: {', '.join(layer_names(model))}")
    chosen = [get_layer(model, layer) for layer in names]
    probe = activation_model(model, chosen)
    outputs = probe(_one_image(image)[None], training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {layer.name: np.asarray(output)[0] for layer, output in zip(chosen, outputs)}


def select_channel(activation: np.ndarray, channel: int) -> np.ndarray:
    """Return channel ``channel`` of a (height, width, channels) stack as a 2-D map.

    Raises ValueError (saying what is allowed) for a vector or a channel out of range.

    Example:
        >>> select_channel(np.zeros((4, 4, 8)), 3).shape
        (4, 4)
    """
    if activation.ndim != 3:
        raise ValueError(f"a feature map stack has shape (height, width, channels), got shape "
                         f"{activation.shape}: this layer has no feature maps")
    if not 0 <= int(channel) < activation.shape[-1]:
        raise ValueError(f"channel {channel} is out of range: this layer has "
                         f"{activation.shape[-1]} channels (0 to {activation.shape[-1] - 1})")
    return activation[:, :, int(channel)]


def normalize_channels(activation: np.ndarray) -> np.ndarray:
    """Return each channel standardised as in the lectures, scaled to [0, 1].

    Per channel: subtract the mean, divide by the standard deviation, times 64, plus 128,
    clipped to 0-255 (Chollet's normalisation), then divided by 255. A channel that is
    constant (a "dead" filter for this image) comes out as 0 (black).

    Example:
        >>> normalize_channels(np.ones((4, 4, 2))).max()
        0.0
    """
    array = np.asarray(activation, dtype="float32")
    if array.ndim != 3:
        raise ValueError(f"activation must have shape (height, width, channels), got {array.shape}")
    mean = array.mean(axis=(0, 1), keepdims=True)
    std = array.std(axis=(0, 1), keepdims=True)
    scaled = np.clip((array - mean) / np.maximum(std, 1e-5) * 64 + 128, 0, 255) / 255
    return np.where(std > 1e-6, scaled, 0.0).astype("float32")


def channel_grid(activation: np.ndarray, columns: int = 16, gap: int = 1) -> np.ndarray:
    """Return all channels of one layer tiled into one 2-D image (values in [0, 1]).

    Channels are normalised with ``normalize_channels`` and laid out row by row,
    ``columns`` per row, separated by ``gap`` pixels of NaN (drawn as background).
    Tile ``k`` sits at row ``k // columns``, column ``k % columns``.

    Example:
        >>> channel_grid(np.random.rand(5, 5, 32), columns=16).shape
        (11, 95)
    """
    if int(columns) < 1 or int(gap) < 0:
        raise ValueError(f"columns must be >= 1 and gap >= 0, got columns={columns}, gap={gap}")
    tiles = normalize_channels(activation)
    height, width, count = tiles.shape
    columns = min(int(columns), count)
    rows = -(-count // columns)
    grid = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap),
                   np.nan, dtype="float32")
    for index in range(count):
        top = (index // columns) * (height + gap)
        left = (index % columns) * (width + gap)
        grid[top:top + height, left:left + width] = tiles[:, :, index]
    return grid


# ---------------------------------------------------------------- filters

def filter_weights(model, layer: str | int) -> np.ndarray:
    """Return a convolution layer's kernel, shape (kernel height, kernel width, in, out).

    Example:
        >>> filter_weights(scratch, "conv1").shape          # doctest: +SKIP
        (3, 3, 3, 32)
    """
    found = get_layer(model, layer)
    if not isinstance(found, _CONV_TYPES):
        conv = [name for name in layer_names(model) if isinstance(get_layer(model, name), _CONV_TYPES)]
        raise ValueError(f"layer {found.name!r} ({type(found).__name__}) has no convolution "
                         f"kernel. Convolution layers: {', '.join(conv)}")
    weights = found.get_weights()
    kernel = np.asarray(weights[0])
    if isinstance(found, keras.layers.DepthwiseConv2D):  # (kh, kw, in, multiplier)
        kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], 1, -1)
    return kernel


def first_layer_rgb(kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Return a first-layer kernel as RGB pictures, one per filter: shape (filters, kh, kw, 3).

    ``"normalized"``: each filter min-max scaled to [0, 1] (mid-grey is not zero);
    ``"positive"`` / ``"negative"``: the positive and the negative weights, each divided by
    the filter's largest absolute weight (black is zero) - what excites and what inhibits.

    Example:
        >>> views = first_layer_rgb(np.random.randn(3, 3, 3, 8))
        >>> views["positive"].shape
        (8, 3, 3, 3)
    """
    kernel = np.asarray(kernel, dtype="float32")
    if kernel.ndim != 4 or kernel.shape[2] != 3:
        raise ValueError(f"a first-layer kernel has shape (kh, kw, 3, filters) for RGB input, "
                         f"got {kernel.shape}")
    filters = np.moveaxis(kernel, -1, 0)  # (filters, kh, kw, 3)
    low = filters.min(axis=(1, 2, 3), keepdims=True)
    high = filters.max(axis=(1, 2, 3), keepdims=True)
    largest = np.maximum(np.abs(filters).max(axis=(1, 2, 3), keepdims=True), 1e-12)
    return {
        "normalized": (filters - low) / np.maximum(high - low, 1e-12),
        "positive": np.maximum(filters, 0) / largest,
        "negative": np.maximum(-filters, 0) / largest,
    }


# ---------------------------------------------------------------- filter patterns (gradient ascent)

_ASCENT_STEPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _ascent_step(extractor, border: int):
    """Return a compiled gradient-ascent step for ``extractor`` (cached per extractor)."""
    cache = _ASCENT_STEPS.setdefault(extractor, {})
    if border not in cache:
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
            # Normalised gradients: every step has the same size, whatever the layer's scale.
            rms = tf.sqrt(tf.reduce_mean(tf.square(gradients), axis=[1, 2, 3], keepdims=True))
            return images + step_size * gradients / (rms + 1e-8)

        cache[border] = step
    return cache[border]


def _deprocess(images: np.ndarray) -> np.ndarray:
    """Standardise each image and map it to [0, 1] for display (as in the lectures)."""
    mean = images.mean(axis=(1, 2, 3), keepdims=True)
    std = images.std(axis=(1, 2, 3), keepdims=True)
    return np.clip((images - mean) / np.maximum(std, 1e-5) * 0.15 + 0.5, 0, 1).astype("float32")


_PATTERN_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _pattern_model(model, layer, linear: bool):
    """Return (model from input to ``layer``'s maps, refresh weights), before its ReLU if ``linear``."""
    cache = _PATTERN_MODELS.setdefault(model, {})
    key = (id(layer), bool(linear))
    if key not in cache:
        stripped = _without_activation(layer) if linear else None
        replace = {id(layer): stripped[0]} if stripped else {}
        inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        found: dict = {}
        _rebuild(model, inputs, {id(layer)}, found, replace)
        if id(layer) not in found:
            raise ValueError(f"layer {layer.name!r} is not on the path to the model's output")
        cache[key] = (keras.Model(inputs, found[id(layer)], name=f"{model.name}_patterns"),
                      stripped[1] if stripped else (lambda: None))
    return cache[key]


def filter_patterns(model, layer: str | int, indices: Iterable[int], steps: int = 30,
                    step_size: float = 0.02, input_range: tuple[float, float] = (0.0, 255.0),
                    image_size: tuple[int, int] | None = None, seed: int = 0,
                    border: int = 2, for_display: bool = True,
                    linear: bool = True) -> np.ndarray:
    """Return the input patterns that most excite filters ``indices`` of ``layer``.

    Gradient ascent on the input: start from grey noise, and ``steps`` times move the image
    along the (RMS-normalised) gradient of the filter's mean activation, ignoring ``border``
    pixels at the edge of the map. All filters are optimised together as one batch.
    ``input_range`` is the range of the pixels the model expects (0-255 for the course
    models, -1 to 1 for a bare MobileNetV2); each step moves pixels by about
    ``step_size * (high - low)``. In quick mode ``steps`` is capped at
    ``QUICK_MAX_ASCENT_STEPS``. With ``linear`` (the default) the response is taken *before*
    the layer's ReLU (a clone of the layer with a linear activation, or the input of a ReLU
    layer), as tf-keras-vis does: a filter that is silent on the grey start image would
    otherwise have a zero gradient and never move. ReLU is monotonic, so the same pattern
    also excites the filter after it. Returns (len(indices), height, width, channels) in [0, 1],
    each image standardised for display; ``for_display=False`` returns the raw optimised
    inputs (in ``input_range`` units) to feed back into the model.

    Example:
        >>> filter_patterns(scratch, "conv2", [0, 1, 2], steps=20).shape     # doctest: +SKIP
        (3, 150, 150, 3)
    """
    found = get_layer(model, layer)
    if not _is_spatial(found):
        raise ValueError(f"layer {found.name!r} has output shape {tuple(found.output.shape[1:])}: "
                         f"gradient ascent needs a layer with feature maps, e.g. "
                         f"{', '.join(feature_map_layers(model)[:6])}")
    channels = int(found.output.shape[-1])
    indices = [int(index) for index in indices]
    if not indices or any(not 0 <= index < channels for index in indices):
        raise ValueError(f"filter indices must be in 0..{channels - 1} for layer {found.name!r}, "
                         f"got {indices}")
    if int(steps) < 0 or float(step_size) <= 0:
        raise ValueError(f"steps must be >= 0 and step_size > 0, got {steps}, {step_size}")
    if config.quick_mode():
        steps = min(int(steps), QUICK_MAX_ASCENT_STEPS)
    low, high = (float(value) for value in input_range)
    if not high > low:
        raise ValueError(f"input_range must be (low, high) with high > low, got {input_range}")
    input_shape = tuple(model.inputs[0].shape[1:])
    height, width = image_size or input_shape[:2]
    if height is None or width is None:
        raise ValueError("the model accepts any image size: pass image_size=(height, width)")
    extractor, refresh = _pattern_model(model, found, linear)
    refresh()
    step = _ascent_step(extractor, int(border))
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.45, 0.55, size=(len(indices), int(height), int(width), input_shape[2]))
    images = tf.constant(low + (high - low) * noise, dtype="float32")
    one_hot = tf.one_hot(indices, channels)
    size = tf.constant(float(step_size) * (high - low))
    for _ in range(int(steps)):
        images = step(images, one_hot, size)
    return _deprocess(images.numpy()) if for_display else images.numpy()


def filter_pattern(model, layer: str | int, index: int, steps: int = 30, **options) -> np.ndarray:
    """Return the pattern that most excites filter ``index`` of ``layer``: (height, width, 3).

    One filter of ``filter_patterns`` (same options).

    Example:
        >>> filter_pattern(scratch, "conv3", 7).shape            # doctest: +SKIP
        (150, 150, 3)
    """
    return filter_patterns(model, layer, [index], steps=steps, **options)[0]


# ---------------------------------------------------------------- Grad-CAM

_GRADCAM_MODELS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SQUASHING = {"sigmoid", "softmax"}


def _without_activation(layer, names: set[str] | None = None):
    """Return (replacement, refresh) computing ``layer`` without its activation, or None.

    ``names`` lists the activations to strip (None: any non-linear one). A layer with a fused
    activation (``Dense(..., activation="sigmoid")``, ``Conv2D(..., activation="relu")``) is
    replaced by a clone with a linear activation (the user's layer is untouched, ``refresh()``
    copies its current weights into the clone); an activation layer (``ReLU``, ``Softmax``,
    ``Activation``) by the identity. None when there is nothing to strip.
    """
    config_ = layer.get_config()
    activation = config_.get("activation")
    if not isinstance(activation, (str, type(None))):
        activation = str(activation)
    if isinstance(layer, _ACTIVATION_TYPES + (keras.layers.Softmax,)):
        if isinstance(layer, keras.layers.Softmax):
            kind = "softmax"
        elif isinstance(layer, keras.layers.Activation):
            kind = activation
        else:
            kind = "relu"
        if kind != "linear" and (names is None or kind in names):
            return (lambda x: x), (lambda: None)
        return None
    if activation in (None, "linear") or (names is not None and activation not in names):
        return None
    clone = layer.__class__.from_config({**config_, "activation": "linear",
                                         "name": f"{layer.name}_linear"})

    def replacement(x):
        out = clone(x)
        clone.set_weights(layer.get_weights())
        return out

    return replacement, (lambda: clone.set_weights(layer.get_weights()))


def _linear_head(layer):
    """``_without_activation`` for a classifier's last layer: strips sigmoid/softmax only."""
    return _without_activation(layer, _SQUASHING)


def _gradcam_model(model, layer):
    """Return (model from input to [layer output, class logits], refresh weights function)."""
    cache = _GRADCAM_MODELS.setdefault(model, {})
    if id(layer) not in cache:
        head = model.layers[-1]
        linear = _linear_head(head)
        replace = {id(head): linear[0]} if linear else {}
        inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        found: dict = {}
        logits = _rebuild(model, inputs, {id(layer)}, found, replace)
        if id(layer) not in found:
            raise ValueError(f"layer {layer.name!r} is not on the path to the model's output")
        grad_model = keras.Model(inputs, [found[id(layer)], logits], name=f"{model.name}_gradcam")
        cache[id(layer)] = (grad_model, linear[1] if linear else (lambda: None))
    return cache[id(layer)]


def class_count(model) -> int:
    """Return how many classes a classifier separates (one sigmoid unit: 2).

    Example:
        >>> class_count(scratch)                   # doctest: +SKIP
        2
    """
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2:
        raise ValueError(f"Grad-CAM needs a classifier with output shape (batch, classes), "
                         f"got {shape}")
    return 2 if shape[1] == 1 else int(shape[1])


def predicted_class(model, image) -> int:
    """Return the class the model predicts for one image (for one sigmoid unit: 1 if p >= 0.5).

    Example:
        >>> predicted_class(scratch, image)        # doctest: +SKIP
        1
    """
    _check_model(model)
    class_count(model)
    scores = np.asarray(model(_one_image(image)[None], training=False))[0]
    if scores.shape[0] == 1:
        squashed = _linear_head(model.layers[-1]) is not None
        return int(scores[0] >= (0.5 if squashed else 0.0))
    return int(np.argmax(scores))


def gradcam(model, image, layer: str | int | None = None, class_index: int | None = None) -> np.ndarray:
    """Return the Grad-CAM heatmap of ``image`` for ``class_index``: (h, w) in [0, 1].

    The gradient of the class score (the logit, before sigmoid/softmax) with respect to
    ``layer``'s feature maps is averaged per channel; the maps weighted by those averages
    are summed, passed through ReLU and divided by their maximum (all zeros if nothing
    speaks for the class). ``layer`` defaults to ``last_conv_layer(model)``; ``class_index``
    defaults to the predicted class. For a model with one sigmoid output, class 1 is the
    positive class (the logit) and class 0 the other one (minus the logit). The model is
    never changed: the logits come from a linear clone of its last layer.

    Example:
        >>> heatmap = gradcam(scratch, image)      # doctest: +SKIP
        >>> heatmap.shape, heatmap.max()           # doctest: +SKIP
        ((7, 7), 1.0)
    """
    _check_model(model)
    classes = class_count(model)
    name = last_conv_layer(model) if layer is None else layer
    found = get_layer(model, name)
    if not _is_spatial(found):
        raise ValueError(f"layer {found.name!r} has output shape {tuple(found.output.shape[1:])}, "
                         f"not a (height, width, channels) map. Layers Grad-CAM can use: "
                         f"{', '.join(gradcam_layers(model))}")
    if class_index is None:
        class_index = predicted_class(model, image)
    if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)) \
            or not 0 <= int(class_index) < classes:
        raise ValueError(f"class_index must be an int from 0 to {classes - 1}, got {class_index!r}")
    grad_model, refresh = _gradcam_model(model, found)
    refresh()
    batch = tf.constant(_one_image(image)[None])
    with tf.GradientTape() as tape:
        maps, logits = grad_model(batch, training=False)
        if logits.shape[-1] == 1:
            score = logits[:, 0] if int(class_index) == 1 else -logits[:, 0]
        else:
            score = logits[:, int(class_index)]
    gradients = tape.gradient(score, maps)
    weights = tf.reduce_mean(gradients, axis=(0, 1, 2))
    heatmap = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1)).numpy()
    peak = heatmap.max()
    return (heatmap / peak if peak > 0 else heatmap).astype("float32")


def to_display(image) -> np.ndarray:
    """Return an image scaled to [0, 1] for drawing (0-255, 0-1 and -1..1 inputs all work).

    Example:
        >>> to_display(np.full((2, 2, 3), 255.0)).max()
        1.0
    """
    array = np.asarray(image, dtype="float32")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    low, high = float(array.min()), float(array.max())
    if low < 0:
        return (array - low) / max(high - low, 1e-12)
    return array / 255.0 if high > 1.0 else array


def _resize(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    picture = Image.fromarray(np.asarray(heatmap, dtype="float32"), mode="F")
    return np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR))


def overlay(image, heatmap: np.ndarray, alpha: float = 0.4, cmap: str = "magma") -> np.ndarray:
    """Return ``image`` with ``heatmap`` blended on top: (height, width, 3) in [0, 1].

    The heatmap is resized (bilinear) to the image, coloured with a colour-blind-safe
    colormap (``magma``, ``viridis``, ``cividis``, ``inferno`` or ``plasma``) and mixed in with
    weight ``alpha`` (0: only the photo, 1: only the heat).

    Example:
        >>> overlay(np.zeros((8, 8, 3)), np.ones((2, 2)), alpha=1.0).shape
        (8, 8, 3)
    """
    import matplotlib

    safe = {"magma", "viridis", "cividis", "inferno", "plasma"}
    if cmap not in safe:
        raise ValueError(f"cmap must be one of the colour-blind-safe maps {sorted(safe)}, got {cmap!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    picture = to_display(image)
    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=-1)
    heat = np.clip(_resize(heatmap, picture.shape[0], picture.shape[1]), 0, 1)
    coloured = matplotlib.colormaps[cmap](heat)[:, :, :3]
    return ((1 - alpha) * picture[:, :, :3] + alpha * coloured).astype("float32")


# ---------------------------------------------------------------- drawing (no computing)

def plot_feature_map(activation: np.ndarray, channel: int, title: str = "",
                     figure: Figure | None = None) -> Figure:
    """Draw one channel of a feature-map stack; return the Figure (no axis ticks: pixels).

    Passing the ``figure`` returned by an earlier call redraws it in place (what the
    explorer does on every slider move: cheaper than a new figure).
    """
    plane = select_channel(activation, channel)
    if figure is None or not figure.axes or not figure.axes[0].images:
        # Small and tick-free on purpose: the explorer redraws this on every slider move.
        figure = Figure(figsize=(3.5, 3.5), dpi=100)
        axes = figure.add_subplot()
        axes.imshow(plane, cmap="viridis", interpolation="nearest")
    axes = figure.axes[0]
    image = axes.images[0]
    if image.get_array().shape != plane.shape:
        image.set_extent((-0.5, plane.shape[1] - 0.5, plane.shape[0] - 0.5, -0.5))
        axes.set_xlim(-0.5, plane.shape[1] - 0.5)
        axes.set_ylim(plane.shape[0] - 0.5, -0.5)
    image.set_data(plane)
    low, high = float(plane.min()), float(plane.max())
    image.set_clim(low, high if high > low else low + 1e-6)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(f"{title}\nchannel {channel}: values {low:.2f} to {high:.2f}", fontsize=11)
    return figure


_COLOUR_TABLES: dict[str, np.ndarray] = {}
_FONTS: dict[int, object] = {}


def _font(size: int):
    from PIL import ImageFont

    if size not in _FONTS:
        try:
            _FONTS[size] = ImageFont.load_default(size=size)
        except TypeError:  # Pillow < 10.1: one small bitmap font
            _FONTS[size] = ImageFont.load_default()
    return _FONTS[size]


def colorize(plane: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Return a 2-D array as an RGB uint8 picture, its minimum to maximum spread over ``cmap``.

    What ``imshow`` does with a colormap, without a figure (a 256-entry colour table). A
    constant array comes out in the colormap's lowest colour.

    Example:
        >>> colorize(np.array([[0.0, 1.0]])).shape
        (1, 2, 3)
    """
    import matplotlib

    if cmap not in _COLOUR_TABLES:
        table = matplotlib.colormaps[cmap](np.linspace(0, 1, 256))[:, :3]
        _COLOUR_TABLES[cmap] = np.round(table * 255).astype(np.uint8)
    plane = np.asarray(plane, dtype="float32")
    if plane.ndim != 2:
        raise ValueError(f"colorize needs a 2-D array, got shape {plane.shape}")
    low, high = float(plane.min()), float(plane.max())
    scale = 256.0 / (high - low) if high > low else 0.0  # matplotlib's own binning into 256
    index = np.clip((plane - low) * scale, 0, 255).astype(np.uint8)
    return _COLOUR_TABLES[cmap][index]


def feature_map_picture(plane: np.ndarray, title: str = "", size: int = 288,
                        cmap: str = "viridis") -> np.ndarray:
    """Return one feature map drawn as an RGB uint8 picture: caption, map, colour scale.

    The map is ``colorize(plane)`` enlarged by a whole factor (nearest neighbour, so each
    activation stays a crisp square) to at least ``size`` pixels on its longer side, under
    a white band holding ``title`` (one line) and the value range, above a colour scale. Drawn with
    NumPy and Pillow: a few milliseconds, which is what lets the explorer redraw on every
    slider move (a matplotlib figure takes tens of milliseconds). The map occupies rows
    ``FEATURE_MAP_TOP:`` and columns ``0:`` of the picture.

    Example:
        >>> feature_map_picture(np.eye(4), "identity").dtype
        dtype('uint8')
    """
    from PIL import Image, ImageDraw

    plane = np.asarray(plane, dtype="float32")
    if plane.ndim != 2:
        raise ValueError(f"a feature map is 2-D, got shape {plane.shape}")
    factor = max(1, -(-int(size) // max(plane.shape)))
    mapped = colorize(plane, cmap).repeat(factor, axis=0).repeat(factor, axis=1)
    font = _font(13)
    low, high = float(plane.min()), float(plane.max())
    values = f"values {low:.2f} to {high:.2f}" if high > low else f"all values {low:.2f} (silent)"
    lines = [" · ".join(line for line in str(title).split("\n") if line), values]
    text_width = max(int(font.getlength(line)) for line in lines) + 8
    width = max(mapped.shape[1], text_width)
    scale_height = 22
    picture = Image.new("RGB", (width, FEATURE_MAP_TOP + mapped.shape[0] + scale_height), "white")
    picture.paste(Image.fromarray(mapped), (0, FEATURE_MAP_TOP))
    draw = ImageDraw.Draw(picture)
    draw.multiline_text((4, 3), "\n".join(lines), fill="black", font=font, spacing=3)
    bar = np.linspace(0, 1, mapped.shape[1], dtype="float32")[None].repeat(6, axis=0)
    top = FEATURE_MAP_TOP + mapped.shape[0] + 2
    picture.paste(Image.fromarray(colorize(bar, cmap)), (0, top))
    small = _font(10)
    draw.text((0, top + 7), f"{low:.2f}", fill="black", font=small)
    label = f"{high:.2f}"
    draw.text((mapped.shape[1] - int(small.getlength(label)), top + 7), label, fill="black",
              font=small)
    return np.asarray(picture)


#: Row where the map starts in ``feature_map_picture`` (below a two-line caption band).
FEATURE_MAP_TOP = 38


def gradcam_picture(image, heatmap: np.ndarray, alpha: float = 0.4, title: str = "",
                    cmap: str = "magma") -> np.ndarray:
    """Return the photo and its Grad-CAM overlay side by side, captioned: RGB uint8.

    The fast drawing the Grad-CAM explorer redraws on every blend-slider move
    (``overlay`` plus Pillow text, no matplotlib); ``plot_gradcam`` is the figure version.

    Example:
        >>> gradcam_picture(np.zeros((8, 8, 3)), np.ones((2, 2)), title="x").dtype
        dtype('uint8')
    """
    from PIL import Image, ImageDraw

    photo = np.round(to_display(image)[:, :, :3] * 255).astype(np.uint8)
    blended = np.round(overlay(image, heatmap, alpha, cmap) * 255).astype(np.uint8)
    gap = np.full((photo.shape[0], 8, 3), 255, dtype=np.uint8)
    pair = np.concatenate([photo, gap, blended], axis=1)
    font = _font(13)
    lines = [str(title), f"left: photo · right: Grad-CAM heat ({cmap}) blended at {alpha:.2f}"]
    width = max(pair.shape[1], max(int(font.getlength(line)) for line in lines) + 8)
    picture = Image.new("RGB", (width, FEATURE_MAP_TOP + pair.shape[0]), "white")
    picture.paste(Image.fromarray(pair), (0, FEATURE_MAP_TOP))
    ImageDraw.Draw(picture).multiline_text((4, 3), "\n".join(lines), fill="black", font=font,
                                           spacing=3)
    return np.asarray(picture)


def plot_channel_grid(activation: np.ndarray, title: str = "", columns: int | None = None) -> Figure:
    """Draw ``channel_grid(activation)`` (every channel of a layer, normalised) as a Figure.

    ``columns`` defaults to 16, or 32/64 for layers with more than 128/512 channels.
    """
    import matplotlib

    count = activation.shape[-1]
    if columns is None:
        columns = 16 if count <= 128 else 32 if count <= 512 else 64
    grid = channel_grid(activation, columns=columns)
    aspect = grid.shape[0] / grid.shape[1]
    figure = Figure(figsize=(12, max(1.5, 12 * aspect + 0.6)), dpi=100)
    axes = figure.add_subplot()
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="white")  # 0 (silent) is black
    axes.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    per_row = min(columns, count)
    axes.set_title(f"{title}: all {count} channels, {activation.shape[0]}x{activation.shape[1]} "
                   f"each\n(channel k at row k // {per_row}, column k % {per_row}; "
                   f"black = silent for this image)", fontsize=12)
    return figure


def plot_first_layer_filters(kernel: np.ndarray, title: str = "first-layer filters",
                             columns: int = 16) -> Figure:
    """Draw first-layer filters in colour: normalised, positive part, negative part (3 rows each)."""
    views = first_layer_rgb(kernel)
    count = views["normalized"].shape[0]
    columns = min(columns, count)
    rows = -(-count // columns)
    figure = Figure(figsize=(columns * 0.75, 3 * rows * 0.75 + 1.2), dpi=100)
    grid = figure.add_gridspec(3 * rows, columns)
    labels = {"normalized": "normalised", "positive": "positive weights",
              "negative": "negative weights"}
    for block, key in enumerate(("normalized", "positive", "negative")):
        for index in range(count):
            axes = figure.add_subplot(grid[block * rows + index // columns, index % columns])
            axes.imshow(views[key][index], interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if index == 0:
                axes.set_ylabel(labels[key], rotation=0, ha="right", va="center", fontsize=10)
    figure.suptitle(f"{title} ({count} filters of {kernel.shape[0]}x{kernel.shape[1]}x3)",
                    fontsize=13)
    return figure


def plot_filter_patterns(patterns: np.ndarray, indices: Sequence[int], title: str = "",
                         columns: int = 8) -> Figure:
    """Draw filter patterns (from ``filter_patterns``) in a grid, each labelled by its index."""
    count = len(patterns)
    columns = min(columns, count)
    rows = -(-count // columns)
    figure = Figure(figsize=(1.8 * columns, 1.9 * rows + 0.5), dpi=100)
    for slot, (pattern, index) in enumerate(zip(patterns, indices)):
        axes = figure.add_subplot(rows, columns, slot + 1)
        axes.imshow(pattern)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"filter {index}", fontsize=10)
    figure.suptitle(title, fontsize=13)
    return figure


def plot_gradcam(image, heatmap: np.ndarray, alpha: float = 0.4, title: str = "") -> Figure:
    """Draw the photo, the raw Grad-CAM heatmap and the overlay side by side."""
    figure = Figure(figsize=(11, 4), dpi=100, layout="constrained")
    panels = figure.subplots(1, 3)
    panels[0].imshow(to_display(image))
    panels[0].set_title("image")
    shown = panels[1].imshow(heatmap, cmap="magma", vmin=0, vmax=1)
    panels[1].set_title(f"Grad-CAM {heatmap.shape[0]}x{heatmap.shape[1]}")
    figure.colorbar(shown, ax=panels[1], fraction=0.046, label="importance")
    panels[2].imshow(overlay(image, heatmap, alpha))
    panels[2].set_title(f"overlay (alpha {alpha:.2f})")
    for axes in panels:
        axes.set_xticks([])
        axes.set_yticks([])
    figure.suptitle(title, fontsize=13)
    return figure
