"""coursekit.checks: every check accepts the right answer, computed here from the data, and
rejects the plausible wrong ones a student writes (issue 16); it prints a hint, never a traceback."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from coursekit import checks


def verdicts(check, answers, *args, **kwargs) -> list[bool]:
    """The check's verdict for each answer (each call prints one tick or cross)."""
    return [check(answer, *args, **kwargs) for answer in answers]


# ---------------------------------------------------------------- the generic checks

def test_check_answer_compares_items_and_keeps_booleans_apart_from_numbers(capsys):
    assert checks.check_answer(np.array([148, 148, 32]), (148, 148, 32))  # an array is fine (issue 16)
    assert checks.check_answer([np.int64(148), 148, 32], (148, 148, 32))
    assert checks.check_answer(np.int64(896), 896) and checks.check_answer(896.0, 896)
    assert verdicts(checks.check_answer, [True, np.bool_(True)], 1) == [False, False]
    assert verdicts(checks.check_answer, [1, 0], True) == [False, False]
    assert verdicts(checks.check_answer, [(150, 150, 32), np.array([148, 148]), "148", (148, 148, 32, 1)],
                    (148, 148, 32), hint="no padding: lose 2 pixels") == [False] * 4
    out = capsys.readouterr().out
    assert "(150, 150, 32)" in out and "no padding" in out and "Traceback" not in out


def test_check_close_wants_a_number(capsys):
    assert checks.check_close(0.333, 1 / 3) and checks.check_close(np.float32(1 / 3), 1 / 3)
    assert checks.check_close(np.array(1 / 3), 1 / 3)
    assert verdicts(checks.check_close, [0.3, "0.333", True, np.array([1 / 3, 1 / 3]), float("nan")], 1 / 3) == [False] * 5
    assert checks.check_close(1, 1.0) and not checks.check_close(True, 1.0)
    assert "should be a number" in capsys.readouterr().out


WEIRD = {"placeholder": ..., "none": None, "object": object(), "text": "abc", "nan": float("nan"), "dict": {1: 2},
         "ragged": [[1, 2], [3]], "matrix": np.array([[1, 2]]), "boolean": True}


@pytest.mark.parametrize("weird", WEIRD.values(), ids=WEIRD.keys())  # ids without memory addresses (xdist)
def test_generic_checks_never_raise(weird, capsys):
    assert checks.check_answer(weird, 3) is False
    assert checks.check_close(weird, 0.5) is False
    assert checks.check_choice(weird, {"a"}) is False
    assert checks.check_noise_yardstick(weird, 0.8, 0.8, 1000) is False
    assert capsys.readouterr().out.count("❌") == 4


def test_placeholder_gets_its_own_message(capsys):
    for check in (lambda: checks.check_answer(..., 3), lambda: checks.check_close(..., 3.0),
                  lambda: checks.check_choice(..., {"a"})):
        assert check() is False
        assert "Replace the ..." in capsys.readouterr().out


def test_check_choice_ignores_case_and_order_and_validates_options(capsys):
    assert checks.check_choice({"Flip", "zoom"}, {"zoom", "flip"})
    assert not checks.check_choice({"flip"}, {"zoom", "flip"})
    assert not checks.check_choice({"flip", "warp"}, {"flip"}, options={"flip", "zoom"})
    assert "is not one of the options" in capsys.readouterr().out


def test_noise_yardstick_is_two_standard_errors_of_the_difference(capsys):
    baseline, best, count = 0.81, 0.84, 1000
    errors = [np.sqrt(p * (1 - p) / count) for p in (baseline, best)]
    right = 2 * np.sqrt(errors[0] ** 2 + errors[1] ** 2)                      # about 0.034
    assert checks.check_noise_yardstick(right, baseline, best, count)
    assert verdicts(checks.check_noise_yardstick, [
        right / 2,                                       # one standard error
        2 * errors[0],                                   # one accuracy's noise only
        2 * (errors[0] + errors[1]),                     # errors added, not squared
        right * count,                                   # in photos, not a fraction
    ], baseline, best, count) == [False] * 4


