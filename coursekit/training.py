"""Input pipelines, training with the standard callbacks, learning curves, run comparisons.

Lesson 3 writes the pipeline and ``fit`` with callbacks out in full; afterwards these helpers
do the same in one call, and lessons 4-6 reuse them:

``image_datasets``   train/validation ``tf.data`` pipelines from a folder (seeded, cached, prefetched)
``train_or_load``    fit with checkpoint + early stopping + CSV log, cached on disk by name and mode
``history_frame``    a Keras ``History`` as a tidy DataFrame (one row per epoch)
``compare_runs``     one row per trained variant (the comparison table of lesson 4)
``plot_history`` / ``plot_comparison``   the drawings (matplotlib ``Figure``, nothing global)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import filelock
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from coursekit import cnn, config

keras = config.import_keras()
import tensorflow as tf  # noqa: E402  (imported quietly by import_keras above)

__all__ = [
    "image_datasets",
    "class_folders",
    "compile_model",
    "standard_callbacks",
    "cached_model_path",
    "train_or_load",
    "save_trained",
    "history_frame",
    "best_epoch",
    "compare_runs",
    "plot_history",
    "plot_comparison",
]

#: The seed used when none is given, so every lesson sees the same shuffles.
DEFAULT_SEED = 1337


# ---------------------------------------------------------------- input pipeline

def class_folders(split: str | os.PathLike) -> list[str]:
    """Return the class folder names of one split (``root/train``), sorted as Keras labels them.

    A classifier needs at least two classes; any other layout raises a ValueError that says
    what the folder holds.

    Example:
        >>> import tempfile
        >>> split = Path(tempfile.mkdtemp()) / "train"
        >>> for name in ("dogs", "cats", "birds"):
        ...     (split / name).mkdir(parents=True)
        >>> class_folders(split)
        ['birds', 'cats', 'dogs']
    """
    split = Path(split)
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

    Both are ``tf.data`` pipelines of ``(images, labels)`` batches. Images are float32 RGB in
    0-255 (the model rescales), resized to ``image_size`` whatever their size and mode
    (grayscale, palette, RGBA, 16-bit). The labels follow ``cnn.output_units``: for two
    classes float32 0/1 of shape (batch, 1) (``label_mode="binary"``), for more the class
    index, int32 of shape (batch,) (``label_mode="int"``). A ``root/test`` folder may exist;
    it is left alone (the lessons evaluate on validation).

    Each image is decoded and resized once, then kept in memory (``cache``; about 270 KB per
    image at 150x150). The training set is shuffled *after* the cache, image by image, with
    a new order every epoch (caching an already shuffled, batched set would replay the same
    batches every epoch). The validation set keeps file order. Both carry ``file_paths``,
    ``class_names`` and ``pipeline`` (size, batch, seed, shuffle), which ``train_or_load``'s
    cache key reads. ``prefetch`` prepares the next batch while the model trains on this one.

    Usage (lesson 3 onwards)::

        train_ds, val_ds, class_names = image_datasets(datasets.load(), (150, 150))
        class_names     # ['cats', 'dogs']
    """
    root = Path(root)
    class_names = class_folders(root / "train")
    if class_folders(root / "validation") != class_names:
        raise ValueError(f"{root}/train has the classes {class_names} but {root}/validation "
                         f"has {class_folders(root / 'validation')}; both need the same folders")
    if len(image_size) != 2 or min(int(size) for size in image_size) < 8:
        raise ValueError(f"image_size must be (height, width) of at least 8 pixels, got {image_size!r}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    image_size = (int(image_size[0]), int(image_size[1]))
    binary = cnn.output_units(len(class_names)) == 1
    common = dict(label_mode="binary" if binary else "int", class_names=class_names,
                  image_size=image_size, color_mode="rgb", seed=seed, verbose=False)
    train = keras.utils.image_dataset_from_directory(root / "train", batch_size=None,
                                                     shuffle=True, **common)
    validation = keras.utils.image_dataset_from_directory(
        root / "validation", batch_size=int(batch_size), shuffle=False, **common)
    train_files, val_files = list(train.file_paths), list(validation.file_paths)
    train = (train.cache() if cache else train).shuffle(
        min(int(shuffle_buffer), len(train_files)), seed=seed, reshuffle_each_iteration=True)
    train = train.batch(int(batch_size)).prefetch(tf.data.AUTOTUNE)
    validation = (validation.cache() if cache else validation).prefetch(tf.data.AUTOTUNE)
    pipeline = dict(root=str(root), image_size=image_size, batch_size=int(batch_size),
                    seed=seed, shuffle_buffer=int(shuffle_buffer))
    for dataset, files in ((train, train_files), (validation, val_files)):
        dataset.file_paths, dataset.class_names, dataset.pipeline = files, class_names, pipeline
    return train, validation, class_names


# ---------------------------------------------------------------- training

def compile_model(model, learning_rate: float = 1e-3, optimizer: str = "adam"):
    """Compile ``model`` with the loss its output calls for, accuracy, and the optimizer.

    One sigmoid unit (two classes, binary labels): ``binary_crossentropy``; one unit per
    class (softmax, integer labels): ``sparse_categorical_crossentropy``. ``optimizer`` is a
    Keras optimizer name ("adam", "rmsprop", "sgd"). Returns the model.

    Example:
        >>> head = lambda units: keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])
        >>> compile_model(head(1)).loss, compile_model(head(3), optimizer="rmsprop").loss
        ('binary_crossentropy', 'sparse_categorical_crossentropy')
    """
    if not float(learning_rate) > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
    try:
        chosen = keras.optimizers.get({"class_name": optimizer,
                                       "config": {"learning_rate": float(learning_rate)}})
    except ValueError:
        raise ValueError(f"unknown optimizer {optimizer!r}; use a Keras optimizer name such as "
                         f"'adam', 'rmsprop' or 'sgd'") from None
    binary = model.output_shape[-1] == 1
    model.compile(optimizer=chosen, metrics=["accuracy"],
                  loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    return model


def standard_callbacks(checkpoint_path: str | os.PathLike, log_path: str | os.PathLike,
                       patience: int = 5, monitor: str = "val_loss") -> list:
    """Return the course's three callbacks: ModelCheckpoint (.keras), EarlyStopping, CSVLogger.

    The checkpoint keeps the best model seen so far (by ``monitor``) on disk; early stopping
    ends training after ``patience`` epochs without improvement and puts the best weights
    back into the model; the CSV log gets one row per epoch, written as training goes.

    Example:
        >>> callbacks = standard_callbacks("/tmp/best.keras", "/tmp/log.csv")
        >>> [type(c).__name__ for c in callbacks]
        ['ModelCheckpoint', 'EarlyStopping', 'CSVLogger']
    """
    if not str(checkpoint_path).endswith(".keras"):
        raise ValueError(f"checkpoint_path must end in .keras (Keras 3's format), got {checkpoint_path}")
    if int(patience) < 1:
        raise ValueError(f"patience must be a positive int, got {patience!r}")
    Path(checkpoint_path).parent.mkdir(parents=True, exist_ok=True)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.ModelCheckpoint(str(checkpoint_path), monitor=monitor, save_best_only=True),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=int(patience),
                                      restore_best_weights=True),
        keras.callbacks.CSVLogger(str(log_path)),
    ]


