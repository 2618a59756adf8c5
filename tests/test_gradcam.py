"""coursekit.gradcam: the heat is where the model looks, for 2 (sigmoid) to n (softmax) classes."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import config

keras = config.import_keras()
import tensorflow as tf  # noqa: E402

from coursekit import checks, gradcam  # noqa: E402

SIZE = 32
QUADRANTS = {"top-left": (slice(0, 16), slice(0, 16)), "top-right": (slice(0, 16), slice(16, 32)),
             "bottom-left": (slice(16, 32), slice(0, 16)),
             "bottom-right": (slice(16, 32), slice(16, 32))}


def _quadrant_model(quadrant: str, nested: bool):
    """One sigmoid unit that only looks at one quadrant: the rest is masked before the convs."""
    mask = np.zeros((1, SIZE, SIZE, 1), dtype="float32")
    mask[(0,) + QUADRANTS[quadrant]] = 1.0
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="q_conv",
                               kernel_initializer=keras.initializers.RandomUniform(0.0, 0.1))
    inputs = keras.Input((SIZE, SIZE, 3))
    masked = keras.layers.Lambda(lambda x: x * mask, name="q_mask")(inputs)
    if nested:
        base_in = keras.Input((SIZE, SIZE, 3))
        maps = keras.Model(base_in, conv(base_in), name="q_base")(masked)
    else:
        maps = conv(masked)
    pooled = keras.layers.GlobalAveragePooling2D()(maps)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="q_out",
                                 kernel_initializer="ones")(pooled)
    return keras.Model(inputs, outputs, name=f"quadrant_{nested}")


@pytest.mark.parametrize("quadrant", ["top-left", "bottom-right"])
@pytest.mark.parametrize("is_nested", [False, True])
def test_sigmoid_heat_is_where_the_model_looks(quadrant, is_nested):
    keras.utils.set_random_seed(4)
    model = _quadrant_model(quadrant, is_nested)
    image = np.random.default_rng(5).uniform(0, 1, (SIZE, SIZE, 3)).astype("float32")
    heatmap = gradcam.heatmap(model, image, class_index=1)
    assert heatmap.shape == (SIZE, SIZE)
    assert heatmap.min() >= 0 and np.isclose(heatmap.max(), 1.0)
    assert heatmap[QUADRANTS[quadrant]].sum() / heatmap.sum() > 0.9
    # Class 0 (probability 1 - p): the evidence speaks against it everywhere, so no heat.
    assert gradcam.heatmap(model, image, class_index=0).max() == 0


@pytest.mark.parametrize("classes", [3, 5])
def test_softmax_heat_is_in_each_class_strip(classes, strip_classifier):
    model = strip_classifier(classes)
    assert gradcam.class_count(model) == classes
    image = np.random.default_rng(classes).uniform(0, 1, (8, 8 * classes, 3)).astype("float32")
    image[:, 8:16] += 2.0  # strip 1 is the brightest: class 1 wins
    assert gradcam.predicted_class(model, image) == 1
    np.testing.assert_array_equal(gradcam.heatmap(model, image), gradcam.heatmap(model, image, None, 1))
    for k in range(classes):
        heat = gradcam.heatmap(model, image, class_index=k)
        assert heat.shape == (8, 8 * classes) and np.isclose(heat.max(), 1.0)
        assert heat[:, 8 * k:8 * (k + 1)].sum() / heat.sum() > 0.9, f"class {k}"
    with pytest.raises(ValueError, match=f"from 0 to {classes - 1} .*has {classes} classes"):
        gradcam.heatmap(model, image, class_index=classes)


def _keras_io_gradcam(model, image, layer_name, class_index):
    """The keras.io recipe, written out (on a model that outputs logits)."""
    grad_model = keras.Model(model.input, [model.get_layer(layer_name).output, model.output])
    with tf.GradientTape() as tape:
        maps, predictions = grad_model(image[None])
        score = predictions[:, class_index]
    pooled = tf.reduce_mean(tape.gradient(score, maps), axis=(0, 1, 2))
    heatmap = tf.nn.relu(maps[0] @ pooled[..., None])[..., 0]
    return (heatmap / tf.maximum(tf.reduce_max(heatmap), 1e-12)).numpy()


def test_gradcam_agrees_with_the_written_out_recipe(tiny_images):
    keras.utils.set_random_seed(6)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="r_conv")(keras.layers.Rescaling(1 / 255)(inputs))
    logits = keras.layers.Dense(3, name="r_logits")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, logits)  # already logits: nothing to strip
    heats = [gradcam.heatmap(model, tiny_images[0], "r_conv", k) for k in range(3)]
    for k in range(3):
        np.testing.assert_allclose(heats[k], _keras_io_gradcam(model, tiny_images[0], "r_conv", k),
                                   rtol=1e-4, atol=1e-6)
    assert sum(heat.max() for heat in heats) >= 1  # at least one class has evidence here


def test_gradcam_never_changes_the_model(tiny_functional, tiny_images):
    image = tiny_images[0]
    weights = [w.copy() for w in tiny_functional.get_weights()]
    prediction = np.asarray(tiny_functional(image[None]))
    activation = tiny_functional.get_layer("f_out").activation
    assert gradcam.heatmap(tiny_functional, image, "f_concat", 2).shape == (SIZE, SIZE)
    assert tiny_functional.get_layer("f_out").activation is activation
    assert all(np.array_equal(a, b) for a, b in zip(tiny_functional.get_weights(), weights))
    np.testing.assert_allclose(np.asarray(tiny_functional(image[None])), prediction, rtol=1e-6)


def test_gradcam_uses_current_weights_after_training(tiny_nested, tiny_images):
    """The logits come from a clone of the head: it must follow later weight changes."""
    model = keras.models.clone_model(tiny_nested)
    model.set_weights(tiny_nested.get_weights())
    first = gradcam.heatmap(model, tiny_images[0], class_index=1)
    head = model.get_layer("n_out")
    kernel, bias = head.get_weights()
    head.set_weights([-kernel, -bias])
    np.testing.assert_allclose(first, gradcam.heatmap(model, tiny_images[0], class_index=0), atol=1e-6)


def test_gradcam_rejects_bad_choices(tiny_sequential, tiny_images):
    with pytest.raises(ValueError, match="no \\(height, width, channels\\) map.*conv_a"):
        gradcam.heatmap(tiny_sequential, tiny_images[0], layer="out")
    with pytest.raises(ValueError, match="class_index must be an int from 0 to 1"):
        gradcam.heatmap(tiny_sequential, tiny_images[0], class_index=2)
    with pytest.raises(ValueError, match="one image"):
        gradcam.heatmap(tiny_sequential, tiny_images[:2])
    with pytest.raises(ValueError, match="not a classifier"):
        gradcam.class_count(keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 3)]))


def test_predicted_class(tiny_sequential, tiny_functional, tiny_images):
    for image in tiny_images:
        p = float(np.asarray(tiny_sequential(image[None]))[0, 0])
        assert gradcam.predicted_class(tiny_sequential, image) == int(p >= 0.5)
        assert gradcam.predicted_class(tiny_functional, image) == int(
            np.argmax(tiny_functional(image[None])))


def test_a_model_loaded_from_disk_breaks_the_recipe_not_gradcam(tiny_sequential, tiny_images, tmp_path):
    """A Sequential loaded from .keras: each layer.output may sit in another copy of the graph,
    so the keras.io recipe's gradient is None (lesson 7 shows it); ours walks the layers."""
    tiny_sequential.save(tmp_path / "tiny.keras")
    loaded = keras.models.load_model(tmp_path / "tiny.keras")
    with tf.GradientTape() as tape:
        recipe = keras.Model(loaded.inputs[0], [loaded.get_layer("conv_b").output, loaded.outputs[0]])
        maps, probability = recipe(tiny_images[:1])
    assert tape.gradient(probability, maps) is None  # the trap
    for class_index in (0, 1):
        np.testing.assert_allclose(gradcam.heatmap(loaded, tiny_images[0], class_index=class_index),
                                   gradcam.heatmap(tiny_sequential, tiny_images[0], class_index=class_index),
                                   atol=1e-6)


def test_lesson_6_gradcam_check(tiny_sequential, tiny_images, capsys):
    heat = gradcam.heatmap(tiny_sequential, tiny_images[0], class_index=1)
    assert checks.check_gradcam(heat, tiny_sequential, tiny_images[0], None, 1)
    assert not checks.check_gradcam(heat * 2 + 0.5, tiny_sequential, tiny_images[0], None, 1)
    assert not checks.check_gradcam(heat[:2], tiny_sequential, tiny_images[0], None, 1)
    assert not checks.check_gradcam(..., tiny_sequential, tiny_images[0], None, 1)
    assert "Divide the heatmap by its maximum" in capsys.readouterr().out
