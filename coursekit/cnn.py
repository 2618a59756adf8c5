"""The CNN built from scratch (lessons 3-5): the course network, its augmentation block,
convolution by hand, and the one rule for the output layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from coursekit import config

keras = config.import_keras()

#: Filters of the course CNN's four blocks: the lecture's doubling pattern, starting at half width.
FILTERS = (16, 32, 64, 128)
#: Units of the hidden Dense layer of the "flatten" head (the lecture's network had 512).
FLATTEN_UNITS = 256


def output_units(num_classes: int) -> int:
    """Return the width of a classifier's output layer, the course's one rule: two classes, ONE
    sigmoid unit, the probability of class 1 (binary labels, ``binary_crossentropy``); more, one
    softmax unit per class (integer labels, ``sparse_categorical_crossentropy``).

    >>> output_units(2), output_units(3), output_units(20)
    (1, 3, 20)
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 2:
        raise ValueError(f"num_classes must be an int of at least 2 (a classifier tells classes "
                         f"apart), got {num_classes!r}")
    return 1 if num_classes == 2 else int(num_classes)


def output_layer(num_classes: int, name: str = "output"):
    """Return the output layer for ``num_classes``: Dense(1, sigmoid) or Dense(n, softmax).

    >>> [(layer.units, layer.get_config()["activation"]) for layer in (output_layer(2), output_layer(5))]
    [(1, 'sigmoid'), (5, 'softmax')]
    """
    units = output_units(num_classes)
    return keras.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax", name=name)


def scratch_cnn(input_shape: Sequence[int] = (112, 112, 3), num_classes: int = 2,
                filters: Sequence[int] = FILTERS, dropout: float = 0.0, l2: float = 0.0,
                augmentation=None, head: str = "average", name: str = "scratch_cnn"):
    """Return the course CNN, uncompiled (lesson 4 builds it), for raw 0-255 pixels: [augmentation,
    active in training] -> Rescaling(1/255) -> per entry of ``filters`` a block (Conv2D 3x3 relu ->
    MaxPooling2D 2x2 -> BatchNormalization) -> the head -> ``output_layer``. ``head`` "average":
    GlobalAveragePooling2D -> [Dropout]; "flatten" (lesson 5's baseline): Flatten -> [Dropout] ->
    Dense(``FLATTEN_UNITS``, relu). ``l2`` > 0: an L2 penalty on every kernel but the output's.

    >>> scratch_cnn().count_params()
    98529
    >>> scratch_cnn((64, 64, 3), num_classes=5, dropout=0.5).output_shape
    (None, 5)
    >>> scratch_cnn(head="flatten").count_params()
    918113
    """
    if not 0.0 <= float(dropout) < 1.0:  # Keras accepts a rate of 1, which drops everything
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    side = min(int(size) for size in input_shape[:2])
    for _ in filters:  # each block: a 3x3 'valid' convolution (-2), then 2x2 pooling (//2)
        side = (side - 2) // 2
    if head not in ("average", "flatten"):
        raise ValueError(f"head must be 'average' or 'flatten', got {head!r}")
    if not filters or side < 1:
        raise ValueError(f"input_shape {tuple(input_shape)} is too small for the blocks of "
                         f"filters {tuple(filters)} (or there is no block); use larger images "
                         f"or fewer filters")
    regularizer = keras.regularizers.L2(l2) if l2 else None
    layers = [keras.Input(shape=tuple(int(size) for size in input_shape), name="image")]
    layers += [augmentation] if augmentation is not None else []
    layers.append(keras.layers.Rescaling(1.0 / 255, name="rescaling"))
    for index, count in enumerate(filters, start=1):
        layers += [keras.layers.Conv2D(int(count), 3, activation="relu",
                                       kernel_regularizer=regularizer, name=f"conv{index}"),
                   keras.layers.MaxPooling2D(2, name=f"pool{index}"),
                   keras.layers.BatchNormalization(momentum=0.9, name=f"norm{index}")]
    layers.append(keras.layers.GlobalAveragePooling2D(name="average") if head == "average"
                  else keras.layers.Flatten(name="flatten"))
    layers += [keras.layers.Dropout(float(dropout), name="dropout")] if dropout else []
    if head == "flatten":
        layers.append(keras.layers.Dense(FLATTEN_UNITS, activation="relu",
                                         kernel_regularizer=regularizer, name="dense"))
    layers.append(output_layer(num_classes))
    return keras.Sequential(layers, name=name)


