"""coursekit.evaluation on tiny models, real validation images and 3- and 5-class frames:
every number checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coursekit import evaluation, training

keras = evaluation.keras
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
    assert verdict["probabilities"]["dogs"] == pytest.approx(row["probability"], abs=1e-5)
    assert verdict["class"] == row["predicted_class"]
    assert verdict["confidence"] == pytest.approx(row["confidence"], abs=1e-5)
    with pytest.raises(ValueError, match="no image file"):
        evaluation.predict_image(model, "/no/such/cat.jpg", CLASSES)


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
    mistakes = evaluation.confident_mistakes(frame, count=3)
    assert len(mistakes) == min(3, (said != labels).sum()) and not mistakes["correct"].any()
    figure = evaluation.plot_confusion(counts, evaluation.confusion_frame(frame, names, "true"))
    heatmap = next(axes for axes in figure.axes if axes.get_title() == "counts")
    assert [label.get_text() for label in heatmap.get_xticklabels()] == names
    with pytest.raises(ValueError, match="class_names has 2 classes"):
        evaluation.predict_frame(_identity_softmax(num_classes), batches, names[:2])


def test_predict_image_of_a_grayscale_file_with_three_classes(tmp_path):
    """A grayscale PNG reaches the model as RGB at its input size; every class gets a probability."""
    from PIL import Image

    Image.fromarray(np.full((50, 40), 200, np.uint8)).save(tmp_path / "gray.png")
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    # logits = mean pixel (200 in every channel) x (0.01, 0, -0.01) per channel = (6, 0, -6)
    model.set_weights([np.tile([[0.01, 0.0, -0.01]], (3, 1)).astype("float32"), np.zeros(3, "float32")])
    verdict = evaluation.predict_image(model, tmp_path / "gray.png", ["ant", "bee", "cat"])
    expected = np.exp([6, 0, -6]) / np.exp([6, 0, -6]).sum()
    assert verdict["class"] == "ant" and verdict["confidence"] == pytest.approx(expected[0], abs=1e-5)
    np.testing.assert_allclose(list(verdict["probabilities"].values()), expected, atol=1e-5)
    assert list(verdict["probabilities"]) == ["ant", "bee", "cat"]
    with pytest.raises(ValueError, match="class_names has 2 classes"):
        evaluation.predict_image(model, tmp_path / "gray.png", ["ant", "bee"])
