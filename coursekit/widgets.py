"""Interactive views (ipywidgets) over the pure functions of ``eda``, ``visualize`` and friends.

Every explorer is built by a factory that returns a :class:`View`: the widget to display, and
the ``render`` function that turns the current control values into the array that is drawn.
Tests call ``render`` directly; the widget only wires controls to it.

Displaying a ``View`` sends the live widget *and* a static PNG of its current state in one
output. JupyterLab and Colab show the widget; nbconvert, PDF and slide exports (no widget
front end) fall back to the picture, so a printed notebook still shows the figure.
Redraws go through one ``Output`` with ``clear_output(wait=True)``, so figures never stack.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets
import matplotlib
import numpy as np
from IPython.display import Image, clear_output, display
from matplotlib.figure import Figure

__all__ = ["View", "figure_to_png", "show_figure"]


def figure_to_png(figure: Figure, dpi: int = 80) -> bytes:
    """Return a matplotlib figure rendered as PNG bytes (no pyplot, nothing global touched).

    Example:
        >>> figure = Figure(); figure.add_subplot().plot([1, 2])
        >>> figure_to_png(figure)[:4]
        b'\\x89PNG'
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def show_figure(figure: Figure, output: ipywidgets.Output | None = None) -> None:
    """Draw ``figure`` as a PNG, replacing what ``output`` showed before (no stacked figures)."""
    image = Image(data=figure_to_png(figure, dpi=int(matplotlib.rcParams["figure.dpi"])))
    if output is None:
        display(image)
        return
    with output:
        clear_output(wait=True)
        display(image)


@dataclass
class View:
    """A widget plus the pure function behind it.

    ``widget``  the ipywidgets container to display;
    ``render``  values -> the array that is drawn (tests call it directly);
    ``figure``  () -> a matplotlib Figure of the current state (the static fallback);
    ``controls`` the named controls, so tests and notebooks can set values
    (``view.controls["channel"].value = 3``).
    """

    widget: ipywidgets.Widget
    render: Callable[..., Any]
    figure: Callable[[], Figure]
    controls: dict[str, ipywidgets.Widget] = field(default_factory=dict)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        if isinstance(bundle, tuple):  # (data, metadata)
            bundle = bundle[0]
        bundle = dict(bundle)
        png = figure_to_png(self.figure())
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        bundle.setdefault("text/plain", f"<{type(self.widget).__name__}: interactive view>")
        return bundle


# ---------------------------------------------------------------- lesson 0: a first slider


def brighten(image, factor: float):
    """Return ``image`` (uint8, H x W x 3) with every pixel multiplied by ``factor``, clipped.

    Example:
        >>> brighten(np.full((1, 1, 3), 100, np.uint8), 1.5)[0, 0, 0]
        150
    """
    if factor < 0:
        raise ValueError(f"factor must be >= 0, got {factor}")
    return np.clip(np.asarray(image, dtype=np.float32) * factor, 0, 255).astype(np.uint8)


def brightness_demo(image, title: str = "") -> View:
    """Return a View: a 'Brightness' slider over ``image``; moving it redraws at once."""
    slider = ipywidgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1,
                                    description="Brightness", continuous_update=True)
    output = ipywidgets.Output()

    def figure() -> Figure:
        fig = Figure(figsize=(4, 4))
        axes = fig.add_subplot()
        axes.imshow(brighten(image, slider.value))
        axes.set_title(f"{title} brightness x{slider.value:.1f}".strip())
        axes.set_axis_off()
        return fig

    slider.observe(lambda change: show_figure(figure(), output), names="value")
    show_figure(figure(), output)
    return View(ipywidgets.VBox([slider, output]), render=lambda factor: brighten(image, factor),
                figure=figure, controls={"brightness": slider})


# ---------------------------------------------------------------- lesson 2: sample browser


# ---------------------------------------------------------------- lessons 3-4: kernel editor, augmentation preview


# ---------------------------------------------------------------- lesson 6: explorers
