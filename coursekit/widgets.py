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

from coursekit import config

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


_LECTURE_CSS = """<style>
.coursekit-lecture .widget-label, .coursekit-lecture .widget-readout,
.coursekit-lecture select, .coursekit-lecture button { font-size: 20px !important; }
.coursekit-lecture .widget-label { min-width: 9em; }
.coursekit-lecture .noUi-handle { transform: scale(1.6); }
</style>"""


def lecture_sized(widget: ipywidgets.Widget, controls: list[ipywidgets.Widget]) -> ipywidgets.Widget:
    """Return ``widget`` restyled for a projector: wide controls, large labels and handles.

    Used by every View when lecture mode is on (``COURSEKIT_LECTURE=1`` or
    ``coursekit.lecture_mode()``).
    """
    for control in controls:
        control.layout.width = "80%"
        if hasattr(control.style, "description_width"):
            control.style.description_width = "initial"
    widget.add_class("coursekit-lecture")
    return ipywidgets.VBox([ipywidgets.HTML(_LECTURE_CSS), widget]).add_class("coursekit-lecture")


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

    def __post_init__(self) -> None:
        if config.lecture_on():
            self.widget = lecture_sized(self.widget, list(self.controls.values()))

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


def sample_browser(table, max_side: int = 480, cache_size: int = 64) -> View:
    """Return a View to look through a dataset: a 'Class' dropdown and an 'Image' slider.

    ``table`` is ``eda.image_table(root)`` (columns ``file``, ``path``, ``label``). Images are
    shown at their own aspect ratio, shrunk to at most ``max_side`` pixels; the last
    ``cache_size`` loaded images are kept, so going back and forth redraws without reading the
    file again. Changing the class keeps the slider position when it is still in range.
    ``render(label=None, index=None)`` returns the uint8 (height, width, 3) image for those
    values (None: the current control value) and raises ValueError for invalid ones.

    Example:
        >>> view = sample_browser(eda.image_table(root))              # doctest: +SKIP
        >>> view.controls["label"].value = "dogs"; view.controls["index"].value = 3
        >>> view.render().dtype
        dtype('uint8')
    """
    from PIL import Image as PILImage

    for column in ("file", "path", "label"):
        if column not in table:
            raise ValueError(f"table has no {column!r} column: pass eda.image_table(root)")
    labelled = table[table["label"].notna()]
    labels = sorted(labelled["label"].unique())
    if not labels:
        raise ValueError("table has no labelled images to browse")
    rows = {label: labelled[labelled["label"] == label].reset_index(drop=True) for label in labels}
    cache: dict[str, np.ndarray] = {}
    label_box = ipywidgets.Dropdown(options=labels, value=labels[0], description="Class")
    index_slider = ipywidgets.IntSlider(value=0, min=0, max=len(rows[labels[0]]) - 1,
                                        description="Image", continuous_update=True)
    output = ipywidgets.Output()
    live = {"hold": False}

    def row_for(label, index):
        label = label_box.value if label is None else label
        index = index_slider.value if index is None else index
        if label not in rows:
            raise ValueError(f"unknown class {label!r}; classes: {', '.join(labels)}")
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(rows[label]):
            raise ValueError(f"index must be an int from 0 to {len(rows[label]) - 1} for class "
                             f"{label!r}, got {index!r}")
        return label, int(index), rows[label].iloc[int(index)]

    def render(label=None, index=None) -> np.ndarray:
        _, _, row = row_for(label, index)
        if row["file"] not in cache:
            if len(cache) >= cache_size:
                cache.pop(next(iter(cache)))
            with PILImage.open(row["file"]) as image:
                image.draft("RGB", (max_side, max_side))
                picture = image.convert("RGB")
                picture.thumbnail((max_side, max_side))
            cache[row["file"]] = np.asarray(picture)
        return cache[row["file"]]

    def figure() -> Figure:
        label, index, row = row_for(None, None)
        fig = Figure(figsize=(5, 5), dpi=100)
        axes = fig.add_subplot()
        axes.imshow(render())
        size = f" ({row['width']}x{row['height']})" if "width" in row else ""
        axes.set_title(f"{label} {index + 1}/{len(rows[label])}: {row['path']}{size}", fontsize=11)
        axes.set_axis_off()
        return fig

    def redraw(change=None) -> None:
        if not live["hold"]:
            show_figure(figure(), output)

    def on_label(change) -> None:
        live["hold"] = True
        try:
            index_slider.max = len(rows[change["new"]]) - 1  # the slider clamps its value
        finally:
            live["hold"] = False
        redraw()

    label_box.observe(on_label, names="value")
    index_slider.observe(redraw, names="value")
    redraw()
    return View(ipywidgets.VBox([ipywidgets.HBox([label_box, index_slider]), output]),
                render=render, figure=figure, controls={"label": label_box, "index": index_slider})


