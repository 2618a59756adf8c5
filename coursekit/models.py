"""The lesson architectures as functions: sizes are arguments, nothing is hard-coded.

Lessons 3-4: the CNN built from scratch (``scratch_cnn`` and friends).
Lesson 5: pretrained ImageNet bases from ``keras.applications`` (``pretrained_base``).
"""

from __future__ import annotations

from coursekit.config import import_keras

keras = import_keras()

# ---------------------------------------------------------------- lessons 3-4: CNN from scratch
# Contents: the lecture CNN (Sequential and Functional), the augmentation block, convolution
# by hand (kernel presets, ``apply_kernel``) and the shape/parameter calculator of lesson 3.

import math  # noqa: E402  (kept inside this section so lesson sections stay independent)
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

#: Filters of the four Conv2D blocks of the lecture CNN (Chollet, "small data" chapter).
LECTURE_FILTERS = (32, 64, 128, 128)


def _check_cnn_arguments(input_shape, filters, dense_units, dropout, l2) -> tuple[int, int, int]:
    if len(input_shape) != 3 or any(int(size) <= 0 for size in input_shape):
        raise ValueError(f"input_shape must be (height, width, channels) of positive ints, "
                         f"got {input_shape!r}")
    if not filters or any(int(count) <= 0 for count in filters):
        raise ValueError(f"filters must be a non-empty sequence of positive ints, got {filters!r}")
    if int(dense_units) <= 0:
        raise ValueError(f"dense_units must be a positive int, got {dense_units!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if float(l2) < 0.0:
        raise ValueError(f"l2 must be >= 0 (0 switches it off), got {l2!r}")
    height, width = int(input_shape[0]), int(input_shape[1])
    for _ in filters:  # each block: 3x3 'valid' conv (-2), then 2x2 pooling (//2)
        height, width = (height - 2) // 2, (width - 2) // 2
    if height < 1 or width < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for {len(filters)} "
                         f"conv/pool blocks; use larger images or fewer filters")
    return int(input_shape[0]), int(input_shape[1]), int(input_shape[2])


def _cnn_layers(filters, dense_units, dropout, l2) -> list:
    """The layers after the input (and augmentation) of the lecture CNN, freshly created."""
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.layers.Rescaling(1.0 / 255, name="rescaling")]
    for index, count in enumerate(filters, start=1):
        layers.append(keras.layers.Conv2D(int(count), 3, activation="relu",
                                          kernel_regularizer=regularizer, name=f"conv{index}"))
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{index}"))
    layers.append(keras.layers.Flatten(name="flatten"))
    if dropout:
        layers.append(keras.layers.Dropout(float(dropout), name="dropout"))
    layers.append(keras.layers.Dense(int(dense_units), activation="relu",
                                     kernel_regularizer=regularizer, name="dense"))
    layers.append(keras.layers.Dense(1, activation="sigmoid", name="output"))
    return layers


def scratch_cnn(input_shape: Sequence[int] = (150, 150, 3),
                filters: Sequence[int] = LECTURE_FILTERS,
                dense_units: int = 512,
                dropout: float = 0.0,
                l2: float = 0.0,
                augmentation=None,
                name: str = "scratch_cnn"):
    """Return the lecture CNN as an uncompiled ``keras.Sequential`` model.

    Layers: [augmentation] -> Rescaling(1/255) -> (Conv2D 3x3 relu -> MaxPooling2D 2x2) per
    entry of ``filters`` -> Flatten -> [Dropout] -> Dense(dense_units, relu) -> Dense(1, sigmoid).
    Inputs are raw pixels in 0-255 (what ``image_dataset_from_directory`` yields); the model
    rescales them itself, so a saved model can be fed a photo directly. ``l2`` > 0 adds an L2
    weight penalty to every Conv2D and Dense kernel. ``augmentation`` is a Keras layer (for
    example ``augmentation_layers()``), active only while training. Rescaling and augmentation
    have no weights, so the parameter count is that of the lecture: 3,453,121 at 150x150.

    Example:
        >>> model = scratch_cnn()
        >>> model.count_params()
        3453121
        >>> scratch_cnn((64, 64, 3), dropout=0.5).output_shape
        (None, 1)
    """
    _check_cnn_arguments(input_shape, filters, dense_units, dropout, l2)
    layers = [keras.Input(shape=tuple(int(size) for size in input_shape), name="image")]
    if augmentation is not None:
        if not isinstance(augmentation, keras.layers.Layer):
            raise ValueError(f"augmentation must be a Keras layer (e.g. augmentation_layers()) "
                             f"or None, got {type(augmentation).__name__}")
        layers.append(augmentation)
    layers += _cnn_layers(filters, dense_units, dropout, l2)
    return keras.Sequential(layers, name=name)


