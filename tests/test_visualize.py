"""Tests for coursekit.visualize on tiny models built here (Sequential, Functional, nested)."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()
import tensorflow as tf  # noqa: E402

from coursekit import visualize  # noqa: E402

SIZE = 32


def _base(name: str = "tiny_base"):
    """A small Functional 'pretrained base': conv -> BN -> ReLU -> conv -> ReLU (with a skip)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="base_conv1")(inputs)
    x = keras.layers.BatchNormalization(name="base_bn1")(x)
    x = keras.layers.ReLU(name="base_relu1")(x)
    y = keras.layers.Conv2D(6, 3, padding="same", name="base_conv2")(x)
    x = keras.layers.Add(name="base_add")([x, y])
    x = keras.layers.ReLU(name="base_out")(x)
    return keras.Model(inputs, x, name=name)


@pytest.fixture(scope="module")
def sequential():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Rescaling(1 / 255, name="rescale"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv_a"),
        keras.layers.MaxPooling2D(2, name="pool_a"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
        keras.layers.MaxPooling2D(2, name="pool_b"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, activation="sigmoid", name="out"),
    ], name="tiny_sequential")


@pytest.fixture(scope="module")
def functional():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3), name="pixels")
    x = inputs / 255.0  # an operation that is not a layer (Keras 3 records it in the graph)
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="f_left")(x)
    right = keras.layers.Conv2D(4, 5, padding="same", activation="relu", name="f_right")(x)
    x = keras.layers.Concatenate(name="f_concat")([left, right])
    x = keras.layers.MaxPooling2D(2, name="f_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="f_gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="f_out")(x)
    return keras.Model(inputs, outputs, name="tiny_functional")


@pytest.fixture(scope="module")
def nested():
    """The transfer-learning shape: inputs -> preprocessing -> base (as ONE layer) -> GAP -> Dense."""
    keras.utils.set_random_seed(2)
    base = _base()
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="n_preprocess")(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="n_gap")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="n_out")(x)
    return keras.Model(inputs, outputs, name="tiny_transfer")


@pytest.fixture(scope="module")
def nested_sequential():
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Rescaling(1 / 127.5, offset=-1, name="s_preprocess"),
        _base("tiny_base_seq"),
        keras.layers.GlobalAveragePooling2D(name="s_gap"),
        keras.layers.Dense(1, activation="sigmoid", name="s_out"),
    ], name="tiny_transfer_seq")


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).uniform(0, 255, (SIZE, SIZE, 3)).astype("float32")


def _direct(model, name, batch):
    """The textbook way: a sub-model from the model's input to one layer's output."""
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(name).output)(batch))


def _snapshot(model, image):
    return ([w.copy() for w in model.get_weights()], [layer.name for layer in model.layers],
            np.asarray(model(image[None], training=False)))


