"""Lesson 7's explorers (feature maps, Grad-CAM, filter patterns), live and without a kernel.

One front end, ``explorer.js``, draws all three. Live, an :class:`Explorer` (an anywidget) syncs
the choices with Python, which computes a *frame* when a choice needs one (every channel of a
layer as one 8-bit picture: the browser draws a channel move). ``static_data`` precomputes the
frames for the website (``COURSEKIT_SITE=1``) and ``export_explorer``'s folder.

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
    buffer, kind = io.BytesIO(), "jpeg" if photo else "png"
    if photo:  # photos and patterns: JPEG is a tenth of the size
        Image.fromarray(pictures.to_uint8(array)).save(buffer, format="JPEG", quality=90)
    else:
        Image.fromarray(array).save(buffer, format="PNG", compress_level=level)
    return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _sheet(stack: np.ndarray, level: int) -> dict:
    """A layer's maps as one frame: their colour indices tiled in a gray PNG, each one's range."""
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
    """The choices (layer, channel, image, klass: -1 predicted, blend, grid) synced with the
    browser, and ``frame``, what they show; ``render()``: the array drawn; ``figure()``: its PNG."""

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

    def __init__(self, kind: str, key: list[str], model, shapes: dict, batch=None, **spec):
        self.model, self.shapes, self.batch = model, shapes, batch
        layers = [{"name": name, "shape": list(shape)} for name, shape in shapes.items()]
        super().__init__(kind=kind, spec={"key": key, "colours": _colour_tables(), "layers": layers,
                                          "titles": [], **spec})
        self.observe(self._update, names=list(_CHOICES))

    def count(self, layer: str) -> int:
        """How many channels (filters) the slider offers at ``layer``."""
        return int(self.shapes[layer][-1])

    @traitlets.validate("layer", "channel", "image", "klass", "blend")
    def _check(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        layer = self.layer if self.layer in self.shapes else next(iter(self.shapes))
        allowed = {"layer": list(self.shapes), "channel": range(self.count(layer)),
                   "image": range(len(self.spec["titles"]) or 1), "blend": range(2),
                   "klass": range(-1, len(self.spec.get("class_names", [])))}[name]
        if not (0 <= value <= 1 if name == "blend" else value in allowed):
            limits = ", ".join(allowed) if name == "layer" else f"{allowed.start} to {allowed.stop - 1}"
            raise traitlets.TraitError(f"{name} {value!r} is not allowed; choose {limits}")
        return value

    def key(self) -> str:
        """Which frame the choices need: the values named by ``spec["key"]`` joined by "|"."""
        values = {name: getattr(self, name) for name in _CHOICES}
        values["klass"] = self.chosen()
        return "|".join(str(values[name]) for name in self.spec["key"])

    def chosen(self) -> int:
        """The class Grad-CAM explains: the one chosen, or the predicted one."""
        return self.spec["predicted"][self.image] if self.klass < 0 and "predicted" in self.spec \
            else self.klass

    def _update(self, change=None) -> None:
        if change is not None and change["name"] == "layer" and self.channel >= self.count(self.layer):
            self.channel = self.count(self.layer) - 1  # the slider's range follows the layer
        if self.frame.get("key") != self.key():
            self.frame = {"key": self.key(), **self.frame_for()}

    def figure(self) -> np.ndarray:
        picture = self.render()
        if picture.ndim == 2:  # a feature map, coloured as the browser does, enlarged
            factor = max(1, 288 // max(picture.shape))
            picture = matplotlib.colormaps["viridis"](colour_index(picture), bytes=True)[..., :3]
            picture = picture.repeat(factor, 0).repeat(factor, 1)
        title = self.spec["titles"][self.image] + " · " if self.spec["titles"] else ""
        what = f"class {self.spec['class_names'][self.chosen()]}" if self.kind == "gradcam" else \
            f"{'filter' if self.kind == 'pattern' else 'channel'} {self.channel}"
        return pictures.captioned(pictures.to_uint8(picture), [
            f"{title}{self.layer} {tuple(self.shapes[self.layer])} · {what}"])

    def _repr_mimebundle_(self, **kwargs):
        data, metadata = super()._repr_mimebundle_(**kwargs)
        data["image/png"] = base64.b64encode(widgets.figure_to_png(self.figure())).decode("ascii")
        if os.environ.get("COURSEKIT_SITE", "").strip().lower() in {"1", "true", "yes", "on"}:
            data["text/html"] = static_html(self)  # the course website: works with no kernel
        return data, metadata


def _batch(images, titles) -> tuple[np.ndarray, list[str]]:
    batch = np.asarray(images, dtype=np.float32)
    batch = batch[None] if batch.ndim == 3 else batch
    titles = [f"image {i}" for i in range(len(batch))] if titles is None else list(map(str, titles))
    if batch.ndim != 4 or len(batch) == 0 or len(titles) != len(batch):
        raise ValueError(f"images must be one image (height, width, channels) or a batch "
                         f"(n, height, width, channels) with one title each, got shape "
                         f"{np.shape(images)} and {len(titles)} titles")
    return batch, titles


def _layers(model, layers, layer, last: bool = False) -> tuple[dict, str]:
    """{name: output shape} of the layers to offer, and the one to start at (default: first/last)."""
    shapes = model_layers.layer_shapes(model, layers)
    flat = {name: shape for name, shape in shapes.items() if len(shape) != 3}
    start = list(shapes)[-1 if last else 0] if layer is None else model_layers.get_layer(model, layer).name
    if flat or start not in shapes:
        raise ValueError(f"layers without feature maps (output shapes {flat}) cannot be shown; "
                         f"layers with maps: {', '.join(model_layers.feature_map_layers(model))}"
                         if flat else f"layer {start!r} is not one this explorer can show; choose "
                         f"one of: {', '.join(shapes)}")
    return shapes, start


class _Activations(Explorer):
    def __init__(self, model, batch, titles, shapes, **choices):
        super().__init__("activation", ["image", "layer"], model, shapes, batch, titles=titles,
                         photos=[_data_url(image, photo=True) for image in batch])
        self.maps = functools.lru_cache(maxsize=4)(  # once per image: one forward pass
            lambda index: activations.feature_maps(model, batch[index], list(shapes)))
        self.set_trait("layer", choices["layer"])  # computes the first frame
        self.channel = choices["channel"]

    def frame_for(self) -> dict:
        return _sheet(self.maps(self.image)[self.layer], 1)

    def render(self) -> np.ndarray:
        return self.maps(self.image)[self.layer][:, :, self.channel]

    def values(self, layer: str) -> int:
        return len(self.batch) * int(np.prod(self.shapes[layer]))

    def static_frames(self, layers) -> dict:
        return {f"{index}|{name}": {"key": f"{index}|{name}", **_sheet(stack, 9)}
                for index, image in enumerate(self.batch)
                for name, stack in activations.feature_maps(self.model, image, layers).items()}


class _GradCam(Explorer):
    def __init__(self, model, batch, titles, shapes, class_names, **choices):
        super().__init__("gradcam", ["image", "klass", "layer"], model, shapes, batch, titles=titles,
                         photos=[_data_url(image, photo=True) for image in batch],
                         class_names=class_names,
                         predicted=[gradcam.predicted_class(model, image) for image in batch])
        self.heat = functools.lru_cache(maxsize=64)(  # once per (image, class, layer)
            lambda index, chosen, name: gradcam.heatmap(model, batch[index], name, chosen))
        self.set_trait("layer", choices["layer"])  # computes the first frame
        self.blend = choices["blend"]

    def frame_for(self) -> dict:
        return _heat(self.heat(self.image, self.chosen(), self.layer), 1)

    def render(self) -> np.ndarray:
        return pictures.overlay(self.batch[self.image], self.heat(self.image, self.chosen(), self.layer),
                                self.blend)

    def values(self, layer: str) -> int:
        return len(self.batch) * len(self.spec["class_names"]) * int(np.prod(self.shapes[layer][:2]))

    def static_frames(self, layers) -> dict:
        return {f"{index}|{chosen}|{name}": {"key": f"{index}|{chosen}|{name}", **_heat(heat[index], 9)}
                for chosen in range(len(self.spec["class_names"]))  # every layer and image at once
                for name, heat in gradcam.heatmaps(self.model, self.batch, layers, chosen).items()
                for index in range(len(self.batch))}


class _Patterns(Explorer):
    def __init__(self, model, shapes, steps, **choices):
        super().__init__("pattern", ["layer", "channel"], model, shapes,
                         filters={name: int(shape[-1]) for name, shape in shapes.items()})
        self.steps = steps
        self.pattern = functools.lru_cache(maxsize=64)(  # once per (layer, filter)
            lambda name, index: patterns.filter_patterns(model, name, [index], steps=steps)[0])
        self.set_trait("layer", choices["layer"])  # computes the first frame

    def frame_for(self) -> dict:
        return {"picture": _data_url(self.render(), photo=True)}

    def render(self) -> np.ndarray:
        return self.pattern(self.layer, self.channel)

    def values(self, layer: str) -> int:
        return min(STATIC_FILTERS, self.shapes[layer][-1]) * int(np.prod(self.model.input_shape[1:]))

    def static_frames(self, layers) -> dict:
        return {f"{name}|{index}": {"key": f"{name}|{index}", "picture": _data_url(image, photo=True)}
                for name in layers for index, image in enumerate(patterns.filter_patterns(
                    self.model, name, range(min(STATIC_FILTERS, self.count(name))), steps=self.steps))}


def activation_explorer(model, image, layers=None, layer=None, channel: int = 0,
                        titles=None) -> Explorer:
    """Return an explorer of feature maps: 'Layer' menu (default: every feature-map layer),
    'Channel' slider, 'All channels', and an 'Image' slider when ``image`` is a batch."""
    shapes, start = _layers(model, layers, layer)
    if not 0 <= int(channel) < shapes[start][-1]:
        raise ValueError(f"channel {channel} is out of range: layer {start!r} has channels 0 to "
                         f"{shapes[start][-1] - 1}")
    return _Activations(model, *_batch(image, titles), shapes, layer=start, channel=int(channel))


def filter_pattern_explorer(model, layers=None, steps: int = 30, layer=None) -> Explorer:
    """Return an explorer: 'Layer' menu and 'Filter' slider -> the pattern that filter likes most
    (``patterns.filter_patterns``, ``steps`` steps). ``render()``: the pattern drawn now."""
    shapes, start = _layers(model, layers, layer)
    return _Patterns(model, shapes, steps, layer=start)


def gradcam_explorer(model, images, class_names, layers=None, layer=None, alpha: float = 0.4,
                     titles=None) -> Explorer:
    """Return an explorer of Grad-CAM: 'Image', 'Class' ("predicted", then ``class_names`` in
    output order), 'Layer' (default: ``model_layers.gradcam_layers``, from the last) and 'Blend'."""
    class_names = [str(name) for name in class_names]
    if len(class_names) != gradcam.class_count(model):
        raise ValueError(f"model {model.name!r} has {gradcam.class_count(model)} classes but "
                         f"{len(class_names)} class names were given: {class_names}")
    shapes, start = _layers(model, model_layers.gradcam_layers(model) if layers is None else layers,
                            layer, last=True)
    return _GradCam(model, *_batch(images, titles), shapes, class_names, layer=start, blend=float(alpha))


def _static_layers(view, current: str, budget: int) -> list[str]:
    """The layers a static copy holds: all, or every k-th (and ``current``) within ``budget``."""
    names = list(view.shapes)
    for step in range(1, len(names) + 1):
        chosen = sorted(set(names[::step]) | {current}, key=names.index)
        if sum(view.values(name) for name in chosen) <= budget:
            return chosen
    return [current]


def static_data(view: Explorer, budget: int = STATIC_VALUES) -> dict:
    """Return what a page needs to run ``view`` with no kernel: its state and every frame its
    controls can ask for (patterns: the first ``STATIC_FILTERS`` filters of a layer)."""
    layers = _static_layers(view, view.layer, budget)
    spec = {**view.spec, "layers": [entry for entry in view.spec["layers"] if entry["name"] in layers]}
    if len(layers) < len(view.shapes):
        spec["note"] = (f"This page holds {len(layers)} of the {len(view.shapes)} layers; "
                        f"run the notebook to see them all.")
    if view.kind == "pattern":
        spec["filters"] = {name: min(STATIC_FILTERS, count) for name, count in spec["filters"].items()}
    state = {name: getattr(view, name) for name in _CHOICES}
    return {"state": {"kind": view.kind, "spec": spec, **state}, "frames": view.static_frames(layers)}


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
    """Write the activation and Grad-CAM explorers (classifiers only; ``class_names`` default to
    "class 0"...) of ``model`` over ``images`` to ``folder`` (new, empty or an earlier export);
    return the path of its ``index.html``, which opens from disk with no Python and no server."""
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
