"""Input pipelines, training a recipe (or loading the model it trained), learning curves.

Lesson 4 writes the pipeline and ``fit`` out in full; ``image_datasets`` and ``train_or_load``
then do the same in one call each.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

import filelock
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from coursekit import cnn, config

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)

#: The seed used when none is given, so every lesson sees the same shuffles.
DEFAULT_SEED = 1337
#: Okabe-Ito: a colour-blind-safe palette (training, validation, or the runs of a comparison).
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _class_folders(split: Path) -> list[str]:
    """The class folders of one split, sorted as Keras labels them: at least two."""
    if not split.is_dir():
        raise ValueError(f"{split} is not a folder; expected {split}/<class name>/<images>")
    names = sorted(entry.name for entry in split.iterdir()
                   if entry.is_dir() and not entry.name.startswith("."))
    if len(names) < 2:
        raise ValueError(f"{split} has {len(names)} class folder(s) {names}; a classifier needs "
                         f"at least two: {split}/<class name>/<images>")
    return names


def image_datasets(root: str | os.PathLike, image_size: tuple[int, int] = (150, 150),
                   batch_size: int = 32, seed: int = DEFAULT_SEED, cache: bool = True,
                   shuffle_buffer: int = 1000):
    """Return ``(train_ds, val_ds, class_names)`` read from ``root/train`` and ``root/validation``.

    Batches of float32 RGB pixels (0-255) at ``image_size`` and labels as ``cnn.output_units``
    wants them (two classes: float32 0/1, shape (batch, 1); more: int32), decoded once and cached;
    training reshuffled every epoch. Both carry ``file_paths``, ``class_names`` and ``pipeline``.
    """
    root = Path(root)
    class_names = _class_folders(root / "train")
    if _class_folders(root / "validation") != class_names:
        raise ValueError(f"{root}/train has the classes {class_names} but {root}/validation "
                         f"has {_class_folders(root / 'validation')}; both need the same folders")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    image_size, batch_size = tuple(int(size) for size in image_size), int(batch_size)
    binary = cnn.output_units(len(class_names)) == 1
    common = dict(label_mode="binary" if binary else "int", class_names=class_names,
                  image_size=image_size, color_mode="rgb", seed=seed, verbose=False)
    read = keras.utils.image_dataset_from_directory
    train = read(root / "train", batch_size=None, shuffle=True, **common)
    validation = read(root / "validation", batch_size=batch_size, shuffle=False, **common)
    files = {"train": list(train.file_paths), "validation": list(validation.file_paths)}
    train = (train.cache() if cache else train).shuffle(
        min(int(shuffle_buffer), len(files["train"])), seed=seed, reshuffle_each_iteration=True)
    train = train.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    validation = (validation.cache() if cache else validation).prefetch(tf.data.AUTOTUNE)
    pipeline = dict(root=str(root), image_size=image_size, batch_size=batch_size, seed=seed,
                    shuffle_buffer=int(shuffle_buffer))
    for dataset, split in ((train, "train"), (validation, "validation")):
        dataset.file_paths, dataset.class_names, dataset.pipeline = files[split], class_names, pipeline
    return train, validation, class_names


def compile_model(model, learning_rate: float = 1e-3, optimizer: str = "adam"):
    """Compile ``model`` with accuracy, a Keras optimizer by name and the loss its output calls
    for (one sigmoid unit: ``binary_crossentropy``, else ``sparse_categorical_crossentropy``).

    >>> head = lambda units: keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
    >>> compile_model(head(1)).loss, compile_model(head(3), optimizer="rmsprop").loss
    ('binary_crossentropy', 'sparse_categorical_crossentropy')
    """
    if not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    chosen = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})
    binary = model.output_shape[-1] == 1
    model.compile(optimizer=chosen, metrics=["accuracy"],
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    return model


def data_fingerprint(train_ds, val_ds) -> str:
    """Return a hash of what two ``image_datasets`` pipelines read (each file's relative path
    and content, the settings): each folder and subset gets its own; moving the folder keeps it."""
    digest = hashlib.sha256()
    for split, dataset in (("train", train_ds), ("validation", val_ds)):
        pipeline = getattr(dataset, "pipeline", None)
        if pipeline is None:
            raise ValueError(f"the {split} dataset must come from training.image_datasets, which "
                             f"records the files and settings the cache key is made of")
        digest.update(json.dumps({**pipeline, "root": ""}, sort_keys=True).encode())
        for path in sorted(dataset.file_paths):
            digest.update(Path(path).relative_to(pipeline["root"]).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def cache_key(recipe, data: str, quick: bool | None = None) -> str:
    """Return a 12-character hash of every field of ``recipe`` (nested ones too), the ``data``
    fingerprint, quick/full mode and the TensorFlow and Keras versions.

    >>> from coursekit import recipes
    >>> key = cache_key(recipes.SCRATCH_CNN, data="abc", quick=True)
    >>> len(key), key == cache_key(recipes.SCRATCH_CNN, data="abc", quick=False)
    (12, False)
    """
    content = {"recipe": dataclasses.asdict(recipe), "data": data, "quick": config.quick_mode(quick),
               "tensorflow": tf.__version__, "keras": keras.__version__}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]


def cached_model_path(recipe, train_ds, val_ds, quick: bool | None = None) -> Path:
    """Return ``data_dir()/models/<name>-<key>.keras`` (its history beside it: ``.history.csv``)."""
    key = cache_key(recipe, data_fingerprint(train_ds, val_ds), quick)
    return config.data_dir() / "models" / f"{recipe.name}-{key}.keras"


def _check_data(recipe, train_ds, quick: bool | None) -> None:
    """The datasets must have the recipe's image size and batch size in this mode."""
    pipeline = getattr(train_ds, "pipeline", {})
    wanted = (recipe.input_size(quick), recipe.batch_size)
    if (tuple(pipeline.get("image_size", ())), pipeline.get("batch_size")) != wanted:
        raise ValueError(
            f"recipe {recipe.name!r} trains on {wanted[0]} images in batches of {wanted[1]} in "
            f"{'quick' if config.quick_mode(quick) else 'full'} mode; the datasets have "
            f"{pipeline.get('image_size')} in batches of {pipeline.get('batch_size')}. Use "
            f"training.image_datasets(root, recipe.input_size(), recipe.batch_size)")


