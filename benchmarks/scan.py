"""How fast does coursekit.scan.scan read a real folder, and how much memory does it take?

Scans the full 3000-image ``cats_and_dogs_filtered`` folder, then a messy copy of its training
images (every defect kind, including a 20000 x 20000 PNG bomb), and prints one figure per line.
Peak memory is the summed resident memory of this process and any child processes, sampled
every 10 ms from /proc (Linux). The files are read once before timing, so the page cache is
warm. scan reads files in a thread pool; the speed is printed for 1 thread, one per core and
the default pool. The headline (last line) is the first scan in a fresh Python; the machine is
shared, so the load average is printed before and after.
Target (issue 3): at least 300 images/s and under 1 GB peak on a 2-core machine.

Run:  COURSEKIT_MIRROR=... python benchmarks/scan.py
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from coursekit import datasets
from coursekit.messy import make_messy_copy
from coursekit.scan import scan


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # a worker that just exited
    return total


class PeakMemory:
    """Sample the process tree's resident memory in a thread; ``peak`` is the maximum seen."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def __enter__(self) -> "PeakMemory":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss(os.getpid()))


def _warm(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.read_bytes()


def measure(folder: Path, workers: int | None = None) -> tuple[int, int, float, int]:
    """Return (files, decoded images, seconds, peak bytes) for one scan of ``folder``."""
    _warm(folder)
    with PeakMemory() as memory:
        start = time.perf_counter()
        report = scan(folder, workers=workers, progress=False)
        seconds = time.perf_counter() - start
    images = int(report["dhash"].notna().sum())  # files decoded as images
    return len(report), images, seconds, memory.peak


def main() -> None:
    root = datasets.load("cats_and_dogs_filtered", quick=False)
    print(f"cores: {len(os.sched_getaffinity(0))}")
    print(f"load_average_before: {os.getloadavg()[0]:.2f}")
    # first: a cold start, as a student's first scan (the thread pool starts inside it)
    cores = len(os.sched_getaffinity(0))
    files, images, cold_seconds, peak = measure(root)
    files, images, warm_seconds, warm_peak = measure(root)
    _, _, serial_seconds, serial_peak = measure(root, workers=1)
    _, _, cores_seconds, cores_peak = measure(root, workers=cores)
    print(f"files: {files} files")
    print(f"images: {images} images")
    print(f"one_thread_images_per_second: {images / serial_seconds:.0f} images/s")
    print(f"one_thread_per_core_images_per_second: {images / cores_seconds:.0f} images/s")
    print(f"warm_images_per_second: {images / warm_seconds:.0f} images/s")
    print(f"peak_memory: {max(peak, warm_peak, serial_peak, cores_peak) / 2**20:.0f} MB")
    with tempfile.TemporaryDirectory() as scratch:
        truth = make_messy_copy(root / "train", Path(scratch) / "messy", seed=0)
        messy = scan(Path(scratch) / "messy", progress=False)
        recovered = truth.merge(messy[["path", "issues"]], on="path")
        mismatches = int((recovered["expected"] != recovered["issues"]).sum())
        messy_files, messy_images, messy_seconds, messy_peak = measure(Path(scratch) / "messy")
    print(f"messy_files: {messy_files} files")
    print(f"messy_ground_truth_mismatches: {mismatches + len(truth) - len(recovered)} files")
    print(f"messy_files_per_second: {messy_files / messy_seconds:.0f} files/s")
    print(f"messy_peak_memory: {messy_peak / 2**20:.0f} MB")
    print(f"load_average_after: {os.getloadavg()[0]:.2f}")
    print(f"cold_seconds: {cold_seconds:.2f} s")
    print(f"images_per_second: {images / cold_seconds:.0f} images/s")


if __name__ == "__main__":
    main()