# ---------------------------------------------------------------- lessons 3-4: kernel editor, augmentation preview


def _grayscale(image) -> np.ndarray:
    """Return an RGB (0-255) or gray image as float32 luminance in 0-1."""
    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:
        array = array[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"image must be (height, width) or (height, width, 3), got {np.shape(image)}")
    return array / 255.0 if array.max() > 1.0 else array


def kernel_editor(image, preset: str = "sobel x (vertical edges)") -> View:
    """Return a View: a 3x3 grid of numbers (or a preset) -> the filtered photo, at once.

    The photo is turned to grayscale and filtered with ``cnn.apply_kernel``: what one
    Conv2D filter computes (cross-correlation). 'Flip kernel' computes a true convolution
    instead. Results are cached per kernel, so going back to a kernel redraws instantly.
    ``render(kernel=None, flip=None)`` returns the filtered 2-D array (None: current values).

    Example:
        >>> view = kernel_editor(photo)                                   # doctest: +SKIP
        >>> view.controls["preset"].value = "sharpen"
        >>> view.render().shape == photo.shape[:2]
        True
    """
    from coursekit import cnn

    if preset not in cnn.KERNEL_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(cnn.KERNEL_PRESETS)}")
    gray = _grayscale(image)
    cache: dict[tuple, np.ndarray] = {}
    preset_box = ipywidgets.Dropdown(options=list(cnn.KERNEL_PRESETS) + ["custom"],
                                     value=preset, description="Preset",
                                     layout=ipywidgets.Layout(width="340px"))
    cells = [ipywidgets.FloatText(value=float(cnn.KERNEL_PRESETS[preset][row, column]),
                                  description=f"k[{row},{column}]", step=0.5,
                                  layout=ipywidgets.Layout(width="150px"),
                                  style={"description_width": "48px"})
             for row in range(3) for column in range(3)]
    flip_box = ipywidgets.Checkbox(value=False, description="Flip kernel (true convolution)",
                                   indent=False)
    output = ipywidgets.Output()
    live = {"hold": False}

    def current_kernel() -> np.ndarray:
        return np.array([cell.value for cell in cells], dtype=np.float32).reshape(3, 3)

    def render(kernel=None, flip=None) -> np.ndarray:
        kernel = current_kernel() if kernel is None else np.asarray(kernel, dtype=np.float32)
        flip = flip_box.value if flip is None else bool(flip)
        key = (tuple(kernel.ravel().tolist()), kernel.shape, flip)
        if key not in cache:
            if len(cache) > 32:
                cache.pop(next(iter(cache)))
            cache[key] = cnn.apply_kernel(gray, kernel, flip=flip)
        return cache[key]

    def figure() -> Figure:
        filtered = render()
        fig = Figure(figsize=(10, 4.2), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.imshow(gray, cmap="gray", vmin=0, vmax=1)
        left.set_title("input (grayscale)")
        limit = float(np.abs(filtered).max()) or 1.0
        shown = right.imshow(filtered, cmap="cividis", vmin=-limit if filtered.min() < 0 else 0,
                             vmax=limit)
        right.set_title(f"filtered: {preset_box.value}" + (" (flipped)" if flip_box.value else ""))
        fig.colorbar(shown, ax=right, shrink=0.8, label="response")
        for axes in (left, right):
            axes.set_xticks([])
            axes.set_yticks([])
        return fig

    def redraw(change=None) -> None:
        if not live["hold"]:
            show_figure(figure(), output)

    def on_preset(change) -> None:
        if change["new"] == "custom":
            return
        live["hold"] = True
        try:
            for cell, value in zip(cells, cnn.KERNEL_PRESETS[change["new"]].ravel()):
                cell.value = float(value)
        finally:
            live["hold"] = False
        redraw()

    def on_cell(change) -> None:
        if live["hold"]:
            return
        live["hold"] = True
        try:
            preset_box.value = "custom"
        finally:
            live["hold"] = False
        redraw()

    preset_box.observe(on_preset, names="value")
    for cell in cells:
        cell.observe(on_cell, names="value")
    flip_box.observe(redraw, names="value")
    show_figure(figure(), output)
    grid = ipywidgets.GridBox(cells, layout=ipywidgets.Layout(
        grid_template_columns="repeat(3, 160px)", grid_gap="4px"))
    widget = ipywidgets.VBox([ipywidgets.HBox([preset_box, flip_box]), grid, output])
    controls = {"preset": preset_box, "flip": flip_box}
    controls.update({cell.description: cell for cell in cells})
    return View(widget, render=render, figure=figure, controls=controls)


def augmentation_preview(image, count: int = 9, seed: int = 0) -> View:
    """Return a View: one photo shown ``count`` times, randomly augmented, with a slider per strength.

    Controls: 'Flip' (none, horizontal, vertical, both), 'Rotation' (fraction of a full
    turn), 'Zoom', 'Translation' (fractions of the size), 'Contrast', and a 'New draw' button
    (new random transforms). Each grid is computed by ``cnn.augment_grid`` (the Keras
    preprocessing layers, in training mode) and cached, so revisiting settings is instant.
    ``render(**strengths)`` returns the (count, H, W, 3) uint8 grid for those strengths.

    Example:
        >>> view = augmentation_preview(photo)                            # doctest: +SKIP
        >>> view.render(rotation=0.2, zoom=0.0).shape
        (9, 150, 150, 3)
    """
    from coursekit import cnn

    photo = np.asarray(image)
    if photo.ndim != 3:
        raise ValueError(f"image must be one (height, width, 3) photo, got shape {photo.shape}")
    cache: dict[tuple, np.ndarray] = {}
    flip = ipywidgets.Dropdown(options=[("none", None), ("horizontal", "horizontal"),
                                        ("vertical", "vertical"),
                                        ("both", "horizontal_and_vertical")],
                               value="horizontal", description="Flip")
    sliders = {
        "rotation": ipywidgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.05,
                                           description="Rotation", readout_format=".2f"),
        "zoom": ipywidgets.FloatSlider(value=0.2, min=0.0, max=0.6, step=0.05,
                                       description="Zoom", readout_format=".2f"),
        "translation": ipywidgets.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.05,
                                              description="Translation", readout_format=".2f"),
        "contrast": ipywidgets.FloatSlider(value=0.0, min=0.0, max=0.9, step=0.1,
                                           description="Contrast", readout_format=".1f"),
    }
    for slider in sliders.values():
        slider.continuous_update = False  # one recompute when the handle is released
    draw = ipywidgets.Button(description="New draw", tooltip="new random transforms")
    output = ipywidgets.Output()
    state = {"seed": int(seed)}

    def strengths() -> dict:
        return {"flip": flip.value, **{name: slider.value for name, slider in sliders.items()}}

    def render(**overrides) -> np.ndarray:
        unknown = set(overrides) - {"flip", *sliders}
        if unknown:
            raise ValueError(f"unknown strength(s) {sorted(unknown)}; "
                             f"use flip, {', '.join(sliders)}")
        values = {**strengths(), **overrides}
        key = (state["seed"], tuple(sorted((name, value) for name, value in values.items())))
        if key not in cache:
            if len(cache) > 16:
                cache.pop(next(iter(cache)))
            cache[key] = cnn.augment_grid(photo, count=count, seed=state["seed"], **values)
        return cache[key]

    def figure() -> Figure:
        grid = render()
        columns = int(np.ceil(np.sqrt(len(grid))))
        rows = int(np.ceil(len(grid) / columns))
        fig = Figure(figsize=(2.6 * columns, 2.6 * rows + 0.4), layout="constrained")
        for axes in np.atleast_1d(fig.subplots(rows, columns)).ravel():
            axes.set_axis_off()
        for axes, picture in zip(fig.axes, grid):
            axes.imshow(picture)
        values = strengths()
        fig.suptitle(f"flip={values['flip']}, rotation={values['rotation']:.2f}, "
                     f"zoom={values['zoom']:.2f}, translation={values['translation']:.2f}, "
                     f"contrast={values['contrast']:.1f}", fontsize=11)
        return fig

    def redraw(change=None) -> None:
        show_figure(figure(), output)

    def new_draw(button) -> None:
        state["seed"] += 1
        redraw()

    flip.observe(redraw, names="value")
    for slider in sliders.values():
        slider.observe(redraw, names="value")
    draw.on_click(new_draw)
    redraw()
    controls_box = ipywidgets.VBox([ipywidgets.HBox([flip, draw]),
                                    ipywidgets.HBox([sliders["rotation"], sliders["zoom"]]),
                                    ipywidgets.HBox([sliders["translation"], sliders["contrast"]])])
    return View(ipywidgets.VBox([controls_box, output]), render=render, figure=figure,
                controls={"flip": flip, **sliders, "new_draw": draw})


