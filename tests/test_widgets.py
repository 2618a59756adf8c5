"""coursekit.widgets: how views are shown (no stacked figures, a static fallback) and held."""

from __future__ import annotations

import base64

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from coursekit import widgets


def _png_in(output: ipywidgets.Output) -> bytes:
    (entry,) = output.outputs
    return base64.b64decode(entry["data"]["image/png"])


def test_a_redraw_replaces_the_picture_instead_of_stacking_it():
    output = ipywidgets.Output()
    first, second = np.zeros((4, 4, 3), np.uint8), np.full((4, 6, 3), 200, np.uint8)
    widgets.show_figure(first, output)
    widgets.show_figure(second, output)
    assert _png_in(output) == widgets.figure_to_png(second)
    figure = Figure()
    figure.add_subplot().plot([1, 2])
    widgets.show_figure(figure, output)
    assert len(output.outputs) == 1 and _png_in(output)[:4] == b"\x89PNG"


def test_redraw_is_held_while_code_sets_controls():
    drawn = []
    redraw = widgets.Redraw(lambda: drawn.append(slider.value))
    slider = ipywidgets.IntSlider(value=5, max=10)
    slider.observe(redraw, names="value")
    with redraw.held():
        slider.max = 3  # clamps the value to 3: no drawing while held
    assert drawn == [] and not redraw.holding
    slider.value = 1
    assert drawn == [1]


def test_view_fallback_is_a_png_of_a_figure_or_a_picture():
    picture = np.full((3, 3, 3), 9, np.uint8)
    view = widgets.View(ipywidgets.VBox(), render=lambda: picture, figure=lambda: picture)
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == widgets.figure_to_png(picture)