def scratch_cnn_functional(input_shape: Sequence[int] = (150, 150, 3),
                           filters: Sequence[int] = LECTURE_FILTERS,
                           dense_units: int = 512,
                           dropout: float = 0.0,
                           l2: float = 0.0,
                           augmentation=None,
                           name: str = "scratch_cnn_functional"):
    """Return the same CNN as ``scratch_cnn``, written with the Functional API.

    Same layers, names and parameter count; a ``keras.Model`` built by calling each layer on
    the previous tensor, which is the style lesson 6 needs (any layer's output can become
    a model output).

    Example:
        >>> scratch_cnn_functional().count_params()
        3453121
    """
    _check_cnn_arguments(input_shape, filters, dense_units, dropout, l2)
    inputs = keras.Input(shape=tuple(int(size) for size in input_shape), name="image")
    x = inputs
    if augmentation is not None:
        if not isinstance(augmentation, keras.layers.Layer):
            raise ValueError(f"augmentation must be a Keras layer or None, "
                             f"got {type(augmentation).__name__}")
        x = augmentation(x)
    for layer in _cnn_layers(filters, dense_units, dropout, l2):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def augmentation_layers(flip: str | None = "horizontal", rotation: float = 0.1,
                        zoom: float = 0.2, translation: float = 0.1, contrast: float = 0.1,
                        seed: int | None = None, name: str = "augmentation"):
    """Return a ``keras.Sequential`` of random preprocessing layers (active only in training).

    ``flip`` is "horizontal", "vertical", "horizontal_and_vertical" or None; ``rotation`` is a
    fraction of a full turn (0.1 = up to +-36 degrees); ``zoom`` and ``translation`` are
    fractions of the image size; ``contrast`` a factor. A strength of 0 leaves that layer out.
    The legacy ``ImageDataGenerator(rotation_range=40, width_shift_range=0.2, zoom_range=0.2,
    horizontal_flip=True)`` corresponds to ``augmentation_layers(rotation=40/360,
    translation=0.2, zoom=0.2)``.

    Example:
        >>> [layer.name for layer in augmentation_layers(contrast=0).layers]
        ['random_flip', 'random_rotation', 'random_zoom', 'random_translation']
    """
    allowed_flips = (None, "horizontal", "vertical", "horizontal_and_vertical")
    if flip not in allowed_flips:
        raise ValueError(f"flip must be one of {allowed_flips}, got {flip!r}")
    for label, value, upper in (("rotation", rotation, 1.0), ("zoom", zoom, 1.0),
                                ("translation", translation, 1.0), ("contrast", contrast, 1.0)):
        if not 0.0 <= float(value) <= upper:
            raise ValueError(f"{label} must be between 0 and {upper}, got {value!r}")
    layers = []
    if flip:
        layers.append(keras.layers.RandomFlip(flip, seed=seed, name="random_flip"))
    if rotation:
        layers.append(keras.layers.RandomRotation(float(rotation), fill_mode="reflect",
                                                  seed=seed, name="random_rotation"))
    if zoom:
        layers.append(keras.layers.RandomZoom(float(zoom), fill_mode="reflect", seed=seed,
                                              name="random_zoom"))
    if translation:
        layers.append(keras.layers.RandomTranslation(float(translation), float(translation),
                                                     fill_mode="reflect", seed=seed,
                                                     name="random_translation"))
    if contrast:
        # RandomContrast clips to value_range; the CNN sees raw 0-255 pixels.
        layers.append(keras.layers.RandomContrast(float(contrast), value_range=(0, 255),
                                                  seed=seed, name="random_contrast"))
    return keras.Sequential(layers, name=name)


def augment_grid(image: np.ndarray, count: int = 9, seed: int = 0, **strengths) -> np.ndarray:
    """Return ``count`` randomly augmented copies of one image, shape (count, H, W, C), uint8.

    ``strengths`` are ``augmentation_layers`` arguments (flip, rotation, zoom, translation,
    contrast). The same ``seed`` gives the same copies, so a preview only changes when a
    strength changes.

    Example:
        >>> augment_grid(np.zeros((32, 32, 3), np.uint8), count=4, rotation=0.2).shape
        (4, 32, 32, 3)
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (height, width, channels), got {image.shape}")
    if int(count) < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    block = augmentation_layers(seed=seed, **strengths)
    batch = np.repeat(image[None].astype("float32"), int(count), axis=0)
    if block.layers:
        batch = keras.ops.convert_to_numpy(block(batch, training=True))
    return np.clip(batch, 0, 255).astype("uint8")


# ---- convolution by hand (lesson 3)

#: 3x3 kernels for the kernel editor; Sobel kernels as in the lecture (x: vertical edges).
KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype="float32"),
    "sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32"),
    "sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype="float32"),
    "box blur": np.full((3, 3), 1 / 9, dtype="float32"),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype="float32"),
    "laplacian (outline)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype="float32"),
}


def apply_kernel(gray: np.ndarray, kernel: np.ndarray, flip: bool = False) -> np.ndarray:
    """Return a grayscale image filtered by ``kernel`` the way a Conv2D layer does it.

    A Conv2D layer computes a cross-correlation (``scipy.signal.correlate2d``, kernel not
    flipped), mode "same" with reflected borders; ``flip=True`` computes a true mathematical
    convolution (``convolve2d``, the kernel flipped in both axes). Output is float32, same
    shape as ``gray``.

    Example:
        >>> apply_kernel(np.eye(5), KERNEL_PRESETS["identity"]).shape
        (5, 5)
    """
    from scipy import signal

    gray, kernel = np.asarray(gray, dtype="float32"), np.asarray(kernel, dtype="float32")
    if gray.ndim != 2:
        raise ValueError(f"gray must be a 2-D grayscale image, got shape {gray.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (for example 3x3), got shape {kernel.shape}")
    function = signal.convolve2d if flip else signal.correlate2d
    return function(gray, kernel, mode="same", boundary="symm").astype("float32")


# ---- shape and parameter arithmetic (lesson 3)

def conv_output_length(length: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Return the output length of a convolution along one axis.

    "valid": floor((length - kernel) / stride) + 1; "same": ceil(length / stride).

    Example:
        >>> conv_output_length(150, 3)
        148
        >>> conv_output_length(150, 3, stride=2, padding="same")
        75
    """
    length, kernel, stride = int(length), int(kernel), int(stride)
    if kernel < 1 or stride < 1:
        raise ValueError(f"kernel and stride must be positive, got kernel={kernel}, stride={stride}")
    if padding == "same":
        return math.ceil(length / stride)
    if padding == "valid":
        if length < kernel:
            raise ValueError(f"a {kernel}-wide kernel does not fit in {length} pixels "
                             f"with padding='valid'")
        return (length - kernel) // stride + 1
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def pool_output_length(length: int, pool: int = 2, stride: int | None = None,
                       padding: str = "valid") -> int:
    """Return the output length of a pooling layer along one axis (stride defaults to pool).

    Example:
        >>> pool_output_length(148, 2)
        74
        >>> pool_output_length(7, 2)
        3
    """
    return conv_output_length(length, pool, pool if stride is None else stride, padding)


