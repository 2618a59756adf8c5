"""How fast the activation explorer answers a slider move, against the naive way of the sources.

Two models, one run:

* ``lesson``: the lesson-4 CNN in full mode (``recipes.SCRATCH_CNN``; a trained copy that
  ``training.train_or_load`` cached under ``data_dir()/models/`` when there is one, otherwise
  the same network untrained - latency does not depend on the weights; the script says which).
* ``pretrained``: the lesson-5 transfer model (MobileNetV2 alpha=0.35 with real ImageNet
  weights as ONE nested layer, 224x224), explored through its inner layers.

For each model, on a real validation photo:

* explorer: ``explorers.activation_explorer``; a channel move sets ``view.channel``, a layer
  change ``view.layer``. Each is timed from setting the value until the kernel's part is done:
  nothing for a channel move (the browser draws it from the layer's frame it holds), the new
  frame (every channel of the layer as one 8-bit PNG) for a layer change.
* for reference, the same channel move drawn as a matplotlib figure (one figure reused, its
  image data replaced) through ``widgets.show_figure``: why the explorer draws its own
  picture with NumPy and Pillow.
* naive (the sources' way): on every move, build ``keras.Model(inputs, layer.output)`` and call
  ``predict`` on the image, then draw exactly as the explorer does (same picture code, same kind
  of Output), so the ratio measures what caching saves, not a difference in drawing. For the
  nested model the naive sub-model has to start at the base (``base.input``; the outer
  model's input is not connected to the inner layers in Keras 3) and is fed the
  preprocessed image.

Prints one figure per line (``name: value unit``): median and p95 of both moves for both
approaches and models, the per-model ratios, and last the headline ``ratio`` (naive median /
explorer median for a layer change, the smaller of the two models). A channel move costs the
kernel nothing: the browser draws it (``benchmarks/explorer_static.py`` times that).

Run: ``python benchmarks/explorer_latency.py`` (with COURSEKIT_MIRROR/KERAS_HOME set as in CI;
``--moves`` and ``--naive-moves`` change the sample sizes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import platform
import time

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from coursekit import config

keras = config.import_keras()

from coursekit import (  # noqa: E402
    activations, datasets, explorers, model_layers, pictures, pretrained, recipes, widgets)


def _quiet():
    """Swallow the text that IPython's display() prints when no notebook front end is attached."""
    return contextlib.redirect_stdout(io.StringIO())


def _stats(samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1000
    return float(np.median(values)), float(np.percentile(values, 95))


def _photo(size: int) -> np.ndarray:
    root = datasets.load("cats_and_dogs_filtered")
    path = sorted((root / "validation" / "dogs").glob("*.jpg"))[0]
    image = keras.utils.load_img(path, target_size=(size, size))
    return keras.utils.img_to_array(image)


SIZE = recipes.SCRATCH_CNN.input_size(quick=False)[0]  # the lesson's CNN in full mode


def lesson_model():
    """The lesson-4 CNN (recipes.SCRATCH_CNN, full mode): a trained copy from data_dir()/models/
    if there is one, else the same network untrained."""
    for path in sorted((config.data_dir() / "models").glob("scratch_cnn-*.keras")):
        if path.name.endswith(".checkpoint.keras"):
            continue
        model = keras.models.load_model(path)
        if tuple(model.input_shape[1:]) == (SIZE, SIZE, 3):
            return model, f"trained, loaded from {path}"
    return recipes.SCRATCH_CNN.build(quick=False), "untrained (no cached lesson-4 model)"


def pretrained_model():
    """The lesson-5 transfer model: MobileNetV2 (alpha 0.35, ImageNet weights) nested as a layer."""
    base, preprocess_input = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3))
    base.trainable = False
    return pretrained.transfer_model(base, preprocess_input), base, preprocess_input


def time_explorer(model, image, layers, moves: int) -> dict[str, list[float]]:
    """Time channel moves and layer changes on the real explorer widget."""
    with _quiet():
        start = time.perf_counter()
        view = explorers.activation_explorer(model, image, layers=layers)
        first = time.perf_counter() - start
    result: dict[str, list[float]] = {"first": [first], "channel": [], "layer": []}
    cycle = itertools.cycle(layers)
    with _quiet():
        for move in range(moves + 3):  # 3 warm-up moves are not counted
            start = time.perf_counter()
            view.channel = (view.channel + 1) % view.count(view.layer)
            if move >= 3:
                result["channel"].append(time.perf_counter() - start)
        for move in range(moves + 3):
            name = next(cycle)
            if name == view.layer:
                name = next(cycle)
            start = time.perf_counter()
            view.layer = name  # the new frame (every channel of the layer, one PNG) is ready
            if move >= 3:
                result["layer"].append(time.perf_counter() - start)
    # The explorer really shows the layer and channel it was set to.
    expected = activations.feature_maps(model, image, [view.layer])[view.layer]
    assert np.array_equal(view.render(), expected[:, :, view.channel])
    return result


