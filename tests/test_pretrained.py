"""coursekit.pretrained, lesson 6: real ImageNet bases, weight-file errors, the classifier branches,
cached features, the head and transfer model for any class count, and fine-tuning flags.

The tests that need ImageNet weights copy them from the course mirror (../shared/weights or
COURSEKIT_MIRROR, else Keras' cache) into a temporary Keras cache; they skip only when neither holds them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from coursekit import config, downloads, pretrained
from tests.conftest import mirror_folders, skip_or_fail

keras = config.import_keras()

NO_TOP = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
WITH_TOP = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5"
CLASS_INDEX = "imagenet_class_index.json"


def _mirror_file(name: str) -> Path | None:
    """The file in a course mirror, else in Keras' cache (filled by prefetch), else None."""
    for folder in mirror_folders():
        for candidate in (Path(folder) / name, Path(folder) / "models" / name):
            if candidate.is_file():
                return candidate
    cached = downloads.keras_file(name).path
    return cached if cached.is_file() else None


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    """A Keras cache holding the mirror's no-top MobileNetV2(0.35) weights (skip without them)."""
    source = _mirror_file(NO_TOP)
    if source is None:
        skip_or_fail(f"neither a course mirror nor Keras' cache holds {NO_TOP}")
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    shutil.copy(source, home / "models" / NO_TOP)
    return home


@pytest.fixture(scope="module")
def real_base(weights_home):
    """The frozen MobileNetV2(alpha=0.35) base with the mirror's ImageNet weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(weights_home))
        base, preprocess_input = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35,
                                                        download=False)
    base.trainable = False
    return base, preprocess_input


# ---------------------------------------------------------------- weight files and errors

def test_weight_files_come_from_the_one_registry(isolated):
    no_top = pretrained.weights_file("mobilenet_v2", 0.35)
    assert no_top is downloads.keras_file(NO_TOP)  # the registry entry itself, with its sha256
    assert no_top.path == isolated / "keras" / "models" / NO_TOP
    assert pretrained.weights_file("mobilenet_v2", include_top=True).name == WITH_TOP
    vgg = pretrained.weights_file("vgg16")  # not in the registry: Keras' own URL, no checksum
    assert vgg.name == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" and vgg.sha256 is None
    assert vgg.url == "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + vgg.name
    assert pretrained.weights_file("mobilenet_v2", 1.0).name.endswith("_1.0_224_no_top.h5")


@pytest.mark.parametrize("arguments, message", [
    (dict(name="resnet"), "unknown base"),
    (dict(alpha=0.3), "alpha"),
    (dict(input_shape=(224, 224, 1)), "(height, width, 3)"),
    (dict(weights="imagenet21k"), "weights must be"),
    (dict(name="vgg16", alpha=0.35), "no width multiplier"),
])
def test_pretrained_base_rejects_bad_arguments(isolated, arguments, message):
    with pytest.raises(ValueError, match=None) as error:
        pretrained.pretrained_base(**{"download": False, **arguments})
    assert message in str(error.value)


def test_missing_weights_raise_an_error_naming_the_file_and_folder(isolated):
    with pytest.raises(pretrained.WeightsUnavailable) as error:
        pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35, download=False)
    message = str(error.value)
    assert NO_TOP in message
    assert str(isolated / "keras" / "models") in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + NO_TOP in message
    assert "RANDOM" in message  # the weights=None way out is named, and labelled as not pretrained


def test_weights_none_is_loudly_labelled_random(isolated):
    with pytest.warns(UserWarning, match="RANDOM weights, NOT pretrained"):
        base, _ = pretrained.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35, weights=None)
    assert base.output_shape == (None, 7, 7, 1280)


# ---------------------------------------------------------------- the base really is ImageNet

def test_base_holds_exactly_the_arrays_of_the_imagenet_file(weights_home, real_base):
    import h5py

    base, _ = real_base
    path = weights_home / "models" / NO_TOP
    expected_sha = next(file.sha256 for file in downloads.KERAS_FILES if file.name == NO_TOP)
    assert downloads.sha256_file(path) == expected_sha
    compared = 0
    with h5py.File(path, "r") as stored:
        for layer in base.layers:
            if not layer.weights:
                continue
            group = stored[layer.name]
            arrays = [np.asarray(group[name]) for name in group.attrs["weight_names"]]
            assert len(arrays) == len(layer.get_weights()), layer.name
            for loaded, saved in zip(layer.get_weights(), arrays):
                np.testing.assert_array_equal(loaded, saved, err_msg=layer.name)
                compared += 1
    assert compared == 260  # every array of the file, as the mirror's manifest counts them


def test_smaller_inputs_load_the_same_224_pixel_arrays(weights_home, real_base):
    """Quick mode's small images: the one 224-pixel file serves a base of another input size."""
    base, _ = real_base
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(weights_home))
        small, _ = pretrained.pretrained_base("mobilenet_v2", (96, 128, 3), download=False)
    assert small.output_shape == (None, 3, 4, 1280)
    assert len(small.weights) == len(base.weights) == 260
    for mine, reference in zip(small.weights, base.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(reference))