def conv2d_params(in_channels: int, filters: int, kernel: int | tuple[int, int] = 3,
                  bias: bool = True) -> int:
    """Return the number of parameters of a Conv2D layer: (kh * kw * in_channels + 1) * filters.

    Example:
        >>> conv2d_params(3, 32, 3)
        896
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return (int(kh) * int(kw) * int(in_channels) + (1 if bias else 0)) * int(filters)


def dense_params(inputs: int, units: int, bias: bool = True) -> int:
    """Return the number of parameters of a Dense layer: (inputs + 1) * units.

    Example:
        >>> dense_params(6272, 512)
        3211776
    """
    return (int(inputs) + (1 if bias else 0)) * int(units)


#: Layer kinds the calculator understands, and their arguments.
LAYER_KINDS = {
    "conv": "filters, kernel=3, stride=1, padding='valid'",
    "pool": "pool=2, stride=None, padding='valid'",
    "flatten": "",
    "global_pool": "",
    "dense": "units",
    "none": "(no shape change, no parameters: dropout, rescaling, augmentation)",
}


_REQUIRED = object()


def _with_defaults(spec: tuple, arguments: list, defaults: list) -> list:
    """Fill missing trailing arguments of a ``shape_table`` spec from ``defaults``."""
    if len(arguments) > len(defaults) or _REQUIRED in defaults[len(arguments):]:
        raise ValueError(f"layer {spec!r} has the wrong number of arguments; "
                         f"expected: {LAYER_KINDS[spec[0]]}")
    return list(arguments) + defaults[len(arguments):]


def shape_table(input_shape: Sequence[int], layers: Sequence[tuple]) -> pd.DataFrame:
    """Return the output shape and parameter count of each layer, computed by hand.

    ``layers`` is a list of tuples ``(kind, *arguments)`` with ``kind`` from ``LAYER_KINDS``:
    ``("conv", 32, 3)``, ``("pool", 2)``, ``("flatten",)``, ``("dense", 512)``... The table has
    columns ``layer``, ``output_shape`` (without the batch axis) and ``params``; it is what
    ``model.summary()`` prints, worked out with the formulas of the lesson, without Keras.

    Example:
        >>> table = shape_table((150, 150, 3), [("conv", 32, 3), ("pool", 2)])
        >>> table["output_shape"].tolist(), table["params"].tolist()
        ([(148, 148, 32), (74, 74, 32)], [896, 0])
    """
    shape = tuple(int(size) for size in input_shape)
    rows = []
    for spec in layers:
        kind, *arguments = spec
        if kind == "conv":
            filters, kernel, stride, padding = _with_defaults(spec, arguments, [_REQUIRED, 3, 1, "valid"])
            if len(shape) != 3:
                raise ValueError(f"a conv layer needs a (height, width, channels) input, got {shape}")
            params = conv2d_params(shape[2], filters, kernel)
            shape = (conv_output_length(shape[0], kernel, stride, padding),
                     conv_output_length(shape[1], kernel, stride, padding), int(filters))
        elif kind == "pool":
            pool, stride, padding = _with_defaults(spec, arguments, [2, None, "valid"])
            if len(shape) != 3:
                raise ValueError(f"a pooling layer needs a (height, width, channels) input, got {shape}")
            params = 0
            shape = (pool_output_length(shape[0], pool, stride, padding),
                     pool_output_length(shape[1], pool, stride, padding), shape[2])
        elif kind == "flatten":
            params, shape = 0, (int(np.prod(shape)),)
        elif kind == "global_pool":
            params, shape = 0, (shape[-1],)
        elif kind == "dense":
            (units,) = arguments
            params = dense_params(shape[-1], units)
            shape = shape[:-1] + (int(units),)
        elif kind == "none":
            params = 0
        else:
            raise ValueError(f"unknown layer kind {kind!r}; known kinds: {', '.join(LAYER_KINDS)}")
        rows.append({"layer": " ".join(str(part) for part in spec), "output_shape": shape,
                     "params": params})
    return pd.DataFrame(rows, columns=["layer", "output_shape", "params"])


def layer_specs(model) -> list[tuple]:
    """Return the ``shape_table`` description of a Keras model's layers (its hyperparameters).

    Reads each layer's config (filters, kernel size, strides, padding, units); nested models
    (an augmentation block) and weightless layers become ``("none",)``. Raises ValueError for
    a layer kind the calculator does not know.

    Example:
        >>> layer_specs(scratch_cnn())[:3]
        [('none',), ('conv', 32, 3, 1, 'valid'), ('pool', 2, 2, 'valid')]
    """
    specs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):  # Functional models list their input
            continue
        config = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = config["kernel_size"]
            sh, sw = config["strides"]
            if kh != kw or sh != sw:
                raise ValueError(f"layer {layer.name!r}: the calculator handles square kernels "
                                 f"and strides only")
            specs.append(("conv", config["filters"], kh, sh, config["padding"]))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            specs.append(("pool", config["pool_size"][0], config["strides"][0], config["padding"]))
        elif isinstance(layer, keras.layers.Flatten):
            specs.append(("flatten",))
        elif isinstance(layer, (keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D)):
            specs.append(("global_pool",))
        elif isinstance(layer, keras.layers.Dense):
            specs.append(("dense", config["units"]))
        elif not layer.weights:
            specs.append(("none",))
        else:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) is not one the "
                             f"calculator knows; known kinds: {', '.join(LAYER_KINDS)}")
    return specs


def plot_architecture(table: pd.DataFrame, title: str = "The CNN, layer by layer"):
    """Return a matplotlib Figure drawing a ``shape_table``: one block per layer.

    Feature maps are drawn as boxes whose height follows the image size and whose width
    follows the number of channels (both on a square-root scale); flat layers are bars.
    Each block is labelled with its output shape and parameter count.

    Example:
        >>> plot_architecture(shape_table((150, 150, 3), layer_specs(scratch_cnn())))  # doctest: +SKIP
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows = [row for row in table.itertuples() if not str(row.layer).startswith("none")]
    if not rows:
        raise ValueError("the table has no layer to draw")
    spatial = [row.output_shape[0] for row in rows if len(row.output_shape) == 3]
    largest = max(spatial) if spatial else 1
    figure = Figure(figsize=(max(8.0, 1.25 * len(rows)), 4.6), layout="constrained")
    axes = figure.add_subplot()
    colors = {"conv": "#0072B2", "pool": "#56B4E9", "flatten": "#999999", "dense": "#D55E00",
              "global_pool": "#56B4E9"}
    x = 0.0
    for row in rows:
        kind = str(row.layer).split()[0]
        shape = row.output_shape
        if len(shape) == 3:
            height = 3.0 * math.sqrt(shape[0] / largest)
            width = 0.15 + 0.06 * math.sqrt(shape[2])
            label = f"{shape[0]}x{shape[1]}x{shape[2]}"
        else:
            height = 0.6 + 2.4 * min(1.0, math.log10(max(shape[0], 1)) / 4)
            width = 0.18
            label = f"{shape[0]:,}"
        axes.add_patch(Rectangle((x, -height / 2), width, height, facecolor=colors.get(kind, "#009E73"),
                                 edgecolor="black", alpha=0.85))
        axes.text(x + width / 2, height / 2 + 0.12, f"{kind}\n{label}", ha="center", va="bottom",
                  fontsize=9)
        if row.params:
            axes.text(x + width / 2, -height / 2 - 0.12, f"{row.params:,}\nparams", ha="center",
                      va="top", fontsize=8, color="0.3")
        x += width + 0.55
    axes.set_xlim(-0.3, x)
    axes.set_ylim(-2.6, 2.6)
    axes.set_axis_off()
    axes.set_title(f"{title} (total {int(table['params'].sum()):,} parameters)")
    return figure


