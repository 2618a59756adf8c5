"""coursekit.models, lessons 3-4: the lecture CNN, the augmentation block, convolution by hand,
and the shape/parameter calculator checked against Keras itself."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import signal

from coursekit import models

keras = models.keras
layers = keras.layers


# ---------------------------------------------------------------- the lecture CNN

def test_scratch_cnn_has_the_lecture_parameter_count():
    model = models.scratch_cnn()
    assert model.count_params() == 3_453_121
    assert model.input_shape == (None, 150, 150, 3) and model.output_shape == (None, 1)
    assert model.layers[-1].get_config()["activation"] == "sigmoid"
    assert not model.compiled, "the builder returns an uncompiled model"
    names = [layer.name for layer in model.layers]
    assert names[0] == "rescaling" and names.count("flatten") == 1
    assert [layer.filters for layer in model.layers if isinstance(layer, layers.Conv2D)] == [32, 64, 128, 128]


@pytest.mark.parametrize("size, params", [((64, 64, 3), 504_001), ((150, 150, 1), 3_452_545)])
def test_scratch_cnn_sizes_are_arguments(size, params):
    # 64 px: 2x2x128 = 512 features into Dense(512); 1 channel: 2*9*32 = 576 fewer weights.
    assert models.scratch_cnn(size).count_params() == params


def test_regularized_variants_keep_the_count_and_add_the_right_layers():
    augmentation = models.augmentation_layers()
    model = models.scratch_cnn(dropout=0.5, l2=1e-4, augmentation=augmentation)
    assert model.count_params() == 3_453_121
    assert model.layers[0] is augmentation
    dropout = [layer for layer in model.layers if isinstance(layer, layers.Dropout)]
    assert len(dropout) == 1 and dropout[0].rate == 0.5
    conv = model.get_layer("conv1")
    assert conv.kernel_regularizer is not None
    assert float(conv.kernel_regularizer.get_config()["l2"]) == pytest.approx(1e-4)
    assert models.scratch_cnn().get_layer("conv1").kernel_regularizer is None


def test_functional_twin_is_the_same_network():
    sequential = models.scratch_cnn((64, 64, 3))
    functional = models.scratch_cnn_functional((64, 64, 3))
    assert isinstance(functional, keras.Model) and not isinstance(functional, keras.Sequential)
    assert functional.count_params() == sequential.count_params()
    assert [layer.name for layer in functional.layers[1:]] == [layer.name for layer in sequential.layers]
    functional.set_weights(sequential.get_weights())
    images = np.random.default_rng(0).uniform(0, 255, (4, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(functional.predict_on_batch(images),
                               sequential.predict_on_batch(images), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"input_shape": (32, 32, 3)}, "too small"),
    ({"dropout": 1.0}, "dropout"),
    ({"l2": -1.0}, "l2"),
    ({"filters": ()}, "filters"),
    ({"augmentation": "flip"}, "augmentation"),
])
def test_scratch_cnn_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.scratch_cnn(**kwargs)


# ---------------------------------------------------------------- augmentation

def test_augmentation_layers_choose_layers_by_strength():
    block = models.augmentation_layers(flip=None, rotation=0.1, zoom=0, translation=0.2, contrast=0.3)
    assert [type(layer).__name__ for layer in block.layers] == [
        "RandomRotation", "RandomTranslation", "RandomContrast"]
    with pytest.raises(ValueError, match="flip"):
        models.augmentation_layers(flip="diagonal")
    with pytest.raises(ValueError, match="rotation"):
        models.augmentation_layers(rotation=2.0)


def test_augment_grid_is_random_per_copy_but_repeatable():
    image = np.random.default_rng(1).integers(0, 256, (48, 48, 3)).astype("uint8")
    first = models.augment_grid(image, count=6, seed=3, rotation=0.2, zoom=0.2)
    again = models.augment_grid(image, count=6, seed=3, rotation=0.2, zoom=0.2)
    assert first.shape == (6, 48, 48, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[0], first[1]), "each copy gets its own random transform"
    untouched = models.augment_grid(image, count=2, flip=None, rotation=0, zoom=0,
                                    translation=0, contrast=0)
    np.testing.assert_array_equal(untouched[0], image)


def test_augmentation_is_off_at_inference():
    model = models.scratch_cnn((64, 64, 3), augmentation=models.augmentation_layers(seed=0))
    images = np.random.default_rng(2).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    np.testing.assert_array_equal(model.predict_on_batch(images), model.predict_on_batch(images))


# ---------------------------------------------------------------- convolution by hand

def test_apply_kernel_is_what_conv2d_computes():
    """Conv2D is a cross-correlation: apply_kernel(flip=False) matches a Keras Conv2D layer."""
    rng = np.random.default_rng(4)
    gray = rng.uniform(0, 1, (12, 12)).astype("float32")
    kernel = models.KERNEL_PRESETS["sobel x (vertical edges)"]
    conv = layers.Conv2D(1, 3, padding="valid", use_bias=False)
    conv.build((None, 12, 12, 1))
    conv.set_weights([kernel[:, :, None, None]])
    keras_out = np.asarray(conv(gray[None, :, :, None]))[0, :, :, 0]
    ours = models.apply_kernel(gray, kernel)[1:-1, 1:-1]  # "same" output, drop the border
    np.testing.assert_allclose(ours, keras_out, atol=1e-5)
    flipped = models.apply_kernel(gray, kernel, flip=True)
    np.testing.assert_allclose(flipped, signal.convolve2d(gray, kernel, mode="same", boundary="symm"),
                               atol=1e-5)
    # the Sobel kernel is antisymmetric: flipping it changes the sign
    np.testing.assert_allclose(flipped[1:-1, 1:-1], -ours, atol=1e-5)


def test_sobel_x_finds_a_vertical_edge():
    gray = np.zeros((8, 8), "float32")
    gray[:, 4:] = 1.0
    response = models.apply_kernel(gray, models.KERNEL_PRESETS["sobel x (vertical edges)"])
    assert np.abs(response[:, 3:5]).min() > 0 and np.abs(response[:, :2]).max() == 0
    with pytest.raises(ValueError, match="2-D"):
        models.apply_kernel(np.zeros((4, 4, 3)), np.eye(3))


# ---------------------------------------------------------------- the calculator

def test_arithmetic_formulas():
    assert models.conv_output_length(150, 3) == 148
    assert models.conv_output_length(150, 5, stride=2) == 73
    assert models.conv_output_length(150, 3, stride=2, padding="same") == 75
    assert models.pool_output_length(15, 2) == 7
    assert models.conv2d_params(32, 64, 3) == 18_496
    assert models.dense_params(6272, 512) == 3_211_776
    with pytest.raises(ValueError, match="padding"):
        models.conv_output_length(10, 3, padding="full")
    with pytest.raises(ValueError, match="does not fit"):
        models.conv_output_length(2, 3)
    with pytest.raises(ValueError, match="unknown layer kind"):
        models.shape_table((8, 8, 3), [("lstm", 4)])


def _keras_models():
    """Several models, different kernels, strides, paddings, pooling and heads."""
    yield "lecture CNN 150px", models.scratch_cnn()
    yield "lecture CNN 64px + dropout + augmentation", models.scratch_cnn(
        (64, 64, 3), dropout=0.5, augmentation=models.augmentation_layers())
    yield "functional twin", models.scratch_cnn_functional((96, 80, 1), filters=(8, 16))
    yield "strides, same padding, 5x5, global pooling", keras.Sequential([
        keras.Input((101, 77, 3)),
        layers.Conv2D(16, 5, strides=2, padding="same", activation="relu"),
        layers.Conv2D(24, 3, strides=2),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.AveragePooling2D(2),
        layers.Conv2D(10, 1),
        layers.GlobalAveragePooling2D(),
        layers.Dense(7, activation="softmax"),
    ])
    yield "dense only", keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                          layers.Dense(128), layers.Dropout(0.2), layers.Dense(10)])


@pytest.mark.parametrize("label, model", list(_keras_models()), ids=lambda v: v if isinstance(v, str) else "")
def test_shape_table_agrees_with_keras(label, model):
    """The hand-worked table matches Keras' own shapes and parameter counts, layer by layer."""
    table = models.shape_table(model.input_shape[1:], models.layer_specs(model))
    layers_ = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    assert len(table) == len(layers_)
    for row, layer in zip(table.itertuples(), layers_):
        assert row.output_shape == tuple(layer.output.shape[1:]), f"{label}: {layer.name}"
        assert row.params == layer.count_params(), f"{label}: {layer.name}"
    assert table["params"].sum() == model.count_params()


