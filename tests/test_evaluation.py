"""coursekit.evaluation on tiny models, real validation images and 3- and 5-class frames:
every number checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import config, evaluation, training

keras = config.import_keras()
CLASSES = ["cats", "dogs"]


@pytest.fixture(scope="module")
def val_ds(quick_root):
    """The 100 real validation images of the quick subset at 32x32 (file order, not shuffled)."""
    return training.image_datasets(quick_root, image_size=(32, 32), batch_size=16)[1]


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
    assert len(frame) == 100
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


def test_report_accuracy_row_holds_the_accuracy_and_the_total():
    frame = pd.DataFrame({"label": [0, 0, 1, 1, 1], "predicted": [0, 1, 1, 1, 0]})
    report = evaluation.report_frame(frame, CLASSES)
    assert list(report.index) == ["cats", "dogs", "accuracy", "macro avg", "weighted avg"]
    assert report.loc["accuracy", "f1-score"] == 0.6 and report.loc["accuracy", "support"] == 5


# ---------------------------------------------------------------- any number of classes

def _identity_softmax(num_classes: int):
    """softmax(5 x): fed one-hot rows, it says that class with a known confidence."""
    model = keras.Sequential([keras.Input((num_classes,)),
                              keras.layers.Dense(num_classes, activation="softmax")])
    model.set_weights([np.eye(num_classes, dtype="float32") * 5, np.zeros(num_classes, "float32")])
    return model


@pytest.mark.parametrize("num_classes", [3, 5])
def test_predictions_confusion_and_report_for_more_classes(num_classes):
    rng = np.random.default_rng(num_classes)
    labels = np.arange(40) % num_classes
    said = np.where(rng.random(40) < 0.7, labels, rng.integers(0, num_classes, 40))
    inputs = np.eye(num_classes, dtype="float32")[said]
    batches = [(inputs[i:i + 16], labels[i:i + 16]) for i in range(0, 40, 16)]
    names = [f"class {i}" for i in range(num_classes)]
    frame = evaluation.predict_frame(_identity_softmax(num_classes), batches, names)
    np.testing.assert_array_equal(frame["predicted"], said)
    np.testing.assert_allclose(frame["confidence"], np.exp(5) / (np.exp(5) + num_classes - 1),
                               rtol=1e-5)
    assert "probability" not in frame  # "the" probability exists for two classes only
    one_hot = [(x, np.eye(num_classes)[y]) for x, y in batches]  # categorical labels read the same
    pd.testing.assert_frame_equal(evaluation.predict_frame(_identity_softmax(num_classes), one_hot,
                                                           names), frame)
    counts = evaluation.confusion_frame(frame, names)
    for true in range(num_classes):
        for predicted in range(num_classes):
            assert counts.iloc[true, predicted] == ((labels == true) & (said == predicted)).sum()
    report = evaluation.report_frame(frame, names)
    recall = [counts.iloc[i, i] / counts.iloc[i].sum() for i in range(num_classes)]
    np.testing.assert_allclose(report["recall"].iloc[:num_classes], recall, atol=1e-3)
    assert report.loc["accuracy", "f1-score"] == pytest.approx((said == labels).mean(), abs=1e-3)
    with pytest.raises(ValueError, match="class_names has 2 classes"):
        evaluation.predict_frame(_identity_softmax(num_classes), batches, names[:2])
