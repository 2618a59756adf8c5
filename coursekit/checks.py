"""Self-checks for the exercises: call one with your answer, get a tick or a specific hint.

Every check prints its verdict and returns True/False; none raises on a wrong or oddly
typed answer (a student's typo must not end in a traceback).
"""

from __future__ import annotations

import math
from typing import Any, Callable


def _say(ok: bool, message: str) -> bool:
    print(("✅ " if ok else "❌ ") + message)
    return ok


def _verdict(ok: bool, answer: Any, name: str, hint: str) -> bool:
    if ok:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: your {name} was {answer!r}. {hint}".strip())


def check_answer(answer: Any, expected: Any, hint: str = "", name: str = "answer") -> bool:
    """Compare ``answer`` with ``expected`` exactly (tuples and lists compare equal).

    Example:
        >>> check_answer((148, 148, 32), (148, 148, 32))
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    normalise: Callable[[Any], Any] = lambda v: tuple(v) if isinstance(v, (list, tuple)) else v
    try:
        ok = normalise(answer) == normalise(expected)
    except Exception:  # noqa: BLE001 - a strange object must not end in a traceback
        ok = False
    return _verdict(ok, answer, name, hint)


def check_close(answer: Any, expected: float, tolerance: float = 0.01, hint: str = "",
                name: str = "answer") -> bool:
    """Compare a number with ``expected`` within a relative ``tolerance``.

    Example:
        >>> check_close(0.333, 1 / 3, tolerance=0.01)
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    try:
        ok = math.isclose(float(answer), expected, rel_tol=tolerance, abs_tol=tolerance * 1e-3)
    except (TypeError, ValueError):
        return _say(False, f"Your {name} should be a number, got {answer!r}.")
    return _verdict(ok, answer, name, hint)


def check_choice(answer: Any, correct: set | frozenset | list | tuple | str, options=None,
                 hint: str = "", name: str = "choice") -> bool:
    """Check a multiple-choice answer (one option, or a set of options) against ``correct``,
    ignoring case and order; an answer outside ``options`` (if given) gets them listed.

    Example:
        >>> check_choice({"flip", "zoom"}, {"zoom", "flip"})
        ✅ Correct!
        True
    """
    if answer is ... or answer is None:
        return _say(False, f"Replace the ... with your {name} first.")
    as_set = lambda v: {str(v).lower()} if isinstance(v, str) else {str(x).lower() for x in v}
    try:
        given, wanted = as_set(answer), as_set(correct)
    except TypeError:
        return _say(False, f"Your {name} should be a string or a set of strings, got {answer!r}.")
    if options is not None:
        allowed = as_set(options)
        unknown = given - allowed
        if unknown:
            return _say(False, f"{sorted(unknown)} is not one of the options: {sorted(allowed)}.")
    if given == wanted:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: you chose {sorted(given)}. {hint}".strip())


# ---------------------------------------------------------------- lesson 0: start here


def check_training_images(answer, root) -> bool:
    """Check the number of training images under ``root/train`` (all classes together)."""
    from pathlib import Path

    expected = sum(1 for path in (Path(root) / "train").rglob("*") if path.is_file())
    return check_answer(answer, expected, name="count",
                        hint="Count the files in every class folder under root / 'train' "
                             "(Path.rglob('*.jpg') finds them in all sub-folders).")


# ---------------------------------------------------------------- lessons 1-2: cleaning and EDA

_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")


def header_lies(folder) -> list[str]:
    """Return the files under ``folder`` (links not followed) whose first bytes say
    JPEG/PNG/GIF/BMP but that do not decode: lesson 1's reference answer (``'cats/cat.39.jpg'``...).
    """
    from pathlib import Path

    from coursekit.scan import true_format

    root, found = Path(folder), []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as handle:
                if handle.read(8).startswith(_IMAGE_SIGNATURES) and true_format(path) is None:
                    found.append(path.relative_to(root).as_posix())
    return found


def check_header_lies(answer: Any, folder) -> bool:
    """Check lesson 1's count of files whose header looks like an image but that do not decode."""
    expected = header_lies(folder)
    ok = check_answer(len(answer) if isinstance(answer, (list, tuple, set)) else answer,
                      len(expected), name="count",
                      hint="Look at every file (hidden ones too), use the PNG, GIF and BMP "
                           "signatures as well, and count only those real_format() says None to.")
    if ok:
        print("   They start like an image and still fail: " + ", ".join(expected))
    return ok


def check_broken_codes(answer: Any) -> bool:
    """Check lesson 1's set of issue codes that break the pipeline (``scan.BROKEN``)."""
    from coursekit.scan import BROKEN, ISSUES

    return check_choice(answer, BROKEN, options=ISSUES,
                        hint="Think of crashes (errors), silent skips (extension or format) and memory.")


