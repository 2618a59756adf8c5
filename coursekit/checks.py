"""Self-checks for the exercises: call one with your answer, get a tick or a specific hint.

Every check computes the right answer itself, from the data or the course's recipes (never from
a model or table the student may have changed), prints its verdict and returns True/False; none
raises on a wrong or oddly typed answer (a student's typo must not end in a traceback).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def _say(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def _verdict(ok: bool, answer: Any, name: str, hint: str) -> bool:
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    return _say(True, "Correct!") if ok else _say(False, f"Not quite: your {name} was {answer!r}. {hint}".strip())


def _plain(value: Any) -> Any:
    """Arrays and sequences as tuples, NumPy scalars as Python numbers; booleans kept apart."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
        return tuple(_plain(item) for item in value)
    return value.item() if isinstance(value, (np.generic, np.ndarray)) else value


def _number(value: Any) -> float | None:
    """A real number (NumPy scalars too) as float; None for anything else, booleans included."""
    value = _plain(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def check_answer(answer: Any, expected: Any, hint: str = "", name: str = "answer") -> bool:
    """Compare ``answer`` with ``expected`` exactly: sequences by items; ``True`` is not ``1``.

    >>> check_answer(np.array([148, 148, 32]), (148, 148, 32))
    ✅ Correct!
    True
    """
    try:
        ok = bool(_plain(answer) == _plain(expected))
    except Exception:  # noqa: BLE001 - a strange object must not end in a traceback
        ok = False
    return _verdict(ok, answer, name, hint)


def check_close(answer: Any, expected: float, tolerance: float = 0.01, hint: str = "",
                name: str = "answer") -> bool:
    """Compare a number with ``expected`` within a relative ``tolerance``.

    >>> check_close(0.333, 1 / 3, tolerance=0.01)
    ✅ Correct!
    True
    """
    number = _number(answer)
    if number is None and answer is not ... and answer is not None:
        return _say(False, f"Your {name} should be a number, got {answer!r}.")
    ok = number is not None and math.isclose(number, expected, rel_tol=tolerance, abs_tol=tolerance * 1e-3)
    return _verdict(ok, answer, name, hint)


def check_choice(answer: Any, correct: set | frozenset | list | tuple | str, options=None,
                 hint: str = "", name: str = "choice") -> bool:
    """Check one option, or a set of options, against ``correct``, ignoring case and order.

    >>> check_choice({"flip", "zoom"}, {"zoom", "flip"})
    ✅ Correct!
    True
    """
    if answer is ... or answer is None:
        return _verdict(False, answer, name, hint)
    as_set = lambda v: {str(v).lower()} if isinstance(v, str) else {str(x).lower() for x in v}
    try:
        given, wanted = as_set(answer), as_set(correct)
    except TypeError:
        return _say(False, f"Your {name} should be a string or a set of strings, got {answer!r}.")
    unknown = given - as_set(options) if options is not None else set()
    if unknown:
        return _say(False, f"{sorted(unknown)} is not one of the options: {sorted(as_set(options))}.")
    return _say(True, "Correct!") if given == wanted else _say(False, f"Not quite: you chose {sorted(given)}. {hint}".strip())


def check_noise_yardstick(answer: Any, accuracy_a: float, accuracy_b: float, count: int) -> bool:
    """Check lesson 5's noise yardstick (``compare.yardstick``) for accuracies on ``count`` photos."""
    from coursekit import compare

    return check_close(answer, compare.yardstick(accuracy_a, accuracy_b, count), tolerance=0.02, name="yardstick",
                       hint="Each accuracy's standard error is sqrt(p (1 - p) / n); the difference's is the square "
                            "root of the sum of their squares; the yardstick is two of those.")


def check_wide_images(answer: Any, root) -> bool:
    """Check lesson 0's count of training images (under ``root/train``) wider than they are tall."""
    from PIL import Image

    expected = 0
    for path in filter(Path.is_file, (Path(root) / "train").rglob("*")):
        with Image.open(path) as image:  # reads the header only
            expected += image.width > image.height
    return check_answer(answer, expected, name="count",
                        hint="Open every file under root / 'train' (all class folders) with "
                             "PIL's Image.open and count those wider than tall: a square is not.")


def header_lies(folder) -> list[str]:
    """Lesson 1's answer: the files under ``folder`` (links not followed) whose first bytes say
    JPEG/PNG/GIF/BMP but that do not decode."""
    from coursekit.scan import IMAGE_SIGNATURES, true_format

    root, found = Path(folder), []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(8).startswith(IMAGE_SIGNATURES) and true_format(path) is None:
                    found.append(path.relative_to(root).as_posix())
    return found


def check_header_lies(answer: Any, folder) -> bool:
    """Check lesson 1's files that look like an image but do not decode: how many, or which."""
    expected = sorted(header_lies(folder))
    if isinstance(answer, (list, tuple, set)):  # the files: compare them, not just how many
        inside = lambda path: path.relative_to(folder) if path.is_relative_to(folder) else path
        answer = sorted(inside(Path(str(path))).as_posix() for path in answer)
    ok = check_answer(answer, expected if isinstance(answer, list) else len(expected), name="answer",
                      hint="Look at every file (hidden ones too), use the PNG, GIF and BMP "
                           "signatures as well, and keep only those real_format() says None to.")
    if ok:
        print("   They start like an image and still fail: " + ", ".join(expected))
    return ok


def check_broken_codes(answer: Any) -> bool:
    """Check lesson 1's set of issue codes that break the pipeline (``scan.BROKEN``)."""
    from coursekit.scan import BROKEN, ISSUES

    return check_choice(answer, BROKEN, options=ISSUES,
                        hint="Think of crashes (errors), silent skips (extension or format) and memory.")


def check_leak_fraction(answer: Any, n_train: int, paths, epochs: int = 1) -> bool:
    """Check lesson 1's expected share of validation files a reshuffled take/skip split trains
    on within ``epochs`` epochs (each draw holds a file with probability ``n_train / len(paths)``).

    >>> check_leak_fraction(0.96, 80, range(100), epochs=2)
    ✅ Correct!
    True
    """
    return check_close(answer, 1 - (1 - n_train / len(paths)) ** epochs, tolerance=0.02, name="fraction",
                       hint="One epoch's training draw holds a file with probability n_train / "
                            "len(paths). For several draws, first compute the chance of none.")


def check_synonyms(synonyms: Any, labels_table, originals) -> bool:
    """Check lesson 1's synonym map by what it does: after merging, each class has one tag and
    no two classes share one. ``labels_table["tags"]`` ("tag;shape") follows ``originals["label"]``."""
    if not isinstance(synonyms, dict) or len(labels_table) != len(originals):
        return _say(False, "Give a dict (tag -> the spelling to keep) and the table and originals above.")
    shapes, merged = {"landscape", "portrait", "square"}, {}
    for tags, label in zip(labels_table["tags"].str.split(";"), originals["label"]):
        for tag in tags:
            kept = synonyms.get(tag, tag)
            if (tag in shapes or kept in shapes) and kept != tag:
                return _say(False, f"Not quite: {tag!r} becomes {kept!r}; merge only the class tags.")
            merged.setdefault(label, set()).update(set() if tag in shapes else {kept})
    several = {label: sorted(map(str, tags)) for label, tags in merged.items() if len(tags) > 1}
    if several:
        return _say(False, f"Not quite: after merging, these classes still have several tags: {several}.")
    if len({str(tags) for tags in merged.values()}) < len(merged):
        return _say(False, "Not quite: two classes now share a tag; map each tag to a spelling of its own class.")
    return _say(True, "Correct!")


def check_baseline(answer: Any, counts) -> bool:
    """Check lesson 2's accuracy of always predicting the biggest validation class."""
    return check_close(answer, counts["validation"].max() / counts["validation"].sum(),
                       hint="The biggest class count divided by the total, in the validation column.")


def check_normalized_white(answer: Any, stats, channel: str = "blue") -> bool:
    """Check lesson 2's value of a white pixel in ``channel`` after ``Normalization`` by ``stats``."""
    return check_close(answer, (255 - stats.loc[channel, "mean"]) / stats.loc[channel, "std"], name="value",
                       hint="Normalising subtracts the mean, then divides by the standard deviation; "
                            "use one scale (0-1 or 0-255) for the pixel, the mean and the std.")


def check_brighter_class(answer: Any, histograms) -> bool:
    """Check lesson 2's class with the highest mean brightness (``eda.brightness_histograms``)."""
    means = histograms.mul(histograms.index, axis=0).sum() / histograms.sum()
    return check_choice(answer, means.idxmax(), options=list(histograms.columns),
                        hint="Mean = sum of brightness x count, divided by the number of pixels.")


def check_first_share(answer: Any, pca) -> bool:
    """Check lesson 2's share of the variance along the first principal component."""
    return check_close(answer, float(pca.explained_variance_ratio[0]), tolerance=0.01,
                       hint="Square the singular values; the first one's share of their sum.")


def check_components_for_half(answer: Any, pca) -> bool:
    """Check lesson 2's number of principal components that explain at least half the variance."""
    expected = int(np.argmax(np.cumsum(pca.explained_variance_ratio) >= 0.5)) + 1
    return check_answer(answer, expected, name="number of components",
                        hint="Find the first position where the running total reaches 0.5; positions start at 0.")


def check_flipped_kernel(answer: Any, kernel) -> bool:
    """Check lesson 3's kernel with which ``correlate2d`` computes ``convolve2d(image, kernel)``.

    >>> emboss = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    >>> check_flipped_kernel([[2, 1, 0], [1, 1, -1], [0, -1, -2]], emboss)
    ✅ Correct!
    True
    """
    kernel = np.asarray(kernel, dtype=float)
    turns = {"You turned it around one axis; convolve2d turns it around both.": (np.flipud, np.fliplr),
             "Changing the sign is not a turn (for Sobel x it only looks like one).": (np.negative,)}
    given = _plain(answer)
    hint = next((text for text, ways in turns.items() for way in ways if given == _plain(way(kernel))),
                "convolve2d turns the kernel around before sliding it: around which axes? Test a "
                "guess: correlate2d with it must give the convolved image.")
    return check_answer(answer, np.flip(kernel), name="kernel", hint=hint)


def check_thumbnail(answer: Any, path, size) -> bool:
    """Check lesson 3's thumbnail of the image file at ``path``: ``size`` (height, width), RGB."""
    import cv2

    if not isinstance(answer, np.ndarray):
        return _say(False, "Replace the ... with your thumbnail (a NumPy array, as cv2 gives) first.")
    bgr = cv2.resize(cv2.imread(str(path)), (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)
    close = lambda image: image.shape == bgr.shape and np.abs(image.astype(int) - bgr).max() <= 1
    if close(answer[..., ::-1]):
        return _say(True, "Correct!")
    hint = ("OpenCV's order is BGR: in which order does the model expect the colours?" if close(answer)
            else "Check the size (in which order does cv2.resize take it?) and the interpolation.")
    return _say(False, f"Not quite. {hint}")


def check_layer_params(answer: Any, model, layer) -> bool:
    """Check lesson 3's parameter count of ``model``'s layer ``layer`` (a name or an index).

    >>> check_layer_params(15, keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), -1)
    ✅ Correct!
    True
    """
    from coursekit import model_layers

    expected = model_layers.get_layer(model, layer).count_params()
    return check_answer(answer, expected, name="parameter count",
                        hint="Conv2D: k x k x input-channels weights and one bias per filter. Dense: "
                             "one weight per input (h x w x c after Flatten) and one bias per unit.")


def check_precision(answer: Any, counts, class_name: str) -> bool:
    """Check lesson 4's precision of ``class_name`` from a confusion matrix (rows: true classes).

    >>> import pandas as pd
    >>> check_precision(0.75, pd.DataFrame([[3, 2], [1, 4]], ["a", "b"], ["a", "b"]), "a")
    ✅ Correct!
    True
    """
    said = counts[class_name].sum()
    if not said and _number(answer) is not None and math.isnan(_number(answer)):  # never called: 0 / 0
        answer = 0.0  # as scikit-learn's report (zero_division=0) shows it
    return check_close(answer, counts.loc[class_name, class_name] / said if said else 0.0,
                       tolerance=0.005, name="precision",
                       hint="Precision asks: of the images the model CALLED this class, how many "
                            "are this class? Which line of the matrix holds those images?")


def check_overfitting_epoch(answer: Any, history, tolerance: int = 0, name: str = "epoch") -> bool:
    """Check lesson 5's epoch, from 1, of the lowest ``val_loss`` in ``history`` (+- ``tolerance``).

    >>> import pandas as pd
    >>> check_overfitting_epoch(3, pd.DataFrame({"epoch": [1, 2, 3, 4],
    ...                                          "val_loss": [0.7, 0.6, 0.5, 0.7]}))
    ✅ Correct! Validation loss is lowest at epoch 3; after that the model learns the training images by heart.
    True
    """
    losses = list(history["val_loss"])
    epochs = list(history["epoch"]) if "epoch" in history else list(range(1, len(losses) + 1))
    lowest = [epoch for epoch, loss in zip(epochs, losses) if loss == min(losses)]
    number = _number(answer)
    if number is not None and any(abs(number - epoch) <= tolerance for epoch in lowest):
        return _say(True, f"Correct! Validation loss is lowest at epoch {lowest[0]}" + (
            "; after that the model learns the training images by heart." if lowest[0] != epochs[-1]
            else ", the last one: this run stopped before it overfitted."))
    return _verdict(False, answer, name, "Epochs count from 1, positions (np.argmin) from 0."
                    if number is not None and number + 1 in lowest else "Look for the epoch where "
                    "the validation loss stops falling and starts to rise, even though the training loss keeps falling.")


def check_widest_gap_epoch(answer: Any, history) -> bool:
    """Check lesson 4's epoch, from 1, where ``val_loss`` exceeds ``loss`` most in ``history``."""
    gaps = list(history["val_loss"] - history["loss"])
    widest = [int(epoch) for epoch, gap in zip(history["epoch"], gaps) if gap == max(gaps)]
    number = _number(answer)
    return _verdict(number in widest, answer, "epoch", "Epochs count from 1, positions (np.argmax) from 0."
                    if number is not None and number + 1 in widest else
                    "Subtract the training loss from the validation loss, epoch by epoch, and take the largest.")


#: Options of lesson 5's exercise 2; rotation and zoom are those of its augmentation recipe
#: (recipes.FLIP_ROTATE_ZOOM: a tenth of a turn, 20 %), which tests/test_recipes.py checks.
AUGMENTATION_OPTIONS = (
    "horizontal flip", "vertical flip", "rotation up to 36 degrees", "rotation up to 180 degrees",
    "zoom up to 20%", "shift up to 10%", "invert colours", "small contrast change",
)
_SENSIBLE_AUGMENTATIONS = frozenset(AUGMENTATION_OPTIONS) - {
    "vertical flip", "rotation up to 180 degrees", "invert colours"}


def check_augmentations(answer: Any, name: str = "choice") -> bool:
    """Check lesson 5's set of augmentations that suit photos taken the usual way up (cats, dogs).

    >>> check_augmentations({"horizontal flip", "zoom up to 20%", "shift up to 10%",
    ...                      "rotation up to 36 degrees", "small contrast change"})
    ✅ Correct!
    True
    """
    return check_choice(answer, _SENSIBLE_AUGMENTATIONS, options=AUGMENTATION_OPTIONS, name=name,
                        hint="Could a camera have taken this picture of the same subject? A tilted camera "
                             "is common, an upside-down world is not, nor a photo in negative colours.")


def check_rotation_factor(answer: Any, degrees: float) -> bool:
    """Check lesson 5's ``RandomRotation`` factor for ``ImageDataGenerator(rotation_range=degrees)``.

    >>> check_rotation_factor(0.25, 90)
    ✅ Correct!
    True
    """
    return check_close(answer, degrees / 360, tolerance=0.02, name="factor",
                       hint="The generator takes degrees, the layer a fraction of a full turn.")


def check_least_overfitting(answer: Any, comparison) -> bool:
    """Check lesson 5's row of ``comparison`` whose ``train_accuracy`` exceeds ``val_accuracy`` least.

    >>> import pandas as pd
    >>> check_least_overfitting("+dropout", pd.DataFrame(
    ...     {"train_accuracy": [0.95, 0.85], "val_accuracy": [0.75, 0.8]}, ["baseline", "+dropout"]))
    ✅ Correct!
    True
    """
    gaps = comparison["train_accuracy"] - comparison["val_accuracy"]
    return check_choice(answer, str(gaps.idxmin()), options=list(comparison.index), name="variant",
                        hint="Gap = training minus validation accuracy: take the row where it is smallest.")


def _base(model):
    """The largest model nested in ``model`` (its pretrained base), or None."""
    nested = [layer for layer in getattr(model, "layers", []) if getattr(layer, "layers", None)]
    if not nested:
        _say(False, "Pass the transfer model (the base is one of its layers) as the second argument.")
    return max(nested, key=lambda layer: len(layer.layers)) if nested else None


def check_trainable_parameters(answer, model) -> bool:
    """Check lesson 6's count of the parameters that train while the base is frozen (the head's)."""
    base = _base(model)
    return base is not None and check_answer(
        answer, sum(layer.count_params() for layer in model.layers if layer is not base), name="count",
        hint=f"The model has {model.count_params():,} parameters, but a frozen base trains none of "
             "them: count only the head. A Dense layer with k outputs on N features has N * k "
             "weights plus k biases (k = 1 for two classes, 1 bias).")


def check_fine_tuned_layers(answer, model, fine_tune_from=None) -> bool:
    """Check lesson 6's names of the base's layers that train when fine-tuning from
    ``fine_tune_from`` (a name or a recipe; default ``recipes.TRANSFER_FINE_TUNED``'s), computed
    by ``pretrained.unfreeze_from`` on a copy of the base (the student's may be wrong)."""
    from coursekit import pretrained, recipes

    base = _base(model)
    if base is None:
        return False
    first = getattr(fine_tune_from, "fine_tune_from", fine_tune_from) or recipes.TRANSFER_FINE_TUNED.fine_tune_from
    try:  # the reference: the course's own unfreezing, on a copy (the student's base may be wrong)
        expected = set(pretrained.unfreeze_from(pretrained.keras.models.clone_model(base), first))
    except ValueError as error:
        return _say(False, f"Fine-tuning from {first!r} does not fit this base: {error}")
    if isinstance(answer, str) or not isinstance(answer, (list, tuple, set, np.ndarray)):
        return _say(False, "Replace the ... with a list of layer names first." if answer is ... else
                    f"Give a list of layer names, e.g. ['name_a', 'name_b'], got {answer!r}.")
    given, kinds = set(map(str, answer)), {layer.name: type(layer).__name__ for layer in base.layers}
    norms = sorted(name for name in given - expected if kinds.get(name) == "BatchNormalization")
    return _say(given == expected, "Correct!" if given == expected else
                f"Not quite: {len(expected - given)} layer(s) that train are missing and "
                f"{len(given - expected)} of yours do not train. " + (
                    f"{norms[:3]} are BatchNorm layers: they stay frozen." if norms else
                    f"Start at {first!r}, keep only layers with weights, and remember which kind of "
                    "layer stays frozen."))


def check_feature_map_shape(answer: Any, model, layer: str) -> bool:
    """Check lessons 3 and 7's (height, width, channels) of the maps ``layer`` of ``model`` outputs."""
    from coursekit import model_layers

    try:
        expected = model_layers.output_shape(model, layer)
    except ValueError as error:
        return _say(False, str(error))
    return check_answer(answer, expected, name="shape",
                        hint="Each 3x3 'valid' convolution removes 2 pixels per side, each 2x2 pooling "
                             "halves it (rounding down); one channel per filter. Work layer by layer "
                             f"from the {tuple(model.input_shape[1:])} input.")


def check_most_active_channel(answer: Any, activation) -> bool:
    """Check lesson 7's channel with the highest mean activation in a (h, w, c) stack.

    >>> check_most_active_channel(2, np.arange(12.0).reshape(2, 2, 3))
    ✅ Correct!
    True
    """
    stack = np.asarray(activation)
    if stack.ndim != 3:
        return _say(False, f"Pass one layer's maps (height, width, channels), got shape {stack.shape}.")
    means, number = stack.mean(axis=(0, 1)), _number(answer)
    if number is not None and number in range(len(means)) and np.isclose(means[int(number)], means.max()):
        return _say(True, "Correct!")
    return check_answer(answer, int(np.argmax(means)), name="channel",
                        hint="Average each channel over height and width (axes 0, 1), then take np.argmax.")


def check_gradcam(heatmap: Any, model, image, layer: str | None = None,
                  class_index: int | None = None) -> bool:
    """Check lesson 7's Grad-CAM heatmap against ``coursekit.gradcam.heatmap``."""
    from coursekit import gradcam

    if heatmap is ... or heatmap is None:
        return _say(False, "Replace the ... with your heatmap first.")
    try:
        mine = np.asarray(heatmap, dtype="float32")
        expected = gradcam.heatmap(model, image, layer, class_index)
    except (TypeError, ValueError) as error:
        return _say(False, f"Your heatmap should be an array, and the arguments those of the exercise: {error}")
    if mine.shape != expected.shape:
        return _say(False, f"Your heatmap has shape {mine.shape}, expected {expected.shape}: "
                           "one value per position of the chosen layer's feature map.")
    if np.allclose(mine, expected, atol=1e-3):
        return _say(True, "Correct!")
    hint = ("Check the sign of the score (one sigmoid unit: class 0's is -logit), then: mean of the "
            "gradients per channel, weighted sum of the maps, ReLU, divide by the maximum.")
    if np.nanmax(mine) > 1.0 + 1e-3:
        hint = "Divide the heatmap by its maximum so that it lies in [0, 1]."
    return _say(False, f"Not quite: your heatmap differs from Grad-CAM's. {hint}")