# ---------------------------------------------------------------- lesson 6: explorers
# Thin views over coursekit.visualize. Each keeps what it already computed (all activations
# of an image, every Grad-CAM heatmap, every filter pattern) so moving a control only redraws.


def _layer_options(model, names) -> list[tuple[str, str]]:
    """Dropdown options 'name (h, w, c)' -> name."""
    from coursekit import visualize

    return [(f"{name}  {visualize.output_shape(model, name)}", name) for name in names]


def _image_batch(images) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(f"images must be one image (height, width, channels) or a batch "
                         f"(n, height, width, channels), got shape {array.shape}")
    return array


def _message(text: str) -> str:
    import html

    return f"<span style='color:#b35806'>⚠ {html.escape(text)}</span>" if text else ""


def _show_picture(picture: np.ndarray, output: ipywidgets.Output) -> None:
    """Like ``show_figure``, for a ready RGB uint8 array (the explorer's fast path).

    PNG at zlib level 1: a few milliseconds, where a matplotlib figure costs tens.
    """
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(picture).save(buffer, format="PNG", compress_level=1)
    with output:
        clear_output(wait=True)
        display(Image(data=buffer.getvalue()))


def _image_figure(image, title: str) -> Figure:
    from coursekit import visualize

    fig = Figure(figsize=(3, 3), dpi=100)
    axes = fig.add_subplot()
    axes.imshow(visualize.to_display(image))
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=11)
    return fig


