"""Drawing what the other modules compute (nothing here calls a model).

``*_picture``: RGB uint8 arrays drawn with NumPy and Pillow in milliseconds, what the explorers
redraw on every slider move. ``plot_*``: matplotlib Figures for the lessons' static cells
(``widgets.show_figure``). Colormaps are colour-blind-safe.

>>> overlay(np.zeros((8, 8, 3)), np.ones((2, 2)), alpha=1.0).shape
(8, 8, 3)
"""

from __future__ import annotations

import functools
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from coursekit import activations

#: Height of the caption band above every picture (two lines of text).
FEATURE_MAP_TOP = 38
SAFE_COLORMAPS = ("magma", "viridis", "cividis", "inferno", "plasma")


def to_display(image) -> np.ndarray:
    """Return an image scaled to [0, 1] for drawing (0-255 and 0-1 inputs both work)."""
    array = np.asarray(image, dtype="float32")
    return array / 255.0 if array.max() > 1.0 else array


def _uint8(image) -> np.ndarray:
    return np.round(to_display(image)[:, :, :3] * 255).astype(np.uint8)


def overlay(image, heatmap: np.ndarray, alpha: float = 0.4, cmap: str = "magma") -> np.ndarray:
    """Return ``image`` with ``heatmap`` (resized, bilinear, coloured with ``cmap``) blended on
    top with weight ``alpha`` (0: only the photo, 1: only heat): (height, width, 3) in [0, 1]."""
    if cmap not in SAFE_COLORMAPS or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"cmap must be one of the colour-blind-safe maps {SAFE_COLORMAPS} and "
                         f"alpha between 0 and 1, got {cmap!r} and {alpha}")
    picture = to_display(image)
    heat = Image.fromarray(np.asarray(heatmap, dtype="float32")).resize(
        (picture.shape[1], picture.shape[0]), Image.Resampling.BILINEAR)
    coloured = matplotlib.colormaps[cmap](np.clip(np.asarray(heat), 0, 1))[:, :, :3]
    return ((1 - alpha) * picture[:, :, :3] + alpha * coloured).astype("float32")


@functools.lru_cache(maxsize=None)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def captioned(picture: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Return an RGB uint8 ``picture`` under a white band of ``FEATURE_MAP_TOP`` rows of text.

    >>> captioned(np.zeros((4, 4, 3), np.uint8), ["a title"]).shape[0] == FEATURE_MAP_TOP + 4
    True
    """
    font = _font(13)
    width = max(picture.shape[1], max(int(font.getlength(line)) for line in lines) + 8)
    canvas = Image.new("RGB", (width, FEATURE_MAP_TOP + picture.shape[0]), "white")
    canvas.paste(Image.fromarray(picture), (0, FEATURE_MAP_TOP))
    ImageDraw.Draw(canvas).multiline_text((4, 3), "\n".join(lines), fill="black", font=font,
                                          spacing=3)
    return np.asarray(canvas)


def photo_picture(image, title: str = "") -> np.ndarray:
    """Return a photo (any pixel range) as an RGB uint8 picture under its caption."""
    return captioned(_uint8(image), [title])


def feature_map_picture(plane: np.ndarray, title: str = "", size: int = 288,
                        cmap: str = "viridis") -> np.ndarray:
    """Return one feature map as an RGB uint8 picture: caption (``title``, value range), map,
    colour scale. The map, coloured as ``imshow`` draws it, is enlarged by a whole factor to at
    least ``size`` pixels (crisp squares), at rows ``FEATURE_MAP_TOP:``, columns ``0:``."""
    plane = np.asarray(plane, dtype="float32")
    if plane.ndim != 2:
        raise ValueError(f"a feature map is 2-D, got shape {plane.shape}")
    colormap = matplotlib.colormaps[cmap]
    factor = max(1, -(-int(size) // max(plane.shape)))
    mapped = colormap(Normalize()(plane), bytes=True)[..., :3].repeat(factor, 0).repeat(factor, 1)
    bar = np.full((10, mapped.shape[1], 3), 255, dtype=np.uint8)  # the colour scale, low to high
    bar[4:] = colormap(np.linspace(0, 1, mapped.shape[1]), bytes=True)[None, :, :3]
    low, high = float(plane.min()), float(plane.max())
    values = f"values {low:.2f} to {high:.2f} (scale below)" if high > low else \
        f"all values {low:.2f} (silent)"
    return captioned(np.concatenate([mapped, bar]), [str(title), values])


def gradcam_picture(image, heatmap: np.ndarray, alpha: float = 0.4, title: str = "",
                    cmap: str = "magma") -> np.ndarray:
    """Return the photo and its Grad-CAM overlay side by side, captioned: RGB uint8."""
    photo, blended = _uint8(image), _uint8(overlay(image, heatmap, alpha, cmap))
    gap = np.full((photo.shape[0], 8, 3), 255, dtype=np.uint8)
    return captioned(np.concatenate([photo, gap, blended], axis=1), [
        str(title), f"left: photo · right: Grad-CAM heat ({cmap}) blended at {alpha:.2f}"])


def figure_grid(width: float, height: float, rows: int = 1, columns: int = 1, title: str = ""):
    """Return a Figure (inches) and its axes without ticks, a flat array row by row."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for each in axes:
        each.set_axis_off()
    figure.suptitle(title, fontsize=13)
    return figure, axes


def plot_channel_grid(activation: np.ndarray, title: str = "") -> Figure:
    """Draw ``activations.channel_grid(activation)`` (every channel of a layer) as a Figure,
    16 channels a row (32 or 64 for layers with more than 128 or 512)."""
    count = activation.shape[-1]
    columns = min(16 if count <= 128 else 32 if count <= 512 else 64, count)
    grid = activations.channel_grid(activation, columns=columns)
    figure, (axes,) = figure_grid(12, max(1.5, 12 * grid.shape[0] / grid.shape[1] + 0.8))
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="white")  # 0 (silent) is black
    axes.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    axes.set_title(f"{title}: all {count} channels, {activation.shape[0]}x{activation.shape[1]} "
                   f"each\n(channel k at row k // {columns}, column k % {columns}; "
                   f"black = silent for this image)", fontsize=12)
    return figure


def plot_first_layer_filters(kernel: np.ndarray, title: str = "first-layer filters",
                             columns: int = 16) -> Figure:
    """Draw first-layer filters in colour, one tiled image per view of
    ``activations.first_layer_rgb``: normalised, positive weights, negative weights."""
    views = activations.first_layer_rgb(kernel)
    figure, axes = figure_grid(13, 3.2, 1, 3, f"{title} ({len(views['normalised'])} filters of "
                                             f"{kernel.shape[0]}x{kernel.shape[1]}x3)")
    for each, (name, view) in zip(axes, views.items()):
        each.imshow(activations.tile(view, columns, fill=1.0), interpolation="nearest")
        each.set_title(name, fontsize=11)
    return figure


def plot_images(images, titles: Sequence[str] = (), title: str = "", columns: int = 8) -> Figure:
    """Draw images (filter patterns, augmented copies...) in a grid, each under its title."""
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    figure, axes = figure_grid(2.2 * columns, 2.2 * rows + 0.4, rows, columns, title)
    for slot, image in enumerate(images):
        axes[slot].imshow(image)
        axes[slot].set_title(titles[slot] if slot < len(titles) else "", fontsize=10)
    return figure
