"""Images per second: the lesson's tf.data pipeline vs the legacy ImageDataGenerator.

Both read the same folder (cats_and_dogs_filtered/train, 2000 JPEGs; ``--quick``: the
200-image subset), resize to the same size (default: lesson 4's, ``recipes.SCRATCH_CNN``) with
the same (bilinear) interpolation, and yield
batches of the same size for ``--epochs`` passes, as ``model.fit`` would consume them. The
passes are interleaved (one tf.data epoch, then one ImageDataGenerator epoch, ...) so that
load from other processes hits both alike.

- tf.data: ``training.image_datasets`` (``image_dataset_from_directory``, parallel decode,
  ``cache()``, per-image shuffle, ``prefetch``): the first epoch decodes, later epochs read
  the cached tensors.
- ImageDataGenerator: ``tf.keras.preprocessing.image.ImageDataGenerator(rescale=1/255)
  .flow_from_directory`` (decodes every image with Pillow on every epoch, one at a time).

``--augment`` adds the same augmentation to both (flip, rotation 36 degrees, zoom 0.2): the
Keras layers mapped over the tf.data pipeline (``num_parallel_calls=AUTOTUNE``) vs the
generator's own arguments.

The whole comparison is repeated ``--rounds`` times with fresh pipelines (an empty cache each
time) and the medians are printed, because on a shared machine one burst of someone else's work
during one first epoch can swing a single measurement by a factor of four.

Prints one figure per line; the headline ``ratio`` (tf.data / ImageDataGenerator images per
second over all epochs, median over rounds) comes last. Target: ratio >= 2.

    python benchmarks/input_pipeline.py [--epochs 3] [--rounds 3] [--size 112] [--batch 32] [--quick] [--augment]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time

from coursekit import cnn, config, datasets, recipes, training

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (already imported quietly by import_keras)


def _consume(batches) -> int:
    """Pull every batch of one epoch (as fit does); return the number of images."""
    count = 0
    for images, _ in batches:
        count += int(images.shape[0])
    return count


def _generator_epoch(iterator) -> int:
    count = 0
    for _ in range(len(iterator)):
        images, _ = next(iterator)
        count += len(images)
    return count


def _pipelines(root, size, batch, augment):
    """A fresh tf.data pipeline (empty cache) and a fresh ImageDataGenerator iterator."""
    train_ds, _, _ = training.image_datasets(root, image_size=size, batch_size=batch)
    if augment:
        augmentation = cnn.augmentation_layers(rotation=0.1, zoom=0.2, translation=0.0,
                                                  contrast=0.0, seed=0)
        train_ds = train_ds.map(lambda x, y: (augmentation(x, training=True), y),
                                num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    legacy = dict(rescale=1.0 / 255)
    if augment:
        legacy.update(rotation_range=36, zoom_range=0.2, horizontal_flip=True, fill_mode="reflect")
    with contextlib.redirect_stdout(io.StringIO()):  # "Found 2000 images belonging to 2 classes."
        generator = tf.keras.preprocessing.image.ImageDataGenerator(**legacy).flow_from_directory(
            str(root / "train"), target_size=size, batch_size=batch, class_mode="binary",
            interpolation="bilinear", shuffle=True, seed=1337)
    return train_ds, generator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3,
                        help="repeat the whole comparison (fresh pipelines) and report medians")
    parser.add_argument("--size", type=int, default=recipes.SCRATCH_CNN.image_size)
    parser.add_argument("--batch", type=int, default=recipes.SCRATCH_CNN.batch_size)
    parser.add_argument("--quick", action="store_true", help="the 200-image quick subset")
    parser.add_argument("--augment", action="store_true", help="augment in both pipelines")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.rounds < 1 or args.size < 8 or args.batch < 1:
        parser.error("--epochs, --rounds and --batch must be >= 1, --size >= 8")
    root = datasets.load("cats_and_dogs_filtered", quick=args.quick)
    size = (args.size, args.size)
    load_before = os.getloadavg()[0]
    rounds = []  # per round: (tf.data seconds per epoch, generator seconds per epoch, images)
    for _ in range(args.rounds):
        train_ds, generator = _pipelines(root, size, args.batch, args.augment)
        fast, slow, images = [], [], 0
        for _ in range(args.epochs):  # interleaved, so other load hits both alike
            start = time.perf_counter()
            images = _consume(train_ds)
            fast.append(time.perf_counter() - start)
            start = time.perf_counter()
            _generator_epoch(generator)
            slow.append(time.perf_counter() - start)
        rounds.append((fast, slow, images))
    images = rounds[0][2]
    median = statistics.median
    print(f"images: {images} per epoch, {args.size}x{args.size}, batch {args.batch}, "
          f"{args.epochs} epochs x {args.rounds} rounds{', augmented' if args.augment else ''} "
          f"({os.cpu_count()} CPU cores, load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after)")
    print(f"tf_data_first_epoch: {median(images / f[0] for f, _, _ in rounds):.0f} images/s")
    if args.epochs > 1:
        later = median(images * (args.epochs - 1) / sum(f[1:]) for f, _, _ in rounds)
        print(f"tf_data_later_epochs: {later:.0f} images/s")
    print(f"image_data_generator_first_epoch: {median(images / s[0] for _, s, _ in rounds):.0f} images/s")
    print(f"first_epoch_ratio: {median(s[0] / f[0] for f, s, _ in rounds):.1f}")
    print(f"tf_data: {median(images * args.epochs / sum(f) for f, _, _ in rounds):.0f} images/s")
    print(f"image_data_generator: {median(images * args.epochs / sum(s) for _, s, _ in rounds):.0f} images/s")
    print(f"ratio: {median(sum(s) / sum(f) for f, s, _ in rounds):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