def _assert_unchanged(model, image, before):
    weights, names, prediction = _snapshot(model, image)
    assert names == before[1]
    assert all(np.array_equal(a, b) for a, b in zip(weights, before[0]))
    np.testing.assert_allclose(prediction, before[2], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- layer lookup

def test_layer_names_walk_nested_models(nested, nested_sequential):
    names = visualize.layer_names(nested)
    assert names == ["n_preprocess", "base_conv1", "base_bn1", "base_relu1", "base_conv2",
                     "base_add", "base_out", "n_gap", "n_out"]
    assert visualize.layer_names(nested_sequential)[1:7] == names[1:7]


def test_get_layer_by_name_path_and_index(nested):
    assert visualize.get_layer(nested, "base_conv2").name == "base_conv2"
    assert visualize.get_layer(nested, "tiny_base/base_conv2").name == "base_conv2"
    assert visualize.get_layer(nested, -1).name == "n_out"
    assert visualize.get_layer(nested, 1).name == "base_conv1"


def test_get_layer_error_lists_the_layers_that_exist(nested):
    with pytest.raises(ValueError, match="no layer named 'conv9'.*base_conv1, base_bn1"):
        visualize.get_layer(nested, "conv9")
    with pytest.raises(ValueError, match="out of range.*9 layers"):
        visualize.get_layer(nested, 9)
    with pytest.raises(ValueError, match="name .* or an index"):
        visualize.get_layer(nested, 1.5)


def test_feature_map_layers_pick_conv_pool_activation_merge(sequential, functional, nested):
    assert visualize.feature_map_layers(sequential) == ["conv_a", "pool_a", "conv_b", "pool_b"]
    assert visualize.feature_map_layers(functional) == ["f_left", "f_right", "f_concat", "f_pool"]
    assert visualize.feature_map_layers(nested) == ["base_conv1", "base_relu1", "base_conv2",
                                                    "base_add", "base_out"]
    assert visualize.last_conv_layer(sequential) == "conv_b"
    assert visualize.last_conv_layer(nested) == "base_out"


def test_model_without_input_gets_a_clear_message():
    model = keras.Sequential([keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match="no known input"):
        visualize.feature_maps(model, np.zeros((8, 8, 3)))


# ---------------------------------------------------------------- feature maps

def test_feature_maps_equal_a_direct_sub_model_sequential(sequential, image):
    before = _snapshot(sequential, image)
    maps = visualize.feature_maps(sequential, image)
    assert list(maps) == ["conv_a", "pool_a", "conv_b", "pool_b"]
    assert maps["conv_a"].shape == (30, 30, 4) and maps["pool_b"].shape == (6, 6, 8)
    for name, activation in maps.items():
        np.testing.assert_array_equal(activation, _direct(sequential, name, image[None])[0])
    _assert_unchanged(sequential, image, before)


def test_feature_maps_equal_a_direct_sub_model_functional(functional, image):
    maps = visualize.feature_maps(functional, image, ["f_concat", "f_out", 0])
    assert maps["f_concat"].shape == (SIZE, SIZE, 8)
    assert maps["f_out"].shape == (3,)  # any layer may be asked for; a Dense gives a vector
    for name in ("f_left", "f_concat", "f_out"):
        got = visualize.feature_maps(functional, image, [name])[name]
        np.testing.assert_allclose(got, _direct(functional, name, image[None])[0], rtol=1e-6)


@pytest.mark.parametrize("fixture", ["nested", "nested_sequential"])
def test_feature_maps_inside_a_nested_base(fixture, request, image):
    model = request.getfixturevalue(fixture)
    base = model.layers[1] if fixture == "nested" else model.layers[1]
    base = base if isinstance(base, keras.Model) else model.layers[2]
    before = _snapshot(model, image)
    maps = visualize.feature_maps(model, image)
    assert list(maps) == ["base_conv1", "base_relu1", "base_conv2", "base_add", "base_out"]
    preprocessed = image[None] / 127.5 - 1.0  # what the outer model feeds its base
    for name, activation in maps.items():
        direct = np.asarray(keras.Model(base.input, base.get_layer(name).output)(preprocessed))
        np.testing.assert_allclose(activation, direct[0], rtol=1e-5, atol=1e-6)
    # Outer and inner layers together, still one model and one pass.
    both = visualize.feature_maps(model, image, ["base_relu1", model.layers[-1].name])
    np.testing.assert_allclose(both[model.layers[-1].name],
                               np.asarray(model(image[None], training=False))[0], rtol=1e-5)
    _assert_unchanged(model, image, before)


def test_the_textbook_sub_model_fails_on_nested_models(nested):
    """Why the walk is needed: Keras 3 refuses inner tensors of a nested base."""
    inner = nested.get_layer("tiny_base").get_layer("base_conv1")
    with pytest.raises(ValueError):
        keras.Model(nested.input, inner.output)


def test_activation_model_is_one_multi_output_model_built_once(sequential):
    first = visualize.activation_model(sequential, ["conv_a", "pool_b"])
    assert len(first.outputs) == 2
    assert visualize.activation_model(sequential, ["conv_a", "pool_b"]) is first


# ---------------------------------------------------------------- channel grid

def test_channel_grid_tiles_each_normalised_channel_in_place():
    rng = np.random.default_rng(1)
    activation = rng.normal(size=(5, 4, 11)).astype("float32")
    activation[:, :, 3] = 2.0  # a dead (constant) channel
    grid = visualize.channel_grid(activation, columns=4, gap=1)
    assert grid.shape == (3 * 5 + 2, 4 * 4 + 3)
    normal = visualize.normalize_channels(activation)
    for k in range(11):
        top, left = (k // 4) * 6, (k % 4) * 5
        np.testing.assert_array_equal(grid[top:top + 5, left:left + 4], normal[:, :, k])
    assert np.all(grid[0:5, 3 * 5:3 * 5 + 4] == 0)  # the dead channel is black
    assert np.isnan(grid[5, 0]) and np.isnan(grid[0, 4])  # gaps
    assert np.isnan(grid[-5:, -4:]).all()  # empty slot after the last channel


def test_normalize_channels_is_the_lecture_formula():
    activation = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    channel = activation[:, :, 0]
    expected = np.clip((channel - channel.mean()) / channel.std() * 64 + 128, 0, 255) / 255
    np.testing.assert_allclose(visualize.normalize_channels(activation)[:, :, 0], expected,
                               rtol=1e-5)


# ---------------------------------------------------------------- filters

def test_filter_weights_and_first_layer_rgb(sequential):
    kernel = visualize.filter_weights(sequential, "conv_a")
    np.testing.assert_array_equal(kernel, sequential.get_layer("conv_a").get_weights()[0])
    views = visualize.first_layer_rgb(kernel)
    assert views["normalized"].shape == (4, 3, 3, 3)
    filters = np.moveaxis(kernel, -1, 0)
    largest = np.abs(filters).max(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(views["positive"] - views["negative"], filters / largest, rtol=1e-6)
    assert views["normalized"].min() == 0 and np.isclose(views["normalized"].max(), 1)
    with pytest.raises(ValueError, match="no convolution kernel.*conv_a, conv_b"):
        visualize.filter_weights(sequential, "out")


def test_filter_patterns_raise_the_chosen_filter(sequential, monkeypatch):
    monkeypatch.setenv("COURSEKIT_QUICK", "0")
    patterns = visualize.filter_patterns(sequential, "conv_b", [0, 1, 2], steps=20)
    assert patterns.shape == (3, SIZE, SIZE, 3)
    assert 0 <= patterns.min() and patterns.max() <= 1
    probe = keras.Model(sequential.inputs[0], sequential.get_layer("conv_b").output)
    every = list(range(8))
    start = visualize.filter_patterns(sequential, "conv_b", every, steps=0, for_display=False)
    before = np.asarray(probe(start))
    # After the ReLU, a filter silent on the grey start image has zero gradient: pick live ones.
    alive = [i for i in every if before[i, ..., i].mean() > 0]
    assert 3 <= len(alive) < 8
    raw = visualize.filter_patterns(sequential, "conv_b", alive, steps=20, for_display=False,
                                    linear=False)
    after = np.asarray(probe(raw))
    gains = np.array([[after[s, ..., i].mean() - before[i, ..., i].mean() for i in alive]
                      for s in range(len(alive))])
    assert (np.diag(gains) > 0).all()
    # Each filter responds most to its own pattern (rows: images, columns: filters).
    assert (np.argmax(gains, axis=0) == np.arange(len(alive))).all()


def test_filter_patterns_before_relu_reach_silent_filters_too(sequential, monkeypatch):
    monkeypatch.setenv("COURSEKIT_QUICK", "0")
    every = list(range(8))
    conv = sequential.get_layer("conv_b")
    kernel, bias = conv.get_weights()
    below = keras.Model(sequential.inputs[0], sequential.get_layer("pool_a").output)

    def pre_activation(images):  # conv_b by hand, without its ReLU
        return np.asarray(keras.ops.conv(below(images), kernel, padding="valid")) + bias

    start = visualize.filter_patterns(sequential, "conv_b", every, steps=0, for_display=False)
    raw = visualize.filter_patterns(sequential, "conv_b", every, steps=20, for_display=False)
    before, after = pre_activation(start), pre_activation(raw)
    for index in every:
        assert after[index, 2:-2, 2:-2, index].mean() > before[index, 2:-2, 2:-2, index].mean() + 0.01
    assert sequential.get_layer("conv_b").activation.__name__ == "relu"  # the model is untouched


def test_filter_pattern_steps_are_capped_in_quick_mode(sequential, monkeypatch):
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    capped = visualize.filter_pattern(sequential, "conv_a", 1, steps=50)
    exact = None
    monkeypatch.setenv("COURSEKIT_QUICK", "0")
    exact = visualize.filter_pattern(sequential, "conv_a", 1, steps=visualize.QUICK_MAX_ASCENT_STEPS)
    np.testing.assert_allclose(capped, exact, atol=1e-5)
    with pytest.raises(ValueError, match="filter indices must be in 0..3"):
        visualize.filter_pattern(sequential, "conv_a", 4)
    with pytest.raises(ValueError, match="needs a layer with feature maps"):
        visualize.filter_pattern(sequential, "out", 0)


# ---------------------------------------------------------------- Grad-CAM

QUADRANTS = {"top-left": (slice(0, 16), slice(0, 16)), "top-right": (slice(0, 16), slice(16, 32)),
             "bottom-left": (slice(16, 32), slice(0, 16)),
             "bottom-right": (slice(16, 32), slice(16, 32))}


def _quadrant_model(quadrant: str, nested: bool):
    """A model that only looks at one quadrant: everything else is masked before the convs."""
    mask = np.zeros((1, SIZE, SIZE, 1), dtype="float32")
    mask[(0,) + QUADRANTS[quadrant]] = 1.0
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="q_conv",
                               kernel_initializer=keras.initializers.RandomUniform(0.0, 0.1),
                               bias_initializer="zeros")
    inputs = keras.Input((SIZE, SIZE, 3))
    masked = keras.layers.Lambda(lambda x: x * mask, name="q_mask")(inputs)
    if nested:
        base_in = keras.Input((SIZE, SIZE, 3))
        base = keras.Model(base_in, conv(base_in), name="q_base")
        maps = base(masked)
    else:
        maps = conv(masked)
    pooled = keras.layers.GlobalAveragePooling2D()(maps)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="q_out",
                                 kernel_initializer="ones", bias_initializer="zeros")(pooled)
    return keras.Model(inputs, outputs, name=f"quadrant_{nested}")


@pytest.mark.parametrize("quadrant", list(QUADRANTS))
@pytest.mark.parametrize("is_nested", [False, True])
def test_gradcam_puts_the_heat_where_the_model_looks(quadrant, is_nested):
    keras.utils.set_random_seed(4)
    model = _quadrant_model(quadrant, is_nested)
    image = np.random.default_rng(5).uniform(0, 1, (SIZE, SIZE, 3)).astype("float32")
    heatmap = visualize.gradcam(model, image, class_index=1)
    assert heatmap.shape == (SIZE, SIZE)
    assert heatmap.min() >= 0 and np.isclose(heatmap.max(), 1.0)
    inside = heatmap[QUADRANTS[quadrant]].sum()
    assert inside / heatmap.sum() > 0.9
    # The other class: the evidence speaks against it everywhere, so there is no heat.
    assert visualize.gradcam(model, image, class_index=0).max() == 0


def _keras_io_gradcam(model, image, layer_name, class_index):
    """The keras.io recipe, written out (on a model without nesting, with logits output)."""
    grad_model = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape:
        maps, predictions = grad_model(image[None])
        score = predictions[:, class_index]
    grads = tape.gradient(score, maps)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    heatmap = tf.nn.relu(maps[0] @ pooled[..., None])[..., 0]
    return (heatmap / tf.reduce_max(heatmap)).numpy()


def test_gradcam_agrees_with_the_written_out_recipe(image):
    keras.utils.set_random_seed(6)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="r_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    logits = keras.layers.Dense(3, name="r_logits")(x)  # already logits: nothing to strip
    model = keras.Model(inputs, logits)
    for class_index in range(3):
        expected = _keras_io_gradcam(model, image, "r_conv", class_index)
        if np.isfinite(expected).all():
            np.testing.assert_allclose(visualize.gradcam(model, image, "r_conv", class_index),
                                       expected, rtol=1e-4, atol=1e-6)


def test_gradcam_never_changes_the_model(functional, image):
    before = _snapshot(functional, image)
    activation = functional.get_layer("f_out").activation
    heatmap = visualize.gradcam(functional, image, "f_concat", 2)
    assert heatmap.shape == (SIZE, SIZE)
    assert functional.get_layer("f_out").activation is activation
    _assert_unchanged(functional, image, before)


def test_gradcam_uses_current_weights_after_training(nested, image):
    """The logits come from a clone of the head: it must follow later weight changes."""
    model = keras.models.clone_model(nested)
    model.set_weights(nested.get_weights())
    first = visualize.gradcam(model, image, class_index=1)
    head = model.get_layer("n_out")
    kernel, bias = head.get_weights()
    head.set_weights([-kernel, bias])
    flipped = visualize.gradcam(model, image, class_index=0)
    np.testing.assert_allclose(first, flipped, atol=1e-6)


def test_gradcam_rejects_bad_choices(sequential, image):
    with pytest.raises(ValueError, match="not a \\(height, width, channels\\) map.*conv_a"):
        visualize.gradcam(sequential, image, layer="out")
    with pytest.raises(ValueError, match="class_index must be an int from 0 to 1"):
        visualize.gradcam(sequential, image, class_index=2)
    with pytest.raises(ValueError, match="one image"):
        visualize.gradcam(sequential, np.zeros((2, SIZE, SIZE, 3)))


def test_predicted_class(sequential, functional, image):
    p = float(np.asarray(sequential(image[None]))[0, 0])
    assert visualize.predicted_class(sequential, image) == int(p >= 0.5)
    assert visualize.predicted_class(functional, image) == int(np.argmax(functional(image[None])))


# ---------------------------------------------------------------- overlay and drawing

def test_overlay_blends_photo_and_colormap():
    import matplotlib

    photo = np.full((8, 8, 3), 255.0)
    heat = np.zeros((2, 2))
    np.testing.assert_allclose(visualize.overlay(photo, heat, alpha=0.0), 1.0)
    full = visualize.overlay(photo, heat, alpha=1.0, cmap="viridis")
    np.testing.assert_allclose(full[0, 0], matplotlib.colormaps["viridis"](0.0)[:3], rtol=1e-6)
    with pytest.raises(ValueError, match="colour-blind-safe"):
        visualize.overlay(photo, heat, cmap="jet")
    with pytest.raises(ValueError, match="alpha"):
        visualize.overlay(photo, heat, alpha=1.5)


def test_plots_draw_what_the_functions_compute(sequential, image):
    maps = visualize.feature_maps(sequential, image)
    figure = visualize.plot_feature_map(maps["conv_b"], 5, "conv_b")
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), maps["conv_b"][:, :, 5])
    again = visualize.plot_feature_map(maps["pool_a"], 2, "pool_a", figure=figure)
    assert again is figure
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), maps["pool_a"][:, :, 2])
    with pytest.raises(ValueError, match="out of range: this layer has 8 channels"):
        visualize.plot_feature_map(maps["conv_b"], 8)
    grid_figure = visualize.plot_channel_grid(maps["conv_b"], "conv_b")
    np.testing.assert_array_equal(grid_figure.axes[0].images[0].get_array().filled(np.nan),
                                  visualize.channel_grid(maps["conv_b"]))
    assert len(visualize.plot_first_layer_filters(
        visualize.filter_weights(sequential, "conv_a")).axes) == 12
    assert len(visualize.plot_gradcam(image, np.ones((4, 4))).axes) == 4  # 3 panels + colorbar


