"""Lesson 6's explorers (coursekit.explorers): set control values, check what is drawn."""

from __future__ import annotations

import base64
import io

import ipywidgets
import matplotlib
import numpy as np
import pytest
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from coursekit import config

keras = config.import_keras()

from coursekit import activations, explorers, gradcam, patterns, pictures  # noqa: E402


def _drawn(output: ipywidgets.Output) -> np.ndarray:
    """The picture an Output shows now (what the student sees)."""
    (entry,) = output.outputs
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(entry["data"]["image/png"]))))


def _map_in(picture: np.ndarray, shape: tuple) -> np.ndarray:
    """The feature map inside a ``feature_map_picture``, one pixel per activation."""
    factor = max(1, -(-288 // max(shape)))
    top = pictures.FEATURE_MAP_TOP
    return picture[top:top + shape[0] * factor:factor, 0:shape[1] * factor:factor]


def _colored(plane):
    return matplotlib.colormaps["viridis"](Normalize()(plane), bytes=True)[..., :3]


def _outputs(widget):
    """All Output widgets inside a container, in display order."""
    if isinstance(widget, ipywidgets.Output):
        return [widget]
    return [found for child in getattr(widget, "children", ()) for found in _outputs(child)]


def _counting(monkeypatch, module, name):
    calls, original = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls, original


# ---------------------------------------------------------------- activation explorer

@pytest.mark.parametrize("fixture", ["tiny_sequential", "tiny_functional", "tiny_nested"])
def test_setting_layer_and_channel_draws_exactly_that_map(fixture, request, tiny_images):
    model, image = request.getfixturevalue(fixture), tiny_images[0]
    view = explorers.activation_explorer(model, image)
    map_output = _outputs(view.widget)[0]
    for name, stack in activations.feature_maps(model, image).items():
        view.controls["layer"].value = name
        assert view.controls["channel"].max == stack.shape[-1] - 1
        view.controls["channel"].value = channel = stack.shape[-1] - 1
        np.testing.assert_array_equal(view.render(), stack[:, :, channel])
        np.testing.assert_array_equal(_map_in(_drawn(map_output), stack.shape[:2]),
                                      _colored(stack[:, :, channel]))
        np.testing.assert_array_equal(view.figure(), _drawn(map_output))  # the static fallback


def test_controls_are_labelled_and_show_shapes(tiny_sequential, tiny_images):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0])
    layer, channel = view.controls["layer"], view.controls["channel"]
    assert layer.description == "Layer" and channel.description == "Channel"
    assert [label for label, _ in layer.options] == [
        "conv_a  (30, 30, 4)", "pool_a  (15, 15, 4)", "conv_b  (13, 13, 8)", "pool_b  (6, 6, 8)"]
    assert "coursekit-activation-explorer" in view.widget._dom_classes
    before = _drawn(_outputs(view.widget)[0])
    view.controls["channel"].value = 1  # two silent channels still get their own caption
    assert not np.array_equal(before, _drawn(_outputs(view.widget)[0]))


def test_channel_slider_follows_the_layer_and_clamps(tiny_sequential, tiny_images):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0], layer="conv_b", channel=7)
    assert view.controls["channel"].value == 7
    view.controls["layer"].value = "conv_a"  # 4 channels
    assert view.controls["channel"].max == 3 and view.controls["channel"].value == 3
    expected = activations.feature_maps(tiny_sequential, tiny_images[0], ["conv_a"])["conv_a"]
    np.testing.assert_array_equal(view.render(), expected[:, :, 3])


def test_activations_are_computed_once_per_image(tiny_sequential, tiny_images, monkeypatch):
    calls, original = _counting(monkeypatch, activations, "feature_maps")
    view = explorers.activation_explorer(tiny_sequential, tiny_images)
    assert len(calls) == 1 and calls[0][1] == ["conv_a", "pool_a", "conv_b", "pool_b"]
    for name in ("conv_b", "pool_a", "conv_a"):
        view.controls["layer"].value = name
        for channel in range(4):
            view.controls["channel"].value = channel
    assert len(calls) == 1
    view.controls["layer"].value = "conv_b"
    view.controls["image"].value = 2
    assert len(calls) == 2
    np.testing.assert_array_equal(
        view.render(), original(tiny_sequential, tiny_images[2], ["conv_b"])["conv_b"][:, :, 3])
    view.controls["image"].value = 0  # seen before: no recomputation
    assert len(calls) == 2


def test_a_layer_change_draws_once(tiny_sequential, tiny_images, monkeypatch):
    shown = []
    monkeypatch.setattr(explorers.widgets, "show_figure", lambda *args: shown.append(args))
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0], channel=3)
    before = len(shown)
    view.controls["layer"].value = "conv_b"  # channel stays 3: the range change draws nothing
    assert len(shown) == before + 1


def test_all_channels_grid_on_demand(tiny_sequential, tiny_images, monkeypatch):
    drawn = []
    monkeypatch.setattr(explorers.widgets, "show_figure", lambda *args: drawn.append(args))
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0], layer="pool_a")
    assert not any(isinstance(figure, Figure) for figure, _ in drawn)  # pictures only
    view.controls["grid"].value = True
    figure, output = drawn[-1]
    assert output is _outputs(view.widget)[2]
    expected = activations.channel_grid(activations.feature_maps(tiny_sequential, tiny_images[0])["pool_a"])
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array().filled(np.nan), expected)