def test_frozen_imagenet_base_and_small_head_classify_real_validation_images(real_base, quick_root):
    """>= 0.85 on the 100 held-out quick-mode validation images; random weights stay near chance
    (that base reads 96x96 images, five times less work: its features say nothing at any size)."""
    base, preprocess_input = real_base

    def head_accuracy(extractor) -> float:
        train_x, train_y = pretrained.extract_features(extractor, preprocess_input,
                                                       quick_root / "train", cache=False)
        val_x, val_y = pretrained.extract_features(extractor, preprocess_input,
                                                   quick_root / "validation", cache=False)
        assert len(train_x) == 200 and len(val_x) == 100
        keras.utils.set_random_seed(0)
        head = pretrained.feature_head(train_x.shape[1])
        head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                     metrics=["accuracy"])
        head.fit(train_x, train_y, epochs=30, batch_size=32, verbose=0)
        return float(head.evaluate(val_x, val_y, verbose=0)[1])

    assert head_accuracy(base) >= 0.85
    keras.utils.set_random_seed(0)
    with pytest.warns(UserWarning, match="RANDOM"):
        random_base, _ = pretrained.pretrained_base("mobilenet_v2", (96, 96, 3), alpha=0.35,
                                                    weights=None)
    assert head_accuracy(random_base) <= 0.70


# ---------------------------------------------------------------- top-5: both branches

def test_top5_without_classifier_weights_says_so_in_one_line(isolated, capsys):
    assert pretrained.imagenet_classifier("mobilenet_v2", 0.35, download=False) is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Top-5 predictions skipped") and WITH_TOP in lines[0]


def test_top5_with_a_classifier_file_in_the_cache_uses_it(weights_home, real_base, tmp_path,
                                                          monkeypatch):
    """The 'weights present' branch, on a file built here (the mirror has no classifier file):
    the real base arrays plus an untrained 1000-class layer, loaded back arrays and all."""
    base, _ = real_base
    home = tmp_path / "keras"
    (home / "models").mkdir(parents=True)
    keras.utils.set_random_seed(0)
    made = keras.applications.MobileNetV2(alpha=0.35, include_top=True, weights=None,
                                          input_shape=(224, 224, 3))
    for layer in base.layers:
        if layer.weights:
            made.get_layer(layer.name).set_weights(layer.get_weights())
    made.save(home / "models" / WITH_TOP)  # legacy .h5, the format of Keras' weight files
    monkeypatch.setenv("KERAS_HOME", str(home))

    classifier = pretrained.imagenet_classifier("mobilenet_v2", 0.35, download=False)
    assert classifier is not None and classifier.output_shape == (None, 1000)
    np.testing.assert_array_equal(classifier.get_layer("Conv1").get_weights()[0],
                                  base.get_layer("Conv1").get_weights()[0])
    np.testing.assert_array_equal(classifier.layers[-1].get_weights()[0],
                                  made.layers[-1].get_weights()[0])