def test_models_loaded_from_disk_work_too(sequential, image, tmp_path):
    """A Sequential loaded from .keras is rebuilt layer by layer: each layer.output may sit in
    another copy of the graph, which breaks the keras.io recipe (gradient None); ours does not."""
    path = tmp_path / "tiny.keras"
    sequential.save(path)
    loaded = keras.models.load_model(path)
    with tf.GradientTape() as tape:
        recipe = keras.Model(loaded.inputs[0], [loaded.get_layer("conv_b").output, loaded.outputs[0]])
        maps, probability = recipe(image[None])
    assert tape.gradient(probability, maps) is None  # the trap this guards against
    for name, activation in visualize.feature_maps(sequential, image).items():
        np.testing.assert_allclose(visualize.feature_maps(loaded, image)[name], activation, rtol=1e-6)
    for class_index in (0, 1):
        np.testing.assert_allclose(visualize.gradcam(loaded, image, class_index=class_index),
                                   visualize.gradcam(sequential, image, class_index=class_index),
                                   atol=1e-6)


# ---------------------------------------------------------------- lesson-6 self-checks

def test_lesson_6_checks(sequential, image, capsys):
    from coursekit import checks

    assert checks.check_feature_map_shape((13, 13, 8), sequential, "conv_b")
    assert not checks.check_feature_map_shape((15, 15, 8), sequential, "conv_b")
    assert not checks.check_feature_map_shape(..., sequential, "conv_b")
    assert not checks.check_feature_map_shape((1, 1), sequential, "nope")
    assert "no layer named 'nope'" in capsys.readouterr().out
    stack = np.zeros((4, 4, 5), dtype="float32")
    stack[:, :, 3] = 2.0
    assert checks.check_most_active_channel(3, stack)
    assert not checks.check_most_active_channel(2, stack)
    assert not checks.check_most_active_channel("3", stack)
    assert not checks.check_most_active_channel(3, stack[0])
    heat = visualize.gradcam(sequential, image, class_index=1)
    assert checks.check_gradcam(heat, sequential, image, None, 1)
    assert not checks.check_gradcam(heat * 2 + 0.5, sequential, image, None, 1)
    assert not checks.check_gradcam(heat[:2], sequential, image, None, 1)
    assert not checks.check_gradcam(..., sequential, image, None, 1)
    assert "Divide the heatmap by its maximum" in capsys.readouterr().out