def activation_explorer(model, image, layers=None, layer=None, channel: int = 0,
                        titles=None) -> View:
    """Return a View to explore feature maps: 'Layer' dropdown, 'Channel' slider, grid toggle.

    ``image`` is one image or a batch (then an 'Image' slider picks one). All activations of
    an image are computed once, in one forward pass (``visualize.feature_maps``), and kept:
    moving the channel slider or changing the layer only slices and redraws. ``layers``
    defaults to ``visualize.feature_map_layers(model)``; nested models work. An invalid choice
    (a layer without feature maps, a channel out of range) shows a message, not a traceback.
    ``render(layer=None, channel=None, image_index=None)`` returns the 2-D map for those values
    (None: the current control value) and raises ValueError for invalid ones.

    Example:
        >>> view = activation_explorer(model, image)        # doctest: +SKIP
        >>> view.controls["channel"].value = 5              # redraws channel 5
        >>> view.render().shape                             # doctest: +SKIP
        (148, 148)
    """
    from coursekit import visualize

    batch = _image_batch(image)
    names = visualize.feature_map_layers(model) if layers is None else [
        visualize.get_layer(model, name).name for name in layers]
    if not names:
        raise ValueError(f"model {model.name!r} has no layer with feature maps")
    titles = list(titles) if titles is not None else [f"image {i}" for i in range(len(batch))]
    cache: dict[int, dict[str, np.ndarray]] = {}

    def maps_for(index: int) -> dict[str, np.ndarray]:
        if index not in cache:  # one forward pass for every layer of the dropdown
            if len(cache) >= 8:
                cache.pop(next(iter(cache)))
            cache[index] = visualize.feature_maps(model, batch[index], names)
        return cache[index]

    start = layer if layer is not None else names[0]
    layer_box = ipywidgets.Dropdown(options=_layer_options(model, names), description="Layer",
                                    layout=ipywidgets.Layout(width="420px"))
    channel_slider = ipywidgets.IntSlider(value=0, min=0, max=0, description="Channel",
                                          continuous_update=True,
                                          layout=ipywidgets.Layout(width="420px"))
    image_slider = ipywidgets.IntSlider(value=0, min=0, max=len(batch) - 1, description="Image",
                                        continuous_update=False,
                                        layout=ipywidgets.Layout(width="420px"))
    grid_toggle = ipywidgets.ToggleButton(value=False, description="All channels",
                                          tooltip="show every channel of this layer as a grid")
    message = ipywidgets.HTML(value="")
    map_output, image_output, grid_output = (ipywidgets.Output() for _ in range(3))
    map_output.add_class("coursekit-feature-map")
    live = {"hold": False}

    def activation(layer_name, index) -> np.ndarray:
        maps = maps_for(index)
        found = layer_name if layer_name in maps else visualize.get_layer(model, layer_name).name
        if found not in maps:
            maps[found] = visualize.feature_maps(model, batch[index], [found])[found]
        result = maps[found]
        if result.ndim != 3:
            raise ValueError(f"layer {found!r} has output shape {result.shape}: no feature maps "
                             f"to show. Choose a convolution or pooling layer: {', '.join(names)}")
        return result

    def render(layer=None, channel=None, image_index=None) -> np.ndarray:
        layer = layer_box.value if layer is None else layer
        channel = channel_slider.value if channel is None else channel
        index = image_slider.value if image_index is None else int(image_index)
        if not 0 <= index < len(batch):
            raise ValueError(f"image_index must be in 0..{len(batch) - 1}, got {index}")
        return visualize.select_channel(activation(layer, index), channel)

    shapes = {name: visualize.output_shape(model, name) for name in names}

    def caption(layer_name) -> str:
        if layer_name not in shapes:
            shapes[layer_name] = visualize.output_shape(model, layer_name)
        return f"{layer_name} {shapes[layer_name]}"

    def draw_map() -> None:
        """Slice the cached activations and redraw: no model call, no matplotlib."""
        try:
            plane = render()
        except ValueError as error:
            message.value = _message(str(error))
            map_output.clear_output()
            return
        message.value = ""
        title = f"{caption(layer_box.value)} · channel {channel_slider.value}"
        _show_picture(visualize.feature_map_picture(plane, title), map_output)

    def draw_grid() -> None:
        if not grid_toggle.value:
            grid_output.clear_output()
            return
        try:
            stack = activation(layer_box.value, image_slider.value)
        except ValueError:
            grid_output.clear_output()
            return
        show_figure(visualize.plot_channel_grid(stack, caption(layer_box.value)), grid_output)

    def draw_image() -> None:
        show_figure(_image_figure(batch[image_slider.value], titles[image_slider.value]),
                    image_output)

    def follow_layer() -> None:
        """Fit the channel slider to the layer (without a redraw of its own)."""
        caption(layer_box.value)
        shape = shapes[layer_box.value]
        live["hold"] = True
        try:
            channel_slider.max = max(int(shape[-1]) - 1, 0) if len(shape) == 3 else 0
        finally:
            live["hold"] = False

    def on_channel(change) -> None:
        if not live["hold"]:
            draw_map()

    def on_layer(change) -> None:
        follow_layer()
        draw_map()
        draw_grid()

    def on_image(change) -> None:
        draw_image()
        draw_map()
        draw_grid()

    def figure() -> Figure:
        fig = Figure(figsize=(8, 4), dpi=100)
        left, right = fig.subplots(1, 2)
        left.imshow(visualize.to_display(batch[image_slider.value]))
        left.set_title(titles[image_slider.value])
        try:
            plane = render()
            right.imshow(plane, cmap="viridis", interpolation="nearest")
            right.set_title(f"{caption(layer_box.value)}\nchannel {channel_slider.value}")
        except ValueError as error:
            right.text(0.5, 0.5, str(error), ha="center", va="center", wrap=True, fontsize=9)
        for axes in (left, right):
            axes.set_xticks([])
            axes.set_yticks([])
        return fig

    # Initial state; a bad starting choice becomes a message.
    note = ""
    try:
        start_name = visualize.get_layer(model, start).name
    except ValueError as error:
        start_name, note = names[0], str(error)
    if start_name not in names:
        layer_box.options = list(layer_box.options) + _layer_options(model, [start_name])
    layer_box.value = start_name
    follow_layer()
    if not 0 <= int(channel) <= channel_slider.max:
        note = note or (f"channel {channel} is out of range: layer {start_name!r} has "
                        f"channels 0 to {channel_slider.max}; showing channel 0")
        channel = 0
    channel_slider.value = int(channel)
    draw_image()
    draw_map()
    if note and not message.value:
        message.value = _message(note)
    channel_slider.observe(on_channel, names="value")
    layer_box.observe(on_layer, names="value")
    image_slider.observe(on_image, names="value")
    grid_toggle.observe(lambda change: draw_grid(), names="value")

    controls_row = [layer_box, channel_slider] + ([image_slider] if len(batch) > 1 else [])
    widget = ipywidgets.VBox([
        ipywidgets.HBox(controls_row[:2]),
        ipywidgets.HBox(controls_row[2:] + [grid_toggle]),
        message,
        ipywidgets.HBox([map_output, image_output]),
        grid_output,
    ])
    widget.add_class("coursekit-activation-explorer")
    return View(widget, render=render, figure=figure,
                controls={"layer": layer_box, "channel": channel_slider, "image": image_slider,
                          "grid": grid_toggle, "message": message})


