"""Budgets of the explorers without a kernel (issue 19), measured in headless Chromium.

* ``export_size``: the folder ``explorers.export_explorer`` writes for the course CNN
  (``recipes.SCRATCH_CNN`` at its full-mode size; the trained copy that ``training.train_or_load``
  cached under ``data_dir()/models/`` when there is one) over 8 real validation photos.
  Budget: at most 3 MB.
* redraw: from a control move (the input event a slider or menu fires) until the explorer has
  drawn the new choice and the browser has painted the next frame, timed inside the page
  (``performance.now``; so at least one display frame, about 16.7 ms at 60 Hz), for the Channel, Image and Layer controls of the activation explorer
  and the Blend and Layer controls of Grad-CAM, on the exported folder opened from disk, and on
  the course site's lesson-7 page when ``build/site`` holds one (``make site``). Budget: median
  under 50 ms.

Prints ``name: value unit`` lines, the headline last: the slowest control's median redraw.
Run: ``python benchmarks/explorer_static.py`` (COURSEKIT_MIRROR set as in CI; needs Debian's
chromium and Playwright from the test extra).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from explorer_latency import SIZE, lesson_model  # noqa: E402  (the course CNN, full-mode size)

from coursekit import config, datasets, explorers  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-dev-shm-usage"]

# Moves one control `count` times (each to a new value) and times each redraw in the page.
TIME_MOVES = """async ([index, label, count]) => {
  const root = document.querySelectorAll(".ck-explorer")[index];
  const control = [...root.querySelectorAll("label")].find((l) => l.textContent.startsWith(label))
    .querySelector("input, select");
  const values = control.tagName === "SELECT" ? [...control.options].map((o) => o.value)
    : Array.from({ length: Math.round((control.max - control.min) / (control.step || 1)) + 1 },
                 (_, k) => String(Number(control.min) + k * Number(control.step || 1)));
  const times = [];
  for (let move = 0; move < count; move++) {
    const next = values[(values.indexOf(control.value) + 1) % values.length];
    const drawn = new Promise((resolve) => {
      const watch = new MutationObserver(() => { watch.disconnect(); resolve(); });
      watch.observe(root, { attributes: true, attributeFilter: ["data-drawn"] });
    });
    const start = performance.now();
    control.value = next;
    control.dispatchEvent(new Event(control.tagName === "SELECT" ? "change" : "input"));
    await drawn;
    await new Promise((resolve) => requestAnimationFrame(() => resolve()));
    times.push(performance.now() - start);
  }
  return times;
}"""


def photos(count: int = 8) -> tuple[np.ndarray, list[str]]:
    """``count`` real validation photos, half cats, half dogs, at the course CNN's size."""
    keras = config.import_keras()
    root = datasets.load("cats_and_dogs_filtered")
    paths = [path for name in ("cats", "dogs")
             for path in sorted((root / "validation" / name).glob("*.jpg"))[:count // 2]]
    images = [keras.utils.img_to_array(keras.utils.load_img(path, target_size=(SIZE, SIZE)))
              for path in paths]
    return np.stack(images), [path.name for path in paths]


def time_page(context, url: str, controls: list[tuple[int, str]], moves: int, label: str) -> list[float]:
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => document.querySelectorAll('.ck-explorer[data-drawn]').length > 0")
    medians = []
    for index, control in controls:
        times = page.evaluate(TIME_MOVES, [index, control, moves + 3])[3:]  # 3 warm-up moves
        median, p95 = float(np.median(times)), float(np.percentile(times, 95))
        name = f"{label}_{'gradcam_' if index else ''}{control.lower()}_move"
        print(f"{name}_median: {median:.1f} ms")
        print(f"{name}_p95: {p95:.1f} ms")
        medians.append(median)
    page.close()
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=40, help="timed moves per control")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    model, how = lesson_model()
    print(f"model: scratch_cnn {SIZE}x{SIZE}, {how}")
    images, titles = photos()
    folder = Path(tempfile.mkdtemp()) / "explorer"
    index = explorers.export_explorer(model, images, folder, ["cats", "dogs"], titles)
    size = sum(path.stat().st_size for path in folder.iterdir())
    print(f"export_files: {len(list(folder.iterdir()))} files")
    print(f"export_size: {size / 1e6:.2f} MB")
    medians = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(), executable_path=shutil.which("chromium"), headless=True, args=ARGS,
            viewport={"width": 1300, "height": 1000})
        medians += time_page(context, index.as_uri(), [(0, "Channel"), (0, "Image"), (0, "Layer"),
                                                       (1, "Blend"), (1, "Layer")], args.moves, "export")
        site_page = REPO / "build" / "site" / "lessons" / "07_seeing_what_cnns_learn.html"
        if site_page.is_file():
            print(f"site_page_size: {site_page.stat().st_size / 1e6:.2f} MB")
            medians += time_page(context, site_page.as_uri(), [(0, "Channel"), (0, "Layer")],
                                 args.moves, "site")
        context.close()
    shutil.rmtree(folder.parent)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"static_redraw_median_slowest_control: {max(medians):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