# ---------------------------------------------------------------- the explorer's fast picture

def test_colorize_matches_matplotlib():
    import matplotlib

    plane = np.random.default_rng(2).normal(size=(9, 7)).astype("float32")
    normed = (plane - plane.min()) / (plane.max() - plane.min())
    expected = np.round(matplotlib.colormaps["viridis"](normed)[:, :, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(visualize.colorize(plane), expected)
    flat = visualize.colorize(np.full((2, 2), 3.0), "magma")
    assert (flat == np.round(np.array(matplotlib.colormaps["magma"](0.0)[:3]) * 255)).all()


def test_feature_map_picture_holds_the_map_pixel_for_pixel():
    plane = np.random.default_rng(3).uniform(size=(7, 5)).astype("float32")
    picture = visualize.feature_map_picture(plane, "layer (7, 5, 3) · channel 2")
    factor = -(-288 // 7)
    top = visualize.FEATURE_MAP_TOP
    region = picture[top:top + 7 * factor, :5 * factor]
    np.testing.assert_array_equal(region, visualize.colorize(plane).repeat(factor, 0).repeat(factor, 1))
    assert (picture[:top] != 255).any()  # the caption band has text
    other = visualize.feature_map_picture(plane, "layer (7, 5, 3) · channel 3")
    assert not np.array_equal(picture[:top], other[:top])
    with pytest.raises(ValueError, match="2-D"):
        visualize.feature_map_picture(np.zeros((2, 2, 2)))
