"""The small views of lessons 0-5 (ipywidgets), each a ``widgets.View`` over a pure function: a
first slider (0), the sample browser (2), the kernel editor (3), the augmentation preview (5).

>>> view = brightness_demo(np.full((4, 4, 3), 100, np.uint8))
>>> view.controls["brightness"].value = 1.5      # what moving the slider does
>>> view.render(1.5)[0, 0]
array([150, 150, 150], dtype=uint8)
"""

from __future__ import annotations

import functools

import ipywidgets
import numpy as np
from matplotlib.figure import Figure
from PIL import Image as PILImage

from coursekit.widgets import Redraw, View, show_figure


def _imshow(array, title: str, size: float = 4) -> Figure:
    figure = Figure(figsize=(size, size), dpi=100)
    axes = figure.add_subplot()
    axes.imshow(array)
    axes.set_title(title, fontsize=11)
    axes.set_axis_off()
    return figure


def brightness_demo(image, title: str = "") -> View:
    """Return a View: a 'Brightness' slider over ``image``; ``render(factor)``: pixels x ``factor``."""
    slider = ipywidgets.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.1,
                                    description="Brightness", continuous_update=True)
    output = ipywidgets.Output()

    def render(factor: float) -> np.ndarray:
        return np.clip(np.asarray(image, dtype=np.float32) * factor, 0, 255).astype(np.uint8)

    def figure() -> Figure:
        return _imshow(render(slider.value), f"{title} brightness x{slider.value:.1f}".strip())

    slider.observe(lambda change: show_figure(figure(), output), names="value")
    show_figure(figure(), output)
    return View(ipywidgets.VBox([slider, output]), render=render, figure=figure,
                controls={"brightness": slider})


def sample_browser(table, max_side: int = 480, cache_size: int = 64) -> View:
    """Return a View of ``eda.image_table(root)``: 'Class' and 'Image' controls, images at most
    ``max_side`` pixels (``cache_size`` kept); ``render(label=None, index=None)``: the uint8 image."""
    if "label" not in table or table["label"].isna().all():
        raise ValueError("table has no labelled images: pass eda.image_table(root)")
    rows = {label: group.reset_index(drop=True) for label, group in table.groupby("label")}
    label_box = ipywidgets.Dropdown(options=list(rows), description="Class")
    index_slider = ipywidgets.IntSlider(max=len(rows[label_box.value]) - 1, description="Image")
    output = ipywidgets.Output()

    @functools.lru_cache(maxsize=cache_size)
    def load(file: str) -> np.ndarray:
        with PILImage.open(file) as image:
            image.draft("RGB", (max_side, max_side))  # JPEG: decode at a smaller scale
            picture = image.convert("RGB")
        picture.thumbnail((max_side, max_side))
        return np.asarray(picture)

    def row(label=None, index=None):
        label = label_box.value if label is None else label
        index = index_slider.value if index is None else index
        if label not in rows or not 0 <= int(index) < len(rows[label]):
            raise ValueError(f"unknown class {label!r} or index {index!r} out of range; classes "
                             f"(images): {', '.join(f'{k} ({len(v)})' for k, v in rows.items())}")
        return rows[label].iloc[int(index)]

    def figure() -> Figure:
        shown = row()
        size = f" ({shown['width']}x{shown['height']})" if "width" in shown else ""
        return _imshow(load(shown["file"]), f"{label_box.value} {index_slider.value + 1}/"
                       f"{len(rows[label_box.value])}: {shown['path']}{size}", size=5)

    redraw = Redraw(lambda: show_figure(figure(), output))

    def on_label(change) -> None:
        with redraw.held():
            index_slider.max = len(rows[change["new"]]) - 1  # the slider clamps its value
        redraw()

    label_box.observe(on_label, names="value")
    index_slider.observe(redraw, names="value")
    redraw()
    return View(ipywidgets.VBox([ipywidgets.HBox([label_box, index_slider]), output]),
                render=lambda label=None, index=None: load(row(label, index)["file"]),
                figure=figure, controls={"label": label_box, "index": index_slider})


