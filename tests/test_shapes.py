"""coursekit.shapes, lesson 3: the shape and parameter calculator, checked against Keras itself."""

from __future__ import annotations

import re

import pytest

from coursekit import cnn, shapes

keras = cnn.keras
layers = keras.layers


def test_arithmetic_formulas():
    assert shapes.conv_output_length(150, 3) == 148
    assert shapes.conv_output_length(150, 5, stride=2) == 73
    assert shapes.conv_output_length(150, 3, stride=2, padding="same") == 75
    assert shapes.pool_output_length(15, 2) == 7
    assert shapes.conv2d_params(32, 64, 3) == 18_496
    assert shapes.dense_params(6272, 512) == 3_211_776
    with pytest.raises(ValueError, match="padding"):
        shapes.conv_output_length(10, 3, padding="full")
    with pytest.raises(ValueError, match="does not fit"):
        shapes.conv_output_length(2, 3)


@pytest.mark.parametrize("layer, message", [
    (("lstm", 4), "unknown layer kind 'lstm'; known kinds: conv, pool"),
    (("dense",), "dense takes \\(shape, units\\)"),
    (("conv", 8, 3, 1, "valid", "extra"), "conv takes"),
])
def test_shape_table_names_what_is_allowed(layer, message):
    with pytest.raises(ValueError, match=message):
        shapes.shape_table((8, 8, 3), [layer])


#: The four conv/pool blocks of the lecture CNN, as shape_table specs (default 3x3 and 2x2).
BLOCKS = [("conv", 32), ("pool",), ("conv", 64), ("pool",), ("conv", 128), ("pool",),
          ("conv", 128), ("pool",)]


def _keras_models():
    """Several models and their specs: kernels, strides, paddings, pooling and heads."""
    yield "lecture CNN 150px", cnn.scratch_cnn(), [
        ("none",), *BLOCKS, ("flatten",), ("dense", 512), ("dense", 1)]
    yield "lecture CNN 64px + dropout + augmentation, 5 classes", cnn.scratch_cnn(
        (64, 64, 3), num_classes=5, dropout=0.5, augmentation=cnn.augmentation_layers()), [
        ("none",), ("none",), *BLOCKS, ("flatten",), ("none",), ("dense", 512), ("dense", 5)]
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
    assert table["params"].sum() == model.count_params()


def test_shape_table_matches_model_summary():
    """Every row model.summary() prints (shape, parameters) and its total match the table."""
    model = cnn.scratch_cnn(dropout=0.5)
    printed = []
    model.summary(print_fn=lambda text, **_: printed.append(text))
    text = "\n".join(printed)
    rows = re.findall(r"│ (\w+) \(\w+\)\s+│ \(None, ([\d, ]+)\)\s+│\s+([\d,]+) │", text)
    table = shapes.shape_table((150, 150, 3), [("none",), *BLOCKS, ("flatten",), ("none",),
                                               ("dense", 512), ("dense", 1)])
    assert len(rows) == len(table) == len(model.layers)
    for (name, shape, params), row in zip(rows, table.itertuples()):
        assert tuple(int(size) for size in shape.split(",")) == row.output_shape, name
        assert int(params.replace(",", "")) == row.params, name
    total = int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == table["params"].sum() == 3_453_121


def test_plot_architecture_draws_one_bar_per_layer():
    table = shapes.shape_table((150, 150, 3), [("none",), *BLOCKS, ("flatten",), ("dense", 512),
                                               ("dense", 1)])
    axes = shapes.plot_architecture(table).axes[0]
    assert len(axes.patches) == len(table) - 1  # the weightless Rescaling ("none") is not drawn
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == table["params"].tolist()[1:] and max(widths) == 3_211_776  # Dense(512)
    assert axes.get_yticklabels()[0].get_text() == "conv 32 -> 148x148x32"
    assert "3,453,121" in axes.get_title()
    with pytest.raises(ValueError, match="no layer"):
        shapes.plot_architecture(shapes.shape_table((8, 8, 3), [("none",)]))
