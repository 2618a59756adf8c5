"""Tests for coursekit.eda and the lesson 2 sample browser, on tiny folders and the real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from coursekit import eda, views, widgets
from tests._bad_corpus import photo


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """train/validation x bright/dark, images of varied sizes; plus files eda must skip."""
    root = tmp_path_factory.mktemp("eda")
    sizes = [(40, 30), (30, 40), (50, 50), (64, 32), (33, 47)]
    for split, count in (("train", 5), ("validation", 3)):
        for label, factor in (("bright", 1.0), ("dark", 0.3)):
            for k in range(count):
                image = photo(100 * k + len(split) + int(factor * 10), sizes[k % len(sizes)])
                array = (np.asarray(image, dtype=np.float64) * factor).astype(np.uint8)
                target = root / split / label / f"{label}_{k}.{'png' if k % 2 else 'jpg'}"
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(target)
    (root / "train" / "bright" / ".DS_Store").write_bytes(b"\x00Bud1")
    (root / "train" / "bright" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def table(folder) -> pd.DataFrame:
    return eda.image_table(folder)


def _pixels(files, size=None) -> np.ndarray:
    return np.concatenate([eda.read_image(file, size).reshape(-1, 3) for file in files]).astype(np.float64)


def test_image_table_reads_headers_and_layout(table, folder):
    assert len(table) == 16
    assert set(table["split"]) == {"train", "validation"}
    assert set(table["label"]) == {"bright", "dark"}
    row = table.set_index("path").loc["train/bright/bright_3.png"]
    assert (row["width"], row["height"]) == (64, 32) and row["aspect"] == 2.0
    assert Path(row["file"]).is_file()
    flat = eda.image_table(folder / "train")
    assert set(flat["label"]) == {"bright", "dark"} and all(split is None for split in flat["split"])
    assert table["width"].dtype == "int64" and table["aspect"].dtype == "float64"
    with pytest.raises(ValueError, match="not a folder"):
        eda.image_table(folder / "missing")


def test_image_table_points_to_cleaning_for_broken_files(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "page.jpg").write_text("<html>403 Forbidden</html>")
    with pytest.raises(ValueError, match="coursekit.scan.scan"):
        eda.image_table(tmp_path)


def test_class_counts(table):
    counts = eda.class_counts(table)
    assert counts.loc["bright", "train"] == 5 and counts.loc["dark", "validation"] == 3
    assert counts["total"].tolist() == [8, 8]


def test_channel_stats_are_exact_against_numpy(table):
    stats = eda.channel_stats(table)
    pixels = _pixels(table["file"])
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), rtol=0, atol=1e-9)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), rtol=0, atol=1e-9)
    assert stats.attrs["pixels"] == len(pixels)
    resized = eda.channel_stats(table, size=(16, 16))
    np.testing.assert_allclose(resized["mean"], _pixels(table["file"], (16, 16)).mean(axis=0), atol=1e-9)


def test_brightness_histograms_count_every_pixel(table):
    histograms = eda.brightness_histograms(table)
    assert list(histograms.columns) == ["bright", "dark"] and len(histograms) == 256
    for label in ("bright", "dark"):
        files = table.loc[table["label"] == label, "file"]
        gray = np.concatenate([np.asarray(Image.open(f).convert("L")).ravel() for f in files])
        np.testing.assert_array_equal(histograms[label].to_numpy(), np.bincount(gray, minlength=256))
    mean = lambda h: (h.index.values * h).sum() / h.sum()
    assert mean(histograms["bright"]) > 2 * mean(histograms["dark"])


def test_mean_and_standard_deviation_images(table):
    means, stds = eda.class_images(table, size=(8, 8))
    dark = np.stack([eda.read_image(f, (8, 8)).astype(np.float64)
                     for f in table.loc[table["label"] == "dark", "file"]])
    np.testing.assert_allclose(means["dark"], dark.mean(axis=0))
    np.testing.assert_allclose(stds["dark"], dark.std(axis=0), atol=1e-6)
    assert list(means) == list(stds) == ["bright", "dark"]


def test_sample_grid_draws_one_row_per_class(table):
    chosen = table.groupby("label").sample(3, random_state=1)
    figure = eda.plot_sample_grid(chosen, size=(10, 20))  # (height, width)
    shown = [axes.images[0].get_array().shape for axes in figure.axes if axes.images]
    assert shown == [(10, 20, 3)] * 6
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[:3] == [f"bright\n{Path(path).name}" for path in chosen["path"][:3]]


def test_sizes_are_height_then_width_as_in_keras(table):
    assert eda.read_image(table["file"][0], (10, 20)).shape == (10, 20, 3)
    assert eda.read_image(table["file"][0], (10, 20), mode="L").shape == (10, 20)
    assert eda.class_images(table, size=(4, 6))[1]["dark"].shape == (4, 6, 3)
    assert eda.pca_images(table, size=(4, 6), n_components=2).components.shape == (2, 4, 6, 3)


def test_pca_finds_the_brightness_direction(table):
    result = eda.pca_images(table, size=(8, 8), n_components=4)
    assert result.scores.shape == (16, 4) and result.components.shape == (4, 8, 8, 3)
    flat = result.components.reshape(4, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(4), atol=1e-5)  # orthonormal eigen-images
    assert np.all(np.diff(result.explained_variance_ratio) <= 1e-12)
    first = result.scores[:, 0]
    bright, dark = first[result.labels == "bright"], first[result.labels == "dark"]
    assert min(bright.min(), dark.min()) < 0 < max(bright.max(), dark.max())
    assert bright.max() < dark.min() or dark.max() < bright.min()  # PC 1 separates the classes
    with pytest.raises(ValueError, match="n_components"):
        eda.pca_images(table, size=(8, 8), n_components=0)


def test_pca_written_out_with_numpy_agrees_with_the_helper(table):
    """Lesson 2's few lines (centre, SVD, project) give the helper's components and scores."""
    matrix = eda.image_matrix(table, (8, 8)).astype(np.float64)
    centred = matrix - matrix.mean(axis=0)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    result = eda.pca_images(table, size=(8, 8), n_components=3)
    signs = np.sign(np.sum(directions[:3] * result.components.reshape(3, -1), axis=1))
    np.testing.assert_allclose(directions[:3] * signs[:, None], result.components.reshape(3, -1), atol=1e-4)
    np.testing.assert_allclose(centred @ directions[:3].T * signs, result.scores, atol=1e-3)
    np.testing.assert_allclose(singular[:3] ** 2 / (singular ** 2).sum(), result.explained_variance_ratio,
                               atol=1e-5)


def test_plots_return_titled_figures(table):
    pca = eda.pca_images(table, size=(8, 8), n_components=4)
    figures = [eda.plot_sample_grid(table.groupby("label").head(2), size=(16, 16)),
               eda.plot_class_images(*eda.class_images(table, size=(8, 8))),
               eda.plot_eigen_images(pca, count=3)]
    for figure in figures:
        assert isinstance(figure, Figure) and figure.get_suptitle()
        assert all(axes.get_title() for axes in figure.axes if axes.images)
        assert widgets.figure_to_png(figure)[:4] == b"\x89PNG"
    assert len(figures[1].axes) == 2 * 2 + 1  # mean and spread per class, one shared colour bar


def test_sample_browser_view(table, monkeypatch):
    view = views.sample_browser(table, max_side=32)
    assert set(view.controls) == {"label", "index"}
    assert view.controls["label"].description and view.controls["index"].description
    assert view.render("dark", 2).dtype == np.uint8 and max(view.render("dark", 2).shape[:2]) <= 32
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: opened.append(args) or real_open(*args, **kwargs))
    view.controls["label"].value = "dark"  # shows dark image 0: read once
    assert len(opened) == 1
    view.controls["index"].value = 2  # rendered above already: nothing is read again
    view.controls["index"].value = 0
    assert len(opened) == 1
    view.controls["index"].value = 4
    assert len(opened) == 2
    assert view.controls["index"].max == 7
    with pytest.raises(ValueError, match="index"):
        view.render("dark", 8)
    with pytest.raises(ValueError, match="unknown class"):
        view.render("cats", 0)
    bundle = view._repr_mimebundle_()
    assert "image/png" in bundle and "application/vnd.jupyter.widget-view+json" in bundle


def test_real_quick_subset_statistics(quick_root):
    table = eda.image_table(quick_root)
    counts = eda.class_counts(table)
    assert counts.loc["cats", "train"] == 100 and counts.loc["dogs", "validation"] == 50
    sample = table.iloc[::30]
    stats = eda.channel_stats(sample)
    pixels = _pixels(sample["file"])
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=0), atol=1e-9)
    assert 90 < stats.loc["red", "mean"] < 140  # natural photos: mid-grey on average


def test_lesson_2_checks_compute_their_answers_from_the_data(table, capsys):
    from coursekit import checks

    counts, stats = eda.class_counts(table), eda.channel_stats(table)
    histograms, pca = eda.brightness_histograms(table), eda.pca_images(table, size=(8, 8), n_components=4)
    assert checks.check_baseline(0.5, counts) and not checks.check_baseline(0.6, counts)
    white = (255 - stats.loc["blue", "mean"]) / stats.loc["blue", "std"]
    assert checks.check_normalized_white(white, stats) and not checks.check_normalized_white(white / 255, stats)
    assert checks.check_brighter_class("bright", histograms) and not checks.check_brighter_class("dark", histograms)
    share = pca.explained_variance_ratio[0]
    assert checks.check_first_share(share, pca) and not checks.check_first_share(share / 2, pca)
    needed = int(np.argmax(np.cumsum(pca.explained_variance_ratio) >= 0.5)) + 1
    assert checks.check_components_for_half(needed, pca) and not checks.check_components_for_half(needed + 1, pca)
    assert capsys.readouterr().out.count("✅") == 5