# ---------------------------------------------------------------- lesson 0

def test_wide_images_check_counts_from_the_photos(quick_root, capsys):
    import cv2

    shapes = [cv2.imread(str(path)).shape for path in sorted((quick_root / "train").rglob("*.jpg"))]
    right = sum(width > height for height, width, _ in shapes)
    assert 0 < right < len(shapes)
    assert checks.check_wide_images(right, quick_root)
    wrong = [len(shapes), sum(height > width for height, width, _ in shapes),     # every photo; the tall ones
             right + 1, sum(width >= height for height, width, _ in shapes) + 0.5, str(right)]
    assert verdicts(checks.check_wide_images, wrong, quick_root) == [False] * len(wrong)


# ---------------------------------------------------------------- lesson 1

def test_header_lies_check_compares_the_files_not_only_their_number(bad_corpus, capsys):
    root = bad_corpus[0]
    right = checks.header_lies(root)
    assert checks.check_header_lies(len(right), root) and checks.check_header_lies(right, root)
    assert checks.check_header_lies({str(root / path) for path in right}, root)  # absolute paths
    others = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.jpg"))[:len(right)]
    assert len(others) == len(right) and set(others) != set(right)
    wrong = [others, right[:-1], len(right) - 1, len(right) + 1, True, str(len(right))]
    assert verdicts(checks.check_header_lies, wrong, root) == [False] * len(wrong)  # right length, wrong files


def test_broken_codes_check():
    from coursekit.scan import BROKEN, FIXABLE

    assert checks.check_broken_codes(set(BROKEN))
    wrong = [set(BROKEN) - {"huge"}, set(BROKEN) | {next(iter(FIXABLE))}, sorted(BROKEN)[0], {"crash"}]
    assert verdicts(checks.check_broken_codes, wrong) == [False] * len(wrong)


def test_leak_fraction_check_over_one_and_two_epochs():
    paths, n_train = [f"file{i}.jpg" for i in range(250)], 200
    share = n_train / len(paths)
    assert checks.check_leak_fraction(share, n_train, paths)
    assert checks.check_leak_fraction(1 - (1 - share) ** 2, n_train, paths, epochs=2)
    wrong = [share, share ** 2, 2 * share, n_train]  # one epoch; both draws; a sum; a count
    assert verdicts(checks.check_leak_fraction, wrong, n_train, paths, epochs=2) == [False] * 4
    assert not checks.check_leak_fraction(1 - share, n_train, paths)


@pytest.fixture
def labels():
    """A labels table as lesson 1 writes it: class tags spelled two ways, and a shape tag."""
    originals = pd.DataFrame({"label": ["cats", "dogs", "cats", "dogs", "cats", "dogs", "cats", "dogs"]})
    spelled = [label if index % 4 < 2 else label.upper() for index, label in enumerate(originals.label)]
    shapes = ["square", "landscape", "portrait", "square"] * 2
    table = pd.DataFrame({"image_id": range(8), "tags": [f"{a};{s}" for a, s in zip(spelled, shapes)]})
    return table, originals


def test_synonyms_check_reads_what_the_map_means(labels, capsys):
    table, originals = labels
    spellings = table.tags.str.split(";").str[0]
    assert set(spellings) == {"cats", "CATS", "dogs", "DOGS"}
    right = {tag: label for tag, label in zip(spellings, originals.label) if tag != label}  # from the data
    assert right == {"CATS": "cats", "DOGS": "dogs"}
    assert checks.check_synonyms(right, table, originals)
    assert checks.check_synonyms({"cats": "CATS", "dogs": "DOGS"}, table, originals)  # the other spelling
    wrong = [
        {"CATS": "dogs", "DOGS": "cats"},                         # swapped: balanced counts stay equal
        {"CATS": "cats"},                                         # one class left with two tags
        {"CATS": "animal", "DOGS": "animal", "cats": "animal", "dogs": "animal"},  # one tag for both
        {"CATS": "cats", "DOGS": "dogs", "square": "cats"},       # a shape tag merged into a class
        {"CATS": "cats", "DOGS": "dogs", "cats": "landscape"},    # a class merged into a shape
        {}, ..., [("CATS", "cats")],
    ]
    assert verdicts(checks.check_synonyms, wrong, table, originals) == [False] * len(wrong)
    assert "still have several tags" in capsys.readouterr().out