def train_or_load(recipe, train_ds, val_ds, retrain: bool = False, verbose: int = 2,
                  quick: bool | None = None):
    """Return ``(model, history)`` for ``recipe`` trained on this data: loaded if any lesson
    trained it before, else (or with ``retrain=True``) trained now and saved at ``cached_model_path``.

    Training seeds Keras with ``recipe.seed``, builds the model (fine-tuning: a copy of ``start_from``'s,
    loaded or trained first) and fits it with the recipe's schedule and early stopping (unless
    ``patience`` is None). ``history``: ``history_frame`` with ``seconds`` and ``best``. Usage::

        train_ds, val_ds, _ = image_datasets(root, recipe.input_size(), recipe.batch_size)
        model, history = train_or_load(recipe, train_ds, val_ds)
    """
    _check_data(recipe, train_ds, quick)
    path = cached_model_path(recipe, train_ds, val_ds, quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(path.with_suffix(".lock")):  # two notebooks never train one model at once
        if not retrain and path.is_file() and path.with_suffix(".history.csv").is_file():
            print(f"Loaded {recipe.name!r} from {path} (trained earlier, same recipe and data).")
            return keras.models.load_model(path), pd.read_csv(path.with_suffix(".history.csv"))
        start = None if recipe.start_from is None else train_or_load(
            recipe.start_from, train_ds, val_ds, verbose=verbose, quick=quick)[0]
        config.seed_everything(recipe.seed)
        model = compile_model(recipe.build(len(train_ds.class_names), quick, start=start),
                              recipe.learning_rate, recipe.optimizer)
        callbacks, starts, seconds = recipe.schedule_callbacks(quick), [], []
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
            on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - starts[-1])))
        if recipe.patience is not None:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=recipe.monitor, patience=recipe.patience, restore_best_weights=True))
        # shuffle=False: the dataset shuffles itself (Keras 3 warns if fit is asked to).
        fit = model.fit(train_ds, validation_data=val_ds, epochs=recipe.max_epochs(quick),
                        shuffle=False, verbose=verbose, callbacks=callbacks)
        kept = len(fit.history["loss"]) if recipe.patience is None else callbacks[-1].best_epoch + 1
        history = history_frame(fit, seconds=seconds, best=kept)
        _store(path, model, history)
        return model, history


