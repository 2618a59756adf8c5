"""coursekit.checks: a tick or a specific hint, never a traceback."""

from __future__ import annotations

import pytest

from coursekit import checks


def test_check_answer_right_and_wrong(capsys):
    assert checks.check_answer([148, 148, 32], (148, 148, 32)) is True
    assert "✅" in capsys.readouterr().out
    assert checks.check_answer((150, 150, 32), (148, 148, 32), hint="no padding: lose 2 pixels") is False
    out = capsys.readouterr().out
    assert "❌" in out and "no padding" in out and "(150, 150, 32)" in out


@pytest.mark.parametrize("weird", [..., None, object(), "abc", float("nan"), {1: 2}])
def test_checks_never_raise(weird, capsys):
    assert checks.check_answer(weird, 3) is False
    assert checks.check_close(weird, 0.5) is False
    assert checks.check_choice(weird if weird is not ... else ..., {"a"}) in (False,)
    assert capsys.readouterr().out.count("❌") == 3


def test_placeholder_gets_its_own_message(capsys):
    checks.check_answer(..., 3)
    assert "Replace the ..." in capsys.readouterr().out


def test_check_close_tolerance(capsys):
    assert checks.check_close(0.333, 1 / 3, tolerance=0.01)
    assert not checks.check_close(0.3, 1 / 3, tolerance=0.01)


def test_check_choice_ignores_case_and_order_and_validates_options(capsys):
    assert checks.check_choice({"Flip", "zoom"}, {"zoom", "flip"})
    assert not checks.check_choice({"flip", "warp"}, {"flip"}, options={"flip", "zoom"})
    assert "is not one of the options" in capsys.readouterr().out


# ---------------------------------------------------------------- lessons 3-4

def test_lesson_3_checks_read_the_lessons_objects(capsys):
    import pandas as pd

    from coursekit import cnn

    sobel = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert checks.check_flipped_kernel([[1, 0, -1], [2, 0, -2], [1, 0, -1]], sobel)
    assert not checks.check_flipped_kernel(sobel, sobel)
    assert not checks.check_flipped_kernel(..., sobel)
    model = cnn.scratch_cnn((64, 64, 3))
    assert checks.check_layer_params(3 * 3 * 16 * 32 + 32, model, "conv2")
    assert checks.check_layer_params(4 * 64, model, "norm3")  # scale, offset, mean, variance
    assert not checks.check_layer_params(2 * 64, model, "norm3")
    counts = pd.DataFrame([[40, 10, 0], [5, 30, 15], [5, 0, 45]], index=["ant", "bee", "cat"],
                          columns=["ant", "bee", "cat"])
    assert checks.check_precision(30 / 40, counts, "bee")
    assert not checks.check_precision(30 / 50, counts, "bee")  # the recall
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


def test_lesson_4_checks(capsys):
    import pandas as pd

    history = pd.DataFrame({"epoch": [1, 2, 3, 4, 5, 6], "val_loss": [0.69, 0.6, 0.55, 0.52, 0.6, 0.7]})
    assert checks.check_overfitting_epoch(4, history) and checks.check_overfitting_epoch(5, history)
    assert not checks.check_overfitting_epoch(1, history)
    assert not checks.check_overfitting_epoch("four", history)
    assert not checks.check_augmentations({"horizontal flip", "vertical flip"})
    assert not checks.check_augmentations({"shear"})  # not an option: says which options exist
    out = capsys.readouterr().out
    assert "is not one of the options" in out and "upside-down" in out
    assert checks.check_rotation_factor(20 / 360, 20) and checks.check_rotation_factor(0.056, 20)
    assert not checks.check_rotation_factor(20, 20) and not checks.check_rotation_factor(0.05, 20)
    assert not checks.check_overfitting_epoch(5, history, tolerance=0)
    still_learning = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.7, 0.6, 0.5]})
    assert checks.check_overfitting_epoch(3, still_learning, tolerance=0)
    assert "stopped before it overfitted" in capsys.readouterr().out


# ---------------------------------------------------------------- lesson 5

@pytest.mark.parametrize("num_classes, head_parameters", [(2, 1281), (5, 6405)])
def test_trainable_parameters_check_counts_the_head(capsys, num_classes, head_parameters):
    from coursekit import cnn

    model = cnn.keras.Sequential([cnn.keras.Input((1280,)), cnn.output_layer(num_classes)])
    assert checks.check_trainable_parameters(head_parameters, model)
    assert not checks.check_trainable_parameters(1280, model)
    assert "biases" in capsys.readouterr().out
    model.trainable = False
    assert checks.check_trainable_parameters(0, model)
    assert not checks.check_trainable_parameters(5, "not a model")


def test_fine_tuned_layers_check_reads_the_nested_base(capsys):
    from coursekit import cnn, pretrained

    keras = cnn.keras
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="low"),
                             keras.layers.BatchNormalization(name="top_bn"),
                             keras.layers.Dense(2, name="top")], name="base")
    augmentation = keras.Sequential([keras.layers.Identity(), keras.layers.Identity()], name="augmentation")
    model = keras.Sequential([keras.Input((4,)), augmentation, base, cnn.output_layer(2)])
    pretrained.unfreeze_from(base, "top_bn")
    assert checks.check_fine_tuned_layers(("top",), model)
    assert not checks.check_fine_tuned_layers(["top", "top_bn"], model)  # BatchNorm stays frozen
    assert "1 of yours do not train" in capsys.readouterr().out
    assert not checks.check_fine_tuned_layers("top", model)  # a list is asked for
    assert not checks.check_fine_tuned_layers(["top"], "not a model")
