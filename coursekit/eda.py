"""Exploratory analysis of an image folder: what is in it before a model ever sees it.

Functions compute tables or arrays, reading one image at a time; ``plot_*`` functions draw
them on a new ``Figure`` (``widgets.show_figure(fig)``). Sizes are (height, width), as in Keras.

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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

from coursekit.scan import PIPELINE_EXTENSIONS, require_columns


def image_table(root: str | os.PathLike) -> pd.DataFrame:
    """Return one row per image under ``root/[<split>/]<label>/`` from the headers (file, path, split,
    label, width, height, aspect, mode, bytes); hidden files, links and skipped extensions left out."""
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
                                 "folder first with coursekit.scan.scan (lesson 1)") from None
            rows.append({"file": str(path), "path": str(relative),
                         "split": relative.parts[-3] if len(relative.parts) >= 3 else None,
                         "label": relative.parts[-2] if len(relative.parts) >= 2 else None,
                         "width": width, "height": height, "aspect": width / height,
                         "mode": mode, "bytes": path.stat().st_size})
    if not rows:
        raise ValueError(f"no images ({', '.join(PIPELINE_EXTENSIONS)}) found under {root}")
    table = pd.DataFrame(rows, dtype=object)  # object columns keep None as None (pandas 3)
    return table.astype({"width": "int64", "height": "int64", "aspect": "float64", "bytes": "int64"})


def _check_table(table: pd.DataFrame, columns=("file", "label")) -> None:
    require_columns(table, columns, "the DataFrame image_table() returns")
    if len(table) == 0:
        raise ValueError("table is empty: no images to analyse")


def class_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Return the number of images per label (rows) and split (columns), with totals."""
    _check_table(table, ("label",))
    splits = table["split"].fillna("all") if "split" in table else pd.Series("all", index=table.index)
    counts = pd.crosstab(table["label"].fillna("(none)"), splits.rename("split"))
    counts["total"] = counts.sum(axis=1)
    return counts