def filter_pattern_explorer(model, layers=None, steps: int = 30,
                            input_range: tuple[float, float] = (0.0, 255.0),
                            image_size=None, layer=None) -> View:
    """Return a View: 'Layer' dropdown and 'Filter' slider -> the pattern that filter likes most.

    Patterns come from ``visualize.filter_pattern`` (gradient ascent, ``steps`` steps, capped
    in quick mode) and are cached per (layer, filter): revisiting one redraws at once.
    ``render(layer=None, index=None)`` returns the (height, width, 3) pattern.

    Example:
        >>> view = filter_pattern_explorer(model)             # doctest: +SKIP
        >>> view.controls["filter"].value = 3                 # computes once, then cached
    """
    from coursekit import visualize

    names = visualize.feature_map_layers(model) if layers is None else [
        visualize.get_layer(model, name).name for name in layers]
    if not names:
        raise ValueError(f"model {model.name!r} has no layer with feature maps")
    cache: dict[tuple[str, int], np.ndarray] = {}
    layer_box = ipywidgets.Dropdown(options=_layer_options(model, names), description="Layer",
                                    layout=ipywidgets.Layout(width="420px"))
    filter_slider = ipywidgets.IntSlider(value=0, min=0, max=0, description="Filter",
                                         continuous_update=False,
                                         layout=ipywidgets.Layout(width="420px"))
    message = ipywidgets.HTML(value="")
    output = ipywidgets.Output()
    live = {"hold": False}

    def render(layer=None, index=None) -> np.ndarray:
        name = visualize.get_layer(model, layer_box.value if layer is None else layer).name
        index = filter_slider.value if index is None else int(index)
        key = (name, index)
        if key not in cache:
            cache[key] = visualize.filter_pattern(model, name, index, steps=steps,
                                                  input_range=input_range, image_size=image_size)
        return cache[key]

    def figure() -> Figure:
        fig = Figure(figsize=(4, 4), dpi=100)
        axes = fig.add_subplot()
        axes.imshow(render())
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(f"{layer_box.value}, filter {filter_slider.value}", fontsize=11)
        return fig

    def draw() -> None:
        if live["hold"]:
            return
        if (layer_box.value, filter_slider.value) not in cache:
            message.value = "computing the pattern (gradient ascent)..."
        try:
            show_figure(figure(), output)
        except ValueError as error:
            message.value = _message(str(error))
            output.clear_output()
            return
        message.value = ""

    def on_layer(change) -> None:
        shape = visualize.output_shape(model, layer_box.value)
        live["hold"] = True
        try:
            filter_slider.max = max(int(shape[-1]) - 1, 0)
        finally:
            live["hold"] = False
        draw()

    note = ""
    try:
        start = visualize.get_layer(model, layer if layer is not None else names[0]).name
    except ValueError as error:
        start, note = names[0], str(error)
    if start not in names:
        layer_box.options = list(layer_box.options) + _layer_options(model, [start])
    layer_box.value = start
    on_layer(None)
    if note and not message.value:
        message.value = _message(note)
    layer_box.observe(on_layer, names="value")
    filter_slider.observe(lambda change: draw(), names="value")
    widget = ipywidgets.VBox([ipywidgets.HBox([layer_box, filter_slider]), message, output])
    widget.add_class("coursekit-filter-pattern-explorer")
    return View(widget, render=render, figure=figure,
                controls={"layer": layer_box, "filter": filter_slider, "message": message})


