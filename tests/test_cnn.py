"""coursekit.cnn, lessons 3-5: the output-layer rule, the lecture CNN for any number of classes,
the augmentation block and convolution by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from coursekit import cnn

keras = cnn.keras
layers = keras.layers


# ---------------------------------------------------------------- the output-layer rule

@pytest.mark.parametrize("num_classes, units, activation", [(2, 1, "sigmoid"), (3, 3, "softmax"),
                                                             (5, 5, "softmax"), (20, 20, "softmax")])
def test_output_rule_one_sigmoid_unit_for_two_classes_else_softmax(num_classes, units, activation):
    assert cnn.output_units(num_classes) == units
    layer = cnn.output_layer(num_classes)
    assert layer.units == units and layer.get_config()["activation"] == activation


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "3"])
def test_output_rule_rejects_what_is_not_a_class_count(bad):
    with pytest.raises(ValueError, match="num_classes"):
        cnn.output_units(bad)


@pytest.mark.parametrize("num_classes", [3, 5])
def test_scratch_cnn_follows_the_class_count(num_classes):
    """One softmax unit per class; only the output layer changes, so the count is predictable."""
    model = cnn.scratch_cnn((64, 64, 3), num_classes, filters=(4, 8))
    assert model.output_shape == (None, num_classes)
    binary = cnn.scratch_cnn((64, 64, 3), filters=(4, 8))
    assert model.count_params() - binary.count_params() == (8 + 1) * (num_classes - 1)
    assert model.layers[-1].get_config()["activation"] == "softmax"


# ---------------------------------------------------------------- the course CNN

def test_scratch_cnn_parameters_counted_by_hand():
    model = cnn.scratch_cnn()
    conv = [3 * 9 * 16 + 16, 16 * 9 * 32 + 32, 32 * 9 * 64 + 64, 64 * 9 * 128 + 128]
    norm = [4 * 16, 4 * 32, 4 * 64, 4 * 128]  # gamma, beta, moving mean and variance
    assert model.count_params() == sum(conv) + sum(norm) + 128 + 1
    assert model.input_shape == (None, 112, 112, 3) and model.output_shape == (None, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    assert not model.compiled, "the builder returns an uncompiled model"
    names = [layer.name for layer in model.layers]
    assert names[0] == "rescaling" and names[-2:] == ["average", "output"]
    assert [layer.filters for layer in model.layers if isinstance(layer, layers.Conv2D)] == [16, 32, 64, 128]
    assert all(layer.momentum == 0.9 for layer in model.layers
               if isinstance(layer, layers.BatchNormalization))


@pytest.mark.parametrize("size, params", [((64, 64, 3), 98_529), ((150, 150, 1), 98_529 - 2 * 9 * 16)])
def test_scratch_cnn_sizes_are_arguments(size, params):
    # Global average pooling: the count does not depend on the image size, only on its channels.
    assert cnn.scratch_cnn(size).count_params() == params


def test_regularized_variants_keep_the_count_and_add_the_right_layers():
    augmentation = cnn.augmentation_layers()
    model = cnn.scratch_cnn(dropout=0.5, l2=1e-4, augmentation=augmentation)
    assert model.count_params() == cnn.scratch_cnn().count_params()
    assert model.layers[0] is augmentation
    dropout = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    assert len(dropout) == 1 and dropout[0].rate == 0.5
    conv = model.get_layer("conv1")
    assert conv.kernel_regularizer is not None
    assert float(conv.kernel_regularizer.get_config()["l2"]) == pytest.approx(1e-4)
    assert cnn.scratch_cnn().get_layer("conv1").kernel_regularizer is None


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (32, 32, 3)}, "too small"),
    ({"input_shape": (256, 30, 3)}, "too small"),  # the narrow side decides
    ({"dropout": 1.0}, "dropout"),
    ({"filters": ()}, "no block"),
])
def test_scratch_cnn_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cnn.scratch_cnn(**kwargs)


# ---------------------------------------------------------------- augmentation

def test_augmentation_layers_choose_layers_by_strength():
    block = cnn.augmentation_layers(flip=None, rotation=0.1, zoom=0, translation=0.2, contrast=0.3)
    assert [type(layer).__name__ for layer in block.layers] == [
        "RandomRotation", "RandomTranslation", "RandomContrast"]
    with pytest.raises(ValueError, match="flip"):
        cnn.augmentation_layers(flip="diagonal")


def test_augment_grid_is_random_per_copy_but_repeatable():
    image = np.random.default_rng(1).integers(0, 256, (48, 48, 3)).astype("uint8")
    first = cnn.augment_grid(image, count=6, seed=3, rotation=0.2, zoom=0.2)
    again = cnn.augment_grid(image, count=6, seed=3, rotation=0.2, zoom=0.2)
    assert first.shape == (6, 48, 48, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], first[1]), "each copy gets its own random transform"
    untouched = cnn.augment_grid(image, count=2, flip=None, rotation=0, zoom=0,
                                    translation=0, contrast=0)
    np.testing.assert_array_equal(untouched[0], image)


# ---------------------------------------------------------------- convolution by hand

def test_apply_kernel_is_what_conv2d_computes():
    """Conv2D is a cross-correlation: apply_kernel(flip=False) matches a Keras Conv2D layer."""
    rng = np.random.default_rng(4)
    gray = rng.uniform(0, 1, (12, 12)).astype("float32")
    kernel = cnn.KERNEL_PRESETS["sobel x (vertical edges)"]
    conv = layers.Conv2D(1, 3, padding="valid", use_bias=False)
    conv.build((None, 12, 12, 1))
    conv.set_weights([kernel[:, :, None, None]])
    keras_out = np.asarray(conv(gray[None, :, :, None]))[0, :, :, 0]
    ours = cnn.apply_kernel(gray, kernel)[1:-1, 1:-1]  # "same" output, drop the border
    np.testing.assert_allclose(ours, keras_out, atol=1e-5)
    flipped = cnn.apply_kernel(gray, kernel, flip=True)
    np.testing.assert_allclose(flipped, signal.convolve2d(gray, kernel, mode="same", boundary="symm"),
                               atol=1e-5)
    # the Sobel kernel is antisymmetric: flipping it changes the sign
    np.testing.assert_allclose(flipped[1:-1, 1:-1], -ours, atol=1e-5)


def test_sobel_x_finds_a_vertical_edge():
    gray = np.zeros((8, 8), "float32")
    gray[:, 4:] = 1.0
    response = cnn.apply_kernel(gray, cnn.KERNEL_PRESETS["sobel x (vertical edges)"])
    assert np.abs(response[:, 3:5]).min() > 0 and np.abs(response[:, :2]).max() == 0
    with pytest.raises(ValueError, match="2-D"):
        cnn.apply_kernel(np.zeros((4, 4, 3)), np.eye(3))


# ---------------------------------------------------------------- lesson 3 and 5 views and checks
# (the kernel editor and augmentation preview live in coursekit.views, the checks in
# coursekit.checks; they are thin layers over the functions tested above)

def test_kernel_editor_renders_what_apply_kernel_computes():
    from coursekit import views

    photo = np.random.default_rng(5).integers(0, 256, (40, 50, 3)).astype("uint8")
    view = views.kernel_editor(photo)
    gray = (photo.astype("float32") @ np.array([0.299, 0.587, 0.114], "float32")) / 255
    sobel = cnn.KERNEL_PRESETS["sobel x (vertical edges)"]
    np.testing.assert_allclose(view.render(), cnn.apply_kernel(gray, sobel), atol=1e-5)
    view.controls["preset"].value = "box blur"
    assert view.controls["k[2,2]"].value == pytest.approx(1 / 9)
    np.testing.assert_allclose(view.render(), cnn.apply_kernel(gray, np.full((3, 3), 1 / 9)), atol=1e-5)
    view.controls["k[0,0]"].value = 5.0  # editing a number makes the kernel 'custom'
    assert view.controls["preset"].value == "custom"
    assert view.render()[0, 0] != pytest.approx(cnn.apply_kernel(gray, np.full((3, 3), 1 / 9))[0, 0])
    view.controls["flip"].value = True
    np.testing.assert_allclose(view.render(), cnn.apply_kernel(gray, _editor_kernel(view), flip=True),
                               atol=1e-5)
    assert "image/png" in view._repr_mimebundle_()
    with pytest.raises(ValueError, match="preset"):
        views.kernel_editor(photo, preset="emboss-o-matic")


def _editor_kernel(view) -> np.ndarray:
    return np.array([view.controls[f"k[{r},{c}]"].value for r in range(3) for c in range(3)],
                    "float32").reshape(3, 3)


def test_augmentation_preview_renders_augment_grid_and_caches():
    from coursekit import views

    photo = np.random.default_rng(6).integers(0, 256, (32, 32, 3)).astype("uint8")
    view = views.augmentation_preview(photo, count=4, seed=2)
    expected = cnn.augment_grid(photo, count=4, seed=2, flip="horizontal", rotation=0.1,
                                   zoom=0.2, translation=0.1, contrast=0.0)
    np.testing.assert_array_equal(view.render(), expected)
    assert view.render() is view.render(), "unchanged settings are not recomputed"
    view.controls["rotation"].value = 0.0
    view.controls["zoom"].value = 0.0
    view.controls["translation"].value = 0.0
    view.controls["flip"].value = None
    np.testing.assert_array_equal(view.render(), np.repeat(photo[None], 4, axis=0))
    with pytest.raises(ValueError, match="unknown strength"):
        view.render(shear=0.2)
