"""Evaluating a trained classifier honestly: predictions, confusion matrix, report, mistakes.

Any number of classes: a model ends in one sigmoid unit (two classes) or one softmax unit per
class (``cnn.output_units``). ``predict_frame`` makes one row per image; the confusion matrix,
the per-class report and the most confident mistakes are computed from that table, and
``plot_confusion`` and ``plot_gallery`` draw them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coursekit import config

keras = config.import_keras()


def _class_probabilities(outputs) -> np.ndarray:
    """(N, classes) probabilities from one sigmoid unit (P(class 1)) or a softmax output."""
    outputs = np.asarray(outputs, dtype="float64")
    outputs = outputs.reshape(len(outputs), -1)
    return np.hstack([1 - outputs, outputs]) if outputs.shape[1] == 1 else outputs


def _predicted(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """The predicted class: P(class 1) >= threshold for two classes, else the most probable."""
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
    if probabilities.shape[1] == 2:
        return (probabilities[:, 1] >= float(threshold)).astype(int)
    return probabilities.argmax(axis=1)


def predict_frame(model, dataset, class_names: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Return one row per image of ``dataset`` (in its order) with the model's prediction.

    ``dataset`` yields ``(images, labels)`` batches; labels may be binary (shape (batch, 1)),
    integers or one-hot. Columns: ``position`` (index in the dataset), ``label`` and
    ``predicted`` (class indices), ``true_class`` and ``predicted_class`` (names),
    ``probability`` (two classes only: the probability of ``class_names[1]``), ``confidence``
    (probability of the predicted class), ``correct``, and ``file`` when the dataset has
    ``file_paths`` (as the validation set of ``training.image_datasets`` does).

    Example:
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
        >>> model.set_weights([np.array([[1.0]]), np.array([0.0])])
        >>> frame = predict_frame(model, [(np.array([[3.0], [-3.0]]), np.array([1, 1]))], ["cats", "dogs"])
        >>> frame[["true_class", "predicted_class", "confidence", "correct"]].round(3)
          true_class predicted_class  confidence  correct
        0       dogs            dogs       0.953     True
        1       dogs            cats       0.953    False
    """
    labels, outputs = [], []
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("dataset must yield (images, labels) batches")
        outputs.append(_class_probabilities(model.predict_on_batch(batch[0])))
        labels.append(np.asarray(batch[1]).reshape(len(outputs[-1]), -1))
    if not outputs:
        raise ValueError("dataset is empty")
    probabilities, label_array = np.concatenate(outputs), np.concatenate(labels)
    label = (label_array[:, 0] if label_array.shape[1] == 1 else label_array.argmax(1)).astype(int)
    predicted = _predicted(probabilities, threshold)
    names = list(class_names)
    if len(names) != probabilities.shape[1] or label.max() >= len(names):
        raise ValueError(f"class_names has {len(names)} classes ({names}) but the model predicts "
                         f"{probabilities.shape[1]} and the labels go up to {label.max()}")
    frame = pd.DataFrame({"position": np.arange(len(label)), "label": label,
                          "predicted": predicted, "true_class": [names[i] for i in label],
                          "predicted_class": [names[i] for i in predicted]})
    if len(names) == 2:
        frame["probability"] = probabilities[:, 1]
    frame["confidence"] = probabilities[np.arange(len(label)), predicted]
    frame["correct"] = frame["label"] == frame["predicted"]
    file_paths = getattr(dataset, "file_paths", None)
    if file_paths is not None and len(file_paths) == len(frame):
        frame["file"] = list(file_paths)
    return frame


def confusion_frame(frame: pd.DataFrame, class_names: Sequence[str],
                    normalize: str | None = None) -> pd.DataFrame:
    """Return the confusion matrix: rows are true classes, columns predicted classes.

    ``normalize`` as in scikit-learn: None (counts), "true" (each row sums to 1: the
    diagonal is each class's recall), "pred" (columns sum to 1: precision) or "all".

    Example:
        >>> frame = pd.DataFrame({"label": [0, 1, 2, 2], "predicted": [0, 2, 2, 1]})
        >>> confusion_frame(frame, ["ant", "bee", "cat"]).to_numpy().tolist()
        [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    """
    from sklearn.metrics import confusion_matrix

    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    names = list(class_names)
    matrix = confusion_matrix(frame["label"], frame["predicted"], labels=range(len(names)),
                              normalize=normalize)
    return pd.DataFrame(matrix, index=pd.Index(names, name="true class"),
                        columns=pd.Index(names, name="predicted class"))