def kernel_editor(image, preset: str = "sobel x (vertical edges)") -> View:
    """Return a View: a 3x3 grid of numbers (or a preset) -> the photo filtered as one Conv2D filter
    does (``cnn.apply_kernel``; 'Flip kernel': a true convolution); ``render(kernel, flip)``: 2-D."""
    from coursekit import cnn, pictures

    if preset not in cnn.KERNEL_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; presets: {', '.join(cnn.KERNEL_PRESETS)}")
    gray = np.asarray(image, dtype=np.float32)
    if gray.ndim == 3:  # RGB to luminance
        gray = gray[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    gray = gray / 255.0 if gray.max() > 1.0 else gray
    preset_box = ipywidgets.Dropdown(options=list(cnn.KERNEL_PRESETS) + ["custom"], value=preset,
                                     description="Preset", layout=ipywidgets.Layout(width="340px"))
    cells = [ipywidgets.FloatText(value=float(cnn.KERNEL_PRESETS[preset][row, column]), step=0.5,
                                  description=f"k[{row},{column}]", style={"description_width": "48px"},
                                  layout=ipywidgets.Layout(width="150px"))
             for row in range(3) for column in range(3)]
    flip_box = ipywidgets.Checkbox(description="Flip kernel (true convolution)", indent=False)
    output = ipywidgets.Output()

    def render(kernel=None, flip=None) -> np.ndarray:
        kernel = [cell.value for cell in cells] if kernel is None else kernel
        return cnn.apply_kernel(gray, np.asarray(kernel, dtype=np.float32).reshape(3, 3),
                                flip=flip_box.value if flip is None else bool(flip))

    def figure() -> Figure:
        filtered = render()
        limit = float(np.abs(filtered).max()) or 1.0
        figure, (left, right) = pictures.figure_grid(10, 4.2, 1, 2)
        left.imshow(gray, cmap="gray", vmin=0, vmax=1)
        left.set_title("input (grayscale)")
        shown = right.imshow(filtered, cmap="cividis", vmax=limit,
                             vmin=-limit if filtered.min() < 0 else 0)
        right.set_title(f"filtered: {preset_box.value}" + (" (flipped)" if flip_box.value else ""))
        figure.colorbar(shown, ax=right, shrink=0.8, label="response")
        return figure

    redraw = Redraw(lambda: show_figure(figure(), output))

    def on_preset(change) -> None:
        if change["new"] != "custom":
            with redraw.held():
                for cell, value in zip(cells, cnn.KERNEL_PRESETS[change["new"]].ravel()):
                    cell.value = float(value)
            redraw()

    def on_cell(change) -> None:
        if not redraw.holding:
            with redraw.held():
                preset_box.value = "custom"
            redraw()

    preset_box.observe(on_preset, names="value")
    for cell in cells:
        cell.observe(on_cell, names="value")
    flip_box.observe(redraw, names="value")
    redraw()
    grid = ipywidgets.GridBox(cells, layout=ipywidgets.Layout(
        grid_template_columns="repeat(3, 160px)", grid_gap="4px"))
    return View(ipywidgets.VBox([ipywidgets.HBox([preset_box, flip_box]), grid, output]),
                render=render, figure=figure, controls={"preset": preset_box, "flip": flip_box,
                                                        **{cell.description: cell for cell in cells}})


def augmentation_preview(image, count: int = 9, seed: int = 0) -> View:
    """Return a View: one photo ``count`` times, randomly augmented (``cnn.augment_grid``), a control
    per strength and 'New draw'; ``render(**strengths)``: the uint8 grid (others: current values)."""
    from coursekit import cnn, pictures

    flip = ipywidgets.Dropdown(options=[("none", None), ("horizontal", "horizontal"), ("vertical",
                               "vertical"), ("both", "horizontal_and_vertical")],
                               value="horizontal", description="Flip")
    ranges = {"rotation": (0.1, 0.5, 0.05), "zoom": (0.2, 0.6, 0.05),
              "translation": (0.1, 0.5, 0.05), "contrast": (0.0, 0.9, 0.1)}
    sliders = {name: ipywidgets.FloatSlider(value=value, min=0.0, max=top, step=step,
                                            description=name.capitalize(), readout_format=".2f",
                                            continuous_update=False)  # recompute on release
               for name, (value, top, step) in ranges.items()}
    new_draw = ipywidgets.Button(description="New draw", tooltip="new random transforms")
    output = ipywidgets.Output()
    state = {"draw": 0}

    @functools.lru_cache(maxsize=8)  # one model per setting, built once: a new draw reuses it
    def layers_for(strengths: tuple):
        return cnn.augmentation_layers(seed=int(seed), **dict(strengths))

    @functools.lru_cache(maxsize=16)
    def grid(draw: int, strengths: tuple) -> np.ndarray:  # each call draws new transforms
        return cnn.augment_grid(image, int(count), block=layers_for(strengths))

    def render(**overrides) -> np.ndarray:
        unknown = set(overrides) - {"flip", *sliders}
        if unknown:
            raise ValueError(f"unknown strength(s) {sorted(unknown)}; use flip, {', '.join(sliders)}")
        values = {"flip": flip.value, **{name: s.value for name, s in sliders.items()}, **overrides}
        return grid(state["draw"], tuple(sorted(values.items())))

    def figure() -> Figure:
        return pictures.plot_images(render(), columns=int(np.ceil(np.sqrt(count))), title=(
            f"flip={flip.value}, " + ", ".join(f"{name}={slider.value:.2f}"
                                               for name, slider in sliders.items())))

    redraw = Redraw(lambda: show_figure(figure(), output))

    def on_new_draw(button) -> None:
        state["draw"] += 1
        redraw()

    for control in (flip, *sliders.values()):
        control.observe(redraw, names="value")
    new_draw.on_click(on_new_draw)
    redraw()
    rows = [ipywidgets.HBox([flip, new_draw]), ipywidgets.HBox(list(sliders.values())[:2]),
            ipywidgets.HBox(list(sliders.values())[2:])]
    return View(ipywidgets.VBox(rows + [output]), render=render, figure=figure,
                controls={"flip": flip, **sliders, "new_draw": new_draw})