# ---------------------------------------------------------------- lesson 5: pretrained bases
# Contents: the ImageNet bases the course knows (``BASES``), ``pretrained_base`` (real weights
# through Keras' own loader, a clear error when they cannot be had), the ImageNet classifier for
# top-5 predictions, cached feature extraction, the transfer model (base used as a layer),
# fine-tuning the top block and the table of which layers train.

import contextlib as _contextlib  # noqa: E402
import hashlib as _hashlib  # noqa: E402
import io as _io  # noqa: E402
import os as _os  # noqa: E402
import warnings as _warnings  # noqa: E402
from dataclasses import dataclass as _dataclass  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from coursekit import config as _config  # noqa: E402

_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsUnavailable(RuntimeError):
    """An ImageNet file (weights, class index) is not in Keras' cache and cannot be downloaded;
    the message says which file is needed and where to put it."""


@_dataclass(frozen=True)
class PretrainedSpec:
    """One ImageNet base from ``keras.applications`` and how Keras names its weight files."""

    name: str  # the course's name for it, e.g. "mobilenet_v2"
    application: str  # constructor in keras.applications, e.g. "MobileNetV2"
    module: str  # module in keras.applications with preprocess_input / decode_predictions
    alphas: tuple[float, ...]  # width multipliers with published weights (empty: no alpha)
    sizes: tuple[int, ...]  # square input sizes with published weights (empty: any size)
    top_block: str  # first layer of the last block: where fine-tuning starts
    default_alpha: float | None  # the width the course uses when alpha=None