def _store(path: Path, model, history: pd.DataFrame) -> None:
    """Write model and history next to each other; the model file appears only when complete."""
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.keras")
    model.save(partial)
    os.replace(partial, path)
    history.to_csv(path.with_suffix(".history.csv"), index=False)


def history_frame(history, seconds: list[float] | None = None, best: int | None = None) -> pd.DataFrame:
    """Return a Keras ``History`` (or its dict) as a DataFrame: ``epoch`` (from 1), every metric,
    and if given ``seconds`` and ``best`` (True on epoch ``best``, whose weights were kept).

    >>> history_frame({"loss": [0.7, 0.5], "val_loss": [0.69, 0.6]})["epoch"].tolist()
    [1, 2]
    """
    logs = history.history if hasattr(history, "history") else history
    if not isinstance(logs, Mapping) or not logs:
        raise ValueError("history must be a keras History or a non-empty dict of metric lists")
    frame = pd.DataFrame({key: list(values) for key, values in logs.items()})
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    if seconds is not None:
        frame["seconds"] = list(seconds)[: len(frame)] + [np.nan] * (len(frame) - len(seconds))
    if best is not None:
        frame["best"] = frame["epoch"] == int(best)
    return frame


def best_epoch(history: pd.DataFrame, monitor: str = "val_loss") -> int:
    """Return the epoch (from 1) where ``monitor`` was best: lowest loss, highest accuracy.

    >>> best_epoch(pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.7, 0.5, 0.6]}))
    2
    """
    if monitor not in history:
        raise ValueError(f"history has no column {monitor!r}; it has {list(history.columns)}")
    values = history[monitor].to_numpy()
    index = int(np.nanargmax(values) if "acc" in monitor else np.nanargmin(values))
    return int(history["epoch"].iloc[index]) if "epoch" in history else index + 1


def plot_history(history: pd.DataFrame, title: str = "Learning curves") -> Figure:
    """Return a figure of accuracy and loss per epoch, training vs validation; dotted: the epoch kept.

    >>> history = history_frame({"accuracy": [0.6, 0.9], "loss": [0.7, 0.3]}, best=2)
    >>> [axes.get_title() for axes in plot_history(history).axes]
    ['Accuracy', 'Loss']
    """
    figure = Figure(figsize=(11, 4), layout="constrained")
    best = history["best"].astype(bool) if "best" in history else pd.Series(False, history.index)
    kept = int(history.loc[best, "epoch"].iloc[0]) if best.any() else None
    for axes, metric in zip(figure.subplots(1, 2), ("accuracy", "loss")):
        if metric not in history:
            raise ValueError(f"history has no {metric!r} column; it has {list(history.columns)}")
        axes.plot(history["epoch"], history[metric], "o-", color=COLORS[0], label="training")
        if f"val_{metric}" in history:
            axes.plot(history["epoch"], history[f"val_{metric}"], "s--", color=COLORS[1],
                      label="validation")
        if kept is not None:
            axes.axvline(kept, color="0.4", linestyle=":", label=f"kept (epoch {kept})")
        axes.set(xlabel="epoch", ylabel=metric, title=metric.capitalize())
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title, fontsize="x-large")
    return figure