class _EpochTimer(keras.callbacks.Callback):
    """Record the wall time of each epoch (seconds)."""

    def on_train_begin(self, logs=None):
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def cached_model_path(name: str, quick: bool | None = None) -> Path:
    """Return where ``train_or_load`` keeps the model ``name``: ``data_dir()/models/<name>-<mode>.keras``.

    ``mode`` is "quick" or "full" (``quick=None`` follows ``COURSEKIT_QUICK``). The training
    history sits next to it as ``<name>-<mode>.history.csv``.

    Example:
        >>> cached_model_path("scratch_cnn", quick=False).name
        'scratch_cnn-full.keras'
    """
    if not name or name.startswith(".") or not all(ch.isalnum() or ch in "-_.+" for ch in name):
        raise ValueError(f"name must be letters, digits, '-', '_', '+' or '.' (not first), "
                         f"got {name!r}")
    mode = "quick" if (config.quick_mode() if quick is None else quick) else "full"
    return config.data_dir() / "models" / f"{name}-{mode}.keras"


def _lock(path: Path) -> filelock.FileLock:
    """A lock file next to ``path``: two notebooks never train or write the same model at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return filelock.FileLock(path.with_suffix(".lock"))


def _input_shape(dataset) -> tuple:
    images_spec = dataset.element_spec[0]
    return tuple(images_spec.shape[1:])


def train_or_load(name: str, build: Callable[[], object], train_ds, val_ds, epochs: int, *,
                  learning_rate: float = 1e-3, patience: int = 5, monitor: str = "val_loss",
                  callbacks: tuple = (), retrain: bool = False, verbose: int = 2,
                  quick: bool | None = None):
    """Train ``build()`` with the standard callbacks, or load it if it was trained before.

    Returns ``(model, history)``: the model with the weights of its best epoch (by
    ``monitor``), and a DataFrame with one row per epoch (``epoch`` from 1, ``loss``,
    ``accuracy``, ``val_loss``, ``val_accuracy``, ``seconds`` and ``best``, True on the epoch
    whose weights the model has). The result is saved at ``cached_model_path(name)`` (one
    file per name and quick/full mode) so that re-running a cell, or a later lesson, loads it
    in a second instead of training again; pass ``retrain=True`` to train anew. A cached
    model whose input shape does not match ``train_ds`` is trained again.

    ``build`` is called with no argument and returns a model; an uncompiled model is
    compiled with ``compile_model(model, learning_rate)``. Extra ``callbacks`` (for example
    ``keras.callbacks.ReduceLROnPlateau``) are added to the standard three.

    Usage::

        model, history = train_or_load("scratch_cnn", lambda: cnn.scratch_cnn((64, 64, 3)),
                                       train_ds, val_ds, epochs=2)
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    path = cached_model_path(name, quick)
    history_path = path.with_suffix(".history.csv")
    with _lock(path):
        if not retrain and path.is_file() and history_path.is_file():
            model = keras.models.load_model(path)
            if tuple(model.input_shape[1:]) == _input_shape(train_ds):
                print(f"Loaded {name!r} from {path} (trained earlier; "
                      f"pass retrain=True to train again).")
                return model, pd.read_csv(history_path)
            print(f"The cached {name!r} expects inputs {model.input_shape[1:]}, the data has "
                  f"{_input_shape(train_ds)}: training again.")
        model = build()
        if not getattr(model, "compiled", False):
            compile_model(model, learning_rate)
        timer = _EpochTimer()
        standard = standard_callbacks(path.with_suffix(".checkpoint.keras"),
                                      path.with_suffix(".log.csv"), patience, monitor)
        # shuffle=False: the dataset shuffles itself (Keras 3 warns if fit is asked to).
        fit = model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), shuffle=False,
                        callbacks=[*standard, timer, *callbacks], verbose=verbose)
        history = history_frame(fit, seconds=timer.seconds, best=standard[1].best_epoch + 1)
        _store(path, model, history)
    return model, history


