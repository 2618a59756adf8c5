"""Pretrained ImageNet models (lesson 6): a ``keras.applications`` base with its real weights
(from the registry in ``coursekit.downloads``, through Keras' cache), cached feature extraction,
a new head, the transfer model and fine-tuning.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit import config, downloads
from coursekit.cnn import output_layer
from coursekit.downloads import WeightsUnavailable  # raised here, caught by lessons

keras = config.import_keras()


@dataclass(frozen=True)
class PretrainedSpec:
    """One ImageNet base from ``keras.applications`` and the weight files Keras publishes for it."""

    application: str  # constructor in keras.applications, e.g. "MobileNetV2"
    module: str  # its module there (preprocess_input), also the folder of its weight files
    top_block: str  # first layer of the last block: where fine-tuning starts
    files: tuple[str, str]  # Keras' file names at 224 px, with and without the classifier
    alphas: tuple[float, ...] = ()  # width multipliers with weights; the first is the course's


#: The bases the lessons use. MobileNetV2(alpha=0.35) is the CPU-friendly default.
BASES: dict[str, PretrainedSpec] = {
    "mobilenet_v2": PretrainedSpec(
        "MobileNetV2", "mobilenet_v2", "block_16_expand",
        ("mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224.h5",
         "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_224_no_top.h5"),
        (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
    "vgg16": PretrainedSpec("VGG16", "vgg16", "block5_conv1",
                            ("vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                             "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")),
}


def _spec(name: str, alpha: float | None):
    """Validate a base's name and width multiplier; return (spec, alpha), alpha defaulted."""
    if name not in BASES:
        raise ValueError(f"unknown base {name!r}; the course knows: {', '.join(BASES)}")
    spec = BASES[name]
    allowed = spec.alphas or (None,)
    alpha = allowed[0] if alpha is None else alpha
    if alpha not in allowed:
        raise ValueError(f"{spec.application} has ImageNet weights for alpha in {allowed} "
                         f"(None: no width multiplier), got alpha={alpha!r}")
    return spec, alpha


def weights_file(name: str = "mobilenet_v2", alpha: float | None = None,
                 include_top: bool = False) -> downloads.KerasFile:
    """Return the registry entry (name, URL, checksum) of a base's 224-pixel weight file.

    >>> weights_file("mobilenet_v2").name
    'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5'
    >>> weights_file("vgg16", include_top=True).name
    'vgg16_weights_tf_dim_ordering_tf_kernels.h5'
    """
    spec, alpha = _spec(name, alpha)
    file_name = spec.files[0 if include_top else 1].format(alpha=alpha and float(alpha))
    return downloads.keras_file(file_name, application=spec.module)


def _application(name: str, alpha, input_shape, include_top: bool, weights_path: str | None):
    """Build ``keras.applications.<name>`` and load ``weights_path`` (a 224-pixel file)."""
    spec, alpha = _spec(name, alpha)
    keyword = {"alpha": alpha} if spec.alphas else {}
    return getattr(keras.applications, spec.application)(
        include_top=include_top, weights=weights_path, input_shape=input_shape, **keyword)


def pretrained_base(name: str = "mobilenet_v2", input_shape=(224, 224, 3),
                    alpha: float | None = None, weights: str | None = "imagenet",
                    download: bool = True):
    """Return ``(base, preprocess_input)``: the ``keras.applications`` base ``name`` (a key of
    ``BASES``; ``alpha``: width, None for the course's) without its classifier, trainable, and the
    preprocessing its weights expect. ``weights="imagenet"`` loads them through Keras' cache from
    a mirror or (``download``) the internet, else raises ``WeightsUnavailable``; None: random
    weights, with a warning. The 224-pixel weights fit any input of at least 32 pixels::

        base, preprocess_input = pretrained_base("mobilenet_v2", (224, 224, 3), alpha=0.35)
        base.output_shape          # (None, 7, 7, 1280)
    """
    input_shape = tuple(int(size) for size in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) for an ImageNet base, got {input_shape}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None (random, not pretrained), got {weights!r}")
    file = weights_file(name, alpha)  # validates name and alpha
    if weights is None:
        warnings.warn(f"pretrained_base({name!r}, weights=None): RANDOM weights, NOT pretrained "
                      "on ImageNet. Results from this base are not transfer learning.",
                      UserWarning, stacklevel=2)
    else:
        try:
            downloads.fetch_keras_file(file, internet=download)
        except WeightsUnavailable as error:
            raise WeightsUnavailable(f"{error}\nOn a machine that can never get the weights, weights=None "
                                     "builds the same network with RANDOM weights: it is then not "
                                     "pretrained, and no transfer-learning result applies.") from None
    base = _application(name, alpha, input_shape, False, str(file.path) if weights else None)
    return base, getattr(keras.applications, BASES[name].module).preprocess_input


def imagenet_classifier(name: str = "mobilenet_v2", alpha: float | None = None, download: bool = True):
    """Return the full ImageNet model (base + 1000-class classifier, 224x224 inputs), or None
    after saying in one line that its weights (a file a course mirror may lack) cannot be had."""
    file = weights_file(name, alpha, include_top=True)
    try:
        downloads.fetch_keras_file(file, internet=download)
    except WeightsUnavailable:
        print(f"Top-5 predictions skipped: {file.name} (the ImageNet classifier) is not in {file.path.parent} "
              f"and could not be had from a mirror or {file.url}; the lesson goes on without it.")
        return None
    return _application(name, alpha, (224, 224, 3), True, str(file.path))