# ---------------------------------------------------------------- lesson 2

def test_lesson_2_checks_compute_their_answers(capsys):
    counts = pd.DataFrame({"train": [700, 300], "validation": [140, 60]}, index=["a", "b"])
    assert checks.check_baseline(140 / 200, counts)
    assert verdicts(checks.check_baseline, [60 / 200, 140, 0.5, 700 / 1000 + 0.05], counts) == [False] * 4
    stats = pd.DataFrame({"mean": [124.3, 115.9, 106.2], "std": [66.5, 64.8, 65.9]},
                         index=["red", "green", "blue"])
    white = (1 - 106.2 / 255) / (65.9 / 255)   # on the 0-1 scale: the same number
    assert checks.check_normalized_white(white, stats)
    assert checks.check_normalized_white(white, stats.rename(index={"blue": "b"}), channel="b")
    wrong = [(255 - 106.2), 1 - 106.2 / 255, (1 - 106.2) / 65.9, (1 - 0.406) / 0.225,  # no std; no std;
             (255 - 124.3) / 66.5, (255 - 106.2) / 65.9 ** 2]                        # mixed scales; ImageNet; red; variance
    assert verdicts(checks.check_normalized_white, wrong, stats) == [False] * len(wrong)


def test_lesson_2_pca_and_brightness_checks(capsys):
    from coursekit.eda import PCAResult

    ratio = np.array([0.3, 0.15, 0.1, 0.08, 0.05])
    pca = PCAResult(**{field.name: None for field in dataclasses.fields(PCAResult)} | {"explained_variance_ratio": ratio})
    assert checks.check_components_for_half(3, pca)   # 0.3, 0.45, 0.55
    assert verdicts(checks.check_components_for_half, [2, 4, np.int64(2), 3.5], pca) == [False] * 4
    assert checks.check_first_share(0.3, pca) and not checks.check_first_share(np.sqrt(0.3), pca)
    histograms = pd.DataFrame({"dark": [5, 3, 1, 0], "bright": [0, 1, 3, 5]}, index=[0, 85, 170, 255])
    assert checks.check_brighter_class("bright", histograms)
    assert verdicts(checks.check_brighter_class, ["dark", "light"], histograms) == [False, False]


# ---------------------------------------------------------------- lessons 3-5

EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def test_flipped_kernel_check_tells_a_turn_from_a_mirror_and_a_sign(capsys):
    from scipy import signal

    image = np.random.default_rng(0).uniform(size=(12, 15))
    convolved = signal.convolve2d(image, EMBOSS, mode="same", boundary="symm")
    right = np.flip(EMBOSS)
    assert np.allclose(signal.correlate2d(image, right, mode="same", boundary="symm"), convolved)
    assert checks.check_flipped_kernel(right, EMBOSS) and checks.check_flipped_kernel(right.tolist(), EMBOSS)
    wrong = {"-kernel": -EMBOSS, "upside down": np.flipud(EMBOSS), "left-right": np.fliplr(EMBOSS),
             "transposed": EMBOSS.T, "unchanged": EMBOSS, "flat": right.ravel()}
    for name, answer in wrong.items():
        assert not np.allclose(signal.correlate2d(image, answer.reshape(EMBOSS.shape), mode="same",
                                                  boundary="symm"), convolved) or name == "flat", name
        assert not checks.check_flipped_kernel(answer, EMBOSS), name
    out = capsys.readouterr().out
    assert "one axis" in out and "not a turn" in out
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    assert np.array_equal(np.flip(sobel_x), -sobel_x), "why the exercise uses a kernel without symmetry"
    assert not checks.check_flipped_kernel(..., EMBOSS)