def _store(path: Path, model, history: pd.DataFrame) -> None:
    """Write model and history next to each other; the model file appears only when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.keras")
    model.save(partial)
    os.replace(partial, path)
    history.to_csv(path.with_suffix(".history.csv"), index=False)


def save_trained(name: str, model, history, quick: bool | None = None) -> Path:
    """Keep a model you trained yourself where ``train_or_load(name, ...)`` will find it.

    ``history`` is a Keras ``History`` or a ``history_frame``. Lesson 3 trains its CNN with
    the ``fit`` call written out, then stores it under the name "scratch_cnn" so that lessons
    5 and 6 load it instead of training again. Returns the model's path.

    Usage (after ``fit_result = model.fit(...)``)::

        save_trained("scratch_cnn", model, fit_result)   # .../models/scratch_cnn-full.keras
    """
    frame = history if isinstance(history, pd.DataFrame) else history_frame(history)
    path = cached_model_path(name, quick)
    with _lock(path):
        _store(path, model, frame)
    return path


# ---------------------------------------------------------------- histories and comparisons

def history_frame(history, seconds: list[float] | None = None, best: int | None = None) -> pd.DataFrame:
    """Return a Keras ``History`` (or its ``.history`` dict) as a DataFrame, one row per epoch.

    Columns: ``epoch`` (from 1), every logged metric, and, when given, ``seconds`` (wall time
    per epoch) and ``best`` (True on epoch ``best``, the one whose weights were kept).

    Example:
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

    Where validation loss is lowest is where overfitting starts: after it, the model keeps
    getting better on the training images and worse on new ones.

    Example:
        >>> best_epoch(pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.7, 0.5, 0.6]}))
        2
    """
    if monitor not in history:
        raise ValueError(f"history has no column {monitor!r}; it has {list(history.columns)}")
    values = history[monitor].to_numpy()
    index = int(np.nanargmax(values) if "acc" in monitor else np.nanargmin(values))
    return int(history["epoch"].iloc[index]) if "epoch" in history else index + 1


def _kept_row(history: pd.DataFrame) -> pd.Series:
    """The row of the epoch whose weights were kept (column ``best``), else the last epoch."""
    if "best" in history and history["best"].astype(bool).any():
        return history[history["best"].astype(bool)].iloc[0]
    return history.iloc[-1]


def compare_runs(histories: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return one row per run: how long it trained and how well the kept model does.

    Columns: ``epochs`` run, ``kept_epoch`` (the weights kept by early stopping),
    ``train_accuracy`` and ``val_accuracy`` at that epoch, ``gap`` (train - validation: large
    means overfitting), ``best_val_accuracy`` over all epochs, ``minutes`` of training.

    Example:
        >>> history = history_frame({"accuracy": [0.6, 0.9], "val_accuracy": [0.6, 0.7]}, best=2)
        >>> row = compare_runs({"baseline": history}).loc["baseline"]
        >>> int(row["kept_epoch"]), float(row["gap"])
        (2, 0.2)
    """
    if not histories:
        raise ValueError("histories must hold at least one run: {name: history DataFrame}")
    rows = []
    for name, history in histories.items():
        for column in ("accuracy", "val_accuracy"):
            if column not in history:
                raise ValueError(f"run {name!r} has no {column!r} column; it has {list(history.columns)}")
        kept = _kept_row(history)
        rows.append({
            "model": name,
            "epochs": len(history),
            "kept_epoch": int(kept["epoch"]),
            "train_accuracy": float(kept["accuracy"]),
            "val_accuracy": float(kept["val_accuracy"]),
            "gap": float(kept["accuracy"] - kept["val_accuracy"]),
            "best_val_accuracy": float(history["val_accuracy"].max()),
            "minutes": float(history["seconds"].sum() / 60) if "seconds" in history else np.nan,
        })
    return pd.DataFrame(rows).set_index("model").round(3)