def test_shape_table_matches_model_summary():
    """Every row model.summary() prints (shape, parameters) and its total match the table."""
    model = models.scratch_cnn(dropout=0.5)
    printed = []
    model.summary(print_fn=lambda text, **_: printed.append(text))
    text = "\n".join(printed)
    rows = re.findall(r"│ (\w+) \(\w+\)\s+│ \(None, ([\d, ]+)\)\s+│\s+([\d,]+) │", text)
    table = models.shape_table((150, 150, 3), models.layer_specs(model))
    assert len(rows) == len(table) == len(model.layers)
    for (name, shape, params), row in zip(rows, table.itertuples()):
        assert tuple(int(size) for size in shape.split(",")) == row.output_shape, name
        assert int(params.replace(",", "")) == row.params, name
    total = int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == table["params"].sum() == 3_453_121


def test_layer_specs_rejects_layers_it_does_not_know():
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3), layers.BatchNormalization()])
    with pytest.raises(ValueError, match="BatchNormalization"):
        models.layer_specs(model)


# ---------------------------------------------------------------- lesson 3-4 views and checks
# (the kernel editor and augmentation preview live in coursekit.widgets, the checks in
# coursekit.checks; they are thin layers over the functions tested above)

def test_kernel_editor_renders_what_apply_kernel_computes():
    from coursekit import widgets

    photo = np.random.default_rng(5).integers(0, 256, (40, 50, 3)).astype("uint8")
    view = widgets.kernel_editor(photo)
    gray = (photo.astype("float32") @ np.array([0.299, 0.587, 0.114], "float32")) / 255
    sobel = models.KERNEL_PRESETS["sobel x (vertical edges)"]
    np.testing.assert_allclose(view.render(), models.apply_kernel(gray, sobel), atol=1e-5)
    view.controls["preset"].value = "box blur"
    assert view.controls["k[2,2]"].value == pytest.approx(1 / 9)
    np.testing.assert_allclose(view.render(), models.apply_kernel(gray, np.full((3, 3), 1 / 9)), atol=1e-5)
    view.controls["k[0,0]"].value = 5.0  # editing a number makes the kernel 'custom'
    assert view.controls["preset"].value == "custom"
    assert view.render()[0, 0] != pytest.approx(models.apply_kernel(gray, np.full((3, 3), 1 / 9))[0, 0])
    view.controls["flip"].value = True
    np.testing.assert_allclose(view.render(), models.apply_kernel(gray, _editor_kernel(view), flip=True),
                               atol=1e-5)
    assert "image/png" in view._repr_mimebundle_()
    with pytest.raises(ValueError, match="preset"):
        widgets.kernel_editor(photo, preset="emboss-o-matic")


