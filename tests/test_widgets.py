"""Tests for the lesson-6 explorers in coursekit.widgets: set control values, check the arrays."""

from __future__ import annotations

import html

import ipywidgets
import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()

from coursekit import visualize, widgets  # noqa: E402

SIZE = 32


@pytest.fixture(scope="module")
def sequential():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Rescaling(1 / 255, name="rescale"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv_a"),
        keras.layers.MaxPooling2D(2, name="pool_a"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, activation="sigmoid", name="out"),
    ], name="w_sequential")


@pytest.fixture(scope="module")
def functional():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="f_conv")(inputs / 255.0)
    x = keras.layers.MaxPooling2D(2, name="f_pool")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="f_out")(x))


@pytest.fixture(scope="module")
def nested():
    keras.utils.set_random_seed(2)
    base_in = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="b_conv1")(base_in)
    x = keras.layers.ReLU(name="b_relu1")(x)
    x = keras.layers.Conv2D(3, 3, strides=2, padding="same", name="b_conv2")(x)
    x = keras.layers.ReLU(name="b_relu2")(x)
    base = keras.Model(base_in, x, name="w_base")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="w_out")(x),
                       name="w_transfer")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (3, SIZE, SIZE, 3)).astype("float32")


@pytest.fixture
def drawn(monkeypatch):
    """Record every figure or picture the explorers send to an Output (what the student sees)."""
    calls = []
    originals = widgets.show_figure, widgets._show_picture

    def record_figure(figure, output=None):
        calls.append((figure, output))
        originals[0](figure, output)

    def record_picture(picture, output):
        calls.append((picture, output))
        originals[1](picture, output)

    monkeypatch.setattr(widgets, "show_figure", record_figure)
    monkeypatch.setattr(widgets, "_show_picture", record_picture)
    return calls


