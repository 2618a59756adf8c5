"""coursekit.shapes, lesson 3: the shape and parameter calculator, checked against Keras itself."""

from __future__ import annotations

import re

import numpy as np
import pytest

from coursekit import cnn, shapes

keras = cnn.keras
layers = keras.layers


def test_the_output_length_formula():
    assert shapes.conv_output_length(150, 3) == 148
    assert shapes.conv_output_length(150, 5, stride=2) == 73
    assert shapes.conv_output_length(150, 3, stride=2, padding="same") == 75
    assert shapes.conv_output_length(15, 2, stride=2) == 7  # 2x2 pooling rounds down
    with pytest.raises(ValueError, match="padding"):
        shapes.conv_output_length(10, 3, padding="full")
    with pytest.raises(ValueError, match="does not fit"):
        shapes.conv_output_length(2, 3)


@pytest.mark.parametrize("layer, message", [
    (("lstm", 4), "unknown layer kind 'lstm'; known kinds: conv, pool, batchnorm"),
    (("dense",), "dense takes \\(shape, units\\)"),
    (("conv", 8, 3, 1, "valid", "extra"), "conv takes"),
])
def test_shape_table_names_what_is_allowed(layer, message):
    with pytest.raises(ValueError, match=message):
        shapes.shape_table((8, 8, 3), [layer])


def test_pooling_needs_feature_maps():
    with pytest.raises(ValueError, match="needs a \\(height, width, channels\\) input"):
        shapes.shape_table((8, 8, 3), [("flatten",), ("pool",)])


#: The course CNN's four blocks as shape_table specs (3x3 conv, 2x2 pooling, batch norm).
COURSE_BLOCKS = [spec for filters in (16, 32, 64, 128)
                 for spec in (("conv", filters), ("pool",), ("batchnorm",))]
#: The lecture CNN's four conv/pool blocks (Chollet's network).
LECTURE_BLOCKS = [spec for filters in (32, 64, 128, 128) for spec in (("conv", filters), ("pool",))]


def _lecture_cnn():
    blocks = [layer for filters in (32, 64, 128, 128)
              for layer in (layers.Conv2D(filters, 3, activation="relu"), layers.MaxPooling2D(2))]
    return keras.Sequential([keras.Input((150, 150, 3)), layers.Rescaling(1 / 255), *blocks,
                             layers.Flatten(), layers.Dense(512, activation="relu"),
                             layers.Dense(1, activation="sigmoid")])


def _keras_models():
    """Several models and their specs: kernels, strides, paddings, pooling, batch norm and heads."""
    yield "course CNN 112px", cnn.scratch_cnn(), [
        ("none",), *COURSE_BLOCKS, ("global_pool",), ("dense", 1)]
    yield "course CNN 64px + dropout + augmentation, 5 classes", cnn.scratch_cnn(
        (64, 64, 3), num_classes=5, dropout=0.5, augmentation=cnn.augmentation_layers()), [
        ("none",), ("none",), *COURSE_BLOCKS, ("global_pool",), ("none",), ("dense", 5)]
    yield "lecture CNN 150px", _lecture_cnn(), [
        ("none",), *LECTURE_BLOCKS, ("flatten",), ("dense", 512), ("dense", 1)]
    inputs = keras.Input((96, 80, 1))
    x = layers.MaxPooling2D(2)(layers.Conv2D(8, 3)(inputs))
    x = layers.Flatten()(layers.MaxPooling2D(2)(layers.Conv2D(16, 3)(x)))
    yield "functional, one channel", keras.Model(inputs, layers.Dense(10)(x)), [
        ("conv", 8), ("pool",), ("conv", 16), ("pool",), ("flatten",), ("dense", 10)]
    yield "strides, same padding, 5x5, global pooling", keras.Sequential([
        keras.Input((101, 77, 3)),
        layers.Conv2D(16, 5, strides=2, padding="same", activation="relu"),
        layers.Conv2D(24, 3, strides=2),
        layers.MaxPooling2D(3, strides=2, padding="same"),
        layers.AveragePooling2D(2),
        layers.Conv2D(10, 1),
        layers.GlobalAveragePooling2D(),
        layers.Dense(7, activation="softmax"),
    ]), [("conv", 16, 5, 2, "same"), ("conv", 24, 3, 2), ("pool", 3, 2, "same"), ("pool", 2),
         ("conv", 10, 1), ("global_pool",), ("dense", 7)]
    yield "dense only", keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(),
                                          layers.Dense(128), layers.Dropout(0.2), layers.Dense(10)]), [
        ("flatten",), ("dense", 128), ("none",), ("dense", 10)]


@pytest.mark.parametrize("label, model, specs", list(_keras_models()),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_shape_table_agrees_with_keras(label, model, specs):
    """The hand-worked table matches Keras' own shapes and parameter counts, layer by layer."""
    table = shapes.shape_table(model.input_shape[1:], specs)
    layers_ = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    assert len(table) == len(layers_)
    for row, layer in zip(table.itertuples(), layers_):
        assert row.output_shape == tuple(layer.output.shape[1:]), f"{label}: {layer.name}"
        assert row.params == layer.count_params(), f"{label}: {layer.name}"
        trainable = sum(int(np.prod(weight.shape)) for weight in layer.trainable_weights)
        assert row.trainable == trainable, f"{label}: {layer.name}"
    assert table["params"].sum() == model.count_params()


@pytest.mark.parametrize("build, specs, total", [
    (cnn.scratch_cnn, [("none",), *COURSE_BLOCKS, ("global_pool",), ("dense", 1)], 98_529),
    (_lecture_cnn, [("none",), *LECTURE_BLOCKS, ("flatten",), ("dense", 512), ("dense", 1)], 3_453_121),
], ids=["course", "lecture"])
def test_shape_table_matches_model_summary(build, specs, total):
    """Every row model.summary() prints (shape, parameters) and its totals match the table."""
    model = build()
    printed = []
    model.summary(print_fn=lambda text, **_: printed.append(text))
    text = "\n".join(printed)
    rows = re.findall(r"│ (\w+)(?: \(\w+\))?\s+│ \(None, ([\d, ]+)\)\s+│\s+([\d,]+) │", text)  # long class names wrap
    table = shapes.shape_table(model.input_shape[1:], specs)
    assert len(rows) == len(table) == len(model.layers)
    for (name, shape, params), row in zip(rows, table.itertuples()):
        assert tuple(int(size) for size in shape.split(",")) == row.output_shape, name
        assert int(params.replace(",", "")) == row.params, name
    read = {key: int(value.replace(",", "")) for key, value in
            re.findall(r"(Total|Trainable|Non-trainable) params: ([\d,]+)", text)}
    assert read["Total"] == table["params"].sum() == total
    assert read["Trainable"] == table["trainable"].sum()
    assert read["Non-trainable"] == (table["params"] - table["trainable"]).sum()
