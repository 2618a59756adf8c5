"""How figures and views are shown (the views themselves: ``views``, ``explorers``).

A :class:`View` is a widget and its ``render`` (control values -> the array drawn); displayed,
it also sends a PNG of its state for exports without a widget front end (nbconvert, PDF).

>>> view = View(ipywidgets.VBox(), render=lambda: 1, figure=lambda: np.zeros((2, 2, 3), np.uint8))
>>> sorted(view._repr_mimebundle_())
['application/vnd.jupyter.widget-view+json', 'image/png', 'text/plain']
"""

from __future__ import annotations

import base64
import contextlib
import io
from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets
import matplotlib
import numpy as np
from IPython.display import Image, display
from matplotlib.figure import Figure
from PIL import Image as PILImage

from coursekit import config


def figure_to_png(figure: Figure | np.ndarray, dpi: int = 80) -> bytes:
    """Return a matplotlib figure, or an RGB uint8 picture, as PNG bytes (nothing global touched).

    >>> figure = Figure()
    >>> _ = figure.add_subplot().plot([1, 2])
    >>> figure_to_png(figure)[:4], figure_to_png(np.zeros((2, 2, 3), np.uint8))[:4]
    (b'\\x89PNG', b'\\x89PNG')
    """
    buffer = io.BytesIO()
    if isinstance(figure, Figure):
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    else:  # zlib level 1: a few milliseconds, which is what lets the explorers keep up
        PILImage.fromarray(np.asarray(figure)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def show_figure(figure: Figure | np.ndarray, output: ipywidgets.Output | None = None) -> None:
    """Draw a Figure or an RGB uint8 picture as a PNG, replacing what ``output`` showed (no stacking)."""
    png = figure_to_png(figure, dpi=int(matplotlib.rcParams["figure.dpi"]))
    if output is None:
        display(Image(data=png))
        return
    # One step: nothing stacks or flickers, nothing is printed without a front end (tests).
    output.outputs = ({"output_type": "display_data", "metadata": {}, "data": {
        "image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<picture>"}},)


class Redraw:
    """A control callback that calls ``draw()``, except while ``held()``: when code sets a
    control (a slider's range, say), the view must not draw a second time."""

    def __init__(self, draw: Callable[[], None]):
        self.draw, self.holding = draw, False

    def __call__(self, change=None) -> None:
        if not self.holding:
            self.draw()

    @contextlib.contextmanager
    def held(self):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False


_LECTURE_CSS = """<style>
.coursekit-lecture .widget-label, .coursekit-lecture .widget-readout,
.coursekit-lecture select, .coursekit-lecture button { font-size: 20px !important; }
.coursekit-lecture .widget-label { min-width: 9em; }
.coursekit-lecture .noUi-handle { transform: scale(1.6); }
</style>"""


@dataclass
class View:
    """A widget, ``render`` (values -> the array drawn), ``figure`` (its static fallback picture)
    and named ``controls`` (``view.controls["channel"].value = 3``), large in lecture mode."""

    widget: ipywidgets.Widget
    render: Callable[..., Any]
    figure: Callable[[], Figure | np.ndarray]
    controls: dict[str, ipywidgets.Widget] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if config.lecture_on():
            for control in self.controls.values():
                control.layout.width = "80%"
                if hasattr(control.style, "description_width"):
                    control.style.description_width = "initial"
            self.widget = ipywidgets.VBox([ipywidgets.HTML(_LECTURE_CSS), self.widget])
            self.widget.add_class("coursekit-lecture")

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle = dict(bundle[0] if isinstance(bundle, tuple) else bundle)  # (data, metadata)
        bundle["image/png"] = base64.b64encode(figure_to_png(self.figure())).decode("ascii")
        return bundle
