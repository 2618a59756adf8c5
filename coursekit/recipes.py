"""Recipes: every trained model of the course, defined once (network, input size, training).

Lessons ask ``training.train_or_load(recipe, train_ds, val_ds)`` for a model, so lessons run
in any order show the same one. Change a course model here, in one place; try a variant with
``dataclasses.replace(SCRATCH_CNN, name="my-cnn", dropout=0.3)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from coursekit import cnn, config, pretrained

keras = config.import_keras()


@dataclass(frozen=True)
class Recipe:
    """How one model of the course is built and trained; every field goes into its cache key.

    Square images of ``image_size`` pixels (``quick_image_size`` in quick mode); at most ``epochs``
    (``quick_epochs``); early stopping on ``monitor`` after ``patience`` epochs keeps the best
    weights (None: every epoch runs, the last weights are kept). ``model`` "scratch_cnn":
    ``cnn.scratch_cnn`` with ``filters``, ``head``, ``dropout``, ``l2`` and ``augmentation``
    (``cnn.augmentation_layers`` arguments); "transfer": the frozen ImageNet ``base`` under a new
    head. ``schedule``: "cosine" (``CosineDecay`` per epoch, from ``learning_rate`` to zero),
    ``ReduceLROnPlateau`` arguments, or None. Fine-tuning: a copy of ``start_from``'s trained
    model continues, its base trainable from ``fine_tune_from`` on (BatchNorm stays frozen).

    >>> tiny = Recipe("tiny", image_size=32, quick_image_size=16, epochs=3, quick_epochs=1,
    ...               learning_rate=1e-3, monitor="val_accuracy", patience=2, filters=(4, 8))
    >>> tiny.input_size(quick=True), tiny.max_epochs(quick=False)
    ((16, 16), 3)
    >>> replace(tiny, dropout=0.5).build(num_classes=3, quick=True).output_shape
    (None, 3)
    """

    name: str
    image_size: int
    quick_image_size: int
    epochs: int
    quick_epochs: int
    learning_rate: float
    monitor: str
    patience: int | None
    model: str = "scratch_cnn"
    filters: tuple[int, ...] = cnn.FILTERS
    head: str = "average"
    dropout: float = 0.0
    l2: float = 0.0
    augmentation: dict | None = None
    base: str | None = None
    alpha: float | None = None
    start_from: Recipe | None = None
    fine_tune_from: str | None = None
    batch_size: int = 32
    optimizer: str = "adam"
    schedule: str | dict | None = None
    seed: int = 1337

    def __post_init__(self):
        if not self.name or not all(char.isalnum() or char in "-_+" for char in self.name):
            raise ValueError(f"name must be letters, digits, '-', '_' or '+', got {self.name!r}")
        if self.model not in _BUILDERS:
            raise ValueError(f"model must be one of {sorted(_BUILDERS)}, got {self.model!r}")
        if self.monitor not in ("val_accuracy", "val_loss"):
            raise ValueError(f"monitor must be 'val_accuracy' or 'val_loss', got {self.monitor!r}")
        for field in ("image_size", "quick_image_size", "epochs", "quick_epochs", "patience", "batch_size"):
            value = getattr(self, field)
            if (value is not None or field != "patience") and int(value) < (8 if "image" in field else 1):
                raise ValueError(f"{field} must be a positive int (sizes at least 8), got {value!r}")
        if (self.start_from is None) != (self.fine_tune_from is None):
            raise ValueError("fine-tuning needs both start_from (a Recipe) and fine_tune_from "
                             "(the first base layer that trains); other recipes set neither")

    def input_size(self, quick: bool | None = None) -> tuple[int, int]:
        """(height, width) of the images in quick or full mode (None: ``COURSEKIT_QUICK``)."""
        size = self.quick_image_size if config.quick_mode(quick) else self.image_size
        return int(size), int(size)

    def max_epochs(self, quick: bool | None = None) -> int:
        """The most epochs this recipe trains in quick or full mode."""
        return int(self.quick_epochs if config.quick_mode(quick) else self.epochs)

    def schedule_callbacks(self, quick: bool | None = None) -> list:
        """The callbacks that carry out ``schedule`` (an empty list for a constant rate)."""
        if self.schedule == "cosine":  # one step of the decay per epoch, from epoch 0
            cosine = keras.optimizers.schedules.CosineDecay(self.learning_rate,
                                                            decay_steps=self.max_epochs(quick))
            return [keras.callbacks.LearningRateScheduler(lambda epoch: float(cosine(epoch)))]
        return [keras.callbacks.ReduceLROnPlateau(**self.schedule)] if self.schedule else []

    def build(self, num_classes: int = 2, quick: bool | None = None, start=None):
        """Return the uncompiled model: built fresh, or (fine-tuning) a copy of ``start``, the
        trained model of ``start_from``, its base unfrozen from ``fine_tune_from`` on."""
        if self.start_from is None:
            return _BUILDERS[self.model](self, num_classes, self.input_size(quick))
        if start is None:
            raise ValueError(f"recipe {self.name!r} continues {self.start_from.name!r}: pass its "
                             f"trained model as start (train_or_load does)")
        copy = keras.models.clone_model(start)
        copy.set_weights(start.get_weights())
        bases = [layer for layer in copy.layers if isinstance(layer, keras.Model)
                 and self.fine_tune_from in [inner.name for inner in layer.layers]]
        if not bases:
            raise ValueError(f"{start.name} has no nested base with a layer {self.fine_tune_from!r}")
        pretrained.unfreeze_from(bases[0], self.fine_tune_from)
        return copy


def _augmentation(recipe: Recipe):
    return cnn.augmentation_layers(**recipe.augmentation, seed=recipe.seed) if recipe.augmentation else None


def _scratch_cnn(recipe: Recipe, num_classes: int, size: tuple[int, int]):
    return cnn.scratch_cnn((*size, 3), num_classes=num_classes, filters=recipe.filters,
                           dropout=recipe.dropout, l2=recipe.l2, head=recipe.head,
                           augmentation=_augmentation(recipe))


def _transfer(recipe: Recipe, num_classes: int, size: tuple[int, int]):
    base, preprocess_input = pretrained.pretrained_base(recipe.base, (*size, 3), alpha=recipe.alpha)
    base.trainable = False
    return pretrained.transfer_model(base, preprocess_input, augmentation=_augmentation(recipe),
                                     dropout=recipe.dropout, num_classes=num_classes)


_BUILDERS = {"scratch_cnn": _scratch_cnn, "transfer": _transfer}

#: Lesson 4's CNN from scratch; lessons 6 and 7 show this same model.
SCRATCH_CNN = Recipe("scratch_cnn", image_size=112, quick_image_size=64, epochs=12, quick_epochs=2,
                     learning_rate=1e-3, monitor="val_accuracy", patience=4, schedule="cosine")
#: Flips, turns up to +-36 degrees (a tenth of a turn) and zooms up to 20 %: lesson 5's augmentation.
FLIP_ROTATE_ZOOM = dict(flip="horizontal", rotation=0.1, zoom=0.2, translation=0.0, contrast=0.0)

#: Lesson 5's baseline: lesson 4's four blocks under the lecture network's kind of head
#: (Flatten -> Dense(256)), which memorises the training photos within a few epochs. Every
#: variant trains all 40 epochs on one cosine schedule and keeps its last weights (no early
#: stopping), so the curves show what each regularizer does over the same budget.
FLATTEN_CNN = replace(SCRATCH_CNN, name="flatten_cnn", head="flatten", epochs=40,
                      monitor="val_loss", patience=None)

#: Lesson 5's comparison: the baseline plus regularizers, all trained the same way.
LESSON5_VARIANTS = {
    "baseline": FLATTEN_CNN,
    "+dropout": replace(FLATTEN_CNN, name="flatten_cnn-dropout", dropout=0.5),
    "+L2": replace(FLATTEN_CNN, name="flatten_cnn-l2", l2=1e-4),
    "+augmentation": replace(FLATTEN_CNN, name="flatten_cnn-augmentation",
                             augmentation=FLIP_ROTATE_ZOOM),
    "+augmentation+dropout": replace(FLATTEN_CNN, name="flatten_cnn-augmentation-dropout",
                                     augmentation=FLIP_ROTATE_ZOOM, dropout=0.5),
    # lesson 4's head, global average pooling, has no weights to memorise with: a regularizer too
    "+average pooling+augmentation+dropout": replace(
        FLATTEN_CNN, name="average_cnn-augmentation-dropout", head="average",
        augmentation=FLIP_ROTATE_ZOOM, dropout=0.5),
}

#: Lesson 6, stage 1: the frozen ImageNet base with augmentation and a new head.
TRANSFER_FROZEN = Recipe(
    "transfer-frozen", model="transfer", base="mobilenet_v2", alpha=0.35, image_size=224,
    quick_image_size=96,  # the 224-pixel ImageNet weights work on small images too, a bit worse
    epochs=2, quick_epochs=1, learning_rate=1e-3, monitor="val_loss", patience=2, dropout=0.2,
    augmentation=dict(flip="horizontal", rotation=0.1, zoom=0.1, translation=0.0, contrast=0.0))

#: Lesson 6, stage 2: fine-tune the base's top block, starting from the trained stage 1.
TRANSFER_FINE_TUNED = replace(
    TRANSFER_FROZEN, name="transfer-fine-tuned", start_from=TRANSFER_FROZEN, epochs=2, quick_epochs=1,
    fine_tune_from=pretrained.BASES["mobilenet_v2"].top_block, learning_rate=1e-4)