def test_layer_params_and_feature_map_shape_checks():
    from coursekit.config import import_keras

    keras = import_keras()
    conv = keras.Sequential([keras.Input((150, 150, 3)), keras.layers.Conv2D(32, 3, name="conv1")])
    assert checks.check_layer_params((3 * 3 * 3 + 1) * 32, conv, "conv1")
    assert checks.check_layer_params(np.int64(896), conv, "conv1")
    wrong = [3 * 3 * 3 * 32, (3 * 3 + 1) * 32, 897, True, "896"]   # no bias; one input channel; off by one
    assert verdicts(checks.check_layer_params, wrong, conv, "conv1") == [False] * len(wrong)
    assert checks.check_feature_map_shape(np.array([148, 148, 32]), conv, "conv1")
    wrong = [(150, 150, 32), (148, 148), (32, 148, 148), (147, 147, 32), "(148, 148, 32)"]
    assert verdicts(checks.check_feature_map_shape, wrong, conv, "conv1") == [False] * len(wrong)


def test_layer_params_check_counts_batchnorm(capsys):
    from coursekit import cnn

    model = cnn.scratch_cnn((64, 64, 3))
    assert checks.check_layer_params(3 * 3 * 16 * 32 + 32, model, "conv2")
    assert checks.check_layer_params(4 * 64, model, "norm3")  # scale, offset, mean, variance
    assert not checks.check_layer_params(2 * 64, model, "norm3")  # only the trainable ones


def test_precision_check_reads_the_column(capsys):
    counts = pd.DataFrame([[40, 10, 0], [5, 30, 15], [5, 0, 45]], index=["ant", "bee", "cat"],
                          columns=["ant", "bee", "cat"])
    assert checks.check_precision(30 / 40, counts, "bee")
    wrong = [30 / 50, 30, 75.0, 30 / 150]   # the recall; a count; a percentage; of all images
    assert verdicts(checks.check_precision, wrong, counts, "bee") == [False] * 4
    assert "CALLED" in capsys.readouterr().out.splitlines()[-1]
    never = counts.assign(cat=0)  # nothing called 'cat': 0 / 0, shown as 0 in the report
    assert checks.check_precision(float("nan"), never, "cat") and checks.check_precision(0, never, "cat")
    assert not checks.check_precision(float("nan"), counts, "cat")


def test_thumbnail_check_names_the_opencv_pitfall(quick_root, capsys):
    import cv2

    path = sorted((quick_root / "train" / "cats").glob("*.jpg"))[0]
    bgr = cv2.imread(str(path))
    right = cv2.cvtColor(cv2.resize(bgr, (96, 64), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
    assert checks.check_thumbnail(right, path, (64, 96))
    assert not checks.check_thumbnail(right[..., ::-1], path, (64, 96))
    assert "BGR" in capsys.readouterr().out
    assert not checks.check_thumbnail(cv2.resize(bgr, (64, 96))[..., ::-1], path, (64, 96))
    assert "in which order does cv2.resize take it" in capsys.readouterr().out
    nearest = cv2.resize(bgr, (96, 64), interpolation=cv2.INTER_NEAREST)[..., ::-1]
    assert not checks.check_thumbnail(nearest, path, (64, 96))
    assert not checks.check_thumbnail(..., path, (64, 96))
    assert "Replace the ..." in capsys.readouterr().out


def test_overfitting_epoch_check_counts_from_one(capsys):
    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5, 6], "val_loss": [0.69, 0.6, 0.55, 0.52, 0.6, 0.7],
                            "val_accuracy": [0.5, 0.6, 0.7, 0.72, 0.74, 0.73]})
    right = int(history["epoch"][history["val_loss"].idxmin()])
    assert right == 4 and checks.check_overfitting_epoch(right, history)
    assert checks.check_overfitting_epoch(np.int64(4), history) and checks.check_overfitting_epoch(4.0, history)
    wrong = [int(np.argmin(history["val_loss"])),         # 0-based position: 3
             int(history["val_accuracy"].idxmax()) + 1,   # the best accuracy's epoch: 5
             6, "4", True, 4.5]
    assert verdicts(checks.check_overfitting_epoch, wrong, history) == [False] * len(wrong)
    assert "count from 1" in capsys.readouterr().out
    assert checks.check_overfitting_epoch(5, history, tolerance=1)  # an explicit tolerance still works
    still_learning = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.7, 0.6, 0.5]})
    assert checks.check_overfitting_epoch(3, still_learning)
    assert "stopped before it overfitted" in capsys.readouterr().out


