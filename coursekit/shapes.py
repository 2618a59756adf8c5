"""Output shapes and parameter counts of a CNN, worked out by hand (lesson 3), and a drawing.

Two formulas do it: a convolution keeps ``(n - k) // s + 1`` pixels per side ("valid") or
``ceil(n / s)`` ("same"); a layer has one weight per input and kernel position per output, plus
one bias per output. ``shape_table`` applies them to a list of layers without Keras, and
``layer_specs`` reads that list from a Keras model, so the two can be compared.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import pandas as pd


def conv_output_length(length: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Return the output length of a convolution along one axis.

    "valid": floor((length - kernel) / stride) + 1; "same": ceil(length / stride).

    Example:
        >>> conv_output_length(150, 3), conv_output_length(150, 3, stride=2, padding="same")
        (148, 75)
    """
    length, kernel, stride = int(length), int(kernel), int(stride)
    if kernel < 1 or stride < 1:
        raise ValueError(f"kernel and stride must be positive, got kernel={kernel}, stride={stride}")
    if padding == "same":
        return math.ceil(length / stride)
    if padding != "valid":
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    if length < kernel:
        raise ValueError(f"a {kernel}-wide kernel does not fit in {length} pixels with "
                         "padding='valid'")
    return (length - kernel) // stride + 1


def pool_output_length(length: int, pool: int = 2, stride: int | None = None,
                       padding: str = "valid") -> int:
    """Return the output length of a pooling layer along one axis (stride defaults to pool).

    Example:
        >>> pool_output_length(148), pool_output_length(7)
        (74, 3)
    """
    return conv_output_length(length, pool, pool if stride is None else stride, padding)


def conv2d_params(in_channels: int, filters: int, kernel: int = 3, bias: bool = True) -> int:
    """Return the number of parameters of a Conv2D layer: (k * k * in_channels + 1) * filters.

    Example:
        >>> conv2d_params(3, 32, 3)
        896
    """
    return (int(kernel) ** 2 * int(in_channels) + (1 if bias else 0)) * int(filters)


def dense_params(inputs: int, units: int, bias: bool = True) -> int:
    """Return the number of parameters of a Dense layer: (inputs + 1) * units.

    Example:
        >>> dense_params(7 * 7 * 128, 512)
        3211776
    """
    return (int(inputs) + (1 if bias else 0)) * int(units)


def _image(shape: tuple, kind: str) -> tuple:
    if len(shape) != 3:
        raise ValueError(f"a {kind} layer needs a (height, width, channels) input, got {shape}")
    return shape


def _conv(shape, filters, kernel=3, stride=1, padding="valid"):
    height, width, channels = _image(shape, "conv")
    sides = (conv_output_length(side, kernel, stride, padding) for side in (height, width))
    return (*sides, int(filters)), conv2d_params(channels, filters, kernel)


def _pool(shape, pool=2, stride=None, padding="valid"):
    height, width, channels = _image(shape, "pooling")
    sides = (pool_output_length(side, pool, stride, padding) for side in (height, width))
    return (*sides, channels), 0


#: The layer kinds ``shape_table`` knows: kind -> (input shape, *arguments) -> (shape, params).
LAYER_KINDS = {
    "conv": _conv,
    "pool": _pool,
    "flatten": lambda shape: ((math.prod(shape),), 0),
    "global_pool": lambda shape: ((shape[-1],), 0),
    "dense": lambda shape, units: (shape[:-1] + (int(units),), dense_params(shape[-1], units)),
    "none": lambda shape: (shape, 0),  # dropout, rescaling, augmentation: nothing changes
}


def shape_table(input_shape: Sequence[int], layers: Sequence[tuple]) -> pd.DataFrame:
    """Return the output shape and parameter count of each layer, computed by hand.

    ``layers`` is a list of tuples ``(kind, *arguments)``, ``kind`` a key of ``LAYER_KINDS``:
    ``("conv", filters, kernel=3, stride=1, padding="valid")``, ``("pool", pool=2)``,
    ``("flatten",)``, ``("global_pool",)``, ``("dense", units)``, ``("none",)``. The table has
    columns ``layer``, ``output_shape`` (without the batch axis) and ``params``: what
    ``model.summary()`` prints, worked out with the formulas of the lesson.

    Example:
        >>> table = shape_table((150, 150, 3), [("conv", 32, 3), ("pool", 2), ("flatten",)])
        >>> table["output_shape"].tolist(), table["params"].tolist()
        ([(148, 148, 32), (74, 74, 32), (175232,)], [896, 0, 0])
    """
    shape = tuple(int(size) for size in input_shape)
    rows = []
    for spec in layers:
        kind, *arguments = spec
        if kind not in LAYER_KINDS:
            raise ValueError(f"unknown layer kind {kind!r}; known kinds: {', '.join(LAYER_KINDS)}")
        step = LAYER_KINDS[kind]
        try:
            inspect.signature(step).bind(shape, *arguments)
        except TypeError:
            raise ValueError(f"layer {spec!r} has the wrong arguments; {kind} takes "
                             f"{inspect.signature(step)} after the input shape") from None
        shape, params = step(shape, *arguments)
        rows.append({"layer": " ".join(str(part) for part in spec), "output_shape": shape,
                     "params": params})
    return pd.DataFrame(rows, columns=["layer", "output_shape", "params"])


