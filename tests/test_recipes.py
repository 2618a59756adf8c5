"""coursekit.recipes: one definition per trained model, and a cache key that covers every field."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from coursekit import checks, cnn, pretrained, recipes, training
from coursekit.recipes import FLIP_ROTATE_ZOOM, SCRATCH_CNN, TRANSFER_FINE_TUNED, TRANSFER_FROZEN, Recipe

#: A different valid value for every field of SCRATCH_CNN (TRANSFER_FINE_TUNED for the last two).
CHANGES = {
    "name": "other", "image_size": 128, "quick_image_size": 48, "epochs": 21, "quick_epochs": 3,
    "learning_rate": 5e-4, "monitor": "val_loss", "patience": 7, "model": "transfer",
    "filters": (32, 64, 128), "head": "flatten", "dropout": 0.3, "l2": 1e-5,
    "augmentation": FLIP_ROTATE_ZOOM, "base": "vgg16", "alpha": 0.5, "batch_size": 16,
    "optimizer": "rmsprop", "schedule": dict(monitor="val_loss", factor=0.5, patience=4), "seed": 7,
    "start_from": replace(TRANSFER_FROZEN, epochs=6), "fine_tune_from": "block_15_expand",
}

keras = training.keras


def test_every_field_of_a_recipe_changes_its_cache_key():
    fields = [field.name for field in dataclasses.fields(Recipe)]
    assert sorted(CHANGES) == sorted(fields), "a new Recipe field needs a line in CHANGES"
    keys = {training.cache_key(SCRATCH_CNN, "data", quick=False)}
    for field, value in CHANGES.items():
        original = TRANSFER_FINE_TUNED if field in ("start_from", "fine_tune_from") else SCRATCH_CNN
        keys.add(training.cache_key(original, "data", quick=False))
        keys.add(training.cache_key(replace(original, **{field: value}), "data", quick=False))
    nested = replace(SCRATCH_CNN, augmentation={**FLIP_ROTATE_ZOOM, "zoom": 0.3})  # nested
    keys.add(training.cache_key(nested, "data", quick=False))
    assert len(keys) == 2 + len(CHANGES) + 1
    assert training.cache_key(replace(SCRATCH_CNN), "data", False) == \
        training.cache_key(SCRATCH_CNN, "data", False), "equal recipes share their model"


def test_lesson5_variants_differ_only_in_their_regularizers():
    """The comparison is fair by construction: data, blocks, epochs and schedule are the same for
    every variant, and none stops early; a baseline has no regularizer, the others do (the
    average-pooling head counts: it has no weights to memorise with)."""
    variants = recipes.LESSON5_VARIANTS
    regularizers = {"name", "augmentation", "dropout", "l2", "head"}
    same = lambda recipe: {k: v for k, v in dataclasses.asdict(recipe).items()  # noqa: E731
                           if k not in regularizers}
    regularized = {name: bool(recipe.augmentation or recipe.dropout or recipe.l2
                              or recipe.head == "average") for name, recipe in variants.items()}
    assert not regularized.pop("baseline") and all(regularized.values())
    for recipe in variants.values():
        assert same(recipe) == same(variants["baseline"]), recipe.name
    assert len({recipe.name for recipe in variants.values()}) == len(variants)
    assert any(recipe.l2 for recipe in variants.values()), "L2 is trained like the others"
    assert all(recipe.patience is None for recipe in variants.values()), "one budget for all"
    assert variants["baseline"].head == "flatten", "a baseline that can memorise"


def test_lesson5_exercise_options_name_the_recipes_strengths():
    """Exercise 2's sensible options are the rotation and zoom the variants train with."""
    strengths = [recipe.augmentation for recipe in recipes.LESSON5_VARIANTS.values()
                 if recipe.augmentation]
    assert strengths
    for augmentation in strengths:
        for option in (f"rotation up to {augmentation['rotation'] * 360:.0f} degrees",
                       f"zoom up to {augmentation['zoom']:.0%}"):
            assert option in checks.AUGMENTATION_OPTIONS, option
            assert option in checks._SENSIBLE_AUGMENTATIONS, option


def test_quick_mode_uses_small_images_and_few_epochs(monkeypatch):
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    assert SCRATCH_CNN.input_size() == (64, 64) and SCRATCH_CNN.max_epochs() <= 2
    monkeypatch.setenv("COURSEKIT_QUICK", "0")
    assert SCRATCH_CNN.input_size()[0] > 64 and SCRATCH_CNN.max_epochs() > 2
    model = SCRATCH_CNN.build(num_classes=4, quick=True)
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 4)