def _editor_kernel(view) -> np.ndarray:
    return np.array([view.controls[f"k[{r},{c}]"].value for r in range(3) for c in range(3)],
                    "float32").reshape(3, 3)


def test_augmentation_preview_renders_augment_grid_and_caches():
    from coursekit import widgets

    photo = np.random.default_rng(6).integers(0, 256, (32, 32, 3)).astype("uint8")
    view = widgets.augmentation_preview(photo, count=4, seed=2)
    expected = models.augment_grid(photo, count=4, seed=2, flip="horizontal", rotation=0.1,
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


def test_lesson_3_4_checks(capsys):
    import pandas as pd

    from coursekit import checks

    assert checks.check_conv_output_shape((148, 148, 32), (150, 150, 3), filters=32)
    assert not checks.check_conv_output_shape((150, 150, 32), (150, 150, 3), filters=32)
    assert checks.check_conv_output_shape([75, 75, 8], (150, 150, 3), 8, kernel=5, stride=2, padding="same")
    assert checks.check_pool_output_shape((7, 7, 128), (15, 15, 128))
    assert checks.check_conv_params(18_496, in_channels=32, filters=64)
    assert not checks.check_conv_params(18_432, in_channels=32, filters=64)
    assert checks.check_dense_params(3_211_776, inputs=6272, units=512)
    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5, 6], "val_loss": [0.69, 0.6, 0.55, 0.52, 0.6, 0.7]})
    assert checks.check_overfitting_epoch(4, history) and checks.check_overfitting_epoch(5, history)
    assert not checks.check_overfitting_epoch(1, history)
    assert not checks.check_overfitting_epoch("four", history)
    assert not checks.check_augmentations({"horizontal flip", "vertical flip"})
    assert not checks.check_augmentations({"shear"})  # not an option: says which options exist
    out = capsys.readouterr().out
    assert "is not one of the options" in out and "upside down" in out