def test_widest_gap_epoch_check(capsys):
    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5], "loss": [0.69, 0.5, 0.35, 0.25, 0.2],
                            "val_loss": [0.68, 0.55, 0.52, 0.56, 0.58]})
    gaps = history["val_loss"] - history["loss"]
    right = int(history["epoch"][gaps.idxmax()])
    assert right == 5 and checks.check_widest_gap_epoch(right, history)
    wrong = [int(np.argmax(gaps)),                                   # the 0-based position
             int(history["epoch"][history["val_loss"].idxmin()]),    # lowest validation loss
             int(history["epoch"][(history["loss"] - history["val_loss"]).idxmax()]),  # the gap turned around
             True, "5"]
    assert verdicts(checks.check_widest_gap_epoch, wrong, history) == [False] * len(wrong)
    assert "count from 1" in capsys.readouterr().out


def test_lesson_5_checks(capsys):
    right = {"horizontal flip", "rotation up to 36 degrees", "zoom up to 20%", "shift up to 10%",
             "small contrast change"}
    assert checks.check_augmentations(right)
    wrong = [right | {"vertical flip"}, right - {"horizontal flip"}, right | {"shear"}, "horizontal flip"]
    assert verdicts(checks.check_augmentations, wrong) == [False] * 4
    out = capsys.readouterr().out
    assert "is not one of the options" in out and "upside-down" in out
    assert checks.check_rotation_factor(20 / 360, 20) and checks.check_rotation_factor(0.056, 20)
    assert verdicts(checks.check_rotation_factor, [20, 20 / 180, 0.2, 0.05], 20) == [False] * 4


def test_least_overfitting_check_computes_the_gaps_itself(capsys):
    comparison = pd.DataFrame({"train_accuracy": [0.99, 0.90, 0.86, 0.95], "val_accuracy": [0.80, 0.83, 0.78, 0.84]},
                              index=["baseline", "+augmentation", "+dropout", "+L2"])
    gaps = comparison["train_accuracy"] - comparison["val_accuracy"]
    assert checks.check_least_overfitting(gaps.idxmin(), comparison)   # +augmentation, gap 0.07
    wrong = [comparison["val_accuracy"].idxmax(), comparison["train_accuracy"].idxmin(), gaps.idxmax(), "dropout"]
    assert verdicts(checks.check_least_overfitting, wrong, comparison) == [False] * 4
    stale = comparison.assign(gap=[0.0, 0.5, 0.5, 0.5])  # a gap column that says otherwise is not read
    assert checks.check_least_overfitting("+augmentation", stale) and not checks.check_least_overfitting("baseline", stale)


# ---------------------------------------------------------------- lesson 6

def transfer_model(keras, unfreeze: str | None = None, keep_batchnorm_frozen: bool = True):
    """A small transfer model as lesson 6 builds it: augmentation, a functional base of blocks
    (conv, BatchNorm, ReLU), pooling, a head; the base frozen or unfrozen from ``unfreeze``."""
    from coursekit import cnn, pretrained

    inputs = keras.Input((16, 16, 3))
    x = inputs
    for block in (1, 2, 3):
        x = keras.layers.Conv2D(4 * block, 3, padding="same", name=f"block_{block}_conv")(x)
        x = keras.layers.BatchNormalization(name=f"block_{block}_bn")(x)
        x = keras.layers.ReLU(name=f"block_{block}_relu")(x)
    base = keras.Model(inputs, x, name="base")
    base.trainable = False
    augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")
    model = keras.Sequential([keras.Input((16, 16, 3)), augmentation, base,
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2), cnn.output_layer(2)])
    if unfreeze:
        pretrained.unfreeze_from(base, unfreeze, keep_batchnorm_frozen=keep_batchnorm_frozen)
    return model, base


