"""Record the lessons' results: run them in full mode and write ``results/<lesson>.json``.

    python tools/record.py                    # all eight lessons, 00-07 (what `make results` runs)
    python tools/record.py 05 06              # chosen lessons (number or file name)
    python tools/record.py 00 --quick --out /tmp/record-try    # a quick try, never into results/

Each lesson runs top to bottom in a fresh kernel (papermill, in a process of its own with the
lesson's environment) on a temporary copy, so no output ever lands in ``notebooks/``; by default
each gets a fresh, empty data folder (``COURSEKIT_DATA``; ``--shared-data DIR`` shares one), and
the course mirror comes from ``COURSEKIT_MIRROR`` (or ``../shared/datasets`` and
``../shared/weights`` beside the repository). After the full run the lesson runs once more in
quick mode, with a fresh data folder, to time it (``quick_seconds``; ``--no-quick-timing`` skips
that). A cell that runs longer than its timeout fails the lesson at once: 40 minutes in full mode
(lesson 5 trains for about 20 in one cell), ``COURSEKIT_CELL_TIMEOUT`` or 120 s in quick mode
(``--cell-timeout`` sets both). Before each lesson of a full record the script waits until the
machine has settled, the 1-minute load average under 1 (``--settle LOAD``; at most 10 minutes, then
it records anyway, the load kept in the record as always), so the lesson before does not count as
load on the next one. The executed notebooks stay in ``.cache/executed/full/`` and
``.cache/executed/quick/`` (the course site is built from them); a failed run's in
``.cache/executed/failed/``.

The record (JSON): ``lesson``, ``mode`` ("full"), ``commit`` (git HEAD) and ``dirty`` (the
working tree differed from it outside ``results/``), ``date`` (UTC), ``machine`` (CPU model,
cores, GPUs, load average before and after, Python, TensorFlow, Keras, NumPy), ``seconds`` (wall
time of the whole notebook, kernel start included), ``quick_seconds``, ``cell_seconds`` (the
slowest code cells) and ``figures`` (what the lesson's ``coursekit.results.record(...)`` calls
reported).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
EXECUTED = REPO / ".cache" / "executed"
DEFAULT_LESSONS = ["00", "01", "02", "03", "04", "05", "06", "07"]
SLOWEST_CELLS = 5
FULL_CELL_TIMEOUT = 40 * 60  # seconds; lesson 5 trains its variants in one cell
SETTLE_LOAD = 1.0  # a full record starts when the 1-minute load average is under this
SETTLE_MOST = 10 * 60  # seconds to wait for it at most


class LessonFailed(RuntimeError):
    """A cell of the lesson raised or ran past its timeout; the message ends with papermill's report."""


def lesson_path(name: str) -> Path:
    """Return the lesson file for ``"03"``, ``"04_training_a_cnn"`` or a path to it."""
    stem = Path(name).stem
    found = sorted((REPO / "notebooks").glob(f"{stem}.ipynb")) or sorted((REPO / "notebooks").glob(f"{stem}_*.ipynb"))
    if len(found) != 1:
        lessons = ", ".join(path.stem for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")))
        raise ValueError(f"{name!r} names {len(found)} lessons; the lessons are: {lessons}")
    return found[0]


def _version(*distributions: str) -> str | None:
    for distribution in distributions:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def machine() -> dict:
    """Describe this machine without importing TensorFlow (versions from package metadata)."""
    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.is_file() else []
    gpus = []
    if shutil.which("nvidia-smi"):
        query = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=60)
        gpus = [line.strip() for line in query.stdout.splitlines() if line.strip()]
    return {
        "cpu": models[0] if models else (platform.processor() or platform.machine()),
        "cores": os.cpu_count(),
        "gpus": gpus or "none",
        "system": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow", "tensorflow-cpu"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
    }


