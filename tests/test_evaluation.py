"""coursekit.evaluation on a tiny model and real validation images: every number checked by hand."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from coursekit import config, datasets, evaluation, models, training
from tests.conftest import mirror_folders

keras = evaluation.keras
CLASSES = ["cats", "dogs"]


@pytest.fixture(scope="module")
def val_ds():
    """The 100 real validation images of the quick subset at 32x32 (file order, not shuffled)."""
    if not mirror_folders() and not (config.data_dir() / "cats_and_dogs_filtered").is_dir():
        pytest.skip("the course mirror (../shared/datasets) is not present")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEKIT_MIRROR", os.pathsep.join(mirror_folders()))
        root = datasets.load("cats_and_dogs_filtered", quick=True)
    return training.image_datasets(root, image_size=(32, 32), batch_size=16)[1]


def _brightness_model():
    """A tiny model with known weights: P(dog) = sigmoid((mean pixel - 110) / 10)."""
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[-1].set_weights([np.full((3, 1), 1 / 30, "float32"), np.array([-11.0], "float32")])
    return model


def _by_hand(dataset):
    images = np.concatenate([np.asarray(x) for x, _ in dataset]).astype("float64")
    labels = np.concatenate([np.asarray(y)[:, 0] for _, y in dataset]).astype(int)
    probability = 1 / (1 + np.exp(-(images.mean(axis=(1, 2, 3)) - 110) / 10))
    return images, labels, probability


def test_predict_frame_matches_a_hand_computation(val_ds):
    frame = evaluation.predict_frame(_brightness_model(), val_ds, CLASSES)
    _, labels, probability = _by_hand(val_ds)
    assert len(frame) == 100 and list(frame["position"]) == list(range(100))
    np.testing.assert_array_equal(frame["label"], labels)
    np.testing.assert_allclose(frame["probability"], probability, atol=1e-5)
    predicted = (probability >= 0.5).astype(int)
    np.testing.assert_array_equal(frame["predicted"], predicted)
    np.testing.assert_allclose(frame["confidence"], np.where(predicted == 1, probability, 1 - probability),
                               atol=1e-5)
    assert frame["correct"].mean() == pytest.approx((predicted == labels).mean())
    assert list(frame["file"]) == list(val_ds.file_paths)
    assert set(frame["predicted_class"]) <= set(CLASSES)
    assert 0 < frame["predicted"].sum() < 100, "the fixture model should predict both classes"


def test_confusion_and_report_agree_with_counting(val_ds):
    frame = evaluation.predict_frame(_brightness_model(), val_ds, CLASSES)
    counts = evaluation.confusion_frame(frame, CLASSES)
    for true in (0, 1):
        for predicted in (0, 1):
            expected = int(((frame["label"] == true) & (frame["predicted"] == predicted)).sum())
            assert counts.iloc[true, predicted] == expected
    assert counts.to_numpy().sum() == 100 and counts.index.name == "true class"
    normalized = evaluation.confusion_frame(frame, CLASSES, normalize="true")
    np.testing.assert_allclose(normalized.sum(axis=1), 1.0)
    report = evaluation.report_frame(frame, CLASSES)
    tp = counts.loc["dogs", "dogs"]
    precision = tp / counts["dogs"].sum()
    recall = tp / counts.loc["dogs"].sum()
    assert report.loc["dogs", "precision"] == pytest.approx(precision, abs=1e-3)
    assert report.loc["dogs", "recall"] == pytest.approx(recall, abs=1e-3)
    assert report.loc["dogs", "f1-score"] == pytest.approx(2 * precision * recall / (precision + recall), abs=1e-3)
    assert report.loc["cats", "support"] == 50
    with pytest.raises(ValueError, match="normalize"):
        evaluation.confusion_frame(frame, CLASSES, normalize="rows")


def test_confident_mistakes_and_their_images(val_ds):
    frame = evaluation.predict_frame(_brightness_model(), val_ds, CLASSES)
    mistakes = evaluation.confident_mistakes(frame, count=5)
    wrong = frame[~frame["correct"]]
    assert len(mistakes) == min(5, len(wrong)) and not mistakes["correct"].any()
    assert list(mistakes["confidence"]) == sorted(mistakes["confidence"], reverse=True)
    assert mistakes["confidence"].iloc[0] == wrong["confidence"].max()
    images, _, _ = _by_hand(val_ds)
    picked = evaluation.images_at(val_ds, mistakes["position"])
    np.testing.assert_array_equal(picked, np.clip(images[mistakes["position"]], 0, 255).astype("uint8"))
    with pytest.raises(ValueError, match="outside"):
        evaluation.images_at(val_ds, [100])
    figure = evaluation.plot_gallery(picked, [f"true {t}" for t in mistakes["true_class"]])
    assert sum(1 for axes in figure.axes if axes.get_title()) == len(picked)


def test_predict_image_from_disk_matches_the_pipeline(val_ds):
    """One file, read by hand, gets the same probability as inside the validation pipeline."""
    model = _brightness_model()
    frame = evaluation.predict_frame(model, val_ds, CLASSES)
    row = frame.iloc[73]
    verdict = evaluation.predict_image(model, row["file"], CLASSES)
    assert verdict["probability"] == pytest.approx(row["probability"], abs=1e-5)
    assert verdict["class"] == row["predicted_class"]
    assert verdict["confidence"] == pytest.approx(row["confidence"], abs=1e-5)
    with pytest.raises(ValueError, match="no image file"):
        evaluation.predict_image(model, "/no/such/cat.jpg", CLASSES)


def test_saved_and_reloaded_model_predicts_the_same(tmp_path):
    config.seed_everything(0)
    model = models.scratch_cnn((64, 64, 3), dropout=0.5, augmentation=models.augmentation_layers())
    images = np.random.default_rng(0).uniform(0, 255, (6, 64, 64, 3)).astype("float32")
    reloaded = evaluation.save_and_reload(model, tmp_path / "cnn.keras")
    assert (tmp_path / "cnn.keras").is_file() and reloaded is not model
    assert [layer.name for layer in reloaded.layers] == [layer.name for layer in model.layers]
    assert evaluation.prediction_difference(model, reloaded, images) < 1e-6
    # the check can fail: a model with other weights does not predict the same
    other = models.scratch_cnn((64, 64, 3), dropout=0.5, augmentation=models.augmentation_layers())
    assert evaluation.prediction_difference(model, other, images) > 1e-4
    with pytest.raises(ValueError, match=".keras"):
        evaluation.save_and_reload(model, tmp_path / "cnn.h5")


def test_plot_confusion_draws_counts_and_fractions():
    frame = pd.DataFrame({"label": [0, 0, 1, 1, 1], "predicted": [0, 1, 1, 1, 0]})
    counts = evaluation.confusion_frame(frame, CLASSES)
    figure = evaluation.plot_confusion(counts, evaluation.confusion_frame(frame, CLASSES, "true"))
    heatmaps = [axes for axes in figure.axes if axes.get_title()]
    assert [axes.get_title() for axes in heatmaps] == ["counts", "fraction of each true class"]
    assert heatmaps[0].get_xlabel() == "predicted class"
    assert "2" in [text.get_text() for text in heatmaps[0].texts]


def test_report_accuracy_row_holds_the_accuracy_and_the_total():
    frame = pd.DataFrame({"label": [0, 0, 1, 1, 1], "predicted": [0, 1, 1, 1, 0]})
    report = evaluation.report_frame(frame, CLASSES)
    assert list(report.index) == ["cats", "dogs", "accuracy", "macro avg", "weighted avg"]
    assert report.loc["accuracy", "f1-score"] == 0.6 and report.loc["accuracy", "support"] == 5
