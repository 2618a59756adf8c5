"""Lesson 7's explorers (coursekit.explorers): set the choices, check the frame the browser gets,
what Python draws, what a static copy and an exported folder hold."""

from __future__ import annotations

import base64
import io
import json

import matplotlib
import numpy as np
import pytest
import traitlets
from matplotlib.colors import Normalize
from PIL import Image

from coursekit import config

keras = config.import_keras()

from coursekit import activations, explorers, gradcam, patterns, pictures  # noqa: E402


def _decoded(url: str) -> np.ndarray:
    """The pixels of a data URL, as the browser decodes them."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def _channel_in(frame: dict, channel: int) -> np.ndarray:
    """Channel ``channel``'s colour indices from an activation frame's sprite (as explorer.js)."""
    sprite, height, width = _decoded(frame["sprite"]), frame["height"], frame["width"]
    top, left = channel // frame["columns"] * height, channel % frame["columns"] * width
    return sprite[top:top + height, left:left + width]


def _colored(plane):
    return matplotlib.colormaps["viridis"](Normalize()(plane), bytes=True)[..., :3]


def _counting(monkeypatch, module, name):
    calls, original = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args[1:])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls, original


def test_colour_index_is_the_colour_imshow_draws():
    plane = np.random.default_rng(0).normal(size=(30, 30)).astype("float32")
    table = matplotlib.colormaps["viridis"](np.arange(256), bytes=True)[:, :3]
    np.testing.assert_array_equal(table[explorers.colour_index(plane)], _colored(plane))
    assert (explorers.colour_index(np.full((3, 3), 2.0)) == 0).all()  # a silent channel


# ---------------------------------------------------------------- activation explorer

@pytest.mark.parametrize("fixture", ["tiny_sequential", "tiny_functional", "tiny_nested"])
def test_setting_layer_and_channel_sends_exactly_that_map(fixture, request, tiny_images):
    model, image = request.getfixturevalue(fixture), tiny_images[0]
    view = explorers.activation_explorer(model, image)
    for name, stack in activations.feature_maps(model, image).items():
        view.layer = name
        assert view.count(name) == stack.shape[-1] and view.frame["key"] == f"0|{name}"
        view.channel = channel = stack.shape[-1] - 1
        np.testing.assert_array_equal(view.render(), stack[:, :, channel])
        table = matplotlib.colormaps["viridis"](np.arange(256), bytes=True)[:, :3]
        np.testing.assert_array_equal(table[_channel_in(view.frame, channel)], _colored(stack[:, :, channel]))
        np.testing.assert_allclose(view.frame["high"][channel], stack[:, :, channel].max(), rtol=1e-6)
    picture, top = view.figure(), pictures.FEATURE_MAP_TOP  # the PNG shown without a front end
    factor = max(1, 288 // max(stack.shape[:2]))
    np.testing.assert_array_equal(picture[top:top + stack.shape[0] * factor, :stack.shape[1] * factor],
                                  _colored(stack[:, :, channel]).repeat(factor, 0).repeat(factor, 1))


def test_menu_lists_layers_with_shapes(tiny_sequential, tiny_images):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0])
    assert [(entry["name"], entry["shape"]) for entry in view.spec["layers"]] == [
        ("conv_a", [30, 30, 4]), ("pool_a", [15, 15, 4]), ("conv_b", [13, 13, 8]), ("pool_b", [6, 6, 8])]
    assert view.kind == "activation" and len(view.spec["photos"]) == 1


def test_channel_follows_the_layer_and_clamps(tiny_sequential, tiny_images):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0], layer="conv_b", channel=7)
    view.layer = "conv_a"  # 4 channels
    assert view.channel == 3
    expected = activations.feature_maps(tiny_sequential, tiny_images[0], ["conv_a"])["conv_a"]
    np.testing.assert_array_equal(view.render(), expected[:, :, 3])
    with pytest.raises(traitlets.TraitError, match="channel 4 is not allowed; choose 0 to 3"):
        view.channel = 4
    with pytest.raises(traitlets.TraitError, match="layer 'out' is not allowed; choose conv_a"):
        view.layer = "out"


def test_activations_are_computed_once_per_image(tiny_sequential, tiny_images, monkeypatch):
    calls, original = _counting(monkeypatch, activations, "feature_maps")
    view = explorers.activation_explorer(tiny_sequential, tiny_images)
    assert len(calls) == 1 and calls[0][1] == ["conv_a", "pool_a", "conv_b", "pool_b"]
    frames = 0
    view.observe(lambda change: None, names="frame")
    for name in ("conv_b", "pool_a", "conv_a"):
        view.layer = name
        for channel in range(4):
            key = view.frame["key"]
            view.channel = channel
            frames += view.frame["key"] != key
    assert len(calls) == 1 and frames == 0  # a channel move needs no new frame
    view.layer, view.image = "conv_b", 2
    assert len(calls) == 2
    np.testing.assert_array_equal(
        view.render(), original(tiny_sequential, tiny_images[2], ["conv_b"])["conv_b"][:, :, 3])
    view.image = 0  # seen before: no recomputation
    assert len(calls) == 2


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
    assert view.layer == "base_out" and view.kind == "gradcam"  # the last conv layer, in the base
    assert len(calls) == 1
    view.blend = 0.8  # re-mixes only, in the browser
    assert len(calls) == 1
    view.klass, view.layer = 0, "base_relu1"
    heat = original(tiny_nested, tiny_images[0], "base_relu1", 0)
    np.testing.assert_allclose(view.render(), pictures.overlay(tiny_images[0], heat, 0.8), atol=1e-6)
    np.testing.assert_array_equal(_decoded(view.frame["heat"]), np.clip(np.floor(heat * 256), 0, 255))
    view.image = 1
    heat = original(tiny_nested, tiny_images[1], "base_relu1", 0)
    np.testing.assert_allclose(view.render(), pictures.overlay(tiny_images[1], heat, 0.8), atol=1e-6)
    count = len(calls)
    view.image = 0
    assert len(calls) == count  # cached


@pytest.mark.parametrize("classes", [3, 5])
def test_gradcam_explorer_lists_every_class(classes, strip_classifier):
    model = strip_classifier(classes)
    names = [f"kind {k}" for k in range(classes)]
    image = np.random.default_rng(0).uniform(0, 1, (8, 8 * classes, 3)).astype("float32")
    view = explorers.gradcam_explorer(model, image, class_names=names)
    assert view.spec["class_names"] == names and view.layer == "s_maps"
    predicted = gradcam.predicted_class(model, image)
    assert view.spec["predicted"] == [predicted] and view.key() == f"0|{predicted}|s_maps"
    np.testing.assert_allclose(view.render(), pictures.overlay(
        image, gradcam.heatmap(model, image, "s_maps", predicted), 0.4), atol=1e-6)
    view.klass = classes - 1
    np.testing.assert_allclose(view.render(), pictures.overlay(
        image, gradcam.heatmap(model, image, "s_maps", classes - 1), 0.4), atol=1e-6)
    with pytest.raises(ValueError, match=f"{classes} classes but 2 class names"):
        explorers.gradcam_explorer(model, image, class_names=["a", "b"])


def test_gradcam_explorer_bad_layer_says_why(tiny_functional, tiny_images):
    with pytest.raises(ValueError, match="'f_out' is not one this explorer can show.*f_concat"):
        explorers.gradcam_explorer(tiny_functional, tiny_images[:1], ["a", "b", "c"], layer="f_out")


# ---------------------------------------------------------------- filter pattern explorer

def test_filter_pattern_explorer_caches_per_layer_and_filter(tiny_sequential, monkeypatch):
    calls, original = _counting(monkeypatch, patterns, "filter_patterns")
    view = explorers.filter_pattern_explorer(tiny_sequential, steps=3)
    view.layer = "conv_b"
    assert view.count("conv_b") == 8
    view.channel = 5
    np.testing.assert_allclose(view.render(), original(tiny_sequential, "conv_b", [5], steps=3)[0])
    before = len(calls)
    view.channel = 2
    view.channel = 5
    assert len(calls) == before + 1 and calls[-1][:2] == ("conv_b", [2])  # 5 came from the cache


# ---------------------------------------------------------------- static copies and the export

def test_static_copy_holds_every_frame_its_controls_ask_for(tiny_sequential, tiny_images):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[:2])
    data = explorers.static_data(view)
    assert set(data["frames"]) == {f"{i}|{name}" for i in (0, 1) for name in view.shapes}
    view.image, view.layer = 1, "conv_b"
    assert data["frames"]["1|conv_b"]["sprite"] and "note" not in data["state"]["spec"]
    np.testing.assert_array_equal(_channel_in(data["frames"]["1|conv_b"], 7), _channel_in(view.frame, 7))
    small = explorers.static_data(view, budget=view.values("conv_a") + view.values("conv_b"))
    assert [entry["name"] for entry in small["state"]["spec"]["layers"]] == ["conv_a", "conv_b"]
    assert "2 of the 4 layers" in small["state"]["spec"]["note"]
    cam = explorers.gradcam_explorer(tiny_sequential, tiny_images[:2], ["cat", "dog"])
    frames = explorers.static_data(cam)["frames"]
    assert set(frames) == {f"{i}|{k}|{n}" for i in (0, 1) for k in (0, 1) for n in ("conv_a", "conv_b")}
    heat = gradcam.heatmap(tiny_sequential, tiny_images[1], "conv_a", 0)
    np.testing.assert_array_equal(_decoded(frames["1|0|conv_a"]["heat"]), np.clip(np.floor(heat * 256), 0, 255))
    pattern = explorers.static_data(explorers.filter_pattern_explorer(tiny_sequential, steps=2))
    assert pattern["state"]["spec"]["filters"] == {"conv_a": 4, "pool_a": 4, "conv_b": 8, "pool_b": 8}
    assert len(pattern["frames"]) == 24


def test_site_mode_adds_the_static_page_to_the_display(tiny_sequential, tiny_images, monkeypatch):
    view = explorers.activation_explorer(tiny_sequential, tiny_images[0])
    monkeypatch.delenv("COURSEKIT_SITE", raising=False)
    data, _ = view._repr_mimebundle_()
    assert "text/html" not in data and base64.b64decode(data["image/png"])[:4] == b"\x89PNG"
    assert "application/vnd.jupyter.widget-view+json" in data
    monkeypatch.setenv("COURSEKIT_SITE", "1")
    html = view._repr_mimebundle_()[0]["text/html"]
    assert 'type="module"' in html and "http" not in html.split("data:text/javascript")[0]


def test_export_writes_a_folder_and_never_into_other_files(tiny_nested, tiny_images, tmp_path):
    page = explorers.export_explorer(tiny_nested, tiny_images, tmp_path / "mine", ["cat", "dog"])
    assert sorted(path.name for path in page.parent.iterdir()) == ["explorer-data.js", "index.html"]
    text = (page.parent / "explorer-data.js").read_text()
    data = json.loads(text[text.index("{"):text.rindex("}") + 1])
    assert set(data) == {"activation", "gradcam"}
    assert {entry["name"] for entry in data["activation"]["state"]["spec"]["layers"]} >= {"base_conv1", "base_out"}
    assert "<script src=\"http" not in page.read_text()
    explorers.export_explorer(tiny_nested, tiny_images, tmp_path / "mine")  # again: replaces it
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="holds other files \\(cat.jpg\\)"):
        explorers.export_explorer(tiny_nested, tiny_images, tmp_path / "photos")
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"x"


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
    options = [entry["name"] for entry in view.spec["layers"]]
    assert "block_1_expand_relu" in options and options[-1] == "out_relu"
    view.layer, view.channel = "block_6_expand_relu", 5
    by_hand = keras.Model(base.input, base.get_layer("block_6_expand_relu").output)
    expected = np.asarray(by_hand(preprocess_input(photo[None].copy())))[0, :, :, 5]
    np.testing.assert_allclose(view.render(), expected, rtol=1e-4, atol=1e-4)
    data = explorers.static_data(view)
    assert "note" in data["state"]["spec"] and "0|block_6_expand_relu" in data["frames"]
    cam = explorers.gradcam_explorer(transfer, photo[None], class_names=["cats", "dogs"])
    assert cam.layer == "out_relu" and cam.render().shape == (224, 224, 3)