def read_image(file, size: tuple[int, int] | None = None, mode: str = "RGB") -> np.ndarray:
    """Return an image as a uint8 array (height, width, 3), resized (bilinear, JPEGs drafted) to
    ``size`` = (height, width); ``mode="L"``: the brightness, (height, width).

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
    """Return the exact mean and standard deviation (0-255) of each colour channel (rows) over all
    pixels, from integer sums of the values and their squares; ``.attrs["pixels"]``: how many."""
    _check_table(table, ("file",))
    sums, squares, count = np.zeros(3, np.uint64), np.zeros(3, np.uint64), 0
    for file in table["file"]:
        pixels = read_image(file, size).reshape(-1, 3).astype(np.uint64)
        sums += pixels.sum(axis=0)
        squares += (pixels ** 2).sum(axis=0)  # exact: uint64 holds 255**2 * 2.8e14 pixels
        count += len(pixels)
    sums, squares = sums.tolist(), squares.tolist()  # Python ints: exact at any size
    variances = [(square * count - total**2) / count**2 for square, total in zip(squares, sums)]
    result = pd.DataFrame({"mean": [total / count for total in sums], "std": np.sqrt(variances)},
                          index=["red", "green", "blue"])
    result.attrs["pixels"] = count
    return result


def brightness_histograms(table: pd.DataFrame, size: tuple[int, int] | None = None) -> pd.DataFrame:
    """Return, per label (columns), how many pixels have each brightness (Pillow's ``L``) 0-255."""
    _check_table(table)
    counts = Counter()
    for file, label in zip(table["file"], table["label"]):
        counts[str(label)] += np.bincount(read_image(file, size, mode="L").ravel(), minlength=256)
    histograms = pd.DataFrame(counts, index=pd.RangeIndex(256, name="brightness"))
    return histograms[sorted(histograms.columns)]


def class_images(table: pd.DataFrame, size: tuple[int, int] = (64, 64)) -> tuple[dict, dict]:
    """Return ``(means, stds)``: per label, the mean and the standard-deviation image (0-255)."""
    _check_table(table)
    sums, squares, counts = Counter(), Counter(), Counter()  # Counter: missing labels start at 0
    for file, label in zip(table["file"], map(str, table["label"])):
        image = read_image(file, size).astype(np.float64)
        sums[label], squares[label] = sums[label] + image, squares[label] + image ** 2
        counts[label] += 1
    means = {label: sums[label] / counts[label] for label in sorted(sums)}
    return means, {label: np.sqrt(np.maximum(squares[label] / counts[label] - means[label] ** 2, 0))
                   for label in means}


@dataclass
class PCAResult:
    """``scores`` (n, k): each image on the components; ``labels`` (n); ``components`` (k, h, w,
    3): the eigen-images (unit vectors); ``explained_variance_ratio`` (k); ``mean`` (h, w, 3)."""

    scores: np.ndarray
    labels: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray
    mean: np.ndarray


def image_matrix(table: pd.DataFrame, size: tuple[int, int] = (32, 32)) -> np.ndarray:
    """Return one row per image: its pixels at ``size`` (height, width), flattened, 0-1 scale."""
    _check_table(table, ("file",))
    return np.stack([read_image(file, size).reshape(-1) / 255.0 for file in table["file"]]).astype(np.float32)


def pca_images(table: pd.DataFrame, size: tuple[int, int] = (32, 32), n_components: int = 20) -> PCAResult:
    """Return scikit-learn's PCA (exact: a full SVD) of the images as rows of ``image_matrix``:
    the directions in which the images vary most, shown as pictures, are the *eigen-images*."""
    from sklearn.decomposition import PCA

    _check_table(table)
    shape = (int(size[0]), int(size[1]), 3)
    if not 1 <= n_components <= min(len(table), int(np.prod(shape))):
        raise ValueError(f"n_components must be between 1 and the number of images "
                         f"({len(table)}), got {n_components}")
    matrix = image_matrix(table, size)
    model = PCA(n_components=n_components, svd_solver="full").fit(matrix)
    return PCAResult(model.transform(matrix), table["label"].to_numpy(),
                     model.components_.reshape((n_components,) + shape),
                     model.explained_variance_ratio_, model.mean_.reshape(shape))


def _figure(width: float, height: float, rows: int, columns: int, title: str):
    """A Figure and its (rows, columns) axes, without ticks, titled."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for axis in axes.ravel():
        axis.set_axis_off()
    fig.suptitle(title)
    return fig, axes


def plot_sample_grid(chosen: pd.DataFrame, size: tuple[int, int] = (128, 128),
                     title: str = "Random samples per class") -> Figure:
    """Draw the images of ``chosen`` (rows of ``image_table``) at ``size``: one row per label,
    each titled with its file name (e.g. ``table.groupby("label").sample(6, random_state=0)``)."""
    _check_table(chosen, ("file", "label", "path"))
    groups = [group for _, group in chosen.groupby("label")]
    columns = max(len(group) for group in groups)
    fig, axes = _figure(2.2 * columns, 2.4 * len(groups) + 0.4, len(groups), columns, title)
    for row, group in enumerate(groups):
        for axis, (_, picked) in zip(axes[row], group.iterrows()):
            axis.imshow(read_image(picked["file"], size))
            axis.set_title(f"{picked['label']}\n{PurePosixPath(picked['path']).name}", fontsize=9)
    return fig


def plot_class_images(means: dict, stds: dict | None = None,
                      title: str = "Average image per class") -> Figure:
    """Draw each label's mean image and, given ``stds``, its brightness spread below (one scale)."""
    rows, labels = 1 + (stds is not None), list(means)
    fig, axes = _figure(3.2 * len(labels) + 1, 3.4 * rows, rows, len(labels), title)
    for axis, label in zip(axes[0], labels):
        axis.imshow(means[label].round().astype(np.uint8))
        axis.set_title(f"mean {label}")
    if stds is not None:
        spread = {label: stds[label] @ [0.299, 0.587, 0.114] for label in labels}  # luminance
        top = max(float(image.max()) for image in spread.values()) or 1.0
        for axis, label in zip(axes[1], labels):
            shown = axis.imshow(spread[label], cmap="magma", vmin=0, vmax=top)
            axis.set_title(f"standard deviation {label}")
        fig.colorbar(shown, ax=axes[1].tolist(), shrink=0.8, label="brightness spread")
    return fig


def plot_eigen_images(result: PCAResult, count: int = 8,
                      title: str = "Mean image and eigen-images") -> Figure:
    """Draw the mean image and the first ``count`` components, each stretched to 0-1 to show it."""
    count = min(count, len(result.components))
    rows = 1 if count < 6 else 2
    columns = int(np.ceil((count + 1) / rows))
    fig, axes = _figure(2.4 * columns, 2.9 * rows, rows, columns, title)
    axes = axes.ravel()
    axes[0].imshow(result.mean.clip(0, 1))
    axes[0].set_title("mean")
    for k, component in enumerate(result.components[:count]):
        axes[k + 1].imshow((component - component.min()) / (np.ptp(component) or 1.0))
        axes[k + 1].set_title(f"PC {k + 1}\n{result.explained_variance_ratio[k]:.1%}", fontsize=10)
    return fig
