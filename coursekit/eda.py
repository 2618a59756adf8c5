"""Exploratory analysis of an image folder: what is in it before a model ever sees it.

Each question has a function that *computes* (returns a table or arrays, tests call it) and a
``plot_*`` function that *draws* the result on a new ``matplotlib.figure.Figure`` (no pyplot,
nothing shown twice; display it with ``widgets.show_figure(fig)``). Images are streamed one at
a time, so memory stays bounded however large the folder is. Sizes are (height, width), as in
Keras (``image_size``) and NumPy shapes.

Example:
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for label, colour in (("cats", "orange"), ("dogs", "brown")):
    ...     (root / "train" / label).mkdir(parents=True)
    ...     Image.new("RGB", (40, 30), colour).save(root / "train" / label / "1.png")
    >>> table = image_table(root)
    >>> table[["path", "split", "label", "width", "height"]].values.tolist()
    [['train/cats/1.png', 'train', 'cats', 40, 30], ['train/dogs/1.png', 'train', 'dogs', 40, 30]]
    >>> class_counts(table)["total"].to_dict()
    {'cats': 1, 'dogs': 1}
    >>> channel_stats(table)["mean"].round(1).to_dict()
    {'red': 210.0, 'green': 103.5, 'blue': 21.0}
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from coursekit.scan import PIPELINE_EXTENSIONS

__all__ = [
    "PCAResult", "SampleGrid", "brightness_histograms", "channel_stats", "class_counts",
    "image_table", "mean_images", "pca_images", "plot_brightness_histograms", "plot_class_counts",
    "plot_eigen_images", "plot_explained_variance", "plot_mean_images", "plot_pca_scatter",
    "plot_sample_grid", "plot_sizes", "read_image", "sample_grid", "size_summary",
]

_PALETTE = "colorblind"  # seaborn's colour-blind-safe qualitative palette


# ----------------------------------------------------------------------------- the table


def image_table(root: str | os.PathLike) -> pd.DataFrame:
    """Return one row per image under ``root`` (hidden files and links skipped), headers only.

    Layout ``root/<split>/<label>/file`` or ``root/<label>/file``: ``label`` is the folder
    holding the file, ``split`` the one above it (None when the file sits one level down).
    Columns: ``file`` (absolute), ``path`` (relative, POSIX), ``split``, ``label``, ``width``,
    ``height``, ``aspect`` (width / height), ``mode``, ``bytes``. Only the files the training
    pipeline reads (``scan.PIPELINE_EXTENSIONS``) are listed, and only their headers are read,
    so this takes about a second for thousands of files. (The module's example builds one.)
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"root {str(root)!r} is not a folder")
    rows = []
    for folder, directories, files in os.walk(root):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if name.startswith(".") or path.is_symlink() or path.suffix.lower() not in PIPELINE_EXTENSIONS:
                continue
            try:
                with Image.open(path) as image:
                    width, height, mode = image.width, image.height, image.mode
            except (OSError, SyntaxError, ValueError) as error:  # Pillow's "cannot identify"
                raise ValueError(f"{relative} cannot be opened as an image ({error}): clean the "
                                 "folder first with coursekit.cleaning.scan (lesson 1)") from None
            rows.append({"file": str(path), "path": str(relative),
                         "split": relative.parts[-3] if len(relative.parts) >= 3 else None,
                         "label": relative.parts[-2] if len(relative.parts) >= 2 else None,
                         "width": width, "height": height, "aspect": width / height,
                         "mode": mode, "bytes": path.stat().st_size})
    if not rows:
        raise ValueError(f"no images ({', '.join(PIPELINE_EXTENSIONS)}) found under {root}")
    table = pd.DataFrame(rows, dtype=object)  # object columns keep None as None (pandas 3)
    return table.astype({"width": "int64", "height": "int64", "aspect": "float64", "bytes": "int64"})


def _check_table(table: pd.DataFrame, columns: Sequence[str] = ("file", "label")) -> None:
    missing = [column for column in columns if column not in table]
    if missing:
        raise ValueError(f"table has no {missing} column(s): pass the DataFrame image_table() returns")
    if len(table) == 0:
        raise ValueError("table is empty: no images to analyse")


def class_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Return the number of images per label (rows) and split (columns), with totals."""
    _check_table(table, ("label",))
    splits = table["split"].fillna("all") if "split" in table else pd.Series("all", index=table.index)
    counts = pd.crosstab(table["label"].fillna("(none)"), splits.rename("split"))
    counts["total"] = counts.sum(axis=1)
    return counts


def size_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return min / median / mean / max of width, height and aspect ratio, per label."""
    _check_table(table, ("label", "width", "height", "aspect"))
    return table.groupby("label")[["width", "height", "aspect"]].agg(["min", "median", "mean", "max"])