def check_leak_fraction(answer: Any, n_train: int, paths) -> bool:
    """Check lesson 1's expected share of validation files that a take/skip split also trains on."""
    return check_close(answer, n_train / len(paths), tolerance=0.02, name="fraction",
                       hint="The chance that one random file is among the n_train training files.")


def check_synonyms(synonyms: Any, labels_table, originals) -> bool:
    """Check lesson 1's synonym map: after merging, one tag per class, counting its images."""
    if not isinstance(synonyms, dict):
        return _say(False, "synonyms should be a dict: tag -> the spelling to keep.")
    tags = labels_table["tags"].str.split(";").explode().map(lambda tag: synonyms.get(tag, tag))
    counts = tags[~tags.isin(["landscape", "portrait", "square"])].value_counts()
    return check_answer(sorted(counts), sorted(originals["label"].value_counts()), name="class counts",
                        hint="After merging, each class should have exactly one tag.")


def check_baseline(answer: Any, counts) -> bool:
    """Check lesson 2's accuracy of always predicting the biggest validation class."""
    return check_close(answer, counts["validation"].max() / counts["validation"].sum(),
                       hint="The biggest class count divided by the total, in the validation column.")


def check_brightest_channel(answer: Any, stats) -> bool:
    """Check lesson 2's channel with the highest mean (``stats``: ``eda.channel_stats``)."""
    return check_choice(answer, stats["mean"].idxmax(), options=list(stats.index))


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
    import numpy as np

    expected = int(np.argmax(np.cumsum(pca.explained_variance_ratio) >= 0.5)) + 1
    return check_answer(answer, expected, name="number of components",
                        hint="Find the first position where the running total reaches 0.5; positions start at 0.")


# ---------------------------------------------------------------- lessons 3-4: CNN, augmentation


def check_flipped_kernel(answer: Any, kernel) -> bool:
    """Check lesson 3's kernel that makes ``correlate2d`` compute ``convolve2d(image, kernel)``.

    Example:
        >>> check_flipped_kernel([[3, 2, 1]], [[1, 2, 3]])
        ✅ Correct!
        True
    """
    import numpy as np

    given = np.asarray(answer).tolist() if isinstance(answer, (list, tuple, np.ndarray)) else answer
    return check_answer(given, np.flip(np.asarray(kernel)).tolist(), name="kernel",
                        hint="convolve2d turns the kernel around before sliding it: around which "
                             "axes? Test a guess: correlate2d with it must give the convolved image.")


def check_thumbnail(answer: Any, path, size) -> bool:
    """Check lesson 3's thumbnail: the image file at ``path`` read with OpenCV and resized to
    ``size`` (height, width) with bilinear interpolation, as RGB (what Keras and Pillow give)."""
    import cv2
    import numpy as np

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
    """Check the parameter count of ``model``'s layer ``layer`` (a name or an index).

    Example:
        >>> from coursekit.config import import_keras
        >>> keras = import_keras()
        >>> check_layer_params(15, keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]), -1)
        ✅ Correct!
        True
    """
    from coursekit import model_layers

    expected = model_layers.get_layer(model, layer).count_params()
    return check_answer(answer, expected, name="parameter count",
                        hint="Conv2D: each filter has kernel x kernel x input-channels weights "
                             "and one bias. Dense: each unit has one weight per input and one "
                             "bias; its input is the flattened feature map, h x w x c numbers.")


def check_precision(answer: Any, counts, class_name: str) -> bool:
    """Check the precision of ``class_name`` read from a confusion matrix ``counts`` (rows: true
    classes, columns: predicted classes).

    Example:
        >>> import pandas as pd
        >>> check_precision(0.75, pd.DataFrame([[3, 2], [1, 4]], ["a", "b"], ["a", "b"]), "a")
        ✅ Correct!
        True
    """
    said = counts[class_name].sum()
    if not said and isinstance(answer, float) and math.isnan(answer):  # never called: 0 / 0
        answer = 0.0  # as scikit-learn's report (zero_division=0) shows it
    return check_close(answer, counts.loc[class_name, class_name] / said if said else 0.0,
                       tolerance=0.005, name="precision",
                       hint="Precision asks: of the images the model CALLED this class, how many "
                            "are this class? Which line of the matrix holds those images?")