def test_recipes_reject_what_cannot_train():
    with pytest.raises(ValueError, match="model must be one of"):
        replace(SCRATCH_CNN, model="resnet")
    with pytest.raises(ValueError, match="monitor must be .val_accuracy. or .val_loss."):
        replace(SCRATCH_CNN, monitor="accuracy")
    with pytest.raises(ValueError, match="quick_epochs must be a positive int"):
        replace(SCRATCH_CNN, quick_epochs=0)
    with pytest.raises(ValueError, match="name must be"):
        replace(SCRATCH_CNN, name="../escape")
    with pytest.raises(ValueError, match="needs both start_from"):
        replace(SCRATCH_CNN, fine_tune_from="conv4")
    with pytest.raises(ValueError, match="pass its trained model as start"):
        TRANSFER_FINE_TUNED.build()


def test_transfer_recipes_build_a_frozen_base_and_unfreeze_its_top_block(course_mirror):
    stage1 = TRANSFER_FROZEN.build(num_classes=2, quick=True)  # real ImageNet weights, no training
    assert stage1.input_shape == (None, *TRANSFER_FROZEN.input_size(quick=True), 3)
    assert pretrained.parameter_counts(stage1)["trainable"] == 1281, "only the head trains"
    stage2 = TRANSFER_FINE_TUNED.build(start=stage1)
    _assert_fine_tuned_from(stage2, TRANSFER_FINE_TUNED.fine_tune_from)


def _assert_fine_tuned_from(model, first: str) -> None:
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model)
                and first in [inner.name for inner in layer.layers])
    names = [layer.name for layer in base.layers]
    trainable = [layer for layer in base.layers if layer.trainable and layer.weights]
    assert trainable and min(names.index(layer.name) for layer in trainable) == names.index(first)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable), \
        "BatchNorm stays frozen (inference mode)"


def _tiny_transfer(recipe, num_classes, size):
    """The transfer model's shape in miniature: a frozen nested base (conv, BN, conv) + head."""
    inputs = keras.Input((*size, 3))
    x = keras.layers.Conv2D(4, 3, name="low")(inputs)
    x = keras.layers.Conv2D(4, 3, name="top")(x)
    base = keras.Model(inputs, keras.layers.BatchNormalization(name="top_bn")(x), name="tiny_base")
    base.trainable = False
    outer = keras.Input((*size, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(outer, training=False))
    return keras.Model(outer, cnn.output_layer(num_classes)(x))


def test_fine_tuning_continues_the_cached_first_stage(tiny_root, tmp_path, monkeypatch, capsys):
    """Lesson 6's two stages in miniature: stage 2 loads stage 1, never trains it again."""
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.setitem(recipes._BUILDERS, "tiny_transfer", _tiny_transfer)
    frozen = Recipe("tiny-frozen", image_size=16, quick_image_size=16, epochs=1, quick_epochs=1,
                    learning_rate=1e-3, monitor="val_loss", patience=1, model="tiny_transfer",
                    batch_size=8)
    fine = replace(frozen, name="tiny-fine", start_from=frozen, fine_tune_from="top",
                   learning_rate=1e-4)
    data = training.image_datasets(tiny_root, (16, 16), 8)[:2]
    training.train_or_load(frozen, *data, quick=False, verbose=0)
    capsys.readouterr()
    model, history = training.train_or_load(fine, *data, quick=False, verbose=0)
    assert "Loaded 'tiny-frozen'" in capsys.readouterr().out
    _assert_fine_tuned_from(model, "top")
    assert [layer.name for layer in model.get_layer("tiny_base").layers if layer.trainable] == ["top"]
    assert len(history) == 1
    assert float(model.optimizer.learning_rate) == pytest.approx(fine.learning_rate)
    assert training.cached_model_path(fine, *data, quick=False).is_file()


def test_fine_tuning_builds_on_a_copy_and_leaves_the_first_stage_alone(tiny_root):
    """Recipe.build never changes the model it is given (issue 18): the copy trains, the start
    model keeps its frozen base and its weights."""
    frozen = Recipe("tiny-frozen", image_size=16, quick_image_size=16, epochs=1, quick_epochs=1,
                    learning_rate=1e-3, monitor="val_loss", patience=1, model="scratch_cnn",
                    batch_size=8)
    start = _tiny_transfer(frozen, 2, (16, 16))
    weights = [array.copy() for array in start.get_weights()]
    fine = replace(frozen, name="tiny-fine", start_from=frozen, fine_tune_from="top")
    copy = fine.build(2, quick=False, start=start)
    assert copy is not start
    assert not start.get_layer("tiny_base").trainable, "the start model's base stays frozen"
    assert [layer.name for layer in copy.get_layer("tiny_base").layers if layer.trainable] == ["top"]
    assert all(np.array_equal(a, b) for a, b in zip(weights, copy.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(weights, start.get_weights()))