def test_trainable_parameters_check_counts_the_head_from_the_layers(capsys):
    from coursekit.config import import_keras

    keras = import_keras()
    model, base = transfer_model(keras)
    right = 12 * 1 + 1   # 12 features -> one sigmoid unit, plus its bias
    assert checks.check_trainable_parameters(right, model)
    base.trainable = True  # a student who forgot to freeze: the check still asks for the frozen count
    mine = int(sum(np.prod(weight.shape) for weight in model.trainable_weights))
    wrong = [mine, model.count_params(), 12, right + 1, True]   # all, all, no bias, off by one
    assert verdicts(checks.check_trainable_parameters, wrong, model) == [False] * len(wrong)
    assert "biases" in capsys.readouterr().out
    assert not checks.check_trainable_parameters(right, "not a model")
    assert "Pass the transfer model" in capsys.readouterr().out


def test_fine_tuned_layers_check_comes_from_the_recipe_not_the_students_model(capsys):
    from coursekit import recipes
    from coursekit.config import import_keras

    keras = import_keras()
    model, base = transfer_model(keras, unfreeze="block_2_conv", keep_batchnorm_frozen=False)  # BatchNorm wrongly unfrozen
    from_the_model = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    assert "block_2_bn" in from_the_model
    right = [layer.name for layer in base.layers[base.layers.index(base.get_layer("block_2_conv")):]
             if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)]
    assert right == ["block_2_conv", "block_3_conv"]
    assert checks.check_fine_tuned_layers(right, model, "block_2_conv")
    assert checks.check_fine_tuned_layers(tuple(reversed(right)), model, "block_2_conv")
    recipe = dataclasses.replace(recipes.TRANSFER_FINE_TUNED, fine_tune_from="block_2_conv")
    assert checks.check_fine_tuned_layers(right, model, recipe)
    wrong = [from_the_model,                                              # the unfrozen BatchNorm counted
             ["block_1_conv", "block_2_conv", "block_3_conv"],            # one block too early
             [layer.name for layer in base.layers[4:]],                   # every layer from there on
             ["block_3_conv"], "block_2_conv", ...]
    assert verdicts(checks.check_fine_tuned_layers, wrong, model, "block_2_conv") == [False] * len(wrong)
    out = capsys.readouterr().out
    assert "['block_2_bn', 'block_3_bn'] are BatchNorm layers" in out
    assert [layer.trainable for layer in base.layers] == [False] * 4 + [True] * 6, "the check changes nothing"
    assert not checks.check_fine_tuned_layers(right, model, "no_such_layer")
    assert not checks.check_fine_tuned_layers(right, "not a model", "block_2_conv")


# ---------------------------------------------------------------- lesson 7

def test_most_active_channel_check(capsys):
    stack = np.zeros((4, 4, 5))
    stack[..., 3] = 2.0
    stack[0, 0, 1] = 20.0   # one bright pixel: the highest value, not the highest mean
    right = int(np.argmax(stack.mean(axis=(0, 1))))
    assert right == 3 and checks.check_most_active_channel(right, stack)
    assert checks.check_most_active_channel(np.int64(3), stack)
    wrong = [int(np.argmax(stack.max(axis=(0, 1)))), int(np.argmax(stack)), 4, "3", True]
    assert verdicts(checks.check_most_active_channel, wrong, stack) == [False] * len(wrong)


def test_gradcam_check_rejects_the_other_class_and_an_unscaled_map(tiny_sequential, tiny_images, capsys):
    from coursekit import gradcam

    right = gradcam.heatmap(tiny_sequential, tiny_images[0], class_index=1)
    assert checks.check_gradcam(right, tiny_sequential, tiny_images[0], None, 1)
    other = gradcam.heatmap(tiny_sequential, tiny_images[0], class_index=0)
    wrong = [other, right * 2, right[:2], "heat", ...]
    assert not np.allclose(other, right)
    assert verdicts(checks.check_gradcam, wrong, tiny_sequential, tiny_images[0], None, 1) == [False] * 5
    assert not checks.check_gradcam(right, tiny_sequential, tiny_images[0], "no_such_layer", 1)
