"""Output shapes and parameter counts of a CNN, worked out by hand (lesson 3).

Two formulas do it: a convolution or pooling window keeps ``(n - k) // s + 1`` pixels per side
("valid") or ``ceil(n / s)`` ("same"); a layer has one weight per input and kernel position per
output, plus one bias per output. ``shape_table`` applies them to a list of layers, without Keras.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence

import pandas as pd


def conv_output_length(length: int, kernel: int, stride: int = 1, padding: str = "valid") -> int:
    """Return the output length of a convolution (or pooling window) along one axis.

    >>> conv_output_length(150, 3), conv_output_length(148, 2, stride=2), conv_output_length(7, 2, 2)
    (148, 74, 3)
    """
    length, kernel, stride = int(length), int(kernel), int(stride)
    if kernel < 1 or stride < 1 or padding not in ("valid", "same"):
        raise ValueError(f"kernel and stride must be positive and padding 'valid' or 'same', "
                         f"got kernel={kernel}, stride={stride}, padding={padding!r}")
    if padding == "same":
        return math.ceil(length / stride)
    if length < kernel:
        raise ValueError(f"a {kernel}-wide window does not fit in {length} pixels with "
                         "padding='valid'")
    return (length - kernel) // stride + 1


def _conv(shape, filters, kernel=3, stride=1, padding="valid"):
    sides = (conv_output_length(side, kernel, stride, padding) for side in shape[:2])
    params = (int(kernel) ** 2 * shape[2] + 1) * int(filters)  # k x k x c_in weights + 1 bias each
    return (*sides, int(filters)), params, params


def _pool(shape, pool=2, stride=None, padding="valid"):
    sides = (conv_output_length(side, pool, stride or pool, padding) for side in shape[:2])
    return (*sides, shape[2]), 0, 0


def _dense(shape, units):
    params = (shape[-1] + 1) * int(units)  # one weight per input and one bias, per unit
    return (*shape[:-1], int(units)), params, params


#: The layer kinds ``shape_table`` knows: kind -> (input shape, *arguments) -> (shape, params,
#: trainable params).
LAYER_KINDS = {
    "conv": _conv,
    "pool": _pool,
    # 4 numbers per channel: scale and offset learn, the running mean and variance are averaged
    "batchnorm": lambda shape: (shape, 4 * shape[-1], 2 * shape[-1]),
    "global_pool": lambda shape: ((shape[-1],), 0, 0),
    "flatten": lambda shape: ((math.prod(shape),), 0, 0),
    "dense": _dense,
    "none": lambda shape: (shape, 0, 0),  # dropout, rescaling, augmentation: nothing changes
}


def shape_table(input_shape: Sequence[int], layers: Sequence[tuple]) -> pd.DataFrame:
    """Return each layer's ``output_shape`` (no batch axis), ``params`` and ``trainable`` (what
    ``model.summary()`` prints), worked out by hand. ``layers``: ``(kind, *arguments)`` tuples:
    ``("conv", filters, kernel=3, stride=1, padding="valid")``, ``("pool", pool=2, stride=pool,
    padding="valid")``, ``("batchnorm",)``, ``("global_pool",)``, ``("flatten",)``,
    ``("dense", units)`` or ``("none",)``.

    >>> table = shape_table((150, 150, 3), [("conv", 32), ("pool",), ("batchnorm",), ("flatten",)])
    >>> table["output_shape"].tolist(), table["params"].tolist(), table["trainable"].tolist()
    ([(148, 148, 32), (74, 74, 32), (74, 74, 32), (175232,)], [896, 0, 128, 0], [896, 0, 64, 0])
    """
    shape = tuple(int(size) for size in input_shape)
    rows = []
    for spec in layers:
        kind, *arguments = spec
        step = LAYER_KINDS.get(kind)
        if step is None:
            raise ValueError(f"unknown layer kind {kind!r}; known kinds: {', '.join(LAYER_KINDS)}")
        try:
            inspect.signature(step).bind(shape, *arguments)
        except TypeError:
            raise ValueError(f"layer {spec!r} has the wrong arguments; {kind} takes "
                             f"{inspect.signature(step)} after the input shape") from None
        if kind in ("conv", "pool") and len(shape) != 3:
            raise ValueError(f"layer {spec!r} needs a (height, width, channels) input, got {shape}")
        shape, params, trainable = step(shape, *arguments)
        rows.append({"layer": " ".join(map(str, spec)), "output_shape": shape, "params": params,
                     "trainable": trainable})
    return pd.DataFrame(rows, columns=["layer", "output_shape", "params", "trainable"])