#: The bases the lessons use. MobileNetV2(alpha=0.35) is the CPU-friendly default.
BASES: dict[str, PretrainedSpec] = {
    "mobilenet_v2": PretrainedSpec("mobilenet_v2", "MobileNetV2", "mobilenet_v2",
                                   (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), (96, 128, 160, 192, 224),
                                   "block_16_expand", 0.35),
    "mobilenet": PretrainedSpec("mobilenet", "MobileNet", "mobilenet", (0.25, 0.5, 0.75, 1.0),
                                (128, 160, 192, 224), "conv_dw_13", 0.25),
    "vgg16": PretrainedSpec("vgg16", "VGG16", "vgg16", (), (), "block5_conv1", None),
}

_VGG16_MD5 = {True: "64373286793e3c8b2b4e3219cbf3544b", False: "6d6bbae143d832006294945121d1f1fc"}


def _spec(name: str) -> PretrainedSpec:
    if name not in BASES:
        raise ValueError(f"unknown base {name!r}; the course knows: {', '.join(BASES)}")
    return BASES[name]


def _check_base_arguments(spec: PretrainedSpec, alpha, image_size: int) -> float | None:
    """Validate alpha and size for published weights; return alpha (None: the course default)."""
    alpha = spec.default_alpha if alpha is None else alpha
    if spec.alphas and alpha not in spec.alphas:
        raise ValueError(f"{spec.application} has ImageNet weights for alpha in {spec.alphas}, "
                         f"got alpha={alpha!r}")
    if not spec.alphas and alpha is not None:
        raise ValueError(f"{spec.application} has no width multiplier: leave alpha=None, "
                         f"got alpha={alpha!r}")
    if spec.sizes and image_size not in spec.sizes:
        raise ValueError(f"{spec.application} has ImageNet weights for square images of size "
                         f"{spec.sizes}, got {image_size}")
    return alpha


def imagenet_weights_file(name: str = "mobilenet_v2", alpha: float | None = None,
                          image_size: int = 224, include_top: bool = False) -> tuple[str, str]:
    """Return ``(file name, download URL)`` of the ImageNet weights Keras uses for a base.

    The names are exactly those ``keras.applications`` caches under ``$KERAS_HOME/models``.

    Example:
        >>> imagenet_weights_file("mobilenet_v2", 0.35, 224)[0]
        'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5'
        >>> imagenet_weights_file("vgg16", None, include_top=True)[0]
        'vgg16_weights_tf_dim_ordering_tf_kernels.h5'
    """
    spec = _spec(name)
    alpha = _check_base_arguments(spec, alpha, int(image_size))
    if name == "mobilenet_v2":
        file_name = (f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_"
                     f"{int(image_size)}{'' if include_top else '_no_top'}.h5")
        return file_name, _APPLICATIONS_URL + "mobilenet_v2/" + file_name
    if name == "mobilenet":
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[alpha]
        file_name = f"mobilenet_{alpha_text}_{int(image_size)}_tf{'' if include_top else '_no_top'}.h5"
        return file_name, _APPLICATIONS_URL + "mobilenet/" + file_name
    file_name = f"vgg16_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"
    return file_name, _APPLICATIONS_URL + "vgg16/" + file_name


def imagenet_weights_path(name: str = "mobilenet_v2", alpha: float | None = None,
                          image_size: int = 224, include_top: bool = False) -> _Path:
    """Return where the weight file belongs: Keras' cache, ``$KERAS_HOME/models/<file>``.

    Example:
        >>> imagenet_weights_path().name
        'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5'
    """
    file_name, _ = imagenet_weights_file(name, alpha, image_size, include_top)
    return _config.keras_home() / "models" / file_name


def _describe(name: str, alpha, image_size: int, include_top: bool) -> str:
    spec = _spec(name)
    alpha = spec.default_alpha if alpha is None else alpha
    alpha_text = f"alpha={alpha}" if alpha is not None else ""
    what = "with the ImageNet classifier" if include_top else "without the classifier (no top)"
    return f"{spec.application}({alpha_text}) at {image_size}x{image_size}, {what}"


def fetch_imagenet_weights(name: str = "mobilenet_v2", alpha: float | None = None,
                           image_size: int = 224, include_top: bool = False,
                           download: bool = True, quiet: bool = False) -> _Path:
    """Return the path of a base's ImageNet weight file in Keras' cache, downloading if needed.

    Uses ``keras.utils.get_file`` (Keras' own loader and cache, ``$KERAS_HOME/models``), so a
    file put there by ``coursekit.datasets.prefetch()`` or by hand is used offline.
    ``download=False`` only looks in the cache. ``quiet=True`` hides Keras' download messages.
    Raises ``WeightsUnavailable`` naming the file, its URL and the folder to put it in.

    Example:
        >>> fetch_imagenet_weights("mobilenet_v2", 0.35, 224)            # doctest: +SKIP
        PosixPath('/home/ada/.keras/models/mobilenet_v2_weights_tf_..._0.35_224_no_top.h5')
    """
    file_name, url = imagenet_weights_file(name, alpha, image_size, include_top)
    folder = _config.keras_home() / "models"
    path = folder / file_name
    md5 = _VGG16_MD5[bool(include_top)] if name == "vgg16" else None
    if path.is_file() and (md5 is None or not download):
        return path
    from coursekit import datasets

    if not path.is_file() and datasets.fill_from_mirror(f"models/{file_name}") is not None:
        return path  # copied from COURSEKIT_MIRROR (sha256 checked where the course knows it)
    reason = "download=False: only the cache was searched"
    if download:
        folder.mkdir(parents=True, exist_ok=True)
        messages = _io.StringIO()
        try:
            with _contextlib.redirect_stdout(messages) if quiet else _contextlib.nullcontext():
                fetched = keras.utils.get_file(file_name, url, cache_subdir="models",
                                               cache_dir=str(_config.keras_home()),
                                               file_hash=md5)
            return _Path(fetched)
        except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception when offline
            reason = f"download failed: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    raise WeightsUnavailable(
        f"The ImageNet weights for {_describe(name, alpha, image_size, include_top)} are not on "
        f"this machine ({reason}).\n"
        f"Keras looks for the file\n    {file_name}\nin the folder\n    {folder}\n"
        f"Download it from\n    {url}\nand put it in that folder (or set COURSEKIT_MIRROR to a "
        "folder that holds it and run `python -m coursekit prefetch`), then run this cell again.\n"
        "On a machine that can never get the weights, weights=None builds the same network with "
        "RANDOM weights: it is then not pretrained, and no transfer-learning result applies."
    )