# ----------------------------------------------------------------------------- pixels


def read_image(file, size: tuple[int, int] | None = None, mode: str = "RGB") -> np.ndarray:
    """Return an image as a uint8 array (height, width, 3), resized to ``size`` = (height, width).

    ``size`` is in Keras' order (``image_size=(height, width)``), the order of the array's
    shape. JPEGs are decoded in draft mode (at a reduced scale) when that is still larger than
    ``size``, several times faster for thumbnails; then Pillow resizes (bilinear).
    ``mode="L"`` returns the brightness, (height, width).

    Example:
        >>> import io
        >>> photo = io.BytesIO()
        >>> Image.new("RGB", (40, 30), "red").save(photo, "PNG")   # Pillow: (width, height)
        >>> read_image(photo).shape, read_image(photo, size=(10, 20)).shape
        ((30, 40, 3), (10, 20, 3))
    """
    with Image.open(file) as image:
        target = None if size is None else (int(size[1]), int(size[0]))  # Pillow: width first
        if target:
            image.draft(mode, target)
        image = image.convert(mode)
        if target and image.size != target:
            image = image.resize(target, Image.Resampling.BILINEAR)
        return np.asarray(image)


def channel_stats(table: pd.DataFrame, size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Return the exact mean and standard deviation of each colour channel over all pixels.

    Streams the images one at a time and keeps only integer sums of the pixel values and of
    their squares, so memory stays constant and the result is exact (no float round-off
    accumulates): ``mean = S / N``, ``std = sqrt(Q / N - mean**2)``. With ``size`` the images
    are first resized, as a pipeline would. Values are on the 0-255 scale; rows ``red``,
    ``green``, ``blue``; columns ``mean``, ``std``; ``.attrs["pixels"]`` is ``N``. For a
    Keras layer: ``Normalization(mean=stats["mean"] / 255, variance=(stats["std"] / 255) ** 2)``.
    """
    _check_table(table, ("file",))
    sums, squares, count = np.zeros(3, np.uint64), np.zeros(3, np.uint64), 0
    for file in table["file"]:
        pixels = read_image(file, size).reshape(-1, 3).astype(np.uint64)
        sums += pixels.sum(axis=0)
        squares += (pixels ** 2).sum(axis=0)  # exact: uint64 holds 255**2 * 2.8e14 pixels
        count += len(pixels)
    sums, squares = [int(total) for total in sums], [int(total) for total in squares]
    # Python integers are exact at any size; the only rounding is the final division
    variances = [(square * count - total * total) / (count * count) for square, total in zip(squares, sums)]
    result = pd.DataFrame({"mean": [total / count for total in sums], "std": np.sqrt(variances)},
                          index=["red", "green", "blue"])
    result.attrs["pixels"] = count
    return result


def brightness_histograms(table: pd.DataFrame, size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Return, per label (columns), how many pixels have each brightness 0-255 (rows).

    Brightness is Pillow's luminance ``L``. Streams the images; each adds a 256-bin count to its
    label's column. Mean brightness of a label: ``(hist.index * hist[label]).sum() / hist[label].sum()``.
    """
    _check_table(table)
    counts: dict[str, np.ndarray] = {}
    for file, label in zip(table["file"], table["label"]):
        found = np.bincount(read_image(file, size, mode="L").ravel(), minlength=256)
        counts[str(label)] = counts.get(str(label), 0) + found
    histograms = pd.DataFrame(counts, index=pd.RangeIndex(256, name="brightness"))
    return histograms[sorted(histograms.columns)]


@dataclass
class SampleGrid:
    """``images``: uint8 (labels, per_class, height, width, 3); ``labels``; ``paths`` per label."""

    images: np.ndarray
    labels: list[str]
    paths: list[list[str]]


def sample_grid(table: pd.DataFrame, per_class: int = 6, size: tuple[int, int] = (128, 128),
                seed: int = 0) -> SampleGrid:
    """Return ``per_class`` random images of every label, resized to ``size`` (height, width)."""
    _check_table(table, ("file", "label", "path"))
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    rng = np.random.default_rng(seed)
    labels = sorted(table["label"].dropna().unique())
    images, paths = [], []
    for label in labels:
        rows = table[table["label"] == label]
        if len(rows) < per_class:
            raise ValueError(f"label {label!r} has only {len(rows)} images, fewer than per_class={per_class}")
        chosen = rows.iloc[np.sort(rng.choice(len(rows), size=per_class, replace=False))]
        images.append(np.stack([read_image(file, size) for file in chosen["file"]]))
        paths.append(list(chosen["path"]))
    return SampleGrid(np.stack(images), labels, paths)


def mean_images(table: pd.DataFrame, size: tuple[int, int] = (64, 64)) -> dict[str, np.ndarray]:
    """Return the average image of each label (float64, 0-255, shape (height, width, 3)), streamed."""
    _check_table(table)
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for file, label in zip(table["file"], table["label"]):
        key = str(label)
        sums[key] = sums.get(key, 0) + read_image(file, size).astype(np.float64)
        counts[key] = counts.get(key, 0) + 1
    return {label: sums[label] / counts[label] for label in sorted(sums)}


@dataclass
class PCAResult:
    """What ``pca_images`` found.

    ``scores`` (n, k): each image's coordinates on the components; ``labels``, ``paths`` (n);
    ``components`` (k, h, w, 3): the eigen-images (unit vectors, reshaped);
    ``explained_variance_ratio`` (k); ``mean`` (h, w, 3): the average image, 0-1 scale.
    """

    scores: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray


def pca_images(table: pd.DataFrame, size: tuple[int, int] = (32, 32), n_components: int = 20,
               seed: int = 0) -> PCAResult:
    """Return a PCA (scikit-learn) of the images shrunk to ``size`` (height, width), pixels 0-1.

    Each image becomes one vector of ``h * w * 3`` numbers; PCA finds the directions in which
    these vectors vary most. The directions, shown as pictures, are the *eigen-images*.
    At 32 x 32 one image is 3072 numbers, so thousands of images fit easily in memory.
    """
    from sklearn.decomposition import PCA

    _check_table(table, ("file", "label", "path"))
    shape = (int(size[0]), int(size[1]), 3)
    if not 1 <= n_components <= min(len(table), int(np.prod(shape))):
        raise ValueError(f"n_components must be between 1 and the number of images "
                         f"({len(table)}), got {n_components}")
    matrix = np.empty((len(table), int(np.prod(shape))), np.float32)
    for row, file in enumerate(table["file"]):
        matrix[row] = read_image(file, size).reshape(-1) / 255.0
    model = PCA(n_components=n_components, random_state=seed).fit(matrix)
    return PCAResult(scores=model.transform(matrix), labels=table["label"].to_numpy(),
                     paths=table["path"].to_numpy(),
                     components=model.components_.reshape((n_components,) + shape),
                     explained_variance_ratio=model.explained_variance_ratio_,
                     mean=model.mean_.reshape(shape))


# ----------------------------------------------------------------------------- drawing


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def plot_class_counts(counts: pd.DataFrame, title: str = "Images per class") -> Figure:
    """Draw ``class_counts`` as grouped bars (one group per label, one bar per split)."""
    import seaborn as sns

    data = counts.drop(columns="total", errors="ignore").reset_index().melt(
        id_vars="label", var_name="split", value_name="images")
    fig = _figure(7, 4)
    axes = fig.add_subplot()
    sns.barplot(data=data, x="label", y="images", hue="split", palette=_PALETTE, ax=axes)
    for container in axes.containers:
        axes.bar_label(container, fontsize=10)
    axes.set(title=title, xlabel="class (folder name)", ylabel="number of images")
    return fig


def plot_sizes(table: pd.DataFrame, title: str = "Image sizes") -> Figure:
    """Draw width against height per label, and the distribution of aspect ratios."""
    import seaborn as sns

    _check_table(table, ("label", "width", "height", "aspect"))
    fig = _figure(12, 4.5)
    left, right = fig.subplots(1, 2)
    sns.scatterplot(data=table, x="width", y="height", hue="label", palette=_PALETTE, alpha=0.5,
                    s=18, ax=left)
    left.set(title=f"{title}: width and height", xlabel="width (pixels)", ylabel="height (pixels)")
    sns.histplot(data=table, x="aspect", hue="label", palette=_PALETTE, bins=40,
                 element="step", ax=right)
    right.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    right.set(title="aspect ratio (width / height; 1 = square)", xlabel="width / height",
              ylabel="number of images")
    return fig


def plot_brightness_histograms(histograms: pd.DataFrame,
                               title: str = "Brightness of the pixels, per class") -> Figure:
    """Draw the share of pixels at each brightness, one line per label (densities)."""
    import seaborn as sns

    colours = sns.color_palette(_PALETTE, len(histograms.columns))
    fig = _figure(8, 4)
    axes = fig.add_subplot()
    for colour, label in zip(colours, histograms.columns):
        density = histograms[label] / histograms[label].sum()
        mean = float((histograms.index.values * histograms[label]).sum() / histograms[label].sum())
        axes.plot(histograms.index, density, color=colour, label=f"{label} (mean {mean:.1f})")
    axes.set(title=title, xlabel="brightness (0 = black, 255 = white)", ylabel="share of pixels")
    axes.legend()
    return fig


def plot_sample_grid(grid: SampleGrid, title: str = "Random samples per class") -> Figure:
    """Draw the images of ``sample_grid``: one row per label, titled with the file name."""
    rows, columns = grid.images.shape[:2]
    fig = _figure(2.2 * columns, 2.4 * rows + 0.4)
    axes = np.atleast_2d(fig.subplots(rows, columns, squeeze=False))
    for row, label in enumerate(grid.labels):
        for column in range(columns):
            axes[row, column].imshow(grid.images[row, column])
            axes[row, column].set_title(f"{label}\n{PurePosixPath(grid.paths[row][column]).name}",
                                        fontsize=9)
            axes[row, column].set_axis_off()
    fig.suptitle(title)
    return fig


def plot_mean_images(means: dict[str, np.ndarray], title: str = "Average image per class") -> Figure:
    """Draw each label's mean image, and (for two labels) the brightness difference between them."""
    labels = list(means)
    extra = 1 if len(labels) == 2 else 0
    fig = _figure(3.4 * (len(labels) + extra) + 0.6 * extra, 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(labels) + extra))
    for axis, label in zip(axes, labels):
        axis.imshow(means[label].round().astype(np.uint8))
        axis.set_title(f"mean {label}")
        axis.set_axis_off()
    if extra:
        luminance = np.array([0.299, 0.587, 0.114])
        difference = means[labels[0]] @ luminance - means[labels[1]] @ luminance
        limit = float(np.abs(difference).max()) or 1.0
        shown = axes[-1].imshow(difference, cmap="cividis", vmin=-limit, vmax=limit)
        axes[-1].set_title(f"{labels[0]} minus {labels[1]}\n(brightness)")
        axes[-1].set_axis_off()
        fig.colorbar(shown, ax=axes[-1], shrink=0.8, label="brightness difference")
    fig.suptitle(title)
    return fig