def time_matplotlib(activation: np.ndarray, moves: int) -> list[float]:
    """One channel move drawn with a (reused) matplotlib figure through show_figure."""
    output = widgets.ipywidgets.Output()
    figure = Figure(figsize=(3.5, 3.5), dpi=100)
    axes = figure.add_subplot()
    shown = axes.imshow(activation[:, :, 0], cmap="viridis", interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])
    samples = []
    with _quiet():
        for move in range(moves + 3):
            start = time.perf_counter()
            plane = activation[:, :, move % activation.shape[-1]]
            shown.set_data(plane)
            shown.set_clim(plane.min(), max(plane.max(), plane.min() + 1e-6))
            axes.set_title(f"layer\nchannel {move % activation.shape[-1]}", fontsize=11)
            widgets.show_figure(figure, output)
            if move >= 3:
                samples.append(time.perf_counter() - start)
    return samples


def time_naive(source_model, feed, layers, moves: int) -> dict[str, list[float]]:
    """The sources' way: rebuild a sub-model and predict on every move, then draw."""
    output = widgets.ipywidgets.Output()

    def show(layer_name: str, channel_index: int) -> np.ndarray:
        probe = keras.Model(source_model.inputs, source_model.get_layer(layer_name).output)
        activation = probe.predict(feed[None], verbose=0)[0]
        title = f"{layer_name} {activation.shape} · channel {channel_index}"
        colours = matplotlib.colormaps["viridis"](explorers.colour_index(activation[:, :, channel_index]))
        widgets.show_figure(pictures.captioned(pictures.to_uint8(colours), [title]), output)
        return activation

    result: dict[str, list[float]] = {"channel": [], "layer": []}
    cycle = itertools.cycle(layers)
    with _quiet():
        name = next(cycle)
        for move in range(moves + 1):  # 1 warm-up move
            start = time.perf_counter()
            show(name, move % 4)
            if move >= 1:
                result["channel"].append(time.perf_counter() - start)
        for move in range(moves + 1):
            name = next(cycle)
            start = time.perf_counter()
            show(name, 0)
            if move >= 1:
                result["layer"].append(time.perf_counter() - start)
    return result


def report(label: str, explorer: dict, naive: dict) -> float:
    print(f"{label}_explorer_first_image: {explorer['first'][0] * 1000:.0f} ms")
    for kind in ("channel", "layer"):
        ours, theirs = _stats(explorer[kind]), _stats(naive[kind])
        print(f"{label}_explorer_{kind}_move_median: {ours[0]:.1f} ms")
        print(f"{label}_explorer_{kind}_move_p95: {ours[1]:.1f} ms")
        print(f"{label}_naive_{kind}_move_median: {theirs[0]:.1f} ms")
        print(f"{label}_naive_{kind}_move_p95: {theirs[1]:.1f} ms")
    layer_ratio = _stats(naive["layer"])[0] / _stats(explorer["layer"])[0]
    print(f"{label}_layer_change_ratio: {layer_ratio:.1f}")
    return layer_ratio  # a channel move costs the kernel nothing now: no ratio to print


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=60, help="timed explorer moves per kind")
    parser.add_argument("--naive-moves", type=int, default=12, help="timed naive moves per kind")
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    ratios = []

    model, how = lesson_model()
    print(f"lesson model: scratch_cnn {SIZE}x{SIZE}, {how}")
    image = _photo(SIZE)
    layers = model_layers.feature_map_layers(model)
    explorer = time_explorer(model, image, layers, args.moves)
    naive = time_naive(model, image, layers, args.naive_moves)
    ratios.append(report("lesson", explorer, naive))
    first_layer = activations.feature_maps(model, image, layers[:1])[layers[0]]
    print(f"lesson_matplotlib_channel_move_median: "
          f"{_stats(time_matplotlib(first_layer, args.moves // 2))[0]:.1f} ms")

    transfer, base, preprocess_input = pretrained_model()
    print("pretrained model: transfer_model(MobileNetV2 alpha=0.35, ImageNet weights) 224x224, "
          f"{len(model_layers.feature_map_layers(transfer))} inner layers in the dropdown")
    photo = _photo(224)
    layers = model_layers.feature_map_layers(transfer)
    explorer = time_explorer(transfer, photo, layers, args.moves)
    preprocessed = np.asarray(preprocess_input(photo.copy()))
    naive = time_naive(base, preprocessed, layers, args.naive_moves)
    ratios.append(report("pretrained", explorer, naive))

    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"ratio: {min(ratios):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