def pretrained_base(name: str = "mobilenet_v2", input_shape=(224, 224, 3),
                    alpha: float | None = None, weights: str | None = "imagenet",
                    download: bool = True):
    """Return ``(base, preprocess_input)``: a ``keras.applications`` base without its classifier
    and the preprocessing function that matches its ImageNet weights.

    ``name`` is a key of ``BASES`` ("mobilenet_v2", "mobilenet", "vgg16"); ``alpha`` the width
    multiplier (None: the course default, 0.35 for MobileNetV2; VGG16 has none). With ``weights="imagenet"`` the real ImageNet weights are
    loaded from Keras' cache (``fetch_imagenet_weights``), or ``WeightsUnavailable`` is
    raised: never a silent fallback to random weights. ``weights=None`` builds the same network
    with random weights and says so in a warning. The base is returned as Keras builds it
    (trainable); freeze it yourself with ``base.trainable = False``. The input is the
    preprocessed image, so call ``base(preprocess_input(images))``.

    Example:
        >>> base, preprocess_input = pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35)
        >>> base.output_shape
        (None, 7, 7, 1280)
    """
    spec = _spec(name)
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3 or input_shape[0] != input_shape[1]:
        raise ValueError(f"input_shape must be (size, size, 3) for an ImageNet base, got {input_shape}")
    if input_shape[0] < 32:
        raise ValueError(f"input_shape must be at least 32x32, got {input_shape}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None (random, not pretrained), got {weights!r}")
    alpha = _check_base_arguments(spec, alpha, spec.sizes[-1] if spec.sizes else input_shape[0])
    keyword = {"alpha": alpha} if spec.alphas else {}
    if weights == "imagenet":
        path = fetch_imagenet_weights(name, alpha, input_shape[0], include_top=False,
                                      download=download)
        loaded = str(path)
    else:
        _warnings.warn(f"pretrained_base({name!r}, weights=None): RANDOM weights, NOT pretrained "
                       "on ImageNet. Results from this base are not transfer learning.",
                       UserWarning, stacklevel=2)
        loaded = None
    constructor = getattr(keras.applications, spec.application)
    base = constructor(include_top=False, weights=loaded, input_shape=input_shape, **keyword)
    return base, getattr(keras.applications, spec.module).preprocess_input


def imagenet_classifier(name: str = "mobilenet_v2", alpha: float | None = None,
                        image_size: int = 224, download: bool = True):
    """Return the full ImageNet model (base + 1000-class classifier), or None when its weights
    cannot be had, after saying so in one line.

    The classifier weights (``include_top=True``) are a separate file from the base's; a
    course mirror may lack them. Nothing is faked: without the file there are no predictions.

    Example:
        >>> classifier = imagenet_classifier("mobilenet_v2", 0.35)      # doctest: +SKIP
        Top-5 predictions skipped: mobilenet_v2_..._0.35_224.h5 (the ImageNet classifier) ...
    """
    spec = _spec(name)
    alpha = _check_base_arguments(spec, alpha, int(image_size))
    if not spec.sizes and int(image_size) != 224:
        raise ValueError(f"{spec.application}'s ImageNet classifier takes 224x224 images, "
                         f"got image_size={image_size}")
    try:
        path = fetch_imagenet_weights(name, alpha, image_size, include_top=True,
                                      download=download, quiet=True)
    except WeightsUnavailable:
        file_name, url = imagenet_weights_file(name, alpha, image_size, include_top=True)
        print(f"Top-5 predictions skipped: {file_name} (the ImageNet classifier) is not in "
              f"{_config.keras_home() / 'models'} and could not be downloaded from {url}; "
              "the lesson goes on without it.")
        return None
    keyword = {"alpha": alpha} if spec.alphas else {}
    constructor = getattr(keras.applications, spec.application)
    return constructor(include_top=True, weights=str(path),
                       input_shape=(int(image_size), int(image_size), 3), **keyword)


_CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"  # Keras' own file_hash for the class index


