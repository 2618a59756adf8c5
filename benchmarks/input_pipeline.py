"""Images per second: the lesson's tf.data pipeline vs the legacy ImageDataGenerator.

Both read the same folder (cats_and_dogs_filtered/train, 2000 JPEGs; ``--quick``: the
200-image subset), resize to the same size with the same (bilinear) interpolation, and yield
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

Prints one figure per line; the headline ``ratio`` (tf.data / ImageDataGenerator images per
second over all epochs) comes last. Target: ratio >= 2.

    python benchmarks/input_pipeline.py [--epochs 3] [--size 150] [--batch 32] [--quick] [--augment]
"""

from __future__ import annotations

import argparse
import os
import time

from coursekit import config, datasets, models, training

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="the 200-image quick subset")
    parser.add_argument("--augment", action="store_true", help="augment in both pipelines")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.size < 8 or args.batch < 1:
        parser.error("--epochs and --batch must be >= 1, --size >= 8")
    root = datasets.load("cats_and_dogs_filtered", quick=args.quick)
    size = (args.size, args.size)

    train_ds, _, _ = training.image_datasets(root, image_size=size, batch_size=args.batch)
    if args.augment:
        augmentation = models.augmentation_layers(rotation=0.1, zoom=0.2, translation=0.0,
                                                  contrast=0.0, seed=0)
        train_ds = train_ds.map(lambda x, y: (augmentation(x, training=True), y),
                                num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    legacy = dict(rescale=1.0 / 255)
    if args.augment:
        legacy.update(rotation_range=36, zoom_range=0.2, horizontal_flip=True, fill_mode="reflect")
    generator = tf.keras.preprocessing.image.ImageDataGenerator(**legacy).flow_from_directory(
        str(root / "train"), target_size=size, batch_size=args.batch, class_mode="binary",
        interpolation="bilinear", shuffle=True, seed=1337)

    fast_seconds, slow_seconds, fast_images, slow_images = [], [], 0, 0
    for epoch in range(args.epochs):
        start = time.perf_counter()
        fast_images += _consume(train_ds)
        fast_seconds.append(time.perf_counter() - start)
        start = time.perf_counter()
        slow_images += _generator_epoch(generator)
        slow_seconds.append(time.perf_counter() - start)
    per_epoch = fast_images // args.epochs
    print(f"images: {per_epoch} per epoch, {args.size}x{args.size}, batch {args.batch}, "
          f"{args.epochs} epochs{', augmented' if args.augment else ''} "
          f"({os.cpu_count()} CPU cores)")
    print(f"tf_data_first_epoch: {per_epoch / fast_seconds[0]:.0f} images/s")
    if args.epochs > 1:
        print(f"tf_data_later_epochs: {per_epoch * (args.epochs - 1) / sum(fast_seconds[1:]):.0f} images/s")
    print(f"image_data_generator_first_epoch: {per_epoch / slow_seconds[0]:.0f} images/s")
    fast_rate, slow_rate = fast_images / sum(fast_seconds), slow_images / sum(slow_seconds)
    print(f"tf_data: {fast_rate:.0f} images/s")
    print(f"image_data_generator: {slow_rate:.0f} images/s")
    print(f"first_epoch_ratio: {slow_seconds[0] / fast_seconds[0]:.1f}")
    print(f"ratio: {fast_rate / slow_rate:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