# ---------------------------------------------------------------- drawings

def plot_history(history: pd.DataFrame, title: str = "Learning curves") -> Figure:
    """Return a figure with accuracy and loss, training vs validation, per epoch.

    The epoch whose weights were kept is marked with a dotted line.

    Example:
        >>> history = history_frame({"accuracy": [0.6, 0.9], "loss": [0.7, 0.3]}, best=2)
        >>> [axes.get_title() for axes in plot_history(history).axes]
        ['Accuracy', 'Loss']
    """
    figure = Figure(figsize=(11, 4), layout="constrained")
    kept = int(_kept_row(history)["epoch"]) if "best" in history else None
    for axes, metric in zip(figure.subplots(1, 2), ("accuracy", "loss")):
        if metric not in history:
            raise ValueError(f"history has no {metric!r} column; it has {list(history.columns)}")
        axes.plot(history["epoch"], history[metric], "o-", color="#0072B2", label="training")
        if f"val_{metric}" in history:
            axes.plot(history["epoch"], history[f"val_{metric}"], "s--", color="#D55E00",
                      label="validation")
        if kept is not None:
            axes.axvline(kept, color="0.4", linestyle=":", label=f"kept (epoch {kept})")
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(metric)
        axes.set_title(f"{metric.capitalize()}")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title, fontsize="x-large")
    return figure


def plot_comparison(histories: Mapping[str, pd.DataFrame],
                    title: str = "Validation accuracy of the variants") -> Figure:
    """Return a figure: validation accuracy per epoch of every run, and the kept accuracy as bars.

    Example:
        >>> runs = {name: history_frame({"accuracy": [0.6, 0.9], "val_accuracy": [0.6, acc]})
        ...         for name, acc in (("baseline", 0.7), ("+augmentation", 0.8))}
        >>> len(plot_comparison(runs).axes)
        2
    """
    table = compare_runs(histories)
    figure = Figure(figsize=(12, 4.5), layout="constrained")
    curves, bars = figure.subplots(1, 2, width_ratios=[3, 2])
    colors = [_color(index) for index in range(len(histories))]
    styles = ["o-", "s--", "^-.", "D:"]  # marker and dash differ too: equal curves stay visible
    for index, (color, (name, history)) in enumerate(zip(colors, histories.items())):
        curves.plot(history["epoch"], history["val_accuracy"], styles[index % len(styles)],
                    color=color, label=name, markersize=4, alpha=0.9)
    curves.set_xlabel("epoch")
    curves.xaxis.set_major_locator(MaxNLocator(integer=True))
    curves.set_ylabel("validation accuracy")
    curves.set_title("Validation accuracy per epoch")
    curves.grid(alpha=0.3)
    curves.legend()
    positions = np.arange(len(table))
    bars.barh(positions, table["val_accuracy"], color=colors)
    bars.set_yticks(positions, table.index)
    bars.invert_yaxis()
    for position, value in zip(positions, table["val_accuracy"]):
        bars.text(value, position, f" {value:.3f}", va="center")
    bars.set_xlim(0.4, 1.0)
    bars.set_xlabel("validation accuracy (kept epoch)")
    bars.set_title("Kept model")
    figure.suptitle(title, fontsize="x-large")
    return figure


def _color(index: int) -> str:
    """Return the ``index``-th colour of the colour-blind-safe Okabe-Ito palette."""
    palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
    return palette[index % len(palette)]
