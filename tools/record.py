"""Record the lessons' results: run them in full mode and write ``results/<lesson>.json``.

    python tools/record.py                    # lessons 03-06 (what `make results` runs)
    python tools/record.py 05 06              # chosen lessons (number or file name)
    python tools/record.py 00 --quick --out /tmp/record-try    # a quick try, never into results/

Each lesson runs top to bottom in a fresh kernel (nbclient) on a temporary copy, so no output
ever lands in ``notebooks/``; by default each gets a fresh, empty data folder
(``COURSEKIT_DATA``; ``--shared-data DIR`` shares one), and the course mirror comes from
``COURSEKIT_MIRROR`` (or ``../shared/datasets`` and ``../shared/weights`` beside the
repository). After the full run the lesson runs once more in quick mode, with a fresh data
folder, to time it (``quick_seconds``; ``--no-quick-timing`` skips that).

The record (JSON): ``lesson``, ``mode`` ("full"), ``commit`` (git HEAD) and ``dirty`` (the
working tree differed from it), ``date`` (UTC), ``machine`` (CPU model, cores, GPUs, load
average before and after, Python, TensorFlow, Keras, NumPy), ``seconds`` (wall time of the
whole notebook, kernel start included), ``quick_seconds``, ``cell_seconds`` (the slowest code
cells) and ``figures`` (what the lesson's ``coursekit.results.record(...)`` calls reported).
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

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
DEFAULT_LESSONS = ["04", "05", "06", "07"]
SLOWEST_CELLS = 5


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


def execute(path: Path, quick: bool, data: Path | None, cell_timeout: int) -> tuple[float, dict, object]:
    """Run a temporary copy of a lesson in a fresh kernel; return (seconds, figures, executed notebook).

    ``data`` None gives the run a fresh, empty data folder. Raises nbclient's CellExecutionError
    (with the executed copy saved beside the temporary notebook) when a cell fails.
    """
    with tempfile.TemporaryDirectory(prefix=f"record-{path.stem[:2]}-") as scratch:
        scratch = Path(scratch)
        copy = scratch / path.name
        shutil.copy2(path, copy)
        env = {**os.environ, "COURSEKIT_QUICK": "1" if quick else "0", "COURSEKIT_MIRROR": default_mirror(),
               "COURSEKIT_DATA": str(data or scratch / "data"), "COURSEKIT_RECORD": str(scratch / "figures.json"),
               "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
        notebook = nbformat.read(copy, as_version=4)
        client = nbclient.NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3",
                                         resources={"metadata": {"path": str(scratch)}})
        start = time.perf_counter()
        try:
            client.execute(env=env)
        except nbclient.exceptions.CellExecutionError:
            failed = Path(tempfile.gettempdir()) / f"record-failed-{path.name}"
            nbformat.write(notebook, failed)
            print(f"  a cell failed: the executed copy is {failed}", file=sys.stderr)
            raise
        seconds = time.perf_counter() - start
        figures_file = scratch / "figures.json"
        figures = json.loads(figures_file.read_text()) if figures_file.is_file() else {}
    return seconds, figures, notebook


def slowest_cells(notebook, count: int = SLOWEST_CELLS) -> list[dict]:
    """Return the ``count`` slowest code cells: index in the notebook, seconds, first line."""
    timed = []
    for index, cell in enumerate(notebook.cells):
        timing = cell.metadata.get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            began, ended = (datetime.datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                            for key in ("iopub.execute_input", "shell.execute_reply"))
            first_line = next((line for line in cell.source.splitlines() if line.strip()), "")
            timed.append({"cell": index, "seconds": round((ended - began).total_seconds(), 1),
                          "source": first_line[:80]})
    return sorted(timed, key=lambda entry: -entry["seconds"])[:count]


def record_lesson(path: Path, quick: bool, shared_data: Path | None, quick_timing: bool,
                  cell_timeout: int) -> dict:
    """Run one lesson (and, for a full record, time it in quick mode) and return its record."""
    commit, dirty = git_state()
    load_before = [round(value, 2) for value in os.getloadavg()]
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    seconds, figures, notebook = execute(path, quick, shared_data, cell_timeout)
    quick_seconds = None
    if quick_timing and not quick:
        quick_seconds = round(execute(path, True, shared_data, cell_timeout)[0], 1)
    about = machine() | {"load_average_before": load_before,
                         "load_average_after": [round(value, 2) for value in os.getloadavg()]}
    record = {"lesson": path.stem, "mode": "quick" if quick else "full", "commit": commit, "dirty": dirty,
              "date": date, "machine": about, "seconds": round(seconds, 1)}
    if quick_seconds is not None:
        record["quick_seconds"] = quick_seconds
    return record | {"cell_seconds": slowest_cells(notebook), "figures": figures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/record.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", default=DEFAULT_LESSONS, help="lesson numbers or files (default 04-07)")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the records (default results/)")
    parser.add_argument("--quick", action="store_true", help="quick mode (a try: needs --out outside results/)")
    parser.add_argument("--shared-data", metavar="DIR", help="one data folder for all runs instead of fresh ones")
    parser.add_argument("--no-quick-timing", action="store_true", help="skip the quick-mode timing run")
    parser.add_argument("--cell-timeout", type=int, default=4 * 3600, help="seconds one cell may take")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if args.quick and out == RESULTS.resolve():
        parser.error("a quick-mode record never goes into results/: pass --out with a scratch folder")
    paths = [lesson_path(name) for name in args.lessons]
    failed = []
    for path in paths:
        print(f"{path.stem}: running in {'quick' if args.quick else 'full'} mode ...", flush=True)
        try:
            record = record_lesson(path, args.quick, Path(args.shared_data) if args.shared_data else None,
                                   not args.no_quick_timing, args.cell_timeout)
        except nbclient.exceptions.CellExecutionError as error:
            print(f"{path.stem}: FAILED\n{str(error)[-3000:]}", file=sys.stderr, flush=True)
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
