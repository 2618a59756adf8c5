"""Lesson 5 helpers: real ImageNet bases, weight-file errors, top-5 branches, cached features,
the transfer model (base nested as a layer) and fine-tuning flags.

The tests that need ImageNet weights copy them from the course mirror (../shared/weights or
COURSEKIT_MIRROR, else Keras' cache) into a temporary Keras cache; they skip only when neither holds them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from coursekit import config, datasets, models
from tests.conftest import mirror_folders

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
    cached = datasets.keras_file_path(name)
    return cached if cached.is_file() else None


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    """A Keras cache holding the mirror's no-top MobileNetV2(0.35) weights (skip without them)."""
    source = _mirror_file(NO_TOP)
    if source is None:
        pytest.skip(f"neither a course mirror nor Keras' cache holds {NO_TOP}")
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    shutil.copy(source, home / "models" / NO_TOP)
    return home


@pytest.fixture(scope="module")
def real_base(weights_home):
    """The frozen MobileNetV2(alpha=0.35) base with the mirror's ImageNet weights."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(weights_home))
        base, preprocess_input = models.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35,
                                                        download=False)
    base.trainable = False
    return base, preprocess_input


@pytest.fixture(scope="module")
def quick_data():
    """The quick-mode subset of cats_and_dogs_filtered (200 train, 100 validation real JPEGs)."""
    if not mirror_folders() and not (config.data_dir() / "cats_and_dogs_filtered").is_dir():
        pytest.skip("the course mirror (../shared/datasets) is not present")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEKIT_MIRROR", os.pathsep.join(mirror_folders()))
        return datasets.load("cats_and_dogs_filtered", quick=True)


# ---------------------------------------------------------------- weight files and errors

def test_weight_file_names_are_the_ones_keras_and_the_mirror_use(isolated):
    assert models.imagenet_weights_path("mobilenet_v2", 0.35, 224) == datasets.keras_file_path(NO_TOP)
    assert (models.imagenet_weights_path("mobilenet_v2", 0.35, 224, include_top=True)
            == datasets.keras_file_path(WITH_TOP))
    assert models.imagenet_weights_file("mobilenet", 0.25)[0] == "mobilenet_2_5_224_tf_no_top.h5"
    name, url = models.imagenet_weights_file("vgg16", None)
    assert name == "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" and url.endswith("/" + name)


@pytest.mark.parametrize("arguments, message", [
    (dict(name="resnet"), "unknown base"),
    (dict(alpha=0.3), "alpha"),
    (dict(input_shape=(100, 100, 3)), "ImageNet weights for square images"),
    (dict(input_shape=(224, 200, 3)), "(size, size, 3)"),
    (dict(weights="imagenet21k"), "weights must be"),
    (dict(name="vgg16", alpha=0.35), "no width multiplier"),
])
def test_pretrained_base_rejects_bad_arguments(isolated, arguments, message):
    with pytest.raises(ValueError, match=None) as error:
        models.pretrained_base(**{"download": False, **arguments})
    assert message in str(error.value)


def test_missing_weights_raise_an_error_naming_the_file_and_folder(isolated):
    with pytest.raises(models.WeightsUnavailable) as error:
        models.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35, download=False)
    message = str(error.value)
    assert NO_TOP in message
    assert str(isolated / "keras" / "models") in message
    assert "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/" + NO_TOP in message
    assert "RANDOM" in message  # the weights=None way out is named, and labelled as not pretrained


def test_weights_none_is_loudly_labelled_random(isolated):
    with pytest.warns(UserWarning, match="RANDOM weights, NOT pretrained"):
        base, _ = models.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35, weights=None)
    assert base.output_shape == (None, 7, 7, 1280)


# ---------------------------------------------------------------- the base really is ImageNet

def test_base_holds_exactly_the_arrays_of_the_imagenet_file(weights_home, real_base):
    import h5py

    base, _ = real_base
    path = weights_home / "models" / NO_TOP
    expected_sha = next(file.sha256 for file in datasets.KERAS_FILES if file.name == NO_TOP)
    assert datasets.sha256_file(path) == expected_sha
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


def test_frozen_imagenet_base_and_small_head_classify_real_validation_images(real_base, quick_data):
    """>= 0.85 on the 100 held-out quick-mode validation images; random weights stay near chance."""
    base, preprocess_input = real_base

    def head_accuracy(extractor) -> float:
        train_x, train_y = models.extract_features(extractor, preprocess_input, quick_data / "train",
                                                   cache=False)
        val_x, val_y = models.extract_features(extractor, preprocess_input,
                                               quick_data / "validation", cache=False)
        assert len(train_x) == 200 and len(val_x) == 100
        keras.utils.set_random_seed(0)
        head = models.feature_head(train_x.shape[1])
        head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy",
                     metrics=["accuracy"])
        head.fit(train_x, train_y, epochs=30, batch_size=32, verbose=0)
        return float(head.evaluate(val_x, val_y, verbose=0)[1])

    assert head_accuracy(base) >= 0.85
    keras.utils.set_random_seed(0)
    with pytest.warns(UserWarning, match="RANDOM"):
        random_base, _ = models.pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35,
                                                weights=None)
    assert head_accuracy(random_base) <= 0.70


# ---------------------------------------------------------------- top-5: both branches

def test_top5_without_classifier_weights_says_so_in_one_line(isolated, capsys):
    assert models.imagenet_classifier("mobilenet_v2", 0.35, download=False) is None
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Top-5 predictions skipped") and WITH_TOP in lines[0]


def test_top5_with_a_classifier_file_in_the_cache_uses_it(weights_home, real_base, tmp_path,
                                                          monkeypatch):
    """The 'weights present' branch, on a file built here: the real base arrays plus an
    untrained 1000-class layer. Its predictions are meaningless and only test the plumbing."""
    class_index = _mirror_file(CLASS_INDEX)
    if class_index is None:
        pytest.skip(f"neither a course mirror nor Keras' cache holds {CLASS_INDEX}")
    keras.utils.get_file(CLASS_INDEX, class_index.resolve().as_uri(), cache_subdir="models",
                         file_hash="c2c37ea517e94d9795004a39431a14cb")  # Keras' own cache
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

    classifier = models.imagenet_classifier("mobilenet_v2", 0.35, download=False)
    assert classifier is not None and classifier.output_shape == (None, 1000)
    np.testing.assert_array_equal(classifier.get_layer("Conv1").get_weights()[0],
                                  base.get_layer("Conv1").get_weights()[0])
    np.testing.assert_array_equal(classifier.layers[-1].get_weights()[0],
                                  made.layers[-1].get_weights()[0])
    images = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3))
    top5 = models.top_predictions(classifier, images, "mobilenet_v2", top=5)
    assert len(top5) == 2 and all(len(row) == 5 for row in top5)
    probabilities = [probability for _, probability in top5[0]]
    assert probabilities == sorted(probabilities, reverse=True)
    import json

    names = {entry[1] for entry in json.loads(class_index.read_text()).values()}
    assert all(label in names for row in top5 for label, _ in row)


# ---------------------------------------------------------------- cached features

def _tiny_folder(source: Path, target: Path, per_class: int) -> Path:
    for class_name in ("cats", "dogs"):
        (target / class_name).mkdir(parents=True, exist_ok=True)
        for path in sorted((source / class_name).iterdir())[:per_class]:
            shutil.copy(path, target / class_name / path.name)
    return target


def test_extract_features_matches_the_base_and_reuses_its_cache(real_base, quick_data, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    base, preprocess_input = real_base
    folder = _tiny_folder(quick_data / "validation", tmp_path / "tiny" / "validation", 3)
    features, labels = models.extract_features(base, preprocess_input, folder)
    assert features.shape == (6, 1280) and labels.tolist() == [0, 0, 0, 1, 1, 1]

    import tensorflow as tf  # decode and resize the way image_dataset_from_directory does

    images = np.stack([tf.image.resize(tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3),
                                       (224, 224)).numpy()
                       for path in sorted(folder.glob("*/*.jpg"))])
    direct = base.predict(preprocess_input(images.copy()), verbose=0).mean(axis=(1, 2))
    np.testing.assert_allclose(features, direct, rtol=1e-4, atol=1e-4)

    cache = models.feature_cache_path(base, folder)
    assert cache.is_file() and cache.is_relative_to(tmp_path / "data")
    stamp = cache.stat().st_mtime_ns
    again, _ = models.extract_features(base, preprocess_input, folder)
    assert cache.stat().st_mtime_ns == stamp  # reused, not recomputed
    np.testing.assert_array_equal(again, features)

    _tiny_folder(quick_data / "validation", folder, 4)  # one more image per class
    grown, grown_labels = models.extract_features(base, preprocess_input, folder)
    assert grown.shape == (8, 1280) and grown_labels.tolist() == [0] * 4 + [1] * 4


def test_feature_cache_path_depends_on_the_weights(real_base, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path))
    base, _ = real_base
    other = keras.models.clone_model(base)  # same architecture, fresh random weights
    assert models.feature_cache_path(base, "/d/x/train") != models.feature_cache_path(other, "/d/x/train")
    assert models.feature_cache_path(base, "/d/x/train") == models.feature_cache_path(base, "/d/x/train")
    assert models.feature_cache_path(base, "/d/x/train").parts[-2:] == ("x", "train.npz")


# ---------------------------------------------------------------- transfer model, fine-tuning

def test_transfer_model_nests_the_base_and_keeps_batchnorm_in_inference_mode(real_base, tmp_path):
    base, preprocess_input = real_base
    model = models.transfer_model(base, preprocess_input, dropout=0.0)
    assert model.get_layer(base.name) is base  # the base is one layer of the outer model
    assert model.get_layer(base.name).get_layer("out_relu").output.shape == (None, 7, 7, 1280)
    assert models.parameter_counts(model)["trainable"] == 1280 + 1  # only the head trains
    images = np.random.default_rng(1).uniform(0, 255, (4, 224, 224, 3)).astype("float32")

    def training_equals_inference() -> bool:
        inference = keras.ops.convert_to_numpy(model(images, training=False))
        training = keras.ops.convert_to_numpy(model(images, training=True))  # what fit does
        return np.allclose(training, inference, rtol=1e-5, atol=1e-6)

    try:
        unfrozen = models.unfreeze_from(base, models.BASES["mobilenet_v2"].top_block)
        assert unfrozen[:2] == ["block_16_expand", "block_16_depthwise"] and "Conv_1" in unfrozen
        assert not base.get_layer("block_15_project").trainable
        assert not base.get_layer("block_16_expand_BN").trainable
        assert models.parameter_counts(model)["trainable"] > 1281
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
    head = models.feature_head(1280)
    model = models.transfer_model(base, preprocess_input)
    models.copy_head(head, model)
    np.testing.assert_array_equal(model.get_layer("output").get_weights()[0],
                                  head.get_layer("output").get_weights()[0])
    with pytest.raises(ValueError, match="shapes"):
        models.copy_head(models.feature_head(16), model)


def test_unfreeze_from_and_the_trainable_table():
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
                              keras.layers.BatchNormalization(name="b"),
                              keras.layers.Dense(1, name="c")])
    assert models.unfreeze_from(small, "b") == ["c"]  # BatchNorm stays frozen by default
    assert models.unfreeze_from(small, "b", keep_batchnorm_frozen=False) == ["b", "c"]
    table = models.trainable_layers(small)
    assert table["trainable"].tolist() == [False, True, True]
    assert table["parameters"].tolist() == [15, 12, 4]
    assert table["trainable parameters"].tolist() == [0, 6, 4]
    assert models.parameter_counts(small) == {"total": 31, "trainable": 10, "frozen": 21}
    assert models.unfreeze_from(small, -1) == ["c"]
    with pytest.raises(ValueError, match="the layers are: a, b, c"):
        models.unfreeze_from(small, "block_16_expand")


def test_imagenet_class_names_come_from_keras_cache(isolated):
    source = _mirror_file(CLASS_INDEX)
    with pytest.raises(models.WeightsUnavailable, match=CLASS_INDEX):
        models.imagenet_class_names(download=False)
    if source is None:
        pytest.skip(f"neither a course mirror nor Keras' cache holds {CLASS_INDEX}")
    (isolated / "keras" / "models").mkdir(parents=True)
    shutil.copy(source, isolated / "keras" / "models" / CLASS_INDEX)
    names = models.imagenet_class_names(download=False)
    assert len(names) == 1000 and names[0] == "tench" and names[281] == "tabby"
    assert names[207] == "golden_retriever" and names[999] == "toilet_tissue"


# ---------------------------------------------------------------- lesson 5 self-checks

def test_lesson5_checks(capsys):
    from coursekit import checks

    model = keras.Sequential([keras.Input((1280,)), keras.layers.Dense(1)])
    assert checks.check_trainable_parameters(1281, model)
    assert not checks.check_trainable_parameters(1280, model)
    assert "1 bias" in capsys.readouterr().out
    model.trainable = False
    assert checks.check_trainable_parameters(0, model)
    assert not checks.check_trainable_parameters(5, "not a model")
    assert checks.check_layers_to_unfreeze("Top block")
    assert not checks.check_layers_to_unfreeze("every layer")
    assert not checks.check_layers_to_unfreeze("the middle")
    assert "is not one of the options" in capsys.readouterr().out.splitlines()[-1]


def test_visualize_helpers_look_inside_the_transfer_model(real_base):
    """Lesson 6 on this lesson's model: augmentation + preprocess_input ops + nested base."""
    from coursekit import visualize

    base, preprocess_input = real_base
    augmentation = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")
    model = models.transfer_model(base, preprocess_input, augmentation=augmentation)
    image = np.random.default_rng(2).uniform(0, 255, (224, 224, 3)).astype("float32")
    assert visualize.last_conv_layer(model) == "out_relu"
    maps = visualize.feature_maps(model, image, ["Conv1", "block_16_project"])
    probe = keras.Model(base.input, [base.get_layer("Conv1").output,
                                     base.get_layer("block_16_project").output])
    direct = probe(preprocess_input(image[None].copy()))
    np.testing.assert_allclose(maps["Conv1"], np.asarray(direct[0])[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maps["block_16_project"], np.asarray(direct[1])[0], rtol=1e-4,
                               atol=1e-4)
    heatmap = visualize.gradcam(model, image)
    assert heatmap.shape == (7, 7) and np.isfinite(heatmap).all()