def git_state() -> tuple[str, bool]:
    """Return (HEAD commit, whether the working tree differs from it outside ``results/``: the
    records this command writes, one lesson after another, are not a change to the code)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    return git("rev-parse", "HEAD"), bool(git("status", "--porcelain", "--", ".", ":(exclude)results"))


def default_mirror() -> str:
    """COURSEKIT_MIRROR, or the shared course folders beside the repository (as .ci/run does)."""
    if os.environ.get("COURSEKIT_MIRROR"):
        return os.environ["COURSEKIT_MIRROR"]
    folders = [REPO.parent / "shared" / name for name in ("datasets", "weights")]
    return os.pathsep.join(str(folder) for folder in folders if folder.is_dir())


def cell_timeout_for(quick: bool) -> int:
    """Seconds one cell may run: COURSEKIT_CELL_TIMEOUT (as `make test`) or 120 in quick mode, 40 min in full."""
    return int(os.environ.get("COURSEKIT_CELL_TIMEOUT") or 120) if quick else FULL_CELL_TIMEOUT


def execute(path: Path, quick: bool, data: Path | None, cell_timeout: int | None,
            keep: Path | None = None) -> tuple[float, dict, object]:
    """Run a temporary copy of a lesson in a fresh kernel; return (seconds, figures, executed notebook).

    ``data`` None gives the run a fresh, empty data folder; ``keep`` (a folder) receives the
    executed notebook under ``full/`` or ``quick/``, and the copy of a failed run under
    ``failed/``. Raises ``LessonFailed`` when a cell fails or runs past ``cell_timeout`` seconds
    (None: ``cell_timeout_for(quick)``).
    """
    with tempfile.TemporaryDirectory(prefix=f"record-{path.stem[:2]}-") as scratch:
        scratch = Path(scratch)
        copy, executed = scratch / path.name, scratch / f"executed-{path.name}"
        shutil.copy2(path, copy)
        # No MPLBACKEND: the kernel's inline backend keeps every figure in the executed copy (the
        # site's pages); COURSEKIT_SITE=1: explorers carry their static copy there too.
        env = {**{key: value for key, value in os.environ.items() if key != "MPLBACKEND"},
               "COURSEKIT_QUICK": "1" if quick else "0", "COURSEKIT_MIRROR": default_mirror(),
               "COURSEKIT_DATA": str(data or scratch / "data"), "COURSEKIT_RECORD": str(scratch / "figures.json"),
               "COURSEKIT_SITE": "1", "PYTHONHASHSEED": "0"}
        command = [sys.executable, "-m", "papermill", str(copy), str(executed), "--cwd", str(scratch),
                   "--kernel", "python3", "--no-progress-bar", "--log-level", "WARNING",
                   "--execution-timeout", str(cell_timeout or cell_timeout_for(quick))]
        run = subprocess.run(command, env=env, capture_output=True, text=True)
        where = (keep / ("failed" if run.returncode else "quick" if quick else "full")) if keep else None
        if where and executed.is_file():
            where.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(executed, where / path.name)
        if where and not run.returncode:
            (keep / "failed" / path.name).unlink(missing_ok=True)  # an old failure is history now
        if run.returncode:
            kept = f"; the executed copy is {where / path.name}" if where and executed.is_file() else ""
            raise LessonFailed(f"{path.stem} failed in {'quick' if quick else 'full'} mode{kept}:\n"
                               f"{run.stderr[-3000:]}")
        notebook = nbformat.read(executed, as_version=4)
        figures_file = scratch / "figures.json"
        figures = json.loads(figures_file.read_text()) if figures_file.is_file() else {}
    return float(notebook.metadata.papermill.duration), figures, notebook


def slowest_cells(notebook, count: int = SLOWEST_CELLS) -> list[dict]:
    """Return the ``count`` slowest code cells: index in the notebook, seconds (papermill's), first line."""
    timed = [{"cell": index, "seconds": round(cell.metadata.papermill["duration"], 1),
              "source": next((line for line in cell.source.splitlines() if line.strip()), "")[:80]}
             for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and cell.metadata.get("papermill", {}).get("duration") is not None]
    return sorted(timed, key=lambda entry: -entry["seconds"])[:count]


def settle(below: float, most: float = SETTLE_MOST, poll: float = 5.0,
           load=os.getloadavg, sleep=time.sleep) -> float:
    """Wait until the 1-minute load average is under ``below`` (at most ``most`` seconds) and return
    it; ``below <= 0`` does not wait.

    >>> loads = iter([1.6, 1.2, 0.7])
    >>> settle(1.0, load=lambda: (next(loads), 0.0, 0.0), sleep=lambda seconds: None)
    0.7
    """
    waited, current = 0.0, load()[0]
    while below > 0 and current >= below and waited < most:
        sleep(poll)
        waited += poll
        current = load()[0]
    return current


def record_lesson(path: Path, quick: bool, shared_data: Path | None, quick_timing: bool,
                  cell_timeout: int | None = None, keep: Path | None = None) -> dict:
    """Run one lesson (and, for a full record, time it in quick mode) and return its record;
    ``keep``: where the executed notebooks go (``execute``)."""
    commit, dirty = git_state()
    load_before = [round(value, 2) for value in os.getloadavg()]
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    seconds, figures, notebook = execute(path, quick, shared_data, cell_timeout, keep)
    quick_seconds = None
    if quick_timing and not quick:
        quick_seconds = round(execute(path, True, shared_data, cell_timeout, keep)[0], 1)
    about = machine() | {"load_average_before": load_before,
                         "load_average_after": [round(value, 2) for value in os.getloadavg()]}
    record = {"lesson": path.stem, "mode": "quick" if quick else "full", "commit": commit, "dirty": dirty,
              "date": date, "machine": about, "seconds": round(seconds, 1)}
    if quick_seconds is not None:
        record["quick_seconds"] = quick_seconds
    return record | {"cell_seconds": slowest_cells(notebook), "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/record.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", default=DEFAULT_LESSONS, help="lesson numbers or files (default: all, 00-07)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the records (default results/)")
    parser.add_argument("--quick", action="store_true", help="quick mode (a try: needs --out outside results/)")
    parser.add_argument("--shared-data", metavar="DIR", help="one data folder for all runs instead of fresh ones")
    parser.add_argument("--no-quick-timing", action="store_true", help="skip the quick-mode timing run")
    parser.add_argument("--settle", type=float, default=SETTLE_LOAD, metavar="LOAD",
                        help="before each full-mode lesson, wait (at most 10 min) until the 1-minute load "
                        f"average is under LOAD (default {SETTLE_LOAD}; 0: do not wait)")
    parser.add_argument("--cell-timeout", type=int, help="seconds one cell may take (default: 40 min in full "
                        "mode, COURSEKIT_CELL_TIMEOUT or 120 in quick mode)")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if args.quick and out == RESULTS.resolve():
        parser.error("a quick-mode record never goes into results/: pass --out with a scratch folder")
    paths = [lesson_path(name) for name in args.lessons]
    failed = []
    for path in paths:
        if not args.quick:
            print(f"{path.stem}: waiting for a load average under {args.settle} ...", flush=True)
            print(f"{path.stem}: load average {settle(args.settle):.2f}", flush=True)
        print(f"{path.stem}: running in {'quick' if args.quick else 'full'} mode ...", flush=True)
        try:
            record = record_lesson(path, args.quick, Path(args.shared_data) if args.shared_data else None,
                                   not args.no_quick_timing, args.cell_timeout, EXECUTED)
        except LessonFailed as error:
            print(f"{path.stem}: FAILED: {error}", file=sys.stderr, flush=True)
            failed.append(path.stem)
            continue
        out.mkdir(parents=True, exist_ok=True)
        target = out / f"{path.stem}.json"
        target.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"{path.stem}: {record['seconds']} s, {len(record['figures'])} figures -> {target}", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)} (no record written for them)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