def layer_specs(model) -> list[tuple]:
    """Return the ``shape_table`` description of a Keras model's layers (its hyperparameters).

    Reads each layer's config (filters, kernel size, strides, padding, units); nested models
    (an augmentation block) and weightless layers become ``("none",)``. Raises ValueError for
    a layer kind the calculator does not know.

    Example:
        >>> from coursekit.cnn import scratch_cnn
        >>> layer_specs(scratch_cnn((64, 64, 3)))[:3]
        [('none',), ('conv', 32, 3, 1, 'valid'), ('pool', 2, 2, 'valid')]
    """
    from coursekit.config import import_keras  # the arithmetic above needs no TensorFlow

    layers = import_keras().layers
    specs = []
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, layers.InputLayer):  # Functional models list their input
            continue
        if isinstance(layer, layers.Conv2D):
            if len(set(config["kernel_size"])) > 1 or len(set(config["strides"])) > 1:
                raise ValueError(f"layer {layer.name!r}: the calculator handles square kernels "
                                 "and strides only")
            specs.append(("conv", config["filters"], config["kernel_size"][0],
                          config["strides"][0], config["padding"]))
        elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
            specs.append(("pool", config["pool_size"][0], config["strides"][0], config["padding"]))
        elif isinstance(layer, layers.Flatten):
            specs.append(("flatten",))
        elif isinstance(layer, (layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D)):
            specs.append(("global_pool",))
        elif isinstance(layer, layers.Dense):
            specs.append(("dense", config["units"]))
        elif not layer.weights:
            specs.append(("none",))
        else:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) is not one the "
                             f"calculator knows; known kinds: {', '.join(LAYER_KINDS)}")
    return specs


def plot_architecture(table: pd.DataFrame, title: str = "The CNN, layer by layer"):
    """Return a matplotlib Figure drawing a ``shape_table``: one block per layer.

    Feature maps are boxes whose height follows the image size and whose width follows the
    number of channels (both on a square-root scale); flat layers are bars. Each block is
    labelled with its output shape and parameter count.

    Example:
        >>> figure = plot_architecture(shape_table((64, 64, 3), [("conv", 8), ("flatten",)]))
        >>> [text.get_text() for text in figure.axes[0].texts][:2]
        ['conv\\n62x62x8', '224\\nparams']
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    rows = [row for row in table.itertuples() if not str(row.layer).startswith("none")]
    if not rows:
        raise ValueError("the table has no layer to draw")
    largest = max([row.output_shape[0] for row in rows if len(row.output_shape) == 3] or [1])
    figure = Figure(figsize=(max(8.0, 1.25 * len(rows)), 4.6), layout="constrained")
    axes = figure.add_subplot()
    colors = {"conv": "#0072B2", "pool": "#56B4E9", "global_pool": "#56B4E9",
              "flatten": "#999999", "dense": "#D55E00"}
    x = 0.0
    for row in rows:
        kind, shape = str(row.layer).split()[0], row.output_shape
        if len(shape) == 3:
            height, width = 3.0 * math.sqrt(shape[0] / largest), 0.15 + 0.06 * math.sqrt(shape[2])
            label = "x".join(str(size) for size in shape)
        else:
            height, width = 0.6 + 2.4 * min(1.0, math.log10(max(shape[0], 1)) / 4), 0.18
            label = f"{shape[0]:,}"
        axes.add_patch(Rectangle((x, -height / 2), width, height, edgecolor="black", alpha=0.85,
                                 facecolor=colors.get(kind, "#009E73")))
        axes.text(x + width / 2, height / 2 + 0.12, f"{kind}\n{label}", ha="center",
                  va="bottom", fontsize=9)
        if row.params:
            axes.text(x + width / 2, -height / 2 - 0.12, f"{row.params:,}\nparams",
                      ha="center", va="top", fontsize=8, color="0.3")
        x += width + 0.55
    axes.set_xlim(-0.3, x)
    axes.set_ylim(-2.6, 2.6)
    axes.set_axis_off()
    axes.set_title(f"{title} (total {int(table['params'].sum()):,} parameters)")
    return figure
