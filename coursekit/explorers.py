"""Lesson 6's explorers: thin widget views over ``activations``, ``patterns`` and ``gradcam``.

Each asks ``model_layers`` once for its layer menu, keeps what it computed (``lru_cache``) and
redraws with ``pictures``: a slider move only slices and draws. Arguments are checked at once,
so every choice the controls offer can be drawn.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")])
>>> view = activation_explorer(model, np.ones((8, 8, 3)))
>>> view.controls["channel"].value = 3            # what moving the slider does
>>> view.render().shape                           # the map drawn now: conv, channel 3
(6, 6)
"""

from __future__ import annotations

import functools

import ipywidgets
import numpy as np

from coursekit import activations, config, gradcam, model_layers, patterns, pictures, widgets

keras = config.import_keras()

_WIDE = {"layout": ipywidgets.Layout(width="420px")}


def _images(images, titles) -> tuple[np.ndarray, list[str], ipywidgets.IntSlider]:
    """The images as a batch, their titles and the 'Image' slider that picks one."""
    batch = np.asarray(images, dtype=np.float32)
    batch = batch[None] if batch.ndim == 3 else batch
    if batch.ndim != 4 or len(batch) == 0:
        raise ValueError(f"images must be one image (height, width, channels) or a batch "
                         f"(n, height, width, channels), got shape {np.shape(images)}")
    titles = [f"image {i}" for i in range(len(batch))] if titles is None else list(map(str, titles))
    return batch, titles, ipywidgets.IntSlider(max=len(batch) - 1, description="Image",
                                               continuous_update=False, **_WIDE)


def _layer_menu(model, layers, layer, last: bool = False) -> tuple[dict, ipywidgets.Dropdown]:
    """The layers to offer ({name: output shape}, each with feature maps; default: all) and
    the 'Layer' menu over them, set to ``layer`` (default: the first, with ``last`` the last)."""
    shapes = model_layers.layer_shapes(model, layers)
    flat = {name: shape for name, shape in shapes.items() if len(shape) != 3}
    if flat:
        raise ValueError(f"layers without feature maps (output shapes {flat}) cannot be shown; "
                         f"layers with maps: {', '.join(model_layers.feature_map_layers(model))}")
    start = list(shapes)[-1 if last else 0] if layer is None else \
        model_layers.get_layer(model, layer).name
    if start not in shapes:
        raise ValueError(f"layer {start!r} is not one this explorer can show; choose one of: "
                         f"{', '.join(shapes)}")
    options = [(f"{name}  {shape}", name) for name, shape in shapes.items()]
    return shapes, ipywidgets.Dropdown(options=options, value=start, description="Layer", **_WIDE)


def activation_explorer(model, image, layers=None, layer=None, channel: int = 0,
                        titles=None) -> widgets.View:
    """Return a View to explore feature maps: 'Layer' menu, 'Channel' slider, grid toggle.

    ``image`` is one image or a batch (then an 'Image' slider picks one). ``layers`` defaults
    to every feature-map layer. ``render()`` returns the 2-D map drawn now.
    """
    shapes, layer_menu = _layer_menu(model, layers, layer)            # once: the layer menu
    batch, titles, image_slider = _images(image, titles)
    maps = functools.lru_cache(maxsize=8)(                            # once per image: one pass
        lambda index: activations.feature_maps(model, batch[index], list(shapes)))
    channel_slider = ipywidgets.IntSlider(max=shapes[layer_menu.value][-1] - 1,
                                          description="Channel", **_WIDE)
    if not 0 <= int(channel) <= channel_slider.max:
        raise ValueError(f"channel {channel} is out of range: layer {layer_menu.value!r} has "
                         f"channels 0 to {channel_slider.max}")
    channel_slider.value = int(channel)
    grid_toggle = ipywidgets.ToggleButton(description="All channels",
                                          tooltip="every channel of this layer as a grid")
    map_output, image_output, grid_output = (ipywidgets.Output() for _ in range(3))

    def render() -> np.ndarray:
        return maps(image_slider.value)[layer_menu.value][:, :, channel_slider.value]

    def picture() -> np.ndarray:  # what a channel move redraws: a slice of the cached maps
        return pictures.feature_map_picture(render(), f"{titles[image_slider.value]} · "
                                            f"{layer_menu.value} {shapes[layer_menu.value]}"
                                            f" · channel {channel_slider.value}")

    redraw = widgets.Redraw(lambda: widgets.show_figure(picture(), map_output))

    def draw_grid(change=None) -> None:
        grid_output.outputs = ()
        if grid_toggle.value:
            stack = maps(image_slider.value)[layer_menu.value]
            widgets.show_figure(pictures.plot_channel_grid(stack, layer_menu.value), grid_output)

    def on_layer(change=None) -> None:
        with redraw.held():  # a new range may clamp the value: no second drawing
            channel_slider.max = shapes[layer_menu.value][-1] - 1
        redraw()
        draw_grid()

    def on_image(change=None) -> None:
        widgets.show_figure(pictures.photo_picture(batch[image_slider.value],
                                                    titles[image_slider.value]), image_output)
        on_layer()

    on_image()
    channel_slider.observe(redraw, names="value")
    layer_menu.observe(on_layer, names="value")
    image_slider.observe(on_image, names="value")
    grid_toggle.observe(draw_grid, names="value")
    controls = [layer_menu, channel_slider] + ([image_slider] if len(batch) > 1 else [])
    rows = [ipywidgets.HBox(controls[:2]), ipywidgets.HBox(controls[2:] + [grid_toggle]),
            ipywidgets.HBox([map_output, image_output]), grid_output]
    return widgets.View(ipywidgets.VBox(rows).add_class("coursekit-activation-explorer"), render,
                        picture, dict(layer=layer_menu, channel=channel_slider, image=image_slider,
                                      grid=grid_toggle))


