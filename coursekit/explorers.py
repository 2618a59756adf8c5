"""Lesson 6's explorers: thin widget views over ``activations``, ``patterns`` and ``gradcam``.

Each asks ``model_layers`` once for its layer menu, keeps what it computed (``lru_cache``) and
redraws with the quick pictures of ``pictures``: a slider move only slices and draws. A bad
choice (a layer without feature maps, a channel out of range) shows a message, not a traceback.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")])
>>> view = activation_explorer(model, np.ones((8, 8, 3)))
>>> view.controls["channel"].value = 3            # what moving the slider does
>>> view.render().shape                           # the map drawn now: conv, channel 3
(6, 6)
"""

from __future__ import annotations

import functools
import html

import ipywidgets
import numpy as np

from coursekit import activations, config, gradcam, model_layers, patterns, pictures, widgets

keras = config.import_keras()

_WIDE = {"layout": ipywidgets.Layout(width="420px")}


class _Wiring:
    """What every explorer shares: its images, the 'Layer' menu (from ``shapes``: name ->
    output shape; a bad ``start`` becomes a note), the 'Image' slider, a message line."""

    def __init__(self, model, images, titles, shapes: dict, start, default: str):
        self.with_images = images is not None  # the pattern explorer has none
        self.batch = _batch(images) if self.with_images else np.zeros((1, 1, 1, 3), np.float32)
        self.titles = [f"image {i}" for i in range(len(self.batch))] if titles is None else [
            str(title) for title in titles]
        self.message, self.note = ipywidgets.HTML(), ""
        try:
            start = default if start is None else model_layers.get_layer(model, start).name
        except ValueError as error:
            start, self.note = default, str(error)
        if start not in shapes:
            shapes[start] = model_layers.output_shape(model, start)
        self.shapes = shapes
        self.layer = ipywidgets.Dropdown(options=[(f"{name}  {shape}", name) for name, shape
                                                  in shapes.items()],
                                         value=start, description="Layer", **_WIDE)
        self.image = ipywidgets.IntSlider(max=len(self.batch) - 1, description="Image",
                                          continuous_update=False, **_WIDE)

    def fit(self, slider: ipywidgets.IntSlider, redraw: widgets.Redraw, start=None) -> None:
        """Fit ``slider``'s range to the layer's channels, without drawing; a ``start`` value
        out of range becomes 0 and a note."""
        shape = self.shapes[self.layer.value]
        with redraw.held():
            slider.max = int(shape[-1]) - 1 if len(shape) == 3 else 0
            if start is not None and not 0 <= int(start) <= slider.max:
                what = slider.description.lower()
                self.note = self.note or (f"{what} {start} is out of range: layer "
                                          f"{self.layer.value!r} has {what}s 0 to {slider.max}; "
                                          f"showing {what} 0")
                start = 0
            slider.value = slider.value if start is None else int(start)

    def index(self, image_index=None) -> int:
        index = self.image.value if image_index is None else int(image_index)
        if not 0 <= index < len(self.batch):
            raise ValueError(f"image_index must be in 0..{len(self.batch) - 1}, got {index}")
        return index

    def say(self, text: str) -> None:
        self.message.value = f"<span style='color:#b35806'>⚠ {html.escape(text)}</span>" \
            if text else ""

    def redraw(self, picture, output: ipywidgets.Output) -> widgets.Redraw:
        """A Redraw showing ``picture()`` in ``output``, or its ValueError as the message."""
        def draw() -> None:
            try:
                shown = picture()
            except ValueError as error:
                self.say(str(error))
                output.outputs = ()
                return
            self.say("")
            widgets.show_picture(shown, output)

        return widgets.Redraw(draw)

    def photo(self) -> np.ndarray:
        image = np.round(pictures.to_display(self.batch[self.index()])[:, :, :3] * 255)
        return pictures.captioned(image.astype(np.uint8), [self.titles[self.index()]])

    def view(self, name: str, rows: list, render, picture, **controls) -> widgets.View:
        """The View; its static picture (for exports) is ``picture()``, else the photo."""
        if self.note and not self.message.value:  # after the first picture: an error wins
            self.say(self.note)
        widget = ipywidgets.VBox(rows)
        widget.add_class(f"coursekit-{name}")

        def figure() -> np.ndarray:
            try:
                return picture()
            except ValueError:
                return self.photo()

        if self.with_images:
            controls["image"] = self.image
        return widgets.View(widget, render=render, figure=figure,
                            controls={"layer": self.layer, **controls, "message": self.message})


