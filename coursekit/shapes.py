"""Output shapes and parameter counts of a CNN, worked out by hand (lesson 3), and a drawing.

Two formulas do it: a convolution keeps ``(n - k) // s + 1`` pixels per side ("valid") or
``ceil(n / s)`` ("same"); a layer has one weight per input and kernel position per output, plus
one bias per output. ``shape_table`` applies them to a list of layers, without Keras.
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


def plot_architecture(table: pd.DataFrame, title: str = "The CNN, layer by layer"):
    """Return a matplotlib Figure of a ``shape_table``: one bar per layer, labelled with the
    layer and its output shape, as long as the layer's parameter count (log scale).

    It shows both stories of lesson 3 at once: the feature maps shrink block by block, and
    almost all the weights sit in the first Dense layer.

    Example:
        >>> table = shape_table((64, 64, 3), [("conv", 8), ("pool", 2), ("flatten",), ("dense", 1)])
        >>> [label.get_text() for label in plot_architecture(table).axes[0].get_yticklabels()]
        ['conv 8 -> 62x62x8', 'pool 2 -> 31x31x8', 'flatten -> 7688', 'dense 1 -> 1']
    """
    from matplotlib.figure import Figure

    rows = table[~table["layer"].str.startswith("none")]
    if rows.empty:
        raise ValueError("the table has no layer to draw")
    labels = [f"{layer} -> {'x'.join(str(size) for size in shape)}"
              for layer, shape in zip(rows["layer"], rows["output_shape"])]
    figure = Figure(figsize=(9, 0.5 * len(rows) + 1.4), layout="constrained")
    axes = figure.add_subplot()
    colors = ["#D55E00" if layer.startswith("dense") else "#0072B2" for layer in rows["layer"]]
    bars = axes.barh(labels, rows["params"], color=colors)
    axes.bar_label(bars, padding=4, fontsize=10,
                   labels=[f"{params:,}" if params else "no parameters" for params in rows["params"]])
    axes.set_xscale("symlog", linthresh=10)  # layers without parameters keep a place at 0
    axes.set_xlim(0, max(int(rows["params"].max()), 10) * 50)
    axes.invert_yaxis()
    axes.set_xlabel("parameters (log scale)")
    axes.set_title(f"{title} (total {int(table['params'].sum()):,} parameters)")
    return figure