def check_overfitting_epoch(answer: Any, history, tolerance: int = 1, name: str = "epoch") -> bool:
    """Check the epoch where overfitting starts: where validation loss is lowest (+- tolerance)
    in ``history``, a DataFrame with ``epoch`` and ``val_loss`` columns (``train_or_load``).

    Example:
        >>> import pandas as pd
        >>> check_overfitting_epoch(3, pd.DataFrame({"epoch": [1, 2, 3, 4],
        ...                                          "val_loss": [0.7, 0.6, 0.5, 0.7]}))
        ✅ Correct! Validation loss is lowest at epoch 3; after that the model learns the training images by heart.
        True
    """
    values = list(history["val_loss"])
    epochs = list(history["epoch"]) if "epoch" in history else list(range(1, len(values) + 1))
    best = epochs[values.index(min(values))]
    try:
        ok = abs(int(answer) - best) <= tolerance and float(answer) == int(answer)
    except (TypeError, ValueError, OverflowError):
        return _say(False, f"Your {name} should be an epoch number, got {answer!r}.")
    if ok:
        return _say(True, f"Correct! Validation loss is lowest at epoch {best}" + (
            "; after that the model learns the training images by heart." if best != epochs[-1]
            else ", the last one: this run stopped before it overfitted."))
    return _say(False, f"Not quite: your {name} was {answer!r}. Look for the epoch where the "
                       "validation loss stops falling and starts to rise, even though the "
                       "training loss keeps falling.")


#: Options of lesson 4's exercise 2; rotation and zoom are those of its augmentation recipe
#: (recipes.FLIP_ROTATE_ZOOM: a tenth of a turn, 20 %), which tests/test_recipes.py checks.
AUGMENTATION_OPTIONS = (
    "horizontal flip", "vertical flip", "rotation up to 36 degrees", "rotation up to 180 degrees",
    "zoom up to 20%", "shift up to 10%", "invert colours", "small contrast change",
)
_SENSIBLE_AUGMENTATIONS = frozenset({
    "horizontal flip", "rotation up to 36 degrees", "zoom up to 20%", "shift up to 10%",
    "small contrast change",
})


def check_augmentations(answer: Any, name: str = "choice") -> bool:
    """Check which augmentations make sense for photos taken the usual way up, such as cats and
    dogs (a set of options): a picture the camera could have taken of the same subject.

    Example:
        >>> check_augmentations({"horizontal flip", "zoom up to 20%", "shift up to 10%",
        ...                      "rotation up to 36 degrees", "small contrast change"})
        ✅ Correct!
        True
    """
    return check_choice(answer, _SENSIBLE_AUGMENTATIONS, options=AUGMENTATION_OPTIONS, name=name,
                        hint="Ask of each one: could a camera have taken this picture of the same "
                             "subject? A tilted camera is common, an upside-down world is not, "
                             "and no camera photographs in negative colours.")


def check_rotation_factor(answer: Any, degrees: float) -> bool:
    """Check lesson 4's exercise 3: the ``layers.RandomRotation`` factor for the legacy
    ``ImageDataGenerator(rotation_range=degrees)`` (a fraction of a full turn).

    Example:
        >>> check_rotation_factor(0.25, 90)
        ✅ Correct!
        True
    """
    return check_close(answer, degrees / 360, tolerance=0.02, name="factor",
                       hint="The generator takes degrees, the layer a fraction of a full turn.")


def check_least_overfitting(answer: Any, comparison) -> bool:
    """Check lesson 4's exercise 4: the variant (row of ``comparison``) with the smallest ``gap``.

    Example:
        >>> import pandas as pd
        >>> check_least_overfitting("+dropout", pd.DataFrame({"gap": [0.2, 0.05]}, ["baseline", "+dropout"]))
        ✅ Correct!
        True
    """
    return check_choice(answer, str(comparison["gap"].idxmin()), options=list(comparison.index),
                        name="variant", hint="The gap is training minus validation accuracy: sort "
                                             "the table by it (comparison.sort_values(...)).")


# ---------------------------------------------------------------- lesson 5: transfer learning


def check_trainable_parameters(answer, model) -> bool:
    """Check how many parameters of ``model`` will train (the size of its trainable weights).

    Example:
        >>> from coursekit.config import import_keras
        >>> keras = import_keras()
        >>> check_trainable_parameters(3843, keras.Sequential([keras.Input((1280,)), keras.layers.Dense(3)]))
        ✅ Correct!
        True
    """
    try:
        expected = int(sum(math.prod(weight.shape) for weight in model.trainable_weights))
        total = model.count_params()
    except (AttributeError, TypeError):
        return _say(False, "Pass the Keras model as the second argument.")
    return check_answer(answer, expected, name="count",
                        hint=f"The model has {total:,} parameters, but a frozen base trains none of "
                             "them: count only the head. A Dense layer with k outputs on N "
                             "features has N * k weights plus k biases (k = 1 for two classes, "
                             "1 bias).")


