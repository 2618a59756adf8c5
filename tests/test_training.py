"""coursekit.training: the tf.data pipeline on real images, train_or_load's cache, histories."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from PIL import Image

from coursekit import cnn, recipes, training

keras = training.keras


def _images(dataset) -> np.ndarray:
    return np.concatenate([np.asarray(images) for images, _ in dataset])


# ---------------------------------------------------------------- pipeline

def test_image_datasets_reads_the_real_folders(quick_root):
    train_ds, val_ds, class_names = training.image_datasets(quick_root, image_size=(32, 32),
                                                           batch_size=16)
    assert class_names == ["cats", "dogs"] == train_ds.class_names
    images, labels = next(iter(train_ds))
    assert images.shape == (16, 32, 32, 3) and images.dtype.name == "float32"
    assert labels.shape == (16, 1) and set(np.unique(labels)) <= {0.0, 1.0}
    assert 0 <= float(np.min(images)) and float(np.max(images)) <= 255 and float(np.max(images)) > 1
    assert sum(int(batch[1].shape[0]) for batch in train_ds) == 200
    # validation keeps file order: the labels follow the class folder of each listed file
    labels = np.concatenate([np.asarray(batch[1])[:, 0] for batch in val_ds])
    folders = [Path(path).parent.name for path in val_ds.file_paths]
    assert len(folders) == 100 and [class_names[int(label)] for label in labels] == folders


def test_training_order_is_reshuffled_each_epoch_and_repeatable(tiny_root):
    train_ds, _, _ = training.image_datasets(tiny_root, image_size=(16, 16), batch_size=8, seed=7)
    first, second = _images(train_ds), _images(train_ds)
    assert not np.array_equal(first, second), "cache + shuffle must give a new order each epoch"
    sums = lambda images: np.sort(images.reshape(len(images), -1).sum(axis=1))
    np.testing.assert_allclose(sums(first), sums(second))  # same images, new order
    again, _, _ = training.image_datasets(tiny_root, image_size=(16, 16), batch_size=8, seed=7)
    np.testing.assert_array_equal(_images(again), first)


def test_image_datasets_rejects_a_folder_without_splits_or_classes(tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / "train" / name).mkdir(parents=True)
    with pytest.raises(ValueError, match="validation is not a folder"):
        training.image_datasets(tmp_path)
    (tmp_path / "validation" / "cats").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"1 class folder\(s\) \['cats'\]; a classifier needs"):
        training.image_datasets(tmp_path)
    (tmp_path / "validation" / "birds").mkdir()
    with pytest.raises(ValueError, match=r"validation has \['birds', 'cats'\]"):
        training.image_datasets(tmp_path)
    (tmp_path / "validation" / "birds").rename(tmp_path / "validation" / "dogs")
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        training.image_datasets(tmp_path, batch_size=0)


# Every way a student's photo can be stored: the pipeline must hand the model RGB at its size.
_MODES = {
    "rgb.jpg": lambda image: image,
    "gray.jpg": lambda image: image.convert("L"),
    "palette.png": lambda image: image.convert("P", palette=Image.Palette.ADAPTIVE),
    "rgba.png": lambda image: image.convert("RGBA"),
    "16bit.png": lambda image: Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257),
    "tiny.bmp": lambda image: image.resize((12, 9)),
}


def _class_folder(source: Path, target: Path, num_classes: int, per_class=(3, 2)) -> Path:
    """A train/validation/test folder of ``num_classes`` classes from real photos, every mode."""
    photos = iter(sorted((source / "train").rglob("*.jpg")))
    for split, count in zip(("train", "validation", "test"), (*per_class, 1)):
        for index in range(num_classes):
            folder = target / split / f"class_{index}"
            folder.mkdir(parents=True)
            for number, (suffix, convert) in zip(range(count), _MODES.items()):
                convert(Image.open(next(photos))).save(folder / f"{number}-{suffix}")
    return target


@pytest.mark.parametrize("num_classes", [3, 5])
def test_any_number_of_classes_and_any_image_mode_trains(quick_root, tmp_path, num_classes):
    root = _class_folder(quick_root, tmp_path / "photos", num_classes, per_class=(2, 6))
    modes = {Image.open(path).mode for path in (root / "validation").rglob("*.*")}
    assert {"RGB", "L", "P", "RGBA", "I;16"} <= modes
    train_ds, val_ds, class_names = training.image_datasets(root, (32, 32), batch_size=4)
    assert class_names == [f"class_{index}" for index in range(num_classes)]
    images, labels = next(iter(train_ds))
    assert images.shape == (4, 32, 32, 3) and labels.shape == (4,) and labels.dtype.name == "int32"
    val_images = np.concatenate([np.asarray(batch[0]) for batch in val_ds])
    for image, path in zip(val_images, val_ds.file_paths):  # real pictures, gray ones as R=G=B
        gray = path.endswith(("gray.jpg", "16bit.png"))
        assert np.ptp(image) > 50 and np.allclose(image[..., 0], image[..., 2]) == gray, path
    val_labels = np.concatenate([np.asarray(batch[1]) for batch in val_ds])
    assert [class_names[label] for label in val_labels] == [Path(path).parent.name
                                                            for path in val_ds.file_paths]
    assert sorted(set(val_labels)) == list(range(num_classes))
    assert not any("test" in Path(path).parts for path in train_ds.file_paths + val_ds.file_paths)
    model = training.compile_model(cnn.scratch_cnn((32, 32, 3), num_classes=num_classes,
                                                   filters=(4,)))
    assert model.loss == "sparse_categorical_crossentropy" and model.output_shape == (None, num_classes)
    fit = model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(fit.history["val_loss"][0])


# ---------------------------------------------------------------- train_or_load

#: A recipe small enough to train in seconds: 32 pixels (16 in quick mode), two conv blocks.
TINY = recipes.Recipe("tiny", image_size=32, quick_image_size=16, epochs=2, quick_epochs=1,
                      learning_rate=1e-3, monitor="val_accuracy", patience=2, filters=(4, 8),
                      batch_size=8, schedule=dict(monitor="val_loss", factor=0.5, patience=1))


class _Built(Exception):
    """Raised instead of building: proves train_or_load decided to train (without training)."""


def _refuse_to_build(*args, **kwargs):
    raise _Built


def _lesson_data(root, recipe=TINY, quick=False):
    """What a lesson does first: read the folder at the recipe's size (fresh pipelines)."""
    return training.image_datasets(root, recipe.input_size(quick), recipe.batch_size)[:2]