def _batch(images) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    array = array[None] if array.ndim == 3 else array
    if array.ndim != 4 or len(array) == 0:
        raise ValueError(f"images must be one image (height, width, channels) or a batch "
                         f"(n, height, width, channels), got shape {np.shape(images)}")
    return array


def activation_explorer(model, image, layers=None, layer=None, channel: int = 0,
                        titles=None) -> widgets.View:
    """Return a View to explore feature maps: 'Layer' menu, 'Channel' slider, grid toggle.

    ``image`` is one image or a batch (then an 'Image' slider picks one). ``layers`` defaults
    to every feature-map layer. ``render(layer=None, channel=None, image_index=None)`` returns
    the 2-D map drawn for those values (None: the current control value).
    """
    shapes = model_layers.layer_shapes(model, layers)                 # once: the layer menu
    wiring = _Wiring(model, image, titles, shapes, layer, default=next(iter(shapes)))
    maps = functools.lru_cache(maxsize=8)(                            # once per image: one pass
        lambda index: activations.feature_maps(model, wiring.batch[index], list(shapes)))
    stacks = [name for name, shape in shapes.items() if len(shape) == 3]
    channel_slider = ipywidgets.IntSlider(description="Channel", **_WIDE)
    grid_toggle = ipywidgets.ToggleButton(description="All channels",
                                          tooltip="every channel of this layer as a grid")
    map_output, image_output, grid_output = (ipywidgets.Output() for _ in range(3))
    map_output.add_class("coursekit-feature-map")

    def render(layer=None, channel=None, image_index=None) -> np.ndarray:
        name = wiring.layer.value if layer is None else model_layers.get_layer(model, layer).name
        if name not in stacks:
            raise ValueError(f"layer {name!r} has output shape {shapes.get(name)}: no feature "
                             f"maps to show here. Choose one of: {', '.join(stacks)}")
        return activations.select_channel(maps(wiring.index(image_index))[name],
                                          channel_slider.value if channel is None else channel)

    def picture() -> np.ndarray:  # what a channel move redraws: a slice of the cached maps
        return pictures.feature_map_picture(render(), f"{wiring.titles[wiring.index()]} · "
                                            f"{wiring.layer.value} {shapes[wiring.layer.value]}"
                                            f" · channel {channel_slider.value}")

    redraw = wiring.redraw(picture, map_output)

    def draw_grid(change=None) -> None:
        grid_output.outputs = ()
        if grid_toggle.value and wiring.layer.value in stacks:
            stack = maps(wiring.index())[wiring.layer.value]
            widgets.show_figure(pictures.plot_channel_grid(stack, wiring.layer.value), grid_output)

    def on_layer(change) -> None:
        wiring.fit(channel_slider, redraw)
        redraw()
        draw_grid()

    def on_image(change) -> None:
        widgets.show_picture(wiring.photo(), image_output)
        redraw()
        draw_grid()

    wiring.fit(channel_slider, redraw, start=channel)
    on_image(None)
    channel_slider.observe(redraw, names="value")
    wiring.layer.observe(on_layer, names="value")
    wiring.image.observe(on_image, names="value")
    grid_toggle.observe(draw_grid, names="value")
    controls = [wiring.layer, channel_slider] + ([wiring.image] if len(wiring.batch) > 1 else [])
    rows = [ipywidgets.HBox(controls[:2]), ipywidgets.HBox(controls[2:] + [grid_toggle]),
            wiring.message, ipywidgets.HBox([map_output, image_output]), grid_output]
    return wiring.view("activation-explorer", rows, render, picture,
                       channel=channel_slider, grid=grid_toggle)


