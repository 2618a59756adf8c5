"""How much lesson 5's comparison moves with the random seed: training noise, beside the
validation photos' noise that ``compare.yardstick`` measures.

On one machine a recipe trained twice gives the same numbers (tests/test_training.py), so the
lesson's record repeats. Another seed draws other first weights, shuffles, augmentations and
dropout masks, and the accuracies move. This benchmark trains the baseline and the best
variant of ``recipes.LESSON5_VARIANTS`` with several seeds in FULL mode (the recipes'
own settings, their names suffixed with the seed, in a scratch data folder) and prints each
validation accuracy (last epoch, inference mode), their spread, and the gain of the best
variant over the baseline per seed, the headline being the smallest gain seen.

    python benchmarks/seed_spread.py                      # seeds 1, 2, 3 (about 20 min on 2 cores)
    python benchmarks/seed_spread.py --seeds 1 2 --variants baseline +L2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace

from coursekit import compare, datasets, recipes, training

BEST = "+average pooling+augmentation+dropout"


def accuracy(recipe: recipes.Recipe, root) -> tuple[float, int]:
    """Train ``recipe`` in full mode; return its last epoch's validation accuracy and photos."""
    train_ds, val_ds, _ = training.image_datasets(root, recipe.input_size(quick=False),
                                                  recipe.batch_size, seed=recipe.seed)
    with contextlib.redirect_stdout(sys.stderr):  # Keras' progress lines are not figures
        model, _ = training.train_or_load(recipe, train_ds, val_ds, verbose=2, quick=False)
    return float(model.evaluate(val_ds, verbose=0, return_dict=True)["accuracy"]), len(val_ds.file_paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=["baseline", BEST],
                        choices=list(recipes.LESSON5_VARIANTS), metavar="VARIANT")
    args = parser.parse_args(argv)
    os.environ["COURSEKIT_QUICK"] = "0"
    root = datasets.load("cats_and_dogs_filtered", quick=False)
    os.environ["COURSEKIT_DATA"] = tempfile.mkdtemp(prefix="seed-spread-")  # models go here
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    found, start = {}, time.perf_counter()
    for name in args.variants:
        base = recipes.LESSON5_VARIANTS[name]
        for seed in args.seeds:
            recipe = replace(base, name=f"{base.name}-seed{seed}", seed=seed)
            found[name, seed], photos = accuracy(recipe, root)
            print(f"{recipe.name}_val_accuracy: {found[name, seed]:.3f}", flush=True)
        values = [found[name, seed] for seed in args.seeds]
        slug = base.name
        print(f"{slug}_spread: {max(values) - min(values):.3f} (max - min over {len(values)} seeds)")
        if len(values) > 1:
            print(f"{slug}_stdev: {statistics.stdev(values):.3f}")
    print(f"seconds: {time.perf_counter() - start:.0f} s")
    if "baseline" in args.variants and len(args.variants) > 1:
        other = next(name for name in args.variants if name != "baseline")
        gains = [found[other, seed] - found["baseline", seed] for seed in args.seeds]
        for seed, gain in zip(args.seeds, gains):
            weighed = compare.weigh(found["baseline", seed], found[other, seed], photos)
            print(f"gain_seed{seed}: {gain:+.3f} (yardstick {weighed['yardstick']:.3f})")
        print(f"smallest_gain: {min(gains):+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