def augmentation_layers(flip: str | None = "horizontal", rotation: float = 0.1,
                        zoom: float = 0.2, translation: float = 0.1, contrast: float = 0.1,
                        seed: int | None = None, name: str = "augmentation"):
    """Return a ``keras.Sequential`` of random preprocessing layers (active only in training):
    ``flip`` ("horizontal", "vertical", "horizontal_and_vertical" or None), ``rotation`` (a
    fraction of a turn: 0.1 = up to +-36 degrees), ``zoom`` and ``translation`` (fractions of the
    size), ``contrast``; 0 leaves a layer out. New borders are filled by reflection.

    >>> [layer.name for layer in augmentation_layers(contrast=0).layers]
    ['random_flip', 'random_rotation', 'random_zoom', 'random_translation']
    """
    if flip not in (None, "horizontal", "vertical", "horizontal_and_vertical"):
        raise ValueError(f"flip must be None, 'horizontal', 'vertical' or "
                         f"'horizontal_and_vertical', got {flip!r}")
    reflect = {"fill_mode": "reflect", "seed": seed}
    layers = [keras.layers.RandomFlip(flip, seed=seed, name="random_flip")] if flip else []
    if rotation:
        layers.append(keras.layers.RandomRotation(rotation, name="random_rotation", **reflect))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, name="random_zoom", **reflect))
    if translation:
        layers.append(keras.layers.RandomTranslation(translation, translation,
                                                     name="random_translation", **reflect))
    if contrast:  # RandomContrast clips to value_range; the CNN sees raw 0-255 pixels
        layers.append(keras.layers.RandomContrast(contrast, value_range=(0, 255), seed=seed,
                                                  name="random_contrast"))
    return keras.Sequential(layers, name=name)


def augment_grid(image: np.ndarray, count: int = 9, seed: int = 0, block=None, **strengths) -> np.ndarray:
    """Return ``count`` copies of one image, each randomly augmented by ``block`` (default: a new
    ``augmentation_layers(seed=seed, **strengths)``): (count, H, W, C) uint8. Same seed, same copies.

    >>> augment_grid(np.zeros((32, 32, 3), np.uint8), count=4, rotation=0.2).shape
    (4, 32, 32, 3)
    """
    image = np.asarray(image)
    if image.ndim != 3 or int(count) < 1:
        raise ValueError(f"expected one (height, width, channels) image and a positive count, "
                         f"got shape {image.shape} and count {count!r}")
    block = augmentation_layers(seed=seed, **strengths) if block is None else block
    batch = np.repeat(image[None].astype("float32"), int(count), axis=0)
    if block.layers:
        batch = keras.ops.convert_to_numpy(block(batch, training=True))
    return np.clip(batch, 0, 255).astype("uint8")


#: 3x3 kernels for the kernel editor; Sobel kernels as in the lecture (x: vertical edges).
KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype="float32"),
    "sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype="float32"),
    "sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype="float32"),
    "box blur": np.full((3, 3), 1 / 9, dtype="float32"),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype="float32"),
    "laplacian (outline)": np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype="float32"),
}


def apply_kernel(gray: np.ndarray, kernel: np.ndarray, flip: bool = False) -> np.ndarray:
    """Return a grayscale image filtered by ``kernel`` as a Conv2D layer does it: a
    cross-correlation (``scipy.signal.correlate2d``, mode "same", reflected borders), float32;
    ``flip=True``: a true convolution (``scipy.signal.convolve2d``).

    >>> step = np.array([[0, 0, 1, 1]] * 3)      # dark on the left, bright on the right
    >>> apply_kernel(step, KERNEL_PRESETS["sobel x (vertical edges)"])[1]
    array([0., 4., 4., 0.], dtype=float32)
    """
    from scipy import signal

    gray, kernel = np.asarray(gray, dtype="float32"), np.asarray(kernel, dtype="float32")
    if gray.ndim != 2 or kernel.ndim != 2:
        raise ValueError(f"gray and kernel must be 2-D (a grayscale image, a 3x3 kernel), got "
                         f"shapes {gray.shape} and {kernel.shape}")
    function = signal.convolve2d if flip else signal.correlate2d
    return function(gray, kernel, mode="same", boundary="symm").astype("float32")
