"""Drawing what the other modules compute (nothing here calls a model).

``captioned``/``gradcam_picture``: RGB uint8 arrays drawn with NumPy and Pillow in milliseconds;
``plot_*``: matplotlib Figures (``widgets.show_figure``). Colormaps are colour-blind-safe.

>>> overlay(np.zeros((8, 8, 3)), np.ones((2, 2)), alpha=1.0).shape
(8, 8, 3)
"""

from __future__ import annotations

import functools
from typing import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont


#: Height of the caption band above every picture (two lines of text).
FEATURE_MAP_TOP = 38
SAFE_COLORMAPS = ("magma", "viridis", "cividis", "inferno", "plasma")


def to_display(image) -> np.ndarray:
    """Return an image scaled to [0, 1] for drawing (0-255 and 0-1 inputs both work)."""
    array = np.asarray(image, dtype="float32")
    return array / 255.0 if array.max() > 1.0 else array


def to_uint8(image) -> np.ndarray:
    """Return an image (0-255 or 0-1 pixels) as RGB uint8."""
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
    ImageDraw.Draw(canvas).multiline_text((4, 3), "\n".join(lines), fill="black", font=font, spacing=3)
    return np.asarray(canvas)


def gradcam_picture(image, heatmap: np.ndarray, alpha: float = 0.4, title: str = "",
                    cmap: str = "magma") -> np.ndarray:
    """Return the photo and its Grad-CAM overlay side by side, captioned: RGB uint8."""
    photo, blended = to_uint8(image), to_uint8(overlay(image, heatmap, alpha, cmap))
    gap = np.full((photo.shape[0], 8, 3), 255, dtype=np.uint8)
    return captioned(np.concatenate([photo, gap, blended], axis=1), [
        str(title), f"left: photo · right: Grad-CAM heat ({cmap}) blended at {alpha:.2f}"])


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
    """Return every channel of a (height, width, channels) stack ``tile``d into one 2-D image (NaN
    gaps), each as in the lectures: (x - mean) / std * 64 + 128, clipped to 0-255, / 255 (constant: 0).

    >>> channel_grid(np.ones((4, 4, 2)), columns=2)
    array([[ 0.,  0.,  0.,  0., nan,  0.,  0.,  0.,  0.], ...
    """
    array = np.asarray(activation, dtype="float32")
    if array.ndim != 3:
        raise ValueError(f"activation must have shape (height, width, channels), got {array.shape}")
    mean, std = array.mean(axis=(0, 1), keepdims=True), array.std(axis=(0, 1), keepdims=True)
    scaled = np.clip((array - mean) / np.maximum(std, 1e-5) * 64 + 128, 0, 255) / 255
    return tile(np.moveaxis(np.where(std > 1e-6, scaled, 0.0), -1, 0), columns, gap)


def first_layer_rgb(kernel: np.ndarray) -> dict[str, np.ndarray]:
    """Return a first-layer kernel as RGB pictures (filters, kh, kw, 3): ``"normalised"`` (min-max,
    mid-grey is not zero), ``"positive weights"`` and ``"negative weights"`` (black is zero).

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


def figure_grid(width: float, height: float, rows: int = 1, columns: int = 1, title: str = ""):
    """Return a Figure (inches) and its axes without ticks, a flat array row by row."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for each in axes:
        each.set_axis_off()
    figure.suptitle(title, fontsize=13)
    return figure, axes


def plot_channel_grid(activation: np.ndarray, title: str = "") -> Figure:
    """Draw ``channel_grid(activation)``, 16 channels a row (32 above 128, 64 above 512)."""
    count = activation.shape[-1]
    columns = min(16 if count <= 128 else 32 if count <= 512 else 64, count)
    grid = channel_grid(activation, columns=columns)
    figure, (axes,) = figure_grid(12, max(1.5, 12 * grid.shape[0] / grid.shape[1] + 0.8))
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="white")  # 0 (silent) is black
    axes.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    axes.set_title(f"{title}: all {count} channels, {activation.shape[0]}x{activation.shape[1]} "
                   f"each\n(channel k at row k // {columns}, column k % {columns}; "
                   f"black = silent for this image)", fontsize=12)
    return figure


def plot_first_layer_filters(kernel: np.ndarray, title: str = "first-layer filters",
                             columns: int = 16) -> Figure:
    """Draw first-layer filters in colour, one tiled image per view of ``first_layer_rgb``."""
    views = first_layer_rgb(kernel)
    figure, axes = figure_grid(13, 3.2, 1, 3, f"{title} ({len(views['normalised'])} filters of "
                                             f"{kernel.shape[0]}x{kernel.shape[1]}x3)")
    for each, (name, view) in zip(axes, views.items()):
        each.imshow(tile(view, columns, fill=1.0), interpolation="nearest")
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