def _map_in(picture: np.ndarray, shape: tuple) -> np.ndarray:
    """The feature map inside a ``feature_map_picture``, one pixel per activation."""
    factor = max(1, -(-288 // max(shape)))
    top = visualize.FEATURE_MAP_TOP
    return picture[top:top + shape[0] * factor:factor, 0:shape[1] * factor:factor]


def _said(view) -> str:
    """The explorer's message line, as plain text."""
    return html.unescape(view.controls["message"].value)


def _outputs(widget):
    """All Output widgets inside a container, in display order."""
    if isinstance(widget, ipywidgets.Output):
        return [widget]
    found = []
    for child in getattr(widget, "children", ()):
        found.extend(_outputs(child))
    return found


# ---------------------------------------------------------------- activation explorer

@pytest.mark.parametrize("fixture", ["sequential", "functional", "nested"])
def test_setting_layer_and_channel_renders_exactly_that_map(fixture, request, images, drawn):
    model = request.getfixturevalue(fixture)
    view = widgets.activation_explorer(model, images[0])
    maps = visualize.feature_maps(model, images[0])
    for name, stack in maps.items():
        view.controls["layer"].value = name
        assert view.controls["channel"].max == stack.shape[-1] - 1
        channel = stack.shape[-1] - 1
        view.controls["channel"].value = channel
        np.testing.assert_array_equal(view.render(), stack[:, :, channel])
        # The picture that was drawn last shows exactly that layer and channel.
        picture, output = drawn[-1]
        assert output is _outputs(view.widget)[0]
        np.testing.assert_array_equal(_map_in(picture, stack.shape[:2]),
                                      visualize.colorize(stack[:, :, channel]))
        static = view.figure()
        np.testing.assert_array_equal(static.axes[1].images[0].get_array(), stack[:, :, channel])


def test_every_channel_gets_its_own_picture(sequential, images, drawn):
    """Two silent channels have equal data; the caption still tells them apart."""
    view = widgets.activation_explorer(sequential, np.zeros_like(images[:1]), layer="conv_a")
    view.controls["channel"].value = 1
    view.controls["channel"].value = 2
    (first, _), (second, _) = drawn[-2:]
    assert not np.array_equal(first, second)


def test_explorer_controls_are_labelled_and_show_shapes(sequential, images):
    view = widgets.activation_explorer(sequential, images[0])
    layer, channel = view.controls["layer"], view.controls["channel"]
    assert isinstance(layer, ipywidgets.Dropdown) and layer.description == "Layer"
    assert isinstance(channel, ipywidgets.IntSlider) and channel.description == "Channel"
    assert [label for label, _ in layer.options] == [
        "conv_a  (30, 30, 4)", "pool_a  (15, 15, 4)", "conv_b  (13, 13, 8)"]
    assert "coursekit-activation-explorer" in view.widget._dom_classes
    assert "coursekit-feature-map" in _outputs(view.widget)[0]._dom_classes


def test_channel_slider_follows_the_layer_and_clamps(sequential, images):
    view = widgets.activation_explorer(sequential, images[0], layer="conv_b", channel=7)
    assert view.controls["channel"].value == 7
    view.controls["layer"].value = "conv_a"  # 4 channels
    assert view.controls["channel"].max == 3 and view.controls["channel"].value == 3
    maps = visualize.feature_maps(sequential, images[0], ["conv_a"])
    np.testing.assert_array_equal(view.render(), maps["conv_a"][:, :, 3])


def test_activations_are_computed_once_per_image(sequential, images, monkeypatch, drawn):
    calls = []
    original = visualize.feature_maps

    def counting(*args, **kwargs):
        calls.append(args[2] if len(args) > 2 else kwargs.get("layers"))
        return original(*args, **kwargs)

    monkeypatch.setattr(visualize, "feature_maps", counting)
    view = widgets.activation_explorer(sequential, images)
    assert len(calls) == 1 and calls[0] == ["conv_a", "pool_a", "conv_b"]  # all layers at once
    for name in ("conv_b", "pool_a", "conv_a"):
        view.controls["layer"].value = name
        for channel in range(4):
            view.controls["channel"].value = channel
    assert len(calls) == 1
    draws = len(drawn)
    view.controls["layer"].value = "conv_b"
    assert len(drawn) == draws + 1  # a layer change draws once (not once more for the slider)
    view.controls["image"].value = 2
    assert len(calls) == 2
    np.testing.assert_array_equal(
        view.render(), original(sequential, images[2], ["conv_b"])["conv_b"][:, :, 3])
    view.controls["image"].value = 0  # seen before: no recomputation
    assert len(calls) == 2


def test_all_channels_grid_on_demand(sequential, images, drawn):
    view = widgets.activation_explorer(sequential, images[0], layer="pool_a")
    grid_output = _outputs(view.widget)[2]
    assert not any(output is grid_output for _, output in drawn)
    view.controls["grid"].value = True
    figure, output = drawn[-1]
    assert output is grid_output
    expected = visualize.channel_grid(visualize.feature_maps(sequential, images[0])["pool_a"])
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array().filled(np.nan), expected)


def test_invalid_choices_give_a_message_not_a_traceback(sequential, images):
    dense = widgets.activation_explorer(sequential, images[0], layer="out")
    assert "no feature maps" in _said(dense)
    assert "conv_a" in _said(dense)
    typo = widgets.activation_explorer(sequential, images[0], layer="conv9")
    assert "no layer named 'conv9'" in _said(typo)
    far = widgets.activation_explorer(sequential, images[0], layer="conv_a", channel=99)
    assert "channel 99 is out of range" in _said(far)
    assert far.controls["channel"].value == 0
    # A Dense layer offered in the dropdown: choosing it shows the message, then recovers.
    view = widgets.activation_explorer(sequential, images[0], layers=["conv_a", "out"])
    view.controls["layer"].value = "out"
    assert "output shape (1,)" in _said(view)
    view.controls["layer"].value = "conv_a"
    assert _said(view) == ""
    with pytest.raises(ValueError, match="out of range"):
        view.render(channel=4)


def test_explorer_displays_a_static_fallback(sequential, images):
    bundle = widgets.activation_explorer(sequential, images[0])._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"]


# ---------------------------------------------------------------- Grad-CAM explorer

def test_gradcam_explorer_on_a_nested_model(nested, images, monkeypatch):
    calls = []
    original = visualize.gradcam

    def counting(*args, **kwargs):
        calls.append(args[2:])
        return original(*args, **kwargs)

    monkeypatch.setattr(visualize, "gradcam", counting)
    view = widgets.gradcam_explorer(nested, images, class_names=["cat", "dog"])
    assert [view.controls[k].description for k in ("image", "class", "layer", "blend")] == [
        "Image", "Class", "Layer", "Blend"]
    assert view.controls["layer"].value == "b_relu2"  # last conv layer, inside the base
    assert len(calls) == 1
    view.controls["blend"].value = 0.8  # re-mixes only
    assert len(calls) == 1
    view.controls["class"].value = 0
    view.controls["layer"].value = "b_relu1"
    heat = original(nested, images[0], "b_relu1", 0)
    np.testing.assert_allclose(view.render(), visualize.overlay(images[0], heat, 0.8), atol=1e-6)
    view.controls["image"].value = 1
    np.testing.assert_allclose(
        view.render(), visualize.overlay(images[1], original(nested, images[1], "b_relu1", 0), 0.8),
        atol=1e-6)
    count = len(calls)
    view.controls["image"].value = 0
    assert len(calls) == count  # cached


def test_gradcam_explorer_predicted_class_and_bad_names(functional, images):
    view = widgets.gradcam_explorer(functional, images[:1])
    predicted = visualize.predicted_class(functional, images[0])
    heat = visualize.gradcam(functional, images[0], "f_conv", predicted)
    np.testing.assert_allclose(view.render(), visualize.overlay(images[0], heat, 0.4), atol=1e-6)
    with pytest.raises(ValueError, match="3 classes but 2 class names"):
        widgets.gradcam_explorer(functional, images, class_names=["a", "b"])
    bad = widgets.gradcam_explorer(functional, images[:1], layer="f_out")
    assert "Layers that exist" in _said(bad) or \
        "not a (height" in _said(bad)


# ---------------------------------------------------------------- filter pattern explorer

def test_filter_pattern_explorer_caches_per_layer_and_filter(sequential, monkeypatch):
    calls = []
    original = visualize.filter_pattern

    def counting(*args, **kwargs):
        calls.append(args[1:3])
        return original(*args, **kwargs)

    monkeypatch.setattr(visualize, "filter_pattern", counting)
    view = widgets.filter_pattern_explorer(sequential, steps=3)
    assert view.controls["layer"].description == "Layer"
    assert view.controls["filter"].description == "Filter"
    view.controls["layer"].value = "conv_b"
    assert view.controls["filter"].max == 7
    view.controls["filter"].value = 5
    np.testing.assert_allclose(view.render(), original(sequential, "conv_b", 5, steps=3))
    before = len(calls)
    view.controls["filter"].value = 2
    view.controls["filter"].value = 5
    assert len(calls) == before + 1  # filter 2 is new, filter 5 came from the cache
    assert calls[-1] == ("conv_b", 2)


# ---------------------------------------------------------------- the real lesson-5 transfer model

def test_explorers_on_the_real_nested_transfer_model(drawn):
    """MobileNetV2 with the mirror's ImageNet weights, nested as one layer of the lesson-5 model."""
    from coursekit import pretrained

    try:
        base, preprocess_input = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), download=False)
    except pretrained.WeightsUnavailable as error:
        pytest.skip(f"ImageNet weights not in Keras' cache (run python -m coursekit prefetch): {error}")
    transfer = pretrained.transfer_model(base, preprocess_input)
    photo = np.random.default_rng(7).uniform(0, 255, (224, 224, 3)).astype("float32")
    view = widgets.activation_explorer(transfer, photo)
    options = [value for _, value in view.controls["layer"].options]
    assert "block_1_expand_relu" in options and options[-1] == "out_relu"
    view.controls["layer"].value = "block_6_expand_relu"
    view.controls["channel"].value = 5
    by_hand = keras.Model(base.input, base.get_layer("block_6_expand_relu").output)
    expected = np.asarray(by_hand(preprocess_input(photo[None].copy())))[0, :, :, 5]
    np.testing.assert_allclose(view.render(), expected, rtol=1e-4, atol=1e-4)
    picture, _ = drawn[-1]
    np.testing.assert_array_equal(_map_in(picture, expected.shape), visualize.colorize(view.render()))
    cam = widgets.gradcam_explorer(transfer, photo[None], class_names=["cats", "dogs"])
    assert cam.controls["layer"].value == "out_relu"
    assert cam.render().shape == (224, 224, 3)


def test_gradcam_explorer_draws_what_render_returns(functional, images, drawn):
    view = widgets.gradcam_explorer(functional, images[:2], class_names=["a", "b", "c"])
    view.controls["blend"].value = 0.7
    view.controls["image"].value = 1
    picture, output = drawn[-1]
    assert output is _outputs(view.widget)[0]
    top, width = visualize.FEATURE_MAP_TOP, SIZE
    expected = np.round(view.render() * 255).astype(np.uint8)
    np.testing.assert_array_equal(picture[top:top + SIZE, width + 8:2 * width + 8], expected)