def check_fine_tuned_layers(answer, model) -> bool:
    """Check which layers of the base nested in ``model`` fine-tuning changes: the names of
    its layers that have trainable weights (a list, any order).

    Example:
        >>> from coursekit.config import import_keras
        >>> keras = import_keras()
        >>> base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="low"),
        ...                          keras.layers.Dense(2, name="top")], name="base")
        >>> base.get_layer("low").trainable = False
        >>> check_fine_tuned_layers(["top"], keras.Sequential([keras.Input((4,)), base]))
        ✅ Correct!
        True
    """
    nested = [layer for layer in getattr(model, "layers", []) if getattr(layer, "layers", None)]
    if not nested:
        return _say(False, "Pass the transfer model (the base is one of its layers) as the second argument.")
    base = max(nested, key=lambda layer: len(layer.layers))
    expected = {layer.name for layer in base.layers if layer.trainable_weights}
    if answer is ... or answer is None:
        return _say(False, "Replace the ... with a list of layer names first.")
    if isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return _say(False, f"Give a list of layer names, e.g. ['name_a', 'name_b'], got {answer!r}.")
    given = set(map(str, answer))
    if given == expected:
        return _say(True, "Correct!")
    return _say(False, f"Not quite: {len(expected - given)} layer(s) that train are missing and "
                       f"{len(given - expected)} of yours do not train. Start at the first layer of "
                       "the top block, keep only layers with weights, and remember which kind of "
                       "layer stays frozen.")


# ---------------------------------------------------------------- lesson 6: what the CNN learned


def check_feature_map_shape(answer: Any, model, layer: str) -> bool:
    """Check the (height, width, channels) of the feature maps ``layer`` of ``model`` outputs."""
    from coursekit import model_layers

    try:
        expected = model_layers.output_shape(model, layer)
    except ValueError as error:
        return _say(False, str(error))
    return check_answer(answer, expected, name="shape",
                        hint="Each 3x3 'valid' convolution removes 2 pixels per side length, "
                             "each 2x2 pooling halves it (rounding down); there is one channel "
                             f"per filter. Work from the {tuple(model.input_shape[1:])} input, "
                             "layer by layer.")


def check_most_active_channel(answer: Any, activation) -> bool:
    """Check the index of the channel with the highest mean activation in a (h, w, c) stack.

    Example:
        >>> import numpy as np
        >>> check_most_active_channel(2, np.arange(12.0).reshape(2, 2, 3))
        ✅ Correct!
        True
    """
    import numpy as np

    stack = np.asarray(activation)
    if stack.ndim != 3:
        return _say(False, f"Pass one layer's feature maps, shape (height, width, channels); "
                           f"got shape {stack.shape}.")
    means = stack.mean(axis=(0, 1))
    expected = int(np.argmax(means))
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) \
            and 0 <= int(answer) < len(means) and np.isclose(means[int(answer)], means[expected]):
        return _say(True, "Correct!")
    return check_answer(answer, expected, name="channel",
                        hint="Average each channel over height and width "
                             "(activation.mean(axis=(0, 1))), then take np.argmax.")


def check_gradcam(heatmap: Any, model, image, layer: str | None = None,
                  class_index: int | None = None) -> bool:
    """Check a Grad-CAM heatmap you computed against ``coursekit.gradcam.heatmap``."""
    import numpy as np

    from coursekit import gradcam

    if heatmap is ... or heatmap is None:
        return _say(False, "Replace the ... with your heatmap first.")
    try:
        mine = np.asarray(heatmap, dtype="float32")
    except (TypeError, ValueError):
        return _say(False, f"Your heatmap should be an array, got {type(heatmap).__name__}.")
    expected = gradcam.heatmap(model, image, layer, class_index)
    if mine.shape != expected.shape:
        return _say(False, f"Your heatmap has shape {mine.shape}, expected {expected.shape}: "
                           "one value per position of the chosen layer's feature map.")
    if np.allclose(mine, expected, atol=1e-3):
        return _say(True, "Correct!")
    hint = ("Check the sign of the score: for one sigmoid unit, class 1 is +logit and class 0 "
            "is -logit. Then: mean of the gradients per channel, weighted sum of the maps, "
            "ReLU, divide by the maximum.")
    if np.nanmax(mine) > 1.0 + 1e-3:
        hint = "Divide the heatmap by its maximum so that it lies in [0, 1]."
    return _say(False, f"Not quite: your heatmap differs from Grad-CAM's. {hint}")