def filter_pattern_explorer(model, layers=None, steps: int = 30,
                            input_range: tuple[float, float] = (0.0, 255.0),
                            image_size=None, layer=None) -> widgets.View:
    """Return a View: 'Layer' menu and 'Filter' slider -> the pattern that filter likes most
    (``patterns.filter_pattern``, ``steps`` steps). ``render(layer=None, index=None)`` returns
    the (height, width, 3) pattern."""
    shapes = model_layers.layer_shapes(model, layers)                 # once: the layer menu
    wiring = _Wiring(model, None, None, shapes, layer, default=next(iter(shapes)))
    pattern = functools.lru_cache(maxsize=None)(                      # once per (layer, filter)
        lambda name, index: patterns.filter_pattern(model, name, index, steps=steps,
                                                    input_range=input_range,
                                                    image_size=image_size))
    filter_slider = ipywidgets.IntSlider(description="Filter", continuous_update=False, **_WIDE)
    output = ipywidgets.Output()

    def render(layer=None, index=None) -> np.ndarray:
        name = wiring.layer.value if layer is None else model_layers.get_layer(model, layer).name
        return pattern(name, filter_slider.value if index is None else int(index))

    def picture() -> np.ndarray:
        wiring.say("computing the pattern (gradient ascent)...")  # instant when seen before
        return pictures.captioned(np.round(render() * 255).astype(np.uint8),
                                  [f"{wiring.layer.value}, filter {filter_slider.value}"])

    redraw = wiring.redraw(picture, output)

    def on_layer(change=None) -> None:
        wiring.fit(filter_slider, redraw)
        redraw()

    on_layer()
    wiring.layer.observe(on_layer, names="value")
    filter_slider.observe(redraw, names="value")
    rows = [ipywidgets.HBox([wiring.layer, filter_slider]), wiring.message, output]
    return wiring.view("filter-pattern-explorer", rows, render, picture, filter=filter_slider)


def gradcam_explorer(model, images, class_names, layers=None, layer=None, alpha: float = 0.4,
                     titles=None) -> widgets.View:
    """Return a View over Grad-CAM: 'Image', 'Class', 'Layer' and 'Blend' controls.

    ``class_names`` name the model's classes in output order (2 for one sigmoid unit, n for n
    softmax units); the 'Class' menu lists them after "predicted". ``layers`` defaults to
    ``model_layers.gradcam_layers(model)``, ``layer`` to the last of them. ``render(image_index,
    class_index, layer, alpha)`` (None: current values) returns the overlay in [0, 1].
    """
    class_names = [str(name) for name in class_names]
    if len(class_names) != gradcam.class_count(model):
        raise ValueError(f"model {model.name!r} has {gradcam.class_count(model)} classes but "
                         f"{len(class_names)} class names were given: {class_names}")
    shapes = model_layers.layer_shapes(model, layers, kind="gradcam")  # once: the layer menu
    wiring = _Wiring(model, images, titles, shapes, layer, default=list(shapes)[-1])
    predicted = functools.lru_cache(maxsize=None)(
        lambda index: gradcam.predicted_class(model, wiring.batch[index]))
    heatmap = functools.lru_cache(maxsize=None)(                      # once per (image, class, layer)
        lambda index, chosen, name: gradcam.heatmap(model, wiring.batch[index], name, chosen))
    class_box = ipywidgets.Dropdown(options=[("predicted", -1)] + list(zip(class_names, range(
        len(class_names)))), value=-1, description="Class")
    blend = ipywidgets.FloatSlider(value=float(alpha), min=0.0, max=1.0, step=0.05,
                                   description="Blend")
    output = ipywidgets.Output()

    def current(image_index=None, class_index=None, layer=None):
        index = wiring.index(image_index)
        chosen = class_box.value if class_index is None else int(class_index)
        chosen = predicted(index) if chosen < 0 else chosen
        name = wiring.layer.value if layer is None else model_layers.get_layer(model, layer).name
        return index, chosen, heatmap(index, chosen, name)

    def render(image_index=None, class_index=None, layer=None, alpha=None) -> np.ndarray:
        index, _, heat = current(image_index, class_index, layer)
        return pictures.overlay(wiring.batch[index], heat, blend.value if alpha is None else alpha)

    def picture() -> np.ndarray:  # what a blend move redraws: the cached heatmap, re-mixed
        index, chosen, heat = current()
        return pictures.gradcam_picture(wiring.batch[index], heat, blend.value, (
            f"{wiring.titles[index]}: model predicts {class_names[predicted(index)]}; "
            f"heat for '{class_names[chosen]}' at {wiring.layer.value}"))

    redraw = wiring.redraw(picture, output)
    redraw()
    for control in (wiring.image, class_box, wiring.layer, blend):
        control.observe(redraw, names="value")
    rows = [ipywidgets.HBox(([wiring.image] if len(wiring.batch) > 1 else []) + [class_box]),
            ipywidgets.HBox([wiring.layer, blend]), wiring.message, output]
    return wiring.view("gradcam-explorer", rows, render, picture,
                       **{"class": class_box, "blend": blend})