def report_frame(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Return precision, recall, F1 and support per class, plus accuracy and averages.

    Rows: one per class, then "accuracy" (in the f1-score column, as scikit-learn prints
    it), "macro avg" and "weighted avg".

    Example:
        >>> frame = pd.DataFrame({"label": [0, 1, 2, 2], "predicted": [0, 2, 2, 1]})
        >>> report_frame(frame, ["ant", "bee", "cat"])["recall"].tolist()[:3]
        [1.0, 0.0, 0.5]
    """
    from sklearn.metrics import classification_report

    report = classification_report(frame["label"], frame["predicted"],
                                   labels=list(range(len(class_names))),
                                   target_names=list(class_names), output_dict=True,
                                   zero_division=0)
    accuracy = report.pop("accuracy")
    table = pd.DataFrame(report).T
    table.loc["accuracy"] = [np.nan, np.nan, accuracy, len(frame)]  # the f1 column holds it
    table["support"] = table["support"].astype(int)
    return table.loc[[*class_names, "accuracy", "macro avg", "weighted avg"]].round(3)


def confident_mistakes(frame: pd.DataFrame, count: int = 9) -> pd.DataFrame:
    """Return the ``count`` wrong predictions with the highest confidence, most confident first.

    Example:
        >>> frame = pd.DataFrame({"correct": [False, True, False], "confidence": [0.6, 0.99, 0.9]})
        >>> confident_mistakes(frame, 5).index.tolist()
        [2, 0]
    """
    if int(count) < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    wrong = frame[~frame["correct"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(int(count))


def images_at(dataset, positions: Sequence[int]) -> np.ndarray:
    """Return the images at ``positions`` (indices in the dataset's order) as uint8, in that order.

    Reads the dataset once; positions out of range raise ValueError.

    Example:
        >>> batches = [(np.full((2, 4, 4, 3), 7.0), [0, 1]), (np.full((2, 4, 4, 3), 300.0), [1, 0])]
        >>> images_at(batches, [3, 0])[:, 0, 0, 0]
        array([255,   7], dtype=uint8)
    """
    wanted = [int(position) for position in positions]
    found: dict[int, np.ndarray] = {}
    offset = 0
    for batch in dataset:
        images = np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch)
        for position in wanted:
            if offset <= position < offset + len(images):
                found[position] = images[position - offset]
        offset += len(images)
        if len(found) == len(set(wanted)):
            break
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise ValueError(f"positions {missing} are outside the dataset (it has {offset} images)")
    if not wanted:
        return np.zeros((0,), dtype="uint8")
    return np.clip(np.stack([found[position] for position in wanted]), 0, 255).astype("uint8")


def load_image(path: str | os.PathLike, image_size: tuple[int, int]) -> np.ndarray:
    """Return the image file at ``path`` as float32 (height, width, 3), pixels 0-255, resized.

    ``image_size`` is (height, width), as in Keras. Decodes and resizes exactly as
    ``image_dataset_from_directory`` does (``tf.io.decode_image`` to RGB, then
    ``tf.image.resize``, bilinear), so a file gets the same prediction here as inside the
    validation pipeline. ``keras.utils.load_img(path, target_size=...)`` resizes with
    ``interpolation="nearest"`` by default (it picks pixels instead of averaging them), so
    its pixels, and the probabilities, differ slightly.
    """
    import tensorflow as tf

    if not Path(path).is_file():
        raise ValueError(f"no image file at {path}")
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width), got {image_size!r}")
    image = tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False)
    resized = tf.image.resize(image, tuple(int(size) for size in image_size), method="bilinear")
    return resized.numpy().astype("float32")


def predict_image(model, path: str | os.PathLike, class_names: Sequence[str],
                  threshold: float = 0.5) -> dict:
    """Return the model's verdict on one image file: ``{"class", "confidence", "probabilities"}``.

    The image is read with ``load_image`` at the model's input size; ``probabilities`` maps
    every class name to its probability. For example
    ``predict_image(model, "my_cat.jpg", ["cats", "dogs"])`` gives
    ``{'class': 'cats', 'confidence': 0.93, 'probabilities': {'cats': 0.93, 'dogs': 0.07}}``.
    """
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        raise ValueError("the model has no fixed input size; resize the image yourself")
    probabilities = _class_probabilities(model.predict_on_batch(load_image(path, (height, width))[None]))
    names = list(class_names)
    if len(names) != probabilities.shape[1]:
        raise ValueError(f"class_names has {len(names)} classes ({names}) but the model "
                         f"predicts {probabilities.shape[1]}")
    predicted = int(_predicted(probabilities, threshold)[0])
    return {"class": names[predicted], "confidence": float(probabilities[0, predicted]),
            "probabilities": {name: float(p) for name, p in zip(names, probabilities[0])}}


# ---------------------------------------------------------------- drawings

def plot_confusion(counts: pd.DataFrame, normalized: pd.DataFrame | None = None,
                   title: str = "Confusion matrix") -> Figure:
    """Return a figure with the confusion matrix as a heatmap: counts, and optionally normalized.

    The panels and numbers shrink to fit up to about 20 classes.
    """
    import seaborn as sns

    panels = [(counts, "counts", "d")] + ([(normalized, "fraction of each true class", ".2f")]
                                          if normalized is not None else [])
    side = max(5.5, 0.45 * len(counts) + 2.5)
    figure = Figure(figsize=(side * len(panels), side * 0.82), layout="constrained")
    for axes, (matrix, label, fmt) in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels):
        sns.heatmap(matrix, annot=True, fmt=fmt, cmap="cividis", square=True, cbar=True,
                    ax=axes, annot_kws={"fontsize": max(7, 16 - len(counts))})
        axes.set_title(label)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
    figure.suptitle(title, fontsize="x-large")
    return figure


def plot_gallery(images: np.ndarray, titles: Sequence[str], columns: int = 3,
                 title: str = "") -> Figure:
    """Return a figure showing ``images`` (uint8, N x H x W x 3) in a grid with one title each.

    Example:
        >>> figure = plot_gallery(np.zeros((4, 8, 8, 3), np.uint8), list("abcd"), columns=3)
        >>> [axes.get_title() for axes in figure.axes]
        ['a', 'b', 'c', 'd', '', '']
    """
    images = np.asarray(images)
    if len(images) != len(titles):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    if len(images) == 0:
        raise ValueError("no images to show")
    columns = max(1, min(int(columns), len(images)))
    rows = int(np.ceil(len(images) / columns))
    figure = Figure(figsize=(3.3 * columns, 3.5 * rows), layout="constrained")
    grid = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for axes in grid:
        axes.axis("off")
    for axes, image, label in zip(grid, images, titles):
        axes.imshow(image.astype("uint8") if image.dtype != np.uint8 else image)
        axes.set_title(str(label), fontsize=11)
    if title:
        figure.suptitle(title, fontsize="x-large")
    return figure
