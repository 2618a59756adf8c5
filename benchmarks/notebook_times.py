"""How long each lesson takes in quick mode under nbval, and the whole test suite.

    python benchmarks/notebook_times.py              # each notebook, one after the other
    python benchmarks/notebook_times.py --suite 3    # also `make test` three times, median

Prints one figure per line (`name: value unit`); the headline figure comes last.
Run it with the course mirror set (COURSEKIT_MIRROR), as CI does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_notebook(path: Path) -> tuple[float, bool]:
    """Return (wall seconds, passed) for one notebook under `pytest --nbval-lax` in quick mode."""
    env = {**os.environ, "COURSEKIT_QUICK": "1", "MPLBACKEND": "Agg",
           "COURSEKIT_DATA": os.environ.get("COURSEKIT_DATA", str(REPO / ".cache" / "data")),
           "KERAS_HOME": os.environ.get("KERAS_HOME", str(REPO / ".cache" / "keras"))}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "--nbval-lax", "--nbval-current-env",
                             str(path)], cwd=REPO, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, result.returncode == 0


def run_suite() -> tuple[float, bool]:
    """Return (wall seconds, passed) for the README's test command, `make test`."""
    start = time.perf_counter()
    result = subprocess.run(["make", "test"], cwd=REPO, capture_output=True, text=True)
    return time.perf_counter() - start, result.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", type=int, default=0, help="also run `make test` this many times")
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args()
    total = 0.0
    if not args.skip_notebooks:
        for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            seconds, passed = run_notebook(path)
            total += seconds
            print(f"{path.stem}: {seconds:.1f} s{'' if passed else ' (FAILED)'}", flush=True)
        print(f"notebooks_sequential_total: {total:.1f} s", flush=True)
    if args.suite:
        runs = []
        for index in range(args.suite):
            seconds, passed = run_suite()
            runs.append(seconds)
            print(f"make_test_run_{index + 1}: {seconds:.1f} s{'' if passed else ' (FAILED)'}", flush=True)
        print(f"make_test_median: {statistics.median(runs):.1f} s")


if __name__ == "__main__":
    main()