def imagenet_class_names(download: bool = True) -> list[str]:
    """Return the 1000 ImageNet class names in index order, from Keras' ``imagenet_class_index.json``.

    The file is the one ``decode_predictions`` reads, from Keras' cache (filled by
    ``prefetch()``) or downloaded. Raises ``WeightsUnavailable`` naming the file and folder
    when it cannot be had.

    Example:
        >>> imagenet_class_names()[281]                                    # doctest: +SKIP
        'tabby'
    """
    import json

    from coursekit import datasets

    entry = next(file for file in datasets.KERAS_FILES if file.name == "imagenet_class_index.json")
    folder = _config.keras_home() / "models"
    path = folder / entry.name
    if not path.is_file():
        datasets.fill_from_mirror(entry.cache_path)  # a classroom mirror, before any download
    if download or path.is_file():
        try:
            path = _Path(keras.utils.get_file(entry.name, entry.url, cache_subdir="models",
                                              cache_dir=str(_config.keras_home()),
                                              file_hash=_CLASS_INDEX_MD5))
        except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception when offline
            raise WeightsUnavailable(
                f"The ImageNet class index {entry.name} is not in {folder} and could not be "
                f"downloaded ({error}). Download it from {entry.url} and put it in that folder."
            ) from error
    else:
        raise WeightsUnavailable(f"The ImageNet class index {entry.name} is not in {folder}; "
                                 f"download it from {entry.url} and put it there.")
    index = json.loads(path.read_text())
    return [index[str(number)][1] for number in range(len(index))]


def top_predictions(classifier, images, name: str = "mobilenet_v2",
                    top: int = 5) -> list[list[tuple[str, float]]]:
    """Return, for each image, the ``top`` ImageNet classes as ``(class name, probability)``.

    ``images`` are raw RGB pixels (0-255), shape (N, H, W, 3) at the classifier's input size;
    they are preprocessed for the base ``name`` and decoded with Keras' ``decode_predictions``
    (which reads ``imagenet_class_index.json`` from Keras' cache).

    Example:
        >>> top_predictions(classifier, photos)[0][0]                  # doctest: +SKIP
        ('tabby', 0.61)
    """
    module = getattr(keras.applications, _spec(name).module)
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, height, width, 3), got {images.shape}")
    probabilities = classifier.predict(module.preprocess_input(images.copy()), verbose=0)
    return [[(label, float(probability)) for _, label, probability in row]
            for row in module.decode_predictions(probabilities, top=int(top))]


def weights_fingerprint(model) -> str:
    """Return a short hex digest of all of a model's weights (changes when any weight changes).

    Example:
        >>> len(weights_fingerprint(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])))
        12
    """
    digest = _hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()[:12]


def feature_cache_path(base, directory) -> _Path:
    """Return the deterministic ``.npz`` path where ``extract_features`` caches a folder's
    features: ``data_dir()/features/<base name>-<weights fingerprint>/<dataset>/<split>.npz``.

    The weights fingerprint keeps features of different weights (ImageNet, random,
    fine-tuned) apart.

    Example:
        >>> feature_cache_path(base, root / "train")                   # doctest: +SKIP
        PosixPath('.../features/mobilenetv2_0.35_224-3f5a0c1e9b2d/cats_and_dogs_filtered/train.npz')
    """
    directory = _Path(directory)
    return (_config.data_dir() / "features" / f"{base.name}-{weights_fingerprint(base)}"
            / directory.parent.name / f"{directory.name}.npz")