def filter_pattern_explorer(model, layers=None, steps: int = 30, layer=None) -> widgets.View:
    """Return a View: 'Layer' menu and 'Filter' slider -> the pattern that filter likes most
    (``patterns.filter_patterns``, ``steps`` steps). ``render()``: the pattern drawn now."""
    shapes, layer_menu = _layer_menu(model, layers, layer)            # once: the layer menu
    pattern = functools.lru_cache(maxsize=None)(                      # once per (layer, filter)
        lambda name, index: patterns.filter_patterns(model, name, [index], steps=steps)[0])
    filter_slider = ipywidgets.IntSlider(description="Filter", continuous_update=False, **_WIDE)
    status, output = ipywidgets.HTML(), ipywidgets.Output()

    def render() -> np.ndarray:
        return pattern(layer_menu.value, filter_slider.value)

    def picture() -> np.ndarray:
        return pictures.photo_picture(render(), f"{layer_menu.value}, filter {filter_slider.value}")

    def draw() -> None:
        status.value = "computing the pattern (gradient ascent)..."  # instant when seen before
        widgets.show_figure(picture(), output)
        status.value = ""

    redraw = widgets.Redraw(draw)

    def on_layer(change=None) -> None:
        with redraw.held():
            filter_slider.max = shapes[layer_menu.value][-1] - 1
        redraw()

    on_layer()
    layer_menu.observe(on_layer, names="value")
    filter_slider.observe(redraw, names="value")
    rows = [ipywidgets.HBox([layer_menu, filter_slider]), status, output]
    return widgets.View(ipywidgets.VBox(rows).add_class("coursekit-filter-pattern-explorer"),
                        render, picture, dict(layer=layer_menu, filter=filter_slider))


def gradcam_explorer(model, images, class_names, layers=None, layer=None, alpha: float = 0.4,
                     titles=None) -> widgets.View:
    """Return a View over Grad-CAM: 'Image', 'Class', 'Layer' and 'Blend' controls.

    ``class_names`` name the model's classes in output order; the 'Class' menu lists them after
    "predicted". ``layers`` defaults to ``model_layers.gradcam_layers(model)``, ``layer`` to the
    last of them. ``render()`` returns the overlay drawn now, in [0, 1].
    """
    class_names = [str(name) for name in class_names]
    if len(class_names) != gradcam.class_count(model):
        raise ValueError(f"model {model.name!r} has {gradcam.class_count(model)} classes but "
                         f"{len(class_names)} class names were given: {class_names}")
    shapes, layer_menu = _layer_menu(                                 # once: the layer menu
        model, model_layers.gradcam_layers(model) if layers is None else layers, layer, last=True)
    batch, titles, image_slider = _images(images, titles)
    predicted = functools.lru_cache(maxsize=None)(
        lambda index: gradcam.predicted_class(model, batch[index]))
    heatmap = functools.lru_cache(maxsize=None)(                      # once per (image, class, layer)
        lambda index, chosen, name: gradcam.heatmap(model, batch[index], name, chosen))
    class_menu = ipywidgets.Dropdown(options=[("predicted", -1)] + list(zip(class_names, range(
        len(class_names)))), value=-1, description="Class")
    blend = ipywidgets.FloatSlider(value=float(alpha), min=0.0, max=1.0, step=0.05,
                                   description="Blend")
    output = ipywidgets.Output()

    def current():
        index = image_slider.value
        chosen = predicted(index) if class_menu.value < 0 else class_menu.value
        return index, chosen, heatmap(index, chosen, layer_menu.value)

    def render() -> np.ndarray:
        index, _, heat = current()
        return pictures.overlay(batch[index], heat, blend.value)

    def picture() -> np.ndarray:  # what a blend move redraws: the cached heatmap, re-mixed
        index, chosen, heat = current()
        return pictures.gradcam_picture(batch[index], heat, blend.value, (
            f"{titles[index]}: model predicts {class_names[predicted(index)]}; "
            f"heat for '{class_names[chosen]}' at {layer_menu.value}"))

    redraw = widgets.Redraw(lambda: widgets.show_figure(picture(), output))
    redraw()
    for control in (image_slider, class_menu, layer_menu, blend):
        control.observe(redraw, names="value")
    rows = [ipywidgets.HBox(([image_slider] if len(batch) > 1 else []) + [class_menu]),
            ipywidgets.HBox([layer_menu, blend]), output]
    return widgets.View(ipywidgets.VBox(rows).add_class("coursekit-gradcam-explorer"), render,
                        picture, {"image": image_slider, "class": class_menu, "layer": layer_menu,
                                  "blend": blend})