def gradcam_explorer(model, images, class_names=None, layers=None, layer=None,
                     alpha: float = 0.4, titles=None) -> View:
    """Return a View over Grad-CAM: 'Image', 'Class', 'Layer' and 'Blend' controls.

    Heatmaps come from ``visualize.gradcam`` and are cached per (image, class, layer): the
    blend slider only re-mixes. Class "predicted" follows the model's own prediction.
    ``layers`` defaults to ``visualize.gradcam_layers(model)`` (nested models work), the
    layer to the last convolution. ``render(image_index=None, class_index=None, layer=None,
    alpha=None)`` returns the overlay, (height, width, 3) in [0, 1].

    Example:
        >>> view = gradcam_explorer(model, images, ["cat", "dog"])   # doctest: +SKIP
        >>> view.controls["blend"].value = 0.7
    """
    from coursekit import visualize

    batch = _image_batch(images)
    count = visualize.class_count(model)
    class_names = list(class_names) if class_names is not None else [
        f"class {i}" for i in range(count)]
    if len(class_names) != count:
        raise ValueError(f"the model has {count} classes but {len(class_names)} class names "
                         f"were given: {class_names}")
    names = visualize.gradcam_layers(model) if layers is None else [
        visualize.get_layer(model, name).name for name in layers]
    titles = list(titles) if titles is not None else [f"image {i}" for i in range(len(batch))]
    heatmaps: dict[tuple[int, int, str], np.ndarray] = {}
    predictions: dict[int, int] = {}

    image_slider = ipywidgets.IntSlider(value=0, min=0, max=len(batch) - 1, description="Image",
                                        continuous_update=False)
    class_box = ipywidgets.Dropdown(
        options=[("predicted", -1)] + [(name, i) for i, name in enumerate(class_names)],
        value=-1, description="Class")
    layer_box = ipywidgets.Dropdown(options=_layer_options(model, names), description="Layer",
                                    layout=ipywidgets.Layout(width="420px"))
    blend_slider = ipywidgets.FloatSlider(value=float(alpha), min=0.0, max=1.0, step=0.05,
                                          description="Blend", continuous_update=True)
    message = ipywidgets.HTML(value="")
    output = ipywidgets.Output()

    def predicted(index: int) -> int:
        if index not in predictions:
            predictions[index] = visualize.predicted_class(model, batch[index])
        return predictions[index]

    def heatmap(index: int, class_index: int, layer_name: str) -> np.ndarray:
        if class_index < 0:
            class_index = predicted(index)
        key = (index, class_index, layer_name)
        if key not in heatmaps:
            heatmaps[key] = visualize.gradcam(model, batch[index], layer_name, class_index)
        return heatmaps[key]

    def current(image_index=None, class_index=None, layer=None, alpha=None):
        index = image_slider.value if image_index is None else int(image_index)
        if not 0 <= index < len(batch):
            raise ValueError(f"image_index must be in 0..{len(batch) - 1}, got {index}")
        chosen = class_box.value if class_index is None else int(class_index)
        name = visualize.get_layer(model, layer_box.value if layer is None else layer).name
        mix = blend_slider.value if alpha is None else float(alpha)
        return index, chosen, name, mix

    def render(image_index=None, class_index=None, layer=None, alpha=None) -> np.ndarray:
        index, chosen, name, mix = current(image_index, class_index, layer, alpha)
        return visualize.overlay(batch[index], heatmap(index, chosen, name), mix)

    def figure() -> Figure:
        index, chosen, name, mix = current()
        shown = predicted(index) if chosen < 0 else chosen
        title = (f"{titles[index]}: model predicts {class_names[predicted(index)]}; "
                 f"heat for '{class_names[shown]}' at {name}")
        return visualize.plot_gradcam(batch[index], heatmap(index, chosen, name), mix, title)

    def draw(change=None) -> None:
        """Heatmaps come from the cache when known; the picture is NumPy + Pillow (fast)."""
        try:
            index, chosen, name, mix = current()
            shown = predicted(index) if chosen < 0 else chosen
            title = (f"{titles[index]}: model predicts {class_names[predicted(index)]}; "
                     f"heat for '{class_names[shown]}' at {name}")
            picture = visualize.gradcam_picture(batch[index], heatmap(index, chosen, name), mix,
                                                title)
        except ValueError as error:
            message.value = _message(str(error))
            output.clear_output()
            return
        message.value = ""
        _show_picture(picture, output)

    note = ""
    try:
        start = visualize.get_layer(
            model, layer if layer is not None else visualize.last_conv_layer(model)).name
    except ValueError as error:
        start, note = names[-1], str(error)
    if start not in names:
        layer_box.options = list(layer_box.options) + _layer_options(model, [start])
    layer_box.value = start
    draw()
    if note and not message.value:
        message.value = _message(note)
    for control in (image_slider, class_box, layer_box, blend_slider):
        control.observe(draw, names="value")
    rows = [ipywidgets.HBox(([image_slider] if len(batch) > 1 else []) + [class_box]),
            ipywidgets.HBox([layer_box, blend_slider]), message, output]
    widget = ipywidgets.VBox(rows)
    widget.add_class("coursekit-gradcam-explorer")
    return View(widget, render=render, figure=figure,
                controls={"image": image_slider, "class": class_box, "layer": layer_box,
                          "blend": blend_slider, "message": message})