def extract_features(base, preprocess_input, directory, batch_size: int = 32,
                     cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Run a (frozen) base once over an image folder; return ``(features, labels)``.

    ``directory`` holds one sub-folder per class (``root / "train"``). Images are read in a
    fixed order at the base's input size, preprocessed, passed through ``base`` in inference
    mode and averaged over the spatial positions (global average pooling), so ``features``
    has shape (N, channels). Labels are class indices in sorted folder order. With
    ``cache=True`` the arrays are saved to ``feature_cache_path(base, directory)`` and reused
    when the same files are asked for again.

    Example:
        >>> features, labels = extract_features(base, preprocess_input, root / "train")  # doctest: +SKIP
        >>> features.shape
        (2000, 1280)
    """
    directory = _Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder of class sub-folders")
    size = tuple(base.input_shape[1:3])
    if None in size:
        raise ValueError(f"the base needs a fixed input size, got {base.input_shape}")
    dataset = keras.utils.image_dataset_from_directory(
        directory, image_size=size, batch_size=int(batch_size), shuffle=False, verbose=False)
    files = np.array([_os.path.relpath(path, directory) for path in dataset.file_paths])
    path = feature_cache_path(base, directory)
    if cache and path.is_file():
        with np.load(path) as stored:
            if np.array_equal(stored["files"], files):
                return stored["features"], stored["labels"]
    features, labels = [], []
    for images, batch_labels in dataset:
        output = keras.ops.convert_to_numpy(base(preprocess_input(images), training=False))
        features.append(output.mean(axis=(1, 2)) if output.ndim == 4 else output)
        labels.append(keras.ops.convert_to_numpy(batch_labels))
    features, labels = np.concatenate(features).astype("float32"), np.concatenate(labels)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part.npz")
        np.savez(partial, features=features, labels=labels, files=files)
        _os.replace(partial, path)
    return features, labels


def feature_head(feature_dim: int, dropout: float = 0.2, name: str = "head"):
    """Return the small classifier trained on cached features: Dropout -> Dense(1, sigmoid).

    Its layers have the same names and shapes as the head of ``transfer_model``, so trained
    weights can be copied across (``copy_head``).

    Example:
        >>> feature_head(1280).count_params()
        1281
    """
    if int(feature_dim) < 1:
        raise ValueError(f"feature_dim must be a positive int, got {feature_dim!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return keras.Sequential([
        keras.Input((int(feature_dim),), name="features"),
        keras.layers.Dropout(float(dropout), name="head_dropout"),
        keras.layers.Dense(1, activation="sigmoid", name="output"),
    ], name=name)


def transfer_model(base, preprocess_input, augmentation=None, dropout: float = 0.2,
                   name: str = "transfer_model"):
    """Return image -> [augmentation] -> preprocess_input -> base -> pooling -> head, uncompiled.

    The base is used as one layer of the outer model and called with ``training=False`` (the
    classic idiom: BatchNorm in inference mode when you call the model yourself). In Keras 3,
    ``fit`` overrides that with ``training=True``, so for fine-tuning keep the BatchNorm layers
    frozen as well (``unfreeze_from`` does). The base is shared, not copied: freezing or
    unfreezing ``base`` changes what trains here.
    Inputs are raw pixels (0-255) at the base's input size.

    Example:
        >>> model = transfer_model(base, preprocess_input)               # doctest: +SKIP
        >>> [layer.name for layer in model.layers][-3:]
        ['pool', 'head_dropout', 'output']
    """
    if augmentation is not None and not isinstance(augmentation, keras.layers.Layer):
        raise ValueError(f"augmentation must be a Keras layer or None, got {type(augmentation).__name__}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    inputs = keras.Input(tuple(base.input_shape[1:]), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = preprocess_input(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(float(dropout), name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def copy_head(source, target, layer: str = "output") -> None:
    """Copy the weights of layer ``layer`` from ``source`` to ``target`` (same shapes needed).

    Lets the head trained fast on cached features start the end-to-end model.

    Example:
        >>> copy_head(head, model)                                        # doctest: +SKIP
    """
    weights = source.get_layer(layer).get_weights()
    shapes = [w.shape for w in target.get_layer(layer).get_weights()]
    if [w.shape for w in weights] != shapes:
        raise ValueError(f"layer {layer!r} has shapes {[w.shape for w in weights]} in the source "
                         f"and {shapes} in the target")
    target.get_layer(layer).set_weights(weights)


def _find_layer_index(model, layer) -> int:
    names = [item.name for item in model.layers]
    if isinstance(layer, int) and not isinstance(layer, bool):
        if not -len(names) <= layer < len(names):
            raise ValueError(f"layer index {layer} is out of range: the model has {len(names)} layers")
        return layer % len(names)
    if layer not in names:
        raise ValueError(f"no layer named {layer!r}; the layers are: {', '.join(names)}")
    return names.index(layer)


def unfreeze_from(base, first_trainable, keep_batchnorm_frozen: bool = True) -> list[str]:
    """Make ``base`` trainable from layer ``first_trainable`` (a name or an index) onwards,
    keep every layer before it frozen, and return the names of the layers with weights that
    now train.

    With ``keep_batchnorm_frozen`` (the default) the BatchNormalization layers stay frozen
    too. In Keras 3 that is what keeps them in inference mode while fine-tuning: ``fit``
    calls the model with ``training=True`` and Keras passes that value down to every layer,
    overriding a ``training=False`` written when the model was built; a frozen
    BatchNormalization layer always uses its moving mean and variance.
    This changes the ``trainable`` flags of the base you pass: that is its purpose.

    Example:
        >>> unfreeze_from(base, BASES["mobilenet_v2"].top_block)[:2]       # doctest: +SKIP
        ['block_16_expand', 'block_16_depthwise']
    """
    start = _find_layer_index(base, first_trainable)
    base.trainable = True
    for index, layer in enumerate(base.layers):
        batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= start and not (keep_batchnorm_frozen and batchnorm)
    return [layer.name for layer in base.layers if layer.trainable and layer.weights]


def parameter_counts(model) -> dict[str, int]:
    """Return the number of parameters of a model: total, trainable and frozen.

    Example:
        >>> parameter_counts(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
        {'total': 8, 'trainable': 8, 'frozen': 0}
    """
    trainable = int(sum(np.prod(variable.shape) for variable in model.trainable_weights))
    frozen = int(sum(np.prod(variable.shape) for variable in model.non_trainable_weights))
    return {"total": trainable + frozen, "trainable": trainable, "frozen": frozen}


def trainable_layers(model) -> "pd.DataFrame":
    """Return one row per layer: name, type, trainable flag, parameters and trainable parameters.

    Nested models (a pretrained base used as a layer) are one row; pass the base itself to see
    its layers.

    Example:
        >>> trainable_layers(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
          layer   type  trainable  parameters  trainable parameters
        0  dense  Dense       True           8                     8
    """
    rows = []
    for layer in model.layers:
        counts = parameter_counts(layer)
        rows.append({"layer": layer.name, "type": type(layer).__name__,
                     "trainable": bool(layer.trainable), "parameters": counts["total"],
                     "trainable parameters": counts["trainable"]})
    return pd.DataFrame(rows, columns=["layer", "type", "trainable", "parameters",
                                       "trainable parameters"])
