"""Lesson 7's explorers: feature maps, Grad-CAM and filter patterns, live and without a kernel.

One front-end module, ``explorer.js``, draws all three. Live (JupyterLab, Colab, VS Code) an
:class:`Explorer` (an anywidget) syncs the choices with Python, which computes a *frame* when a
choice needs one: every channel of a layer for one image as one 8-bit picture (a channel move
is then drawn in the browser), a heatmap, a pattern. ``static_html`` precomputes the frames
(within ``STATIC_VALUES``) so that the same module runs on a static page: the course website
(``COURSEKIT_SITE=1`` adds that page to what an explorer displays) and ``export_explorer``'s
folder, which opens from disk with no Python.

>>> model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv")])
>>> view = activation_explorer(model, np.ones((8, 8, 3)))
>>> view.channel = 3                              # what moving the slider does
>>> view.render().shape                           # the map drawn now: conv, channel 3
(6, 6)
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import uuid
from pathlib import Path

import anywidget
import matplotlib
import numpy as np
import traitlets
from matplotlib.colors import Normalize
from PIL import Image

from coursekit import activations, gradcam, model_layers, patterns, pictures, widgets

FRONT_END = Path(__file__).with_name("explorer.js")
#: The most 8-bit values one explorer's static copy holds; past it, fewer layers (evenly spaced).
STATIC_VALUES = 4_000_000
#: Filters per layer whose patterns a static copy of the pattern explorer holds.
STATIC_FILTERS = 8
_CHOICES = ("layer", "channel", "image", "klass", "blend", "grid")


def colour_index(plane: np.ndarray) -> np.ndarray:
    """Return the index into a 256-colour table that matplotlib's ``imshow`` (``Normalize()``,
    then the colormap) picks for each value of a 2-D map, as uint8: what the browser colours.

    >>> colour_index(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32))
    array([[  0,  64],
           [128, 255]], dtype=uint8)
    """
    index = np.array(Normalize()(np.asarray(plane, dtype="float32")), copy=True)
    index *= 256
    index[index == 256] = 255  # as matplotlib.colors.Colormap.__call__ does
    return np.clip(index, 0, 255).astype(np.uint8)


def _data_url(array: np.ndarray, photo: bool = False, level: int = 1) -> str:
    buffer = io.BytesIO()
    if photo:  # photos and patterns: JPEG is a tenth of the size
        Image.fromarray(pictures.to_uint8(array)).save(buffer, format="JPEG", quality=90)
    else:
        Image.fromarray(array).save(buffer, format="PNG", compress_level=level)
    kind = "jpeg" if photo else "png"
    return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _sheet(stack: np.ndarray, level: int) -> dict:
    """One layer's (height, width, channels) maps as an activation frame: colour indices tiled
    ``columns`` a row in one gray PNG, and each channel's value range."""
    height, width, count = stack.shape
    columns = max(1, min(count, int(np.ceil(np.sqrt(count * height / width)))))
    rows = -(-count // columns)
    tiles = np.zeros((rows * columns, height, width), np.uint8)
    for channel in range(count):
        tiles[channel] = colour_index(stack[:, :, channel])
    sheet = tiles.reshape(rows, columns, height, width).transpose(0, 2, 1, 3)
    return {"sprite": _data_url(sheet.reshape(rows * height, columns * width), level=level),
            "height": height, "width": width, "columns": columns,
            "low": stack.min(axis=(0, 1)).tolist(), "high": stack.max(axis=(0, 1)).tolist()}


def _heat(heat: np.ndarray, level: int) -> dict:
    return {"heat": _data_url(np.clip(np.floor(heat * 256), 0, 255).astype(np.uint8), level=level)}


def _colour_tables() -> dict:
    return {name: base64.b64encode(matplotlib.colormaps[name](np.arange(256), bytes=True)[:, :3]
                                   .tobytes()).decode("ascii") for name in ("viridis", "magma")}


class Explorer(anywidget.AnyWidget):
    """An explorer: ``kind``, ``spec`` and the choices (``layer``, ``channel``, ``image``,
    ``klass`` (-1: predicted), ``blend``, ``grid``) synced with the browser; ``frame`` is what
    the choices show, computed in Python when a choice needs a new one. ``render()`` returns the
    array drawn now, ``figure()`` a captioned picture of it (the PNG shown without a front end)."""

    _esm = FRONT_END.read_text(encoding="utf-8")  # text: a file path would make anywidget
    # watch the file and hold every explorer (and its model) in that watcher forever
    kind = traitlets.Unicode().tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)
    layer = traitlets.Unicode().tag(sync=True)
    channel = traitlets.Int(0).tag(sync=True)
    image = traitlets.Int(0).tag(sync=True)
    klass = traitlets.Int(-1).tag(sync=True)
    blend = traitlets.Float(0.4).tag(sync=True)
    grid = traitlets.Bool(False).tag(sync=True)
    frame = traitlets.Dict().tag(sync=True)

    def __init__(self, source, **choices):
        self.source = source
        super().__init__(kind=source.kind, spec=source.spec, **choices)
        self.observe(self._update, names=list(_CHOICES))
        self._update()

    def count(self, layer: str) -> int:
        """How many channels (filters) the slider offers at ``layer``."""
        return int(self.source.shapes[layer][-1])

    @traitlets.validate("layer", "channel", "image", "klass", "blend")
    def _check(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        layer = self.layer if self.layer in self.source.shapes else next(iter(self.source.shapes))
        allowed = {"layer": list(self.source.shapes), "channel": range(self.count(layer)),
                   "image": range(len(self.spec["titles"]) or 1), "blend": range(2),
                   "klass": range(-1, len(self.spec.get("class_names", [])))}[name]
        if not (0 <= value <= 1 if name == "blend" else value in allowed):
            limits = ", ".join(allowed) if name == "layer" else f"{allowed.start} to {allowed.stop - 1}"
            raise traitlets.TraitError(f"{name} {value!r} is not allowed; choose {limits}")
        return value

    def key(self) -> str:
        """Which frame the choices need: the values named by ``spec["key"]`` joined by "|"."""
        values = {name: getattr(self, name) for name in _CHOICES}
        if values["klass"] < 0 and "predicted" in self.spec:
            values["klass"] = self.spec["predicted"][self.image]
        return "|".join(str(values[name]) for name in self.spec["key"])

    def _update(self, change=None) -> None:
        if change is not None and change["name"] == "layer" and self.channel >= self.count(self.layer):
            self.channel = self.count(self.layer) - 1  # the slider's range follows the layer
        if self.frame.get("key") != self.key():
            self.frame = {"key": self.key(), **self.source.frame(self)}

    def render(self) -> np.ndarray:
        return self.source.render(self)

    def figure(self) -> np.ndarray:
        return self.source.picture(self)

    def _repr_mimebundle_(self, **kwargs):
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data["image/png"] = base64.b64encode(widgets.figure_to_png(self.figure())).decode("ascii")
        if os.environ.get("COURSEKIT_SITE", "").strip().lower() in {"1", "true", "yes", "on"}:
            data["text/html"] = static_html(self)  # the course website: works with no kernel
        return data, metadata


def _batch(images, titles) -> tuple[np.ndarray, list[str]]:
    batch = np.asarray(images, dtype=np.float32)
    batch = batch[None] if batch.ndim == 3 else batch
    if batch.ndim != 4 or len(batch) == 0:
        raise ValueError(f"images must be one image (height, width, channels) or a batch "
                         f"(n, height, width, channels), got shape {np.shape(images)}")
    titles = [f"image {i}" for i in range(len(batch))] if titles is None else list(map(str, titles))
    if len(titles) != len(batch):
        raise ValueError(f"{len(titles)} titles for {len(batch)} images")
    return batch, titles


def _layers(model, layers, layer, last: bool = False) -> tuple[dict, str]:
    """{name: output shape} of the layers to offer (default: every layer with feature maps) and
    the one to start at (``layer``, else the first or, with ``last``, the last)."""
    shapes = model_layers.layer_shapes(model, layers)
    flat = {name: shape for name, shape in shapes.items() if len(shape) != 3}
    start = list(shapes)[-1 if last else 0] if layer is None else model_layers.get_layer(model, layer).name
    if flat or start not in shapes:
        raise ValueError(f"layers without feature maps (output shapes {flat}) cannot be shown; "
                         f"layers with maps: {', '.join(model_layers.feature_map_layers(model))}"
                         if flat else f"layer {start!r} is not one this explorer can show; choose "
                         f"one of: {', '.join(shapes)}")
    return shapes, start


class _Source:
    """What an explorer shows: ``spec`` for the browser, ``frame(view)`` for its choices,
    ``render``/``picture``, ``values(layer)`` (8-bit values a static copy holds for a layer) and
    ``static_frames(layers)``: every frame a static page needs for those layers."""

    def __init__(self, kind: str, model, shapes: dict, key: list[str], **spec):
        self.kind, self.model, self.shapes = kind, model, shapes
        self.spec = {"key": key, "colours": _colour_tables(), **spec,
                     "layers": [{"name": name, "shape": list(shape)} for name, shape in shapes.items()]}


class _Activations(_Source):
    def __init__(self, model, batch, titles, shapes):
        super().__init__("activation", model, shapes, ["image", "layer"], titles=titles,
                         photos=[_data_url(image, photo=True) for image in batch])
        self.batch = batch
        self.maps = functools.lru_cache(maxsize=4)(  # once per image: one forward pass
            lambda index: activations.feature_maps(model, batch[index], list(shapes)))

    def frame(self, view, level: int = 1) -> dict:
        return _sheet(self.maps(view.image)[view.layer], level)

    def render(self, view) -> np.ndarray:
        return self.maps(view.image)[view.layer][:, :, view.channel]

    def picture(self, view) -> np.ndarray:
        return pictures.feature_map_picture(view.render(), (
            f"{self.spec['titles'][view.image]} · {view.layer} {self.shapes[view.layer]} · "
            f"channel {view.channel}"))

    def values(self, layer: str) -> int:
        return len(self.batch) * int(np.prod(self.shapes[layer]))

    def static_frames(self, layers) -> dict:
        frames = {}
        for index in range(len(self.batch)):
            maps = activations.feature_maps(self.model, self.batch[index], layers)
            frames.update({f"{index}|{name}": {"key": f"{index}|{name}", **_sheet(maps[name], 9)}
                           for name in layers})
        return frames


class _GradCam(_Source):
    def __init__(self, model, batch, titles, shapes, class_names):
        predicted = [gradcam.predicted_class(model, image) for image in batch]
        super().__init__("gradcam", model, shapes, ["image", "klass", "layer"], titles=titles,
                         photos=[_data_url(image, photo=True) for image in batch],
                         class_names=class_names, predicted=predicted)
        self.batch = batch
        self.heat = functools.lru_cache(maxsize=64)(  # once per (image, class, layer)
            lambda index, chosen, name: gradcam.heatmap(model, batch[index], name, chosen))

    def _current(self, view):
        chosen = self.spec["predicted"][view.image] if view.klass < 0 else view.klass
        return chosen, self.heat(view.image, chosen, view.layer)

    def frame(self, view) -> dict:
        return _heat(self._current(view)[1], 1)

    def render(self, view) -> np.ndarray:
        return pictures.overlay(self.batch[view.image], self._current(view)[1], view.blend)

    def picture(self, view) -> np.ndarray:
        chosen, heat = self._current(view)
        names = self.spec["class_names"]
        return pictures.gradcam_picture(self.batch[view.image], heat, view.blend, (
            f"{self.spec['titles'][view.image]}: model predicts "
            f"{names[self.spec['predicted'][view.image]]}; heat for '{names[chosen]}' at {view.layer}"))

    def values(self, layer: str) -> int:
        return len(self.batch) * len(self.spec["class_names"]) * int(np.prod(self.shapes[layer][:2]))

    def static_frames(self, layers) -> dict:
        frames = {}
        for chosen in range(len(self.spec["class_names"])):  # every layer and image at once
            for name, heat in gradcam.heatmaps(self.model, self.batch, layers, chosen).items():
                frames.update({f"{index}|{chosen}|{name}": {"key": f"{index}|{chosen}|{name}",
                                                            **_heat(heat[index], 9)}
                               for index in range(len(self.batch))})
        return frames


class _Patterns(_Source):
    def __init__(self, model, shapes, steps):
        super().__init__("pattern", model, shapes, ["layer", "channel"], titles=[],
                         filters={name: int(shape[-1]) for name, shape in shapes.items()})
        self.steps = steps
        self.pattern = functools.lru_cache(maxsize=64)(  # once per (layer, filter)
            lambda name, index: patterns.filter_patterns(model, name, [index], steps=steps)[0])

    def frame(self, view) -> dict:
        return {"picture": _data_url(self.render(view), photo=True)}

    def render(self, view) -> np.ndarray:
        return self.pattern(view.layer, view.channel)

    def picture(self, view) -> np.ndarray:
        return pictures.photo_picture(view.render(), f"{view.layer}, filter {view.channel}")

    def values(self, layer: str) -> int:
        return min(STATIC_FILTERS, self.shapes[layer][-1]) * int(np.prod(self.model.input_shape[1:]))

    def static_frames(self, layers) -> dict:
        frames = {}
        for name in layers:
            count = min(STATIC_FILTERS, self.shapes[name][-1])
            images = patterns.filter_patterns(self.model, name, range(count), steps=self.steps)
            frames.update({f"{name}|{index}": {"key": f"{name}|{index}",
                                               "picture": _data_url(image, photo=True)}
                           for index, image in enumerate(images)})
        return frames


def activation_explorer(model, image, layers=None, layer=None, channel: int = 0,
                        titles=None) -> Explorer:
    """Return an explorer of feature maps: 'Layer' menu, 'Channel' slider, 'All channels'.

    ``image`` is one image or a batch (then an 'Image' slider picks one). ``layers`` defaults
    to every feature-map layer. ``render()`` returns the 2-D map drawn now.
    """
    shapes, start = _layers(model, layers, layer)
    if not 0 <= int(channel) < shapes[start][-1]:
        raise ValueError(f"channel {channel} is out of range: layer {start!r} has channels 0 to "
                         f"{shapes[start][-1] - 1}")
    return Explorer(_Activations(model, *_batch(image, titles), shapes), layer=start,
                    channel=int(channel))


def filter_pattern_explorer(model, layers=None, steps: int = 30, layer=None) -> Explorer:
    """Return an explorer: 'Layer' menu and 'Filter' slider -> the pattern that filter likes most
    (``patterns.filter_patterns``, ``steps`` steps). ``render()``: the pattern drawn now."""
    shapes, start = _layers(model, layers, layer)
    return Explorer(_Patterns(model, shapes, steps), layer=start)


def gradcam_explorer(model, images, class_names, layers=None, layer=None, alpha: float = 0.4,
                     titles=None) -> Explorer:
    """Return an explorer of Grad-CAM: 'Image', 'Class', 'Layer' and 'Blend' controls.

    ``class_names`` name the model's classes in output order; the 'Class' menu lists them after
    "predicted". ``layers`` defaults to ``model_layers.gradcam_layers(model)``, ``layer`` to the
    last of them. ``render()`` returns the overlay drawn now, in [0, 1].
    """
    class_names = [str(name) for name in class_names]
    if len(class_names) != gradcam.class_count(model):
        raise ValueError(f"model {model.name!r} has {gradcam.class_count(model)} classes but "
                         f"{len(class_names)} class names were given: {class_names}")
    shapes, start = _layers(model, model_layers.gradcam_layers(model) if layers is None else layers,
                            layer, last=True)
    return Explorer(_GradCam(model, *_batch(images, titles), shapes, class_names), layer=start,
                    blend=float(alpha))


def _static_layers(source, current: str, budget: int) -> list[str]:
    """The layers a static copy holds: all, or every k-th (and ``current``) within ``budget``."""
    names = list(source.shapes)
    for step in range(1, len(names) + 1):
        chosen = sorted(set(names[::step]) | {current}, key=names.index)
        if sum(source.values(name) for name in chosen) <= budget:
            return chosen
    return [current]


def static_data(view: Explorer, budget: int = STATIC_VALUES) -> dict:
    """Return what a page needs to run ``view`` with no kernel: its state and every frame its
    controls can ask for (patterns: the first ``STATIC_FILTERS`` filters of a layer)."""
    source = view.source
    layers = _static_layers(source, view.layer, budget)
    spec = {**view.spec, "layers": [entry for entry in view.spec["layers"] if entry["name"] in layers]}
    if len(layers) < len(source.shapes):
        spec["note"] = (f"This page holds {len(layers)} of the {len(source.shapes)} layers; "
                        f"run the notebook to see them all.")
    if source.kind == "pattern":
        spec["filters"] = {name: min(STATIC_FILTERS, count) for name, count in spec["filters"].items()}
    state = {name: getattr(view, name) for name in _CHOICES}
    return {"state": {"kind": source.kind, "spec": spec, **state},
            "frames": source.static_frames(layers)}


def _script(element_id: str, data_expression: str) -> str:
    code = base64.b64encode(FRONT_END.read_bytes()).decode("ascii")
    return (f'<script type="module">\nimport {{ mount }} from "data:text/javascript;base64,{code}";\n'
            f'mount(document.getElementById("{element_id}"), {data_expression});\n</script>')


def static_html(view: Explorer, budget: int = STATIC_VALUES) -> str:
    """Return an HTML fragment that runs ``view`` on a page with no kernel (data inline)."""
    element_id = f"ck-{uuid.uuid4().hex[:12]}"
    data = json.dumps(static_data(view, budget)).replace("</", "<\\/")
    return (f'<div id="{element_id}" class="coursekit-static-explorer"></div>\n'
            f'<script type="application/json" id="{element_id}-data">{data}</script>\n'
            + _script(element_id, f'JSON.parse(document.getElementById("{element_id}-data").textContent)'))


def export_explorer(model, images, folder, class_names=None, titles=None) -> Path:
    """Write the activation and Grad-CAM explorers of ``model`` over ``images`` to ``folder``
    (created; it must be new, empty or an earlier export): ``index.html`` opens from disk in a
    browser with no Python and no server (the frames are in ``explorer-data.js``). Returns the
    path of ``index.html``. ``class_names`` default to "class 0", "class 1"...; a model that is
    not a classifier gets the feature maps only.
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; give a folder for the explorer")
    ours = {"index.html", "explorer-data.js"}
    others = sorted(path.name for path in folder.iterdir() if path.name not in ours) \
        if folder.is_dir() else []
    if others:
        raise ValueError(f"folder {folder} holds other files ({', '.join(others[:5])}); "
                         f"export into a new or empty folder")
    views = {"activation": activation_explorer(model, images, titles=titles)}
    classes = gradcam.class_count(model) if len(model.outputs[0].shape) == 2 else 0
    if classes:
        names = [f"class {k}" for k in range(classes)] if class_names is None else class_names
        views["gradcam"] = gradcam_explorer(model, images, names, titles=titles)
    data = {name: static_data(view) for name, view in views.items()}
    for view in views.values():
        view.close()  # the widgets registry would keep the model alive
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "explorer-data.js").write_text(
        "window.COURSEKIT_EXPLORERS = " + json.dumps(data) + ";\n", encoding="utf-8")
    page = FRONT_END.with_name("explorer.html").read_text(encoding="utf-8").format(
        title=f"What {model.name} sees", model=model.name, count=len(views["activation"].spec["titles"]),
        shape="x".join(map(str, model.input_shape[1:])),
        gradcam='<h2>Grad-CAM: where the evidence for a class is</h2>\n<div id="gradcam"></div>'
        if classes else "",
        scripts="\n".join(_script(name, f"window.COURSEKIT_EXPLORERS.{name}") for name in views))
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder / "index.html"