def test_bad_arguments_say_what_exists(tiny_sequential, tiny_images):
    image = tiny_images[0]
    with pytest.raises(ValueError, match="'out' is not one this explorer can show.*conv_a"):
        explorers.activation_explorer(tiny_sequential, image, layer="out")
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        explorers.activation_explorer(tiny_sequential, image, layer="conv9")
    with pytest.raises(ValueError, match="channel 99 is out of range.*0 to 3"):
        explorers.activation_explorer(tiny_sequential, image, layer="conv_a", channel=99)
    with pytest.raises(ValueError, match="without feature maps.*'out': \\(1,\\)"):
        explorers.activation_explorer(tiny_sequential, image, layers=["conv_a", "out"])
    with pytest.raises(ValueError, match="images must be one image"):
        explorers.activation_explorer(tiny_sequential, image[0])


# ---------------------------------------------------------------- Grad-CAM explorer

def test_gradcam_explorer_on_a_nested_model_caches_heatmaps(tiny_nested, tiny_images, monkeypatch):
    calls, original = _counting(monkeypatch, gradcam, "heatmap")
    view = explorers.gradcam_explorer(tiny_nested, tiny_images, class_names=["cat", "dog"])
    assert [view.controls[k].description for k in ("image", "class", "layer", "blend")] == [
        "Image", "Class", "Layer", "Blend"]
    assert view.controls["layer"].value == "base_out"  # the last conv layer, inside the base
    assert len(calls) == 1
    view.controls["blend"].value = 0.8  # re-mixes only
    assert len(calls) == 1
    view.controls["class"].value = 0
    view.controls["layer"].value = "base_relu1"
    heat = original(tiny_nested, tiny_images[0], "base_relu1", 0)
    np.testing.assert_allclose(view.render(), pictures.overlay(tiny_images[0], heat, 0.8), atol=1e-6)
    view.controls["image"].value = 1
    heat = original(tiny_nested, tiny_images[1], "base_relu1", 0)
    np.testing.assert_allclose(view.render(), pictures.overlay(tiny_images[1], heat, 0.8), atol=1e-6)
    count = len(calls)
    view.controls["image"].value = 0
    assert len(calls) == count  # cached


@pytest.mark.parametrize("classes", [3, 5])
def test_gradcam_explorer_lists_every_class(classes, strip_classifier):
    model = strip_classifier(classes)
    names = [f"kind {k}" for k in range(classes)]
    image = np.random.default_rng(0).uniform(0, 1, (8, 8 * classes, 3)).astype("float32")
    view = explorers.gradcam_explorer(model, image, class_names=names)
    assert [label for label, _ in view.controls["class"].options] == ["predicted"] + names
    assert view.controls["layer"].value == "s_maps"
    predicted = gradcam.predicted_class(model, image)
    np.testing.assert_allclose(view.render(), pictures.overlay(
        image, gradcam.heatmap(model, image, "s_maps", predicted), 0.4), atol=1e-6)
    view.controls["class"].value = classes - 1
    top = pictures.FEATURE_MAP_TOP
    drawn = _drawn(_outputs(view.widget)[0])
    expected = np.round(view.render() * 255).astype(np.uint8)
    np.testing.assert_array_equal(drawn[top:top + 8, 8 * classes + 8:2 * 8 * classes + 8], expected)
    with pytest.raises(ValueError, match=f"{classes} classes but 2 class names"):
        explorers.gradcam_explorer(model, image, class_names=["a", "b"])


def test_gradcam_explorer_bad_layer_says_why(tiny_functional, tiny_images):
    with pytest.raises(ValueError, match="'f_out' is not one this explorer can show.*f_concat"):
        explorers.gradcam_explorer(tiny_functional, tiny_images[:1], ["a", "b", "c"], layer="f_out")


# ---------------------------------------------------------------- filter pattern explorer

def test_filter_pattern_explorer_caches_per_layer_and_filter(tiny_sequential, monkeypatch):
    calls, original = _counting(monkeypatch, patterns, "filter_patterns")
    view = explorers.filter_pattern_explorer(tiny_sequential, steps=3)
    assert (view.controls["layer"].description, view.controls["filter"].description) == ("Layer", "Filter")
    view.controls["layer"].value = "conv_b"
    assert view.controls["filter"].max == 7
    view.controls["filter"].value = 5
    np.testing.assert_allclose(view.render(), original(tiny_sequential, "conv_b", [5], steps=3)[0])
    before = len(calls)
    view.controls["filter"].value = 2
    view.controls["filter"].value = 5
    assert len(calls) == before + 1 and calls[-1][:2] == ("conv_b", [2])  # 5 came from the cache


# ---------------------------------------------------------------- the real lesson-5 transfer model

def test_explorers_on_the_real_nested_transfer_model():
    """MobileNetV2 with the mirror's ImageNet weights, nested as one layer of the lesson-5 model."""
    from coursekit import pretrained

    try:
        base, preprocess_input = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), download=False)
    except pretrained.WeightsUnavailable as error:
        pytest.skip(f"ImageNet weights not in Keras' cache (run python -m coursekit prefetch): {error}")
    transfer = pretrained.transfer_model(base, preprocess_input)
    photo = np.random.default_rng(7).uniform(0, 255, (224, 224, 3)).astype("float32")
    view = explorers.activation_explorer(transfer, photo)
    options = [value for _, value in view.controls["layer"].options]
    assert "block_1_expand_relu" in options and options[-1] == "out_relu"
    view.controls["layer"].value = "block_6_expand_relu"
    view.controls["channel"].value = 5
    by_hand = keras.Model(base.input, base.get_layer("block_6_expand_relu").output)
    expected = np.asarray(by_hand(preprocess_input(photo[None].copy())))[0, :, :, 5]
    np.testing.assert_allclose(view.render(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(_map_in(_drawn(_outputs(view.widget)[0]), expected.shape),
                                  _colored(view.render()))
    cam = explorers.gradcam_explorer(transfer, photo[None], class_names=["cats", "dogs"])
    assert cam.controls["layer"].value == "out_relu"
    assert cam.render().shape == (224, 224, 3)
