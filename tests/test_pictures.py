"""coursekit.pictures: the pictures and figures show exactly the arrays they are given."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import Normalize

from coursekit import activations, pictures


def _colored(plane, cmap="viridis"):
    """What imshow draws for a 2-D array (matplotlib's colormap, as bytes)."""
    return matplotlib.colormaps[cmap](Normalize()(plane), bytes=True)[..., :3]


def test_overlay_blends_photo_and_colormap():
    photo, heat = np.full((8, 8, 3), 255.0), np.zeros((2, 2))
    np.testing.assert_allclose(pictures.overlay(photo, heat, alpha=0.0), 1.0)
    full = pictures.overlay(photo, heat, alpha=1.0, cmap="viridis")
    np.testing.assert_allclose(full[0, 0], matplotlib.colormaps["viridis"](0.0)[:3], rtol=1e-6)
    with pytest.raises(ValueError, match="colour-blind-safe"):
        pictures.overlay(photo, heat, cmap="jet")
    with pytest.raises(ValueError, match="alpha"):
        pictures.overlay(photo, heat, alpha=1.5)


def test_gradcam_picture_is_photo_and_overlay():
    photo = np.random.default_rng(4).uniform(0, 255, (10, 12, 3))
    heat = np.random.default_rng(5).uniform(size=(3, 3))
    picture = pictures.gradcam_picture(photo, heat, 0.6, "title")
    top = pictures.FEATURE_MAP_TOP
    np.testing.assert_array_equal(picture[top:, :12], np.round(photo / 255 * 255).astype(np.uint8))
    expected = np.round(pictures.overlay(photo, heat, 0.6) * 255).astype(np.uint8)
    np.testing.assert_array_equal(picture[top:, 20:32], expected)


def test_figures_draw_what_the_functions_compute():
    rng = np.random.default_rng(6)
    stack = rng.normal(size=(6, 6, 8)).astype("float32")
    grid_figure = pictures.plot_channel_grid(stack, "conv_b")
    np.testing.assert_array_equal(grid_figure.axes[0].images[0].get_array().filled(np.nan),
                                  pictures.channel_grid(stack))
    kernel = rng.normal(size=(3, 3, 3, 4))
    filters = pictures.plot_first_layer_filters(kernel, columns=2)
    assert [axes.get_title() for axes in filters.axes] == [
        "normalised", "positive weights", "negative weights"]
    tiles = filters.axes[1].images[0].get_array()  # 2 x 2 filters of 3x3, 1 white pixel apart
    positive = pictures.first_layer_rgb(kernel)["positive weights"]
    np.testing.assert_array_equal(tiles[4:7, 4:7], positive[3])
    assert tiles.shape == (7, 7, 3) and (tiles[3] == 1).all()
    patterns = rng.uniform(size=(3, 5, 5, 3))
    drawn = pictures.plot_images(patterns, ["filter 7", "filter 8", "filter 9"], "patterns")
    assert [axes.get_title() for axes in drawn.axes] == ["filter 7", "filter 8", "filter 9"]
