"""Drawing what the other modules compute (nothing here calls a model).

The ``*_picture`` functions return RGB uint8 arrays drawn with NumPy and Pillow in a few
milliseconds (a matplotlib figure takes tens): the explorers redraw with them on every slider
move. The ``plot_*`` functions return matplotlib Figures for the lessons' static cells (show
them with ``widgets.show_figure``). Colormaps are colour-blind-safe.

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
    """Return an image scaled to [0, 1] for drawing (0-255, 0-1 and -1..1 inputs all work).

    >>> to_display(np.full((2, 2, 3), 255.0)).max()
    np.float32(1.0)
    """
    array = np.asarray(image, dtype="float32")
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    low, high = float(array.min()), float(array.max())
    if low < 0:
        return (array - low) / max(high - low, 1e-12)
    return array / 255.0 if high > 1.0 else array


def overlay(image, heatmap: np.ndarray, alpha: float = 0.4, cmap: str = "magma") -> np.ndarray:
    """Return ``image`` with ``heatmap`` (resized, bilinear, coloured with ``cmap``) blended on
    top with weight ``alpha`` (0: only the photo, 1: only heat): (height, width, 3) in [0, 1]."""
    if cmap not in SAFE_COLORMAPS:
        raise ValueError(f"cmap must be one of the colour-blind-safe maps {SAFE_COLORMAPS}, "
                         f"got {cmap!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    picture = to_display(image)
    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=-1)
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


def feature_map_picture(plane: np.ndarray, title: str = "", size: int = 288,
                        cmap: str = "viridis") -> np.ndarray:
    """Return one feature map as an RGB uint8 picture: caption, map, colour scale.

    The map (``plane``'s minimum to maximum through ``cmap``) is enlarged by a whole factor to
    at least ``size`` pixels (each activation stays a crisp square) and sits at rows
    ``FEATURE_MAP_TOP:``, columns ``0:``; the caption holds ``title`` and the value range.

    >>> feature_map_picture(np.eye(4), "identity").dtype
    dtype('uint8')
    """
    plane = np.asarray(plane, dtype="float32")
    if plane.ndim != 2:
        raise ValueError(f"a feature map is 2-D, got shape {plane.shape}")
    colormap = matplotlib.colormaps[cmap]
    factor = max(1, -(-int(size) // max(plane.shape)))
    mapped = colormap(Normalize()(plane), bytes=True)[..., :3]  # what imshow draws
    mapped = mapped.repeat(factor, axis=0).repeat(factor, axis=1)
    low, high = float(plane.min()), float(plane.max())
    values = f"values {low:.2f} to {high:.2f}" if high > low else f"all values {low:.2f} (silent)"
    bar = np.full((22, mapped.shape[1], 3), 255, dtype=np.uint8)  # a colour scale below
    bar[2:8] = colormap(np.linspace(0, 1, mapped.shape[1]), bytes=True)[None, :, :3]
    picture = Image.fromarray(captioned(np.concatenate([mapped, bar]), [str(title), values]))
    draw, small = ImageDraw.Draw(picture), _font(10)
    top, label = picture.height - 15, f"{high:.2f}"
    draw.text((0, top), f"{low:.2f}", fill="black", font=small)
    draw.text((mapped.shape[1] - int(small.getlength(label)), top), label, fill="black", font=small)
    return np.asarray(picture)


def gradcam_picture(image, heatmap: np.ndarray, alpha: float = 0.4, title: str = "",
                    cmap: str = "magma") -> np.ndarray:
    """Return the photo and its Grad-CAM overlay side by side, captioned: RGB uint8.

    >>> gradcam_picture(np.zeros((8, 8, 3)), np.ones((2, 2)), title="x").shape[0]  # 38 + 8
    46
    """
    photo = np.round(to_display(image)[:, :, :3] * 255).astype(np.uint8)
    blended = np.round(overlay(image, heatmap, alpha, cmap) * 255).astype(np.uint8)
    gap = np.full((photo.shape[0], 8, 3), 255, dtype=np.uint8)
    return captioned(np.concatenate([photo, gap, blended], axis=1), [
        str(title), f"left: photo · right: Grad-CAM heat ({cmap}) blended at {alpha:.2f}"])


def _bare(axes) -> None:
    axes.set_xticks([])
    axes.set_yticks([])


def plot_channel_grid(activation: np.ndarray, title: str = "", columns: int | None = None) -> Figure:
    """Draw ``activations.channel_grid(activation)`` (every channel of a layer) as a Figure.

    ``columns`` defaults to 16, or 32/64 for layers with more than 128/512 channels.
    """
    count = activation.shape[-1]
    columns = columns or (16 if count <= 128 else 32 if count <= 512 else 64)
    grid = activations.channel_grid(activation, columns=columns)
    figure = Figure(figsize=(12, max(1.5, 12 * grid.shape[0] / grid.shape[1] + 0.6)), dpi=100)
    axes = figure.add_subplot()
    cmap = matplotlib.colormaps["magma"].with_extremes(bad="white")  # 0 (silent) is black
    axes.imshow(grid, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    _bare(axes)
    per_row = min(columns, count)
    axes.set_title(f"{title}: all {count} channels, {activation.shape[0]}x{activation.shape[1]} "
                   f"each\n(channel k at row k // {per_row}, column k % {per_row}; "
                   f"black = silent for this image)", fontsize=12)
    return figure


def plot_first_layer_filters(kernel: np.ndarray, title: str = "first-layer filters",
                             columns: int = 16) -> Figure:
    """Draw first-layer filters in colour: normalised, positive part, negative part (3 rows each)."""
    views = activations.first_layer_rgb(kernel)
    count = len(views["normalized"])
    columns = min(columns, count)
    rows = -(-count // columns)
    figure = Figure(figsize=(columns * 0.75, 3 * rows * 0.75 + 1.2), dpi=100)
    grid = figure.add_gridspec(3 * rows, columns)
    labels = {"normalized": "normalised", "positive": "positive weights",
              "negative": "negative weights"}
    for block, (key, label) in enumerate(labels.items()):
        for index in range(count):
            axes = figure.add_subplot(grid[block * rows + index // columns, index % columns])
            axes.imshow(views[key][index], interpolation="nearest")
            _bare(axes)
            if index == 0:
                axes.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    figure.suptitle(f"{title} ({count} filters of {kernel.shape[0]}x{kernel.shape[1]}x3)",
                    fontsize=13)
    return figure


def plot_images(images, titles: Sequence[str] = (), title: str = "", columns: int = 8) -> Figure:
    """Draw images (filter patterns, augmented copies...) in a grid, each under its title."""
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    figure = Figure(figsize=(2.2 * columns, 2.2 * rows + 0.4), dpi=100, layout="constrained")
    for slot, image in enumerate(images):
        axes = figure.add_subplot(rows, columns, slot + 1)
        axes.imshow(image)
        _bare(axes)
        axes.set_title(titles[slot] if slot < len(titles) else "", fontsize=10)
    figure.suptitle(title, fontsize=12)
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
        _bare(axes)
    figure.suptitle(title, fontsize=13)
    return figure