# ---------------------------------------------------------------- cached features

def _tiny_folder(source: Path, target: Path, per_class: int) -> Path:
    for class_name in ("cats", "dogs"):
        (target / class_name).mkdir(parents=True, exist_ok=True)
        for path in sorted((source / class_name).iterdir())[:per_class]:
            shutil.copy(path, target / class_name / path.name)
    return target


def test_extract_features_matches_the_base_and_reuses_its_cache(real_base, quick_root, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    base, preprocess_input = real_base
    folder = _tiny_folder(quick_root / "validation", tmp_path / "tiny" / "validation", 3)
    features, labels = pretrained.extract_features(base, preprocess_input, folder)
    assert features.shape == (6, 1280) and labels.tolist() == [0, 0, 0, 1, 1, 1]

    import tensorflow as tf  # decode and resize the way image_dataset_from_directory does

    images = np.stack([tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3),
                                       (224, 224)).numpy()
                       for path in sorted(folder.glob("*/*.jpg"))])
    direct = base.predict(preprocess_input(images.copy()), verbose=0).mean(axis=(1, 2))
    np.testing.assert_allclose(features, direct, rtol=1e-4, atol=1e-4)

    cache = pretrained.feature_cache_path(base, folder)
    assert cache.is_file() and cache.is_relative_to(tmp_path / "data")
    stamp = cache.stat().st_mtime_ns
    again, _ = pretrained.extract_features(base, preprocess_input, folder)
    assert cache.stat().st_mtime_ns == stamp  # reused, not recomputed
    np.testing.assert_array_equal(again, features)

    _tiny_folder(quick_root / "validation", folder, 4)  # one more image per class
    grown, grown_labels = pretrained.extract_features(base, preprocess_input, folder)
    assert grown.shape == (8, 1280) and grown_labels.tolist() == [0] * 4 + [1] * 4


