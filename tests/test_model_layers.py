"""coursekit.model_layers on the tiny models of conftest.py (Sequential, Functional, nested)."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()

from coursekit import model_layers  # noqa: E402


def test_layer_names_walk_nested_models(tiny_nested, tiny_nested_sequential):
    names = model_layers.layer_names(tiny_nested)
    assert names == ["n_preprocess", "base_conv1", "base_bn1", "base_relu1", "base_conv2",
                     "base_add", "base_out", "n_gap", "n_out"]
    assert model_layers.layer_names(tiny_nested_sequential)[1:7] == names[1:7]


def test_get_layer_by_name_path_and_index(tiny_nested):
    assert model_layers.get_layer(tiny_nested, "base_conv2").name == "base_conv2"
    assert model_layers.get_layer(tiny_nested, "tiny_base/base_conv2").name == "base_conv2"
    assert model_layers.get_layer(tiny_nested, -1).name == "n_out"
    assert model_layers.get_layer(tiny_nested, 1).name == "base_conv1"


def test_get_layer_errors_say_what_exists(tiny_nested):
    with pytest.raises(ValueError, match="no layer named 'conv9'.*base_conv1, base_bn1"):
        model_layers.get_layer(tiny_nested, "conv9")
    with pytest.raises(ValueError, match="out of range.*9 layers"):
        model_layers.get_layer(tiny_nested, 9)


def test_layers_worth_a_look(tiny_sequential, tiny_functional, tiny_nested):
    assert model_layers.feature_map_layers(tiny_sequential) == ["conv_a", "pool_a", "conv_b", "pool_b"]
    assert model_layers.feature_map_layers(tiny_functional) == ["f_left", "f_right", "f_concat", "f_pool"]
    assert model_layers.feature_map_layers(tiny_nested) == [
        "base_conv1", "base_relu1", "base_conv2", "base_add", "base_out"]
    assert model_layers.gradcam_layers(tiny_functional) == ["f_left", "f_right", "f_concat"]
    assert model_layers.last_conv_layer(tiny_sequential) == "conv_b"
    assert model_layers.last_conv_layer(tiny_nested) == "base_out"
    assert model_layers.layer_shapes(tiny_sequential) == {
        "conv_a": (30, 30, 4), "pool_a": (15, 15, 4), "conv_b": (13, 13, 8), "pool_b": (6, 6, 8)}
    assert model_layers.layer_shapes(tiny_nested, ["tiny_base/base_add", -1]) == {
        "base_add": (32, 32, 6), "n_out": (1,)}
    flat = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="flat")
    with pytest.raises(ValueError, match="no layer with feature maps.*dense"):
        model_layers.layer_shapes(flat)


def test_model_without_input_gets_a_clear_message():
    with pytest.raises(ValueError, match="one known input"):
        model_layers.layer_names(keras.Sequential([keras.layers.Conv2D(2, 3)]))


def test_the_textbook_sub_model_fails_on_nested_models(tiny_nested, tiny_images):
    """Why the walk is needed: Keras >= 3.14 refuses an inner tensor of a nested base when the
    model is built; 3.13 builds the model and fails with a KeyError when it is called
    (keras-team/keras#22153). Lesson 7 shows whichever happens."""
    inner = tiny_nested.get_layer("tiny_base").get_layer("base_conv1")
    try:
        shortcut = keras.Model(tiny_nested.input, inner.output)
    except ValueError as error:
        assert "not connected" in str(error)
        return
    with pytest.raises(KeyError):
        shortcut(tiny_images)


def test_probe_is_built_once_and_follows_the_weights(tiny_sequential, tiny_images):
    probe = model_layers.probe_model(tiny_sequential, ["conv_a", "out"], linear=["out"])
    assert model_layers.probe_model(tiny_sequential, ["conv_a", "out"], linear=["out"]) is probe
    model = keras.models.clone_model(tiny_sequential)
    model.set_weights(tiny_sequential.get_weights())
    logit = np.asarray(model_layers.probe_model(model, ["out"], linear=["out"])(tiny_images))
    probability = np.asarray(model(tiny_images))
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), probability, rtol=1e-5)
    head = model.get_layer("out")
    head.set_weights([-weight for weight in head.get_weights()])  # "training" after the build
    again = np.asarray(model_layers.probe_model(model, ["out"], linear=["out"])(tiny_images))
    np.testing.assert_allclose(again, -logit, rtol=1e-5)
    assert head.activation.__name__ == "sigmoid"  # the model itself is untouched



def test_a_model_is_freed_after_probes_patterns_gradcam_and_an_explorer():
    """The caches hold models weakly: once the student drops a model, its memory comes back."""
    import gc
    import weakref

    from coursekit import activations, explorers, gradcam, patterns

    def use_and_drop():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="c"),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
        image = np.random.default_rng(0).uniform(0, 255, (16, 16, 3)).astype("float32")
        activations.feature_maps(model, image)
        patterns.filter_patterns(model, "c", [0, 1], steps=2)
        gradcam.heatmap(model, image, "c", 1)
        view = explorers.activation_explorer(model, image)
        view.channel = 2
        view.close()  # the widget registry keeps a displayed widget until it is closed
        assert len(model_layers._CACHES) >= 1
        return weakref.ref(model)

    gc.collect()  # models that earlier tests dropped
    before = len(model_layers._CACHES)
    freed = use_and_drop()
    gc.collect()
    assert freed() is None, "a cache still holds the model"
    assert len(model_layers._CACHES) == before
