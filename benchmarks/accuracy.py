"""Validation accuracy and training time of the course's recipes, trained in FULL mode.

Trains the recipes of ``coursekit/recipes.py``, the same definitions the lessons use (lesson 4's
``SCRATCH_CNN``, lesson 5's ``LESSON5_VARIANTS``, lesson 6's ``TRANSFER_FROZEN`` and
``TRANSFER_FINE_TUNED``), on the full cats_and_dogs_filtered photos with
``training.train_or_load(recipe, ..., quick=False, retrain=True)``, and prints one figure per
line (``name: value unit``), the headline last. Each model is stored where the lessons look for
it, so a lesson run afterwards loads it. With ``--reuse`` a model trained before (by a lesson
or an earlier run) is loaded instead and the history recorded with it is reported.

    python benchmarks/accuracy.py                          # every recipe
    python benchmarks/accuracy.py --runs baseline +L2      # some (names from --list)
    python benchmarks/accuracy.py --list                   # the runs and their recipes

Targets (validation accuracy): the scratch CNN >= 0.72; lesson 5's best regularized variant
>= 0.80 and more than the noise yardstick (``compare.yardstick``) above its baseline (issue 16);
the frozen ImageNet base >= 0.95, fine-tuned >= 0.97. The accuracy reported is that of the
epoch whose weights were kept: the best one by early stopping, chosen on the validation photos
themselves, or the last one for lesson 5's variants, which train their whole budget.

Progress (one line per epoch, Keras' own) goes to stderr; figures go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time

from coursekit import config, datasets, recipes, training

#: The runs: lesson 4's CNN, lesson 5's variants, then lesson 6's recipes.
RUNS = {**recipes.LESSON5_VARIANTS, "transfer-frozen": recipes.TRANSFER_FROZEN,
        "transfer-fine-tuned": recipes.TRANSFER_FINE_TUNED}
if recipes.SCRATCH_CNN not in RUNS.values():
    RUNS = {"scratch_cnn": recipes.SCRATCH_CNN, **RUNS}


def run(recipe: recipes.Recipe, root, reuse: bool) -> dict:
    """Train (or with ``reuse`` load) one recipe in full mode; return its figures."""
    train_ds, val_ds, _ = training.image_datasets(root, recipe.input_size(quick=False),
                                                  recipe.batch_size)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # Keras' progress lines are not figures
        _, history = training.train_or_load(recipe, train_ds, val_ds, retrain=not reuse,
                                            verbose=2, quick=False)
    kept = history[history["best"].astype(bool)].iloc[0]
    return {"val_accuracy": float(kept["val_accuracy"]), "epochs": len(history),
            "kept_epoch": int(kept["epoch"]), "gap": float(kept["accuracy"] - kept["val_accuracy"]),
            "train_seconds": float(history["seconds"].sum()),
            "wall_seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), metavar="RUN",
                        help=f"runs to train (default: all): {', '.join(RUNS)}")
    parser.add_argument("--reuse", action="store_true",
                        help="load models trained before (report their recorded histories)")
    parser.add_argument("--list", action="store_true", help="list the runs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, recipe in RUNS.items():
            print(f"{name}: {recipe.name}, {recipe.image_size} px, at most {recipe.epochs} epochs")
        return 0
    unknown = [name for name in args.runs if name not in RUNS]
    if unknown:
        parser.error(f"unknown run(s) {unknown}; choose from {list(RUNS)}")
    os.environ["COURSEKIT_QUICK"] = "0"  # the benchmark is full mode by definition
    root = datasets.load("cats_and_dogs_filtered", quick=False)
    gpus = config.gpu_names()
    print(f"device: {', '.join(gpus) if gpus else f'CPU only, {os.cpu_count()} cores'} "
          f"({platform.processor() or platform.machine()})")
    results, total = {}, time.perf_counter()
    for name in args.runs:
        results[name] = figures = run(RUNS[name], root, args.reuse)
        slug = RUNS[name].name
        print(f"{slug}_epochs: {figures['epochs']} epochs (kept epoch {figures['kept_epoch']})")
        print(f"{slug}_gap: {figures['gap']:.3f} (train - validation accuracy)")
        print(f"{slug}_train_seconds: {figures['train_seconds']:.0f} s")
        print(f"{slug}_wall_seconds: {figures['wall_seconds']:.0f} s")
        print(f"{slug}_val_accuracy: {figures['val_accuracy']:.3f}", flush=True)
    print(f"total_wall_seconds: {time.perf_counter() - total:.0f} s")
    regularized = {name: figures["val_accuracy"] for name, figures in results.items()
                   if name in recipes.LESSON5_VARIANTS and name != "baseline"}
    if regularized:
        best = max(regularized, key=regularized.get)
        print(f"best_regularized_val_accuracy: {regularized[best]:.3f} ({best})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
