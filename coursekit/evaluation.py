"""Evaluating a trained classifier honestly: predictions, confusion matrix, report, mistakes.

Compute functions return DataFrames or arrays; the ``plot_*`` functions draw them:

``predict_frame``       one row per image: true label, probability, prediction, confidence
``confusion_frame``     the confusion matrix (counts or normalized) as a labelled DataFrame
``report_frame``        precision, recall, F1 and support per class (scikit-learn)
``confident_mistakes``  the wrong predictions the model was most sure about
``images_at``           the images of a dataset at given positions (for the gallery)
``predict_image``       the prediction for one image file on disk
``save_and_reload`` / ``prediction_difference``   the save-reload-predict-the-same check
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from coursekit import config

keras = config.import_keras()

__all__ = [
    "predict_frame",
    "confusion_frame",
    "report_frame",
    "confident_mistakes",
    "images_at",
    "load_image",
    "predict_image",
    "save_and_reload",
    "prediction_difference",
    "plot_confusion",
    "plot_gallery",
]


def _probabilities_to_predictions(probabilities: np.ndarray, threshold: float):
    """(probability of the predicted class, predicted index) for sigmoid or softmax outputs."""
    if probabilities.shape[1] == 1:  # one sigmoid unit: probability of class 1
        p = probabilities[:, 0]
        predicted = (p >= threshold).astype(int)
        return np.where(predicted == 1, p, 1 - p), predicted, p
    predicted = probabilities.argmax(axis=1)
    return probabilities.max(axis=1), predicted, probabilities[:, 1] if probabilities.shape[1] == 2 else None


def predict_frame(model, dataset, class_names: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Return one row per image of ``dataset`` (in its order) with the model's prediction.

    Columns: ``position`` (index in the dataset), ``label`` and ``predicted`` (class
    indices), ``true_class`` and ``predicted_class`` (names), ``probability`` (of class 1,
    ``class_names[1]``, for a one-unit sigmoid output), ``confidence`` (probability of the
    predicted class), ``correct``, and ``file`` when the dataset has ``file_paths`` (as the
    validation set of ``training.image_datasets`` does). Labels may be binary (shape
    (batch, 1)) or integers.

    Example:
        >>> frame = predict_frame(model, val_ds, ["cats", "dogs"])          # doctest: +SKIP
        >>> frame["correct"].mean()                                       # the accuracy
    """
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
    labels, outputs = [], []
    for batch in dataset:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("dataset must yield (images, labels) batches")
        images, batch_labels = batch[0], batch[1]
        outputs.append(np.asarray(model.predict_on_batch(images), dtype="float64"))
        labels.append(np.asarray(batch_labels).reshape(len(outputs[-1]), -1))
    if not outputs:
        raise ValueError("dataset is empty")
    probabilities = np.concatenate(outputs).reshape(sum(len(o) for o in outputs), -1)
    label_array = np.concatenate(labels)
    label_index = (label_array[:, 0] if label_array.shape[1] == 1 else label_array.argmax(1)).astype(int)
    confidence, predicted, positive = _probabilities_to_predictions(probabilities, float(threshold))
    names = list(class_names)
    if max(label_index.max(), predicted.max()) >= len(names):
        raise ValueError(f"class_names {names} has fewer classes than the labels/predictions use")
    frame = pd.DataFrame({
        "position": np.arange(len(label_index)),
        "label": label_index,
        "predicted": predicted,
        "true_class": [names[i] for i in label_index],
        "predicted_class": [names[i] for i in predicted],
        "probability": positive if positive is not None else np.nan,
        "confidence": confidence,
    })
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
        >>> confusion_frame(frame, ["cats", "dogs"])                      # doctest: +SKIP
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
        >>> report_frame(frame, ["cats", "dogs"]).loc["dogs", "recall"]    # doctest: +SKIP
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
        >>> confident_mistakes(frame, 9)[["true_class", "confidence"]]    # doctest: +SKIP
    """
    if int(count) < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
    wrong = frame[~frame["correct"]]
    return wrong.sort_values("confidence", ascending=False, kind="stable").head(int(count))


def images_at(dataset, positions: Sequence[int]) -> np.ndarray:
    """Return the images at ``positions`` (indices in the dataset's order) as uint8, in that order.

    Reads the dataset once; positions out of range raise ValueError.

    Example:
        >>> images_at(val_ds, [0, 5]).shape                                 # doctest: +SKIP
        (2, 150, 150, 3)
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

    Decodes and resizes exactly as ``image_dataset_from_directory`` does (``tf.io.decode_image``,
    then ``tf.image.resize``, bilinear), so a file gets the same prediction here as inside the
    validation pipeline. (``keras.utils.load_img`` resizes with Pillow, which smooths when
    shrinking: the pixels, and so the probabilities, differ slightly.)

    Example:
        >>> load_image("cat.jpg", (150, 150)).shape                        # doctest: +SKIP
        (150, 150, 3)
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
    """Return the model's verdict on one image file: ``{"class", "confidence", "probability"}``.

    The image is resized to the model's input size; ``probability`` is that of
    ``class_names[1]`` for a one-unit sigmoid model.

    Example:
        >>> predict_image(model, "my_cat.jpg", ["cats", "dogs"])           # doctest: +SKIP
        {'class': 'cats', 'confidence': 0.93, 'probability': 0.07}
    """
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        raise ValueError("the model has no fixed input size; resize the image yourself")
    batch = load_image(path, (height, width))[None]
    probabilities = np.asarray(model.predict_on_batch(batch), dtype="float64").reshape(1, -1)
    confidence, predicted, positive = _probabilities_to_predictions(probabilities, float(threshold))
    return {"class": list(class_names)[int(predicted[0])], "confidence": float(confidence[0]),
            "probability": float(positive[0]) if positive is not None else float("nan")}


def save_and_reload(model, path: str | os.PathLike | None = None):
    """Save ``model`` in Keras' ``.keras`` format and return the model loaded back from disk.

    ``path`` defaults to a temporary file. The user's model is not changed.

    Example:
        >>> reloaded = save_and_reload(model, "cats_vs_dogs.keras")       # doctest: +SKIP
    """
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="coursekit-")) / f"{model.name}.keras"
    if not str(path).endswith(".keras"):
        raise ValueError(f"path must end in .keras, got {path}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return keras.models.load_model(path)


def prediction_difference(model_a, model_b, images) -> float:
    """Return the largest absolute difference between two models' predictions on ``images``.

    0 (or ~1e-7, float rounding) when a reloaded model really is the same model.

    Example:
        >>> prediction_difference(model, save_and_reload(model), images)   # doctest: +SKIP
        0.0
    """
    images = np.asarray(images, dtype="float32")
    first = np.asarray(model_a.predict_on_batch(images))
    second = np.asarray(model_b.predict_on_batch(images))
    if first.shape != second.shape:
        raise ValueError(f"the models give outputs of different shapes: {first.shape} vs {second.shape}")
    return float(np.max(np.abs(first - second)))


# ---------------------------------------------------------------- drawings

def plot_confusion(counts: pd.DataFrame, normalized: pd.DataFrame | None = None,
                   title: str = "Confusion matrix") -> Figure:
    """Return a figure with the confusion matrix as a heatmap: counts, and optionally normalized.

    Example:
        >>> plot_confusion(confusion_frame(frame, names),
        ...                confusion_frame(frame, names, normalize="true"))  # doctest: +SKIP
    """
    import seaborn as sns

    panels = [(counts, "counts", "d")] + ([(normalized, "fraction of each true class", ".2f")]
                                          if normalized is not None else [])
    figure = Figure(figsize=(5.5 * len(panels), 4.5), layout="constrained")
    for axes, (matrix, label, fmt) in zip(np.atleast_1d(figure.subplots(1, len(panels))), panels):
        sns.heatmap(matrix, annot=True, fmt=fmt, cmap="cividis", square=True, cbar=True,
                    ax=axes, annot_kws={"fontsize": 14})
        axes.set_title(label)
        axes.set_xlabel("predicted class")
        axes.set_ylabel("true class")
    figure.suptitle(title, fontsize="x-large")
    return figure


def plot_gallery(images: np.ndarray, titles: Sequence[str], columns: int = 3,
                 title: str = "") -> Figure:
    """Return a figure showing ``images`` (uint8, N x H x W x 3) in a grid with one title each.

    Example:
        >>> plot_gallery(images_at(val_ds, rows["position"]), rows["file"])   # doctest: +SKIP
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