def test_feature_cache_path_depends_on_the_weights(real_base, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    base, _ = real_base
    other = keras.models.clone_model(base)  # same architecture, fresh random weights
    path = pretrained.feature_cache_path(base, "/d/x/train")
    assert path != pretrained.feature_cache_path(other, "/d/x/train")
    assert path == pretrained.feature_cache_path(base, "/d/x/train")
    assert path.parts[-2:] == ("x", "train.npz")


# ---------------------------------------------------------------- transfer model, fine-tuning

def test_transfer_model_nests_the_base_and_keeps_batchnorm_in_inference_mode(real_base, tmp_path):
    base, preprocess_input = real_base
    model = pretrained.transfer_model(base, preprocess_input, dropout=0.0)
    assert model.get_layer(base.name) is base  # the base is one layer of the outer model
    assert model.get_layer(base.name).get_layer("out_relu").output.shape == (None, 7, 7, 1280)
    assert pretrained.parameter_counts(model)["trainable"] == 1280 + 1  # only the head trains
    images = np.random.default_rng(1).uniform(0, 255, (4, 224, 224, 3)).astype("float32")

    def training_equals_inference() -> bool:
        inference = keras.ops.convert_to_numpy(model(images, training=False))
        training = keras.ops.convert_to_numpy(model(images, training=True))  # what fit does
        return np.allclose(training, inference, rtol=1e-5, atol=1e-6)

    try:
        unfrozen = pretrained.unfreeze_from(base, pretrained.BASES["mobilenet_v2"].top_block)
        assert unfrozen[:2] == ["block_16_expand", "block_16_depthwise"] and "Conv_1" in unfrozen
        assert not base.get_layer("block_15_project").trainable
        assert not base.get_layer("block_16_expand_BN").trainable
        assert pretrained.parameter_counts(model)["trainable"] > 1281
        assert training_equals_inference()  # BatchNorm stays in inference mode during fit

        # Keras 3 pitfall: a trainable BatchNorm uses batch statistics under fit, although the
        # base was called with training=False when the model was built.
        base.get_layer("Conv_1_bn").trainable = True
        assert not training_equals_inference()
    finally:
        base.trainable = False

    model.save(tmp_path / "transfer.keras")  # train_or_load caches models this way
    reloaded = keras.models.load_model(tmp_path / "transfer.keras")
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), model.predict(images, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_head_trained_on_features_slots_onto_the_transfer_model(real_base):
    base, preprocess_input = real_base
    head = pretrained.feature_head(1280)
    model = pretrained.transfer_model(base, preprocess_input)
    pretrained.copy_head(head, model)
    np.testing.assert_array_equal(model.get_layer("output").get_weights()[0],
                                  head.get_layer("output").get_weights()[0])
    with pytest.raises(ValueError, match="not compatible"):
        pretrained.copy_head(pretrained.feature_head(16), model)


@pytest.mark.parametrize("num_classes", [3, 5])
def test_head_and_transfer_model_follow_the_class_count(real_base, num_classes):
    base, preprocess_input = real_base
    head = pretrained.feature_head(1280, num_classes=num_classes)
    model = pretrained.transfer_model(base, preprocess_input, num_classes=num_classes)
    assert head.output_shape == model.output_shape == (None, num_classes)
    assert pretrained.parameter_counts(model)["trainable"] == (1280 + 1) * num_classes
    pretrained.copy_head(head, model)
    with pytest.raises(ValueError, match="not compatible"):
        pretrained.copy_head(pretrained.feature_head(1280), model)  # a two-class head


def test_unfreeze_from_and_parameter_counts():
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
                              keras.layers.BatchNormalization(name="b"),
                              keras.layers.Dense(1, name="c")])
    assert pretrained.unfreeze_from(small, "b") == ["c"]  # BatchNorm stays frozen by default
    assert pretrained.unfreeze_from(small, "b", keep_batchnorm_frozen=False) == ["b", "c"]
    assert pretrained.parameter_counts(small) == {"total": 31, "trainable": 10, "frozen": 21}
    with pytest.raises(ValueError, match=r"Existing layers are: \['a', 'b', 'c'\]"):
        pretrained.unfreeze_from(small, "block_16_expand")


def test_imagenet_class_names_come_from_keras_cache(isolated):
    source = _mirror_file(CLASS_INDEX)
    with pytest.raises(pretrained.WeightsUnavailable, match=CLASS_INDEX):
        pretrained.imagenet_class_names(download=False)
    if source is None:
        skip_or_fail(f"neither a course mirror nor Keras' cache holds {CLASS_INDEX}")
    (isolated / "keras" / "models").mkdir(parents=True)
    shutil.copy(source, isolated / "keras" / "models" / CLASS_INDEX)
    names = pretrained.imagenet_class_names(download=False)
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby"
    assert names[207] == "golden_retriever" and names[999] == "toilet_tissue"


def test_visualize_helpers_look_inside_the_transfer_model(real_base):
    """Lesson 7 on lesson 6's model: augmentation + preprocess_input ops + nested base."""
    from coursekit import activations, gradcam, model_layers

    base, preprocess_input = real_base
    augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")
    model = pretrained.transfer_model(base, preprocess_input, augmentation=augmentation)
    image = np.random.default_rng(2).uniform(0, 255, (224, 224, 3)).astype("float32")
    assert model_layers.last_conv_layer(model) == "out_relu"
    maps = activations.feature_maps(model, image, ["Conv1", "block_16_project"])
    probe = keras.Model(base.input, [base.get_layer("Conv1").output,
                                     base.get_layer("block_16_project").output])
    direct = probe(preprocess_input(image[None].copy()))
    np.testing.assert_allclose(maps["Conv1"], np.asarray(direct[0])[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maps["block_16_project"], np.asarray(direct[1])[0], rtol=1e-4,
                               atol=1e-4)
    heatmap = gradcam.heatmap(model, image)
    assert heatmap.shape == (7, 7) and np.isfinite(heatmap).all()
