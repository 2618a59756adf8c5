"""Evaluating a trained classifier honestly (lesson 4), for any number of classes: one row per
image (``predict_frame``), and the confusion matrix and per-class report computed from it
(scikit-learn's ``ConfusionMatrixDisplay`` draws the matrix).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def class_probabilities(outputs) -> np.ndarray:
    """Return a model's outputs as (images, classes) probabilities: one sigmoid unit (the
    probability of class 1) becomes two columns; softmax outputs stay as they are.

    >>> class_probabilities([[0.8], [0.1]]).round(2).tolist()
    [[0.2, 0.8], [0.9, 0.1]]
    """
    outputs = np.asarray(outputs, dtype="float64")
    outputs = outputs.reshape(len(outputs), -1)
    return np.hstack([1 - outputs, outputs]) if outputs.shape[1] == 1 else outputs


def predict_frame(model, dataset, class_names: Sequence[str], threshold: float = 0.5) -> pd.DataFrame:
    """Return one row per image of ``dataset`` (``(images, labels)`` batches; binary, integer or
    one-hot labels), in order: ``label`` and ``predicted`` (indices), ``true_class`` and
    ``predicted_class`` (names), ``probability`` (two classes: of ``class_names[1]``, called that
    from ``threshold`` on), ``confidence`` (of the prediction), ``correct``, and ``file`` when the
    dataset has ``file_paths`` (as ``training.image_datasets``' validation set does).

    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    >>> model.set_weights([np.array([[1.0]]), np.array([0.0])])
    >>> frame = predict_frame(model, [(np.array([[3.0], [-3.0]]), np.array([1, 1]))], ["cats", "dogs"])
    >>> frame[["true_class", "predicted_class", "confidence", "correct"]].round(3)
      true_class predicted_class  confidence  correct
    0       dogs            dogs       0.953     True
    1       dogs            cats       0.953    False
    """
    if not 0.0 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold!r}")
    labels, outputs = [], []
    for images, batch_labels, *_ in dataset:
        outputs.append(class_probabilities(model.predict_on_batch(images)))
        labels.append(np.asarray(batch_labels).reshape(len(outputs[-1]), -1))
    if not outputs:
        raise ValueError("dataset is empty")
    probabilities, label_array = np.concatenate(outputs), np.concatenate(labels)
    label = (label_array[:, 0] if label_array.shape[1] == 1 else label_array.argmax(1)).astype(int)
    names = list(class_names)
    if len(names) != probabilities.shape[1] or label.max() >= len(names):
        raise ValueError(f"class_names has {len(names)} classes ({names}) but the model predicts "
                         f"{probabilities.shape[1]} and the labels go up to {label.max()}")
    predicted = (probabilities[:, 1] >= float(threshold)).astype(int) if len(names) == 2 \
        else probabilities.argmax(axis=1)
    frame = pd.DataFrame({"label": label, "predicted": predicted, "true_class": [names[i] for i in label],
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
    """Return the confusion matrix: rows are true classes, columns predicted classes; ``normalize``
    as in scikit-learn: None (counts), "true" (each row sums to 1: the diagonal is each class's
    recall), "pred" (columns sum to 1: precision) or "all".

    >>> frame = pd.DataFrame({"label": [0, 1, 2, 2], "predicted": [0, 2, 2, 1]})
    >>> confusion_frame(frame, ["ant", "bee", "cat"]).to_numpy().tolist()
    [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    """
    from sklearn.metrics import confusion_matrix

    names = list(class_names)  # scikit-learn names the allowed values of normalize
    matrix = confusion_matrix(frame["label"], frame["predicted"], labels=range(len(names)),
                              normalize=normalize)
    return pd.DataFrame(matrix, index=pd.Index(names, name="true class"),
                        columns=pd.Index(names, name="predicted class"))


def report_frame(frame: pd.DataFrame, class_names: Sequence[str]) -> pd.DataFrame:
    """Return precision, recall, F1 and support per class, then the rows "accuracy" (in the
    f1-score column, as scikit-learn prints it), "macro avg" and "weighted avg".

    >>> frame = pd.DataFrame({"label": [0, 1, 2, 2], "predicted": [0, 2, 2, 1]})
    >>> report_frame(frame, ["ant", "bee", "cat"])["recall"].tolist()[:3]
    [1.0, 0.0, 0.5]
    """
    from sklearn.metrics import classification_report

    report = classification_report(frame["label"], frame["predicted"], output_dict=True, zero_division=0,
                                   labels=list(range(len(class_names))), target_names=list(class_names))
    accuracy = report.pop("accuracy")
    table = pd.DataFrame(report).T
    table.loc["accuracy"] = [np.nan, np.nan, accuracy, len(frame)]  # the f1 column holds it
    table["support"] = table["support"].astype(int)
    return table.loc[[*class_names, "accuracy", "macro avg", "weighted avg"]].round(3)