def plot_pca_scatter(result: PCAResult, title: str = "Images on the first two principal components") -> Figure:
    """Draw every image as a point at its first two PCA scores, coloured by label."""
    import seaborn as sns

    ratio = result.explained_variance_ratio
    fig = _figure(7, 5.5)
    axes = fig.add_subplot()
    sns.scatterplot(x=result.scores[:, 0], y=result.scores[:, 1], hue=result.labels,
                    palette=_PALETTE, alpha=0.6, s=20, ax=axes)
    axes.set(title=title, xlabel=f"PC 1 ({ratio[0]:.0%} of the variance)",
             ylabel=f"PC 2 ({ratio[1]:.0%} of the variance)")
    return fig


def plot_eigen_images(result: PCAResult, count: int = 8, title: str = "Mean image and eigen-images") -> Figure:
    """Draw the mean image and the first ``count`` components, each stretched to 0-1 to show it."""
    count = min(count, len(result.components))
    rows = 1 if count < 6 else 2
    columns = int(np.ceil((count + 1) / rows))
    fig = _figure(2.4 * columns, 2.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    axes[0].imshow(result.mean.clip(0, 1))
    axes[0].set_title("mean")
    for k in range(count):
        component = result.components[k]
        stretched = (component - component.min()) / (np.ptp(component) or 1.0)
        axes[k + 1].imshow(stretched)
        axes[k + 1].set_title(f"PC {k + 1}\n{result.explained_variance_ratio[k]:.1%}", fontsize=10)
    for axis in axes:
        axis.set_axis_off()
    fig.suptitle(title)
    return fig


def plot_explained_variance(result: PCAResult, title: str = "How much each component explains") -> Figure:
    """Draw the explained variance of each component and its running total."""
    ratio = result.explained_variance_ratio
    steps = np.arange(1, len(ratio) + 1)
    fig = _figure(7, 4)
    axes = fig.add_subplot()
    axes.bar(steps, ratio, color="#0072B2", label="this component")
    axes.plot(steps, np.cumsum(ratio), color="#D55E00", marker="o", label="running total")
    axes.set(title=title, xlabel="principal component", ylabel="share of the variance", ylim=(0, 1))
    axes.legend()
    return fig