def imagenet_class_names(download: bool = True) -> list[str]:
    """Return the 1000 ImageNet class names in index order (``WeightsUnavailable`` if not to be had)."""
    file = downloads.keras_file("imagenet_class_index.json")
    downloads.fetch_keras_file(file, internet=download)
    index = json.loads(file.path.read_text())
    return [index[str(number)][1] for number in range(len(index))]


def feature_cache_path(base, directory) -> Path:
    """Return where ``extract_features`` caches a folder's features (per base, size and weights):
    ``data_dir()/features/<base>-<size>-<hash of the weights>/<dataset>/<split>.npz``."""
    digest = hashlib.sha256()
    for variable in base.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    size = "x".join(str(side) for side in base.input_shape[1:3])
    directory = Path(directory)
    return (config.data_dir() / "features" / f"{base.name}-{size}-{digest.hexdigest()[:12]}"
            / directory.parent.name / f"{directory.name}.npz")


def extract_features(base, preprocess_input, directory, batch_size: int = 32,
                     cache: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(features, labels)`` of an image folder (class sub-folders): the base run once in
    inference mode on its preprocessed images, in file order, averaged over the positions, (N,
    channels); kept at ``feature_cache_path`` (``cache``) and reused while the files are the same."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder of class sub-folders")
    size = tuple(base.input_shape[1:3])
    if None in size:
        raise ValueError(f"the base needs a fixed input size, got {base.input_shape}")
    dataset = keras.utils.image_dataset_from_directory(
        directory, image_size=size, batch_size=int(batch_size), shuffle=False, verbose=False)
    files = np.array([os.path.relpath(path, directory) for path in dataset.file_paths])
    path = feature_cache_path(base, directory)
    if cache and path.is_file():
        with np.load(path) as stored:
            if np.array_equal(stored["files"], files):
                return stored["features"], stored["labels"]
    features, labels = [], []
    for images, batch_labels in dataset:
        output = keras.ops.convert_to_numpy(base(preprocess_input(images), training=False))
        features.append(output.mean(axis=(1, 2)) if output.ndim == 4 else output)
        labels.append(keras.ops.convert_to_numpy(batch_labels))
    features, labels = np.concatenate(features).astype("float32"), np.concatenate(labels)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part.npz")
        np.savez(partial, features=features, labels=labels, files=files)
        os.replace(partial, path)
    return features, labels


def feature_head(feature_dim: int, num_classes: int = 2, dropout: float = 0.2, name: str = "head"):
    """Return the small classifier trained on cached features: Dropout -> ``output_layer``,
    named like ``transfer_model``'s head, so ``copy_head`` can carry its weights across.

    >>> feature_head(1280).count_params(), feature_head(1280, num_classes=3).count_params()
    (1281, 3843)
    """
    return keras.Sequential([
        keras.Input((int(feature_dim),), name="features"),
        keras.layers.Dropout(float(dropout), name="head_dropout"),
        output_layer(num_classes),
    ], name=name)


def transfer_model(base, preprocess_input, augmentation=None, dropout: float = 0.2,
                   num_classes: int = 2, name: str = "transfer_model"):
    """Return image -> [augmentation] -> preprocess_input -> base -> pooling -> head, uncompiled,
    for raw 0-255 pixels. The base is one shared layer called with ``training=False``, which Keras
    3's ``fit`` overrides (keras-team/keras#20285): ``unfreeze_from`` keeps BatchNorm frozen."""
    if augmentation is not None and not isinstance(augmentation, keras.layers.Layer):
        raise ValueError(f"augmentation must be a Keras layer or None, got {type(augmentation).__name__}")
    inputs = keras.Input(tuple(base.input_shape[1:]), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = base(preprocess_input(x), training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(float(dropout), name="head_dropout")(x)
    return keras.Model(inputs, output_layer(num_classes)(x), name=name)


def copy_head(source, target, layer: str = "output") -> None:
    """Copy layer ``layer``'s weights from ``source`` to ``target``: the head trained fast on cached
    features starts the end-to-end model (Keras names both shapes when they differ)."""
    target.get_layer(layer).set_weights(source.get_layer(layer).get_weights())


def unfreeze_from(base, first_trainable: str, keep_batchnorm_frozen: bool = True) -> list[str]:
    """Make ``base`` trainable from layer ``first_trainable`` on, earlier layers frozen, and return
    the names of the layers with weights that now train. BatchNormalization layers stay frozen
    (``keep_batchnorm_frozen``): in Keras 3 only that keeps them in inference mode.

    >>> small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
    ...                           keras.layers.BatchNormalization(name="b"),
    ...                           keras.layers.Dense(1, name="c")])
    >>> unfreeze_from(small, "b"), unfreeze_from(small, "b", keep_batchnorm_frozen=False)
    (['c'], ['b', 'c'])
    """
    start = base.layers.index(base.get_layer(first_trainable))  # Keras lists the layers if none
    base.trainable = True
    for index, layer in enumerate(base.layers):
        batchnorm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = index >= start and not (keep_batchnorm_frozen and batchnorm)
    return [layer.name for layer in base.layers if layer.trainable and layer.weights]


def parameter_counts(model) -> dict[str, int]:
    """Return the number of parameters of a model: total, trainable and frozen.

    >>> parameter_counts(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    {'total': 8, 'trainable': 8, 'frozen': 0}
    """
    trainable = int(sum(np.prod(variable.shape) for variable in model.trainable_weights))
    frozen = int(sum(np.prod(variable.shape) for variable in model.non_trainable_weights))
    return {"total": trainable + frozen, "trainable": trainable, "frozen": frozen}