def test_train_or_load_trains_saves_then_loads_in_any_lesson(tiny_root, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    train_ds, val_ds = _lesson_data(tiny_root)
    model, history = training.train_or_load(TINY, train_ds, val_ds, verbose=0, quick=False)
    path = training.cached_model_path(TINY, train_ds, val_ds, quick=False)
    assert path.parent == tmp_path / "models" and path.name.startswith("tiny-") and path.is_file()
    assert sorted(file.name[len(path.stem):] for file in tmp_path.glob("models/tiny-*")) == \
        [".history.csv", ".keras", ".lock"], "the model, its history and the lock: nothing unread"
    assert list(history["epoch"]) == [1, 2] and history["best"].sum() == 1
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(history.columns)
    kept = history.loc[history["best"]].iloc[0]
    assert kept["epoch"] == training.best_epoch(history, "val_accuracy"), "the recipe's monitor"
    loss, _ = model.evaluate(val_ds, verbose=0)  # the model has the kept epoch's weights
    assert loss == pytest.approx(kept["val_loss"], rel=1e-4)

    # another lesson (its own pipelines, another recipe object with the same fields) loads it
    monkeypatch.setattr(recipes.Recipe, "build", _refuse_to_build)
    other_train, other_val = _lesson_data(tiny_root)
    loaded, loaded_history = training.train_or_load(replace(TINY), other_train, other_val,
                                                    quick=False)
    assert f"Loaded 'tiny' from {path}" in capsys.readouterr().out
    images = next(iter(val_ds))[0]
    np.testing.assert_allclose(loaded.predict_on_batch(images), model.predict_on_batch(images),
                               atol=1e-6)
    pd.testing.assert_frame_equal(loaded_history, history, check_dtype=False)

    # an edited recipe, other data, or retrain=True never load this model: they train
    smaller = tmp_path / "smaller"
    shutil.copytree(tiny_root, smaller)
    next((smaller / "train" / "cats").iterdir()).unlink()
    for recipe, data in ((replace(TINY, epochs=3), (train_ds, val_ds)),
                         (TINY, _lesson_data(smaller))):
        with pytest.raises(_Built):
            training.train_or_load(recipe, *data, quick=False)
    with pytest.raises(_Built):
        training.train_or_load(TINY, train_ds, val_ds, quick=False, retrain=True)


def test_without_patience_every_epoch_runs_and_the_last_weights_are_kept(tiny_root, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    train_ds, val_ds = _lesson_data(tiny_root)
    recipe = replace(TINY, name="tiny-all-epochs", epochs=3, patience=None)
    model, history = training.train_or_load(recipe, train_ds, val_ds, verbose=0, quick=False)
    assert list(history["epoch"]) == [1, 2, 3] and list(history["best"]) == [False, False, True]
    loss, _ = model.evaluate(val_ds, verbose=0)
    assert loss == pytest.approx(history["val_loss"].iloc[-1], rel=1e-4)


def test_training_twice_gives_the_same_history(tiny_root, tmp_path, monkeypatch):
    """The recipe's seed fixes weights, shuffles and augmentations, and on one machine the
    arithmetic repeats too: the same recipe trained twice gives the same numbers."""
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    recipe = replace(TINY, name="tiny-twice", epochs=2, patience=None, dropout=0.5,
                     augmentation=dict(flip="horizontal", rotation=0.1, zoom=0.2,
                                       translation=0.0, contrast=0.0))
    runs = [training.train_or_load(recipe, *_lesson_data(tiny_root), verbose=0, quick=False,
                                   retrain=True)[1].drop(columns="seconds") for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_quick_mode_trains_the_recipe_on_small_images(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    full_size = _lesson_data(tiny_root, quick=False)
    with pytest.raises(ValueError, match=r"\(16, 16\) images in batches of 8 in quick mode"):
        training.train_or_load(TINY, *full_size)
    model, history = training.train_or_load(TINY, *_lesson_data(tiny_root, quick=True), verbose=0)
    assert model.input_shape == (None, 16, 16, 3) and len(history) == TINY.quick_epochs
    full = training.cached_model_path(TINY, *full_size, quick=False)
    quick = training.cached_model_path(TINY, *_lesson_data(tiny_root, quick=True))
    assert quick.is_file() and not full.is_file() and quick.name != full.name


def test_the_cache_key_covers_data_mode_and_versions(tiny_root, tmp_path, monkeypatch):
    train_ds, val_ds = _lesson_data(tiny_root)
    data = training.data_fingerprint(train_ds, val_ds)
    moved = tmp_path / "moved"
    shutil.copytree(tiny_root, moved)
    assert training.data_fingerprint(*_lesson_data(moved)) == data, "only relative paths count"
    photo = next((moved / "validation" / "dogs").iterdir())
    photo.write_bytes(photo.read_bytes()[:-1] + b"\0")
    assert training.data_fingerprint(*_lesson_data(moved)) != data, "content counts"
    reseeded = training.image_datasets(tiny_root, (32, 32), 8, seed=2)[:2]
    assert training.data_fingerprint(*reseeded) != data, "pipeline settings count"

    key = training.cache_key(TINY, data, quick=False)
    assert training.cache_key(TINY, data + "x", quick=False) != key
    assert training.cache_key(TINY, data, quick=True) != key
    monkeypatch.setattr(training.keras, "__version__", "3.0.0")
    assert training.cache_key(TINY, data, quick=False) != key
    monkeypatch.undo()
    monkeypatch.setattr(training.tf, "__version__", "2.0.0")
    assert training.cache_key(TINY, data, quick=False) != key
    with pytest.raises(ValueError, match="must come from training.image_datasets"):
        training.data_fingerprint(train_ds.unbatch().batch(8), val_ds)


# ---------------------------------------------------------------- histories

def _history(val_loss, val_accuracy, best=None):
    epochs = len(val_loss)
    logs = {"loss": list(np.linspace(0.7, 0.2, epochs)), "accuracy": list(np.linspace(0.5, 0.95, epochs)),
            "val_loss": val_loss, "val_accuracy": val_accuracy}
    return training.history_frame(logs, seconds=[10.0] * epochs, best=best)


def test_history_frame_and_best_epoch():
    overfitting = _history([0.69, 0.60, 0.55, 0.58, 0.66], [0.55, 0.66, 0.71, 0.73, 0.70], best=3)
    assert list(overfitting["epoch"]) == [1, 2, 3, 4, 5]
    assert overfitting["best"].tolist() == [False, False, True, False, False]
    assert overfitting["seconds"].sum() == 50
    assert training.best_epoch(overfitting) == 3           # lowest validation loss
    assert training.best_epoch(overfitting, "val_accuracy") == 4
    with pytest.raises(ValueError, match="has no column 'val_auc'"):
        training.best_epoch(overfitting, "val_auc")
    with pytest.raises(ValueError, match="history"):
        training.history_frame({})


def test_plots_have_titles_and_labels():
    history = _history([0.69, 0.6, 0.62], [0.5, 0.6, 0.58], best=2)
    figure = training.plot_history(history, title="Lesson 4")
    accuracy, loss = figure.axes
    assert accuracy.get_ylabel() == "accuracy" and loss.get_xlabel() == "epoch"
    assert len(accuracy.get_lines()) == 3  # training, validation, kept epoch
    assert accuracy.get_lines()[2].get_xdata()[0] == 2
