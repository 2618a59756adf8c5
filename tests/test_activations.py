"""coursekit.activations: feature maps equal a direct sub-model, for every kind of model."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()

from coursekit import activations, checks, pictures  # noqa: E402


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


def test_feature_maps_equal_a_direct_sub_model_sequential(tiny_sequential, tiny_images):
    image = tiny_images[0]
    before = _snapshot(tiny_sequential, image)
    maps = activations.feature_maps(tiny_sequential, image)
    assert list(maps) == ["conv_a", "pool_a", "conv_b", "pool_b"]
    assert maps["conv_a"].shape == (30, 30, 4) and maps["pool_b"].shape == (6, 6, 8)
    for name, activation in maps.items():
        np.testing.assert_array_equal(activation, _direct(tiny_sequential, name, image[None])[0])
    _assert_unchanged(tiny_sequential, image, before)


def test_feature_maps_equal_a_direct_sub_model_functional(tiny_functional, tiny_images):
    image = tiny_images[0]
    maps = activations.feature_maps(tiny_functional, image, ["f_concat", "f_out", 0])
    assert maps["f_concat"].shape == (32, 32, 8)
    assert maps["f_out"].shape == (3,)  # any layer may be asked for; a Dense gives a vector
    for name in ("f_left", "f_concat", "f_out"):
        got = activations.feature_maps(tiny_functional, image, [name])[name]
        np.testing.assert_allclose(got, _direct(tiny_functional, name, image[None])[0], rtol=1e-6)


@pytest.mark.parametrize("fixture", ["tiny_nested", "tiny_nested_sequential"])
def test_feature_maps_inside_a_nested_base(fixture, request, tiny_images):
    model, image = request.getfixturevalue(fixture), tiny_images[0]
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    before = _snapshot(model, image)
    maps = activations.feature_maps(model, image)
    assert list(maps) == ["base_conv1", "base_relu1", "base_conv2", "base_add", "base_out"]
    preprocessed = image[None] / 127.5 - 1.0  # what the outer model feeds its base
    for name, activation in maps.items():
        direct = np.asarray(keras.Model(base.input, base.get_layer(name).output)(preprocessed))
        np.testing.assert_allclose(activation, direct[0], rtol=1e-5, atol=1e-6)
    # Outer and inner layers together, still one model and one pass.
    both = activations.feature_maps(model, image, ["base_relu1", model.layers[-1].name])
    np.testing.assert_allclose(both[model.layers[-1].name],
                               np.asarray(model(image[None], training=False))[0], rtol=1e-5)
    _assert_unchanged(model, image, before)


def test_models_loaded_from_disk_work_too(tiny_sequential, tiny_images, tmp_path):
    """A Sequential loaded from .keras is rebuilt layer by layer while loading; the walk
    gives the same maps as on the original."""
    tiny_sequential.save(tmp_path / "tiny.keras")
    loaded = keras.models.load_model(tmp_path / "tiny.keras")
    for name, activation in activations.feature_maps(tiny_sequential, tiny_images[0]).items():
        np.testing.assert_allclose(activations.feature_maps(loaded, tiny_images[0])[name],
                                   activation, rtol=1e-6)


def test_channel_grid_tiles_each_normalised_channel_in_place():
    activation = np.random.default_rng(1).normal(size=(5, 4, 11)).astype("float32")
    activation[:, :, 3] = 2.0  # a dead (constant) channel
    grid = pictures.channel_grid(activation, columns=4, gap=1)
    assert grid.shape == (3 * 5 + 2, 4 * 4 + 3)
    for k in range(11):
        top, left = (k // 4) * 6, (k % 4) * 5
        channel = activation[:, :, k]
        expected = np.zeros_like(channel) if k == 3 else (  # the dead channel is black
            np.clip((channel - channel.mean()) / channel.std() * 64 + 128, 0, 255) / 255)
        np.testing.assert_allclose(grid[top:top + 5, left:left + 4], expected, rtol=1e-5, atol=1e-6)
    assert np.isnan(grid[5, 0]) and np.isnan(grid[0, 4])  # gaps
    assert np.isnan(grid[-5:, -4:]).all()  # empty slot after the last channel


def test_filter_weights_and_first_layer_rgb(tiny_sequential):
    kernel = activations.filter_weights(tiny_sequential, "conv_a")
    np.testing.assert_array_equal(kernel, tiny_sequential.get_layer("conv_a").get_weights()[0])
    views = pictures.first_layer_rgb(kernel)
    assert views["normalised"].shape == (4, 3, 3, 3)
    filters = np.moveaxis(kernel, -1, 0)
    largest = np.abs(filters).max(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(views["positive weights"] - views["negative weights"],
                               filters / largest, rtol=1e-6)
    assert views["normalised"].min() == 0 and np.isclose(views["normalised"].max(), 1)
    with pytest.raises(ValueError, match="no convolution kernel.*conv_a, conv_b"):
        activations.filter_weights(tiny_sequential, "out")


def test_lesson_6_shape_and_channel_checks(tiny_sequential, capsys):
    assert checks.check_feature_map_shape((13, 13, 8), tiny_sequential, "conv_b")
    assert not checks.check_feature_map_shape((15, 15, 8), tiny_sequential, "conv_b")
    assert not checks.check_feature_map_shape(..., tiny_sequential, "conv_b")
    assert not checks.check_feature_map_shape((1, 1), tiny_sequential, "nope")
    assert "no layer named 'nope'" in capsys.readouterr().out
    stack = np.zeros((4, 4, 5), dtype="float32")
    stack[:, :, 3] = 2.0
    assert checks.check_most_active_channel(3, stack)
    assert not checks.check_most_active_channel(2, stack)
    assert not checks.check_most_active_channel("3", stack)
    assert not checks.check_most_active_channel(3, stack[0])
