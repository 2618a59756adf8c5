"""coursekit.training: the tf.data pipeline on real images, train_or_load's cache, histories."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from PIL import Image

from coursekit import cnn, config, training

keras = training.keras


@pytest.fixture(scope="module")
def tiny_root(quick_root, tmp_path_factory):
    """A copy of 16 train and 8 validation images per class (same layout)."""
    target = tmp_path_factory.mktemp("tiny")
    for split, count in (("train", 16), ("validation", 8)):
        for class_name in ("cats", "dogs"):
            (target / split / class_name).mkdir(parents=True)
            for path in sorted((quick_root / split / class_name).iterdir())[:count]:
                shutil.copy(path, target / split / class_name / path.name)
    return target


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
    with pytest.raises(ValueError, match="image_size"):
        training.image_datasets(tmp_path, image_size=(4,))


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
                                                   filters=(4,), dense_units=4))
    assert model.loss == "sparse_categorical_crossentropy" and model.output_shape == (None, num_classes)
    fit = model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(fit.history["val_loss"][0])


# ---------------------------------------------------------------- train_or_load

def _tiny_cnn():
    return cnn.scratch_cnn((32, 32, 3), filters=(4, 8), dense_units=8)


def test_train_or_load_trains_saves_then_loads(tiny_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    config.seed_everything(0)
    train_ds, val_ds, _ = training.image_datasets(tiny_root, image_size=(32, 32), batch_size=8)
    model, history = training.train_or_load("tiny", _tiny_cnn, train_ds, val_ds, epochs=2, verbose=0)
    path = training.cached_model_path("tiny")
    assert path == tmp_path / "models" / "tiny-quick.keras" and path.is_file()
    assert path.with_suffix(".checkpoint.keras").is_file(), "ModelCheckpoint writes a .keras file"
    log = pd.read_csv(path.with_suffix(".log.csv"))
    assert list(log["epoch"]) == [0, 1], "CSVLogger writes one row per epoch"
    assert list(history["epoch"]) == [1, 2] and history["best"].sum() == 1
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= set(history.columns)
    kept = int(history.loc[history["best"], "epoch"].iloc[0])
    assert kept == training.best_epoch(history, "val_loss"), "early stopping keeps the best epoch"
    # the returned model has the kept epoch's weights: its validation loss is that epoch's
    loss, _ = model.evaluate(val_ds, verbose=0)
    assert loss == pytest.approx(history.loc[history["best"], "val_loss"].iloc[0], rel=1e-4)

    images = next(iter(val_ds))[0]
    built = []
    loaded, loaded_history = training.train_or_load(
        "tiny", lambda: built.append(1) or _tiny_cnn(), train_ds, val_ds, epochs=2, verbose=0)
    assert built == [], "a cached model is loaded, not built and trained again"
    assert "Loaded 'tiny'" in capsys.readouterr().out
    np.testing.assert_allclose(loaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)
    pd.testing.assert_frame_equal(loaded_history, history, check_dtype=False)

    # full mode is a different file; retrain=True builds (and trains) again
    assert training.cached_model_path("tiny", quick=False).name == "tiny-full.keras"
    with pytest.raises(_Built):
        training.train_or_load("tiny", _raise_built, train_ds, val_ds, epochs=1, retrain=True)


class _Built(Exception):
    """Raised by a build function: proves train_or_load decided to train (without training)."""


def _raise_built():
    raise _Built


def test_train_or_load_retrains_when_the_image_size_changed(tiny_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    small = training.image_datasets(tiny_root, image_size=(32, 32), batch_size=8)
    training.train_or_load("sized", _tiny_cnn, small[0], small[1], epochs=1, verbose=0)
    larger = training.image_datasets(tiny_root, image_size=(40, 40), batch_size=8)
    with pytest.raises(_Built):
        training.train_or_load("sized", _raise_built, larger[0], larger[1], epochs=1)
    assert "training again" in capsys.readouterr().out
    model, _ = training.train_or_load("sized", _raise_built, small[0], small[1], epochs=1)
    assert model.input_shape == (None, 32, 32, 3), "the matching size still loads"


def test_train_or_load_and_callbacks_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        training.compile_model(_tiny_cnn(), optimizer="adamm")
    with pytest.raises(ValueError, match="epochs"):
        training.train_or_load("x", _tiny_cnn, None, None, epochs=0)
    with pytest.raises(ValueError, match="name"):
        training.cached_model_path("../escape")
    with pytest.raises(ValueError, match=".keras"):
        training.standard_callbacks(tmp_path / "model.h5", tmp_path / "log.csv")
    kinds = [type(c).__name__ for c in training.standard_callbacks(tmp_path / "m.keras", tmp_path / "l.csv")]
    assert kinds == ["ModelCheckpoint", "EarlyStopping", "CSVLogger"]


# ---------------------------------------------------------------- histories

def _history(val_loss, val_accuracy, best=None):
    epochs = len(val_loss)
    logs = {"loss": list(np.linspace(0.7, 0.2, epochs)), "accuracy": list(np.linspace(0.5, 0.95, epochs)),
            "val_loss": val_loss, "val_accuracy": val_accuracy}
    return training.history_frame(logs, seconds=[10.0] * epochs, best=best)


def test_history_frame_best_epoch_and_comparison():
    overfitting = _history([0.69, 0.60, 0.55, 0.58, 0.66], [0.55, 0.66, 0.71, 0.73, 0.70], best=3)
    regularized = _history([0.69, 0.62, 0.52, 0.48, 0.45], [0.55, 0.64, 0.74, 0.78, 0.80])
    assert list(overfitting["epoch"]) == [1, 2, 3, 4, 5]
    assert training.best_epoch(overfitting) == 3           # lowest validation loss
    assert training.best_epoch(overfitting, "val_accuracy") == 4
    table = training.compare_runs({"baseline": overfitting, "+augmentation": regularized})
    assert list(table.index) == ["baseline", "+augmentation"]
    baseline = table.loc["baseline"]
    assert baseline["kept_epoch"] == 3 and baseline["val_accuracy"] == 0.71
    assert baseline["best_val_accuracy"] == 0.73 and baseline["minutes"] == pytest.approx(50 / 60, abs=1e-3)
    assert baseline["gap"] == pytest.approx(round(0.5 + 0.45 * 2 / 4 - 0.71, 3))
    assert table.loc["+augmentation", "kept_epoch"] == 5  # no 'best' mark: the last epoch
    with pytest.raises(ValueError, match="val_accuracy"):
        training.compare_runs({"x": overfitting.drop(columns="val_accuracy")})
    with pytest.raises(ValueError, match="history"):
        training.history_frame({})


def test_plots_have_titles_and_labels():
    history = _history([0.69, 0.6, 0.62], [0.5, 0.6, 0.58], best=2)
    figure = training.plot_history(history, title="Lesson 3")
    accuracy, loss = figure.axes
    assert accuracy.get_ylabel() == "accuracy" and loss.get_xlabel() == "epoch"
    assert len(accuracy.get_lines()) == 3  # training, validation, kept epoch
    comparison = training.plot_comparison({"a": history, "b": history})
    assert all(axes.get_title() for axes in comparison.axes)


def test_save_trained_is_found_by_train_or_load(tiny_root, tmp_path, monkeypatch):
    """Lesson 3 trains by hand, stores the model, and lessons 5-6 load it by name."""
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    train_ds, val_ds, _ = training.image_datasets(tiny_root, image_size=(32, 32), batch_size=8)
    model = training.compile_model(_tiny_cnn())
    fit = model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0, shuffle=False)
    path = training.save_trained("by_hand", model, fit, quick=False)
    assert path == training.cached_model_path("by_hand", quick=False) and path.is_file()
    loaded, history = training.train_or_load("by_hand", lambda: pytest.fail("must not train"),
                                             train_ds, val_ds, epochs=1, quick=False)
    images = next(iter(val_ds))[0]
    np.testing.assert_allclose(loaded.predict_on_batch(images), model.predict_on_batch(images), atol=1e-6)
    assert list(history.columns[:1]) == ["epoch"] and len(history) == 1
