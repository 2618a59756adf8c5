"""Build the course website: the executed lessons, a landing page, explorers without a kernel.

    python tools/site.py                      # every lesson (what `make site` runs)
    python tools/site.py --quick 00 07        # chosen lessons, quick-mode outputs only (CI)

Each lesson page shows an executed copy of the lesson: the full-mode copy that `make results`
kept (``.cache/executed/full/<lesson>.ipynb``, the run its record in ``results/`` holds) when
there is one and ``--quick`` is not given, otherwise a quick-mode run made here in a fresh kernel
(cached in ``.cache/site/executed/`` until the lesson changes). Kernels run with
``COURSEKIT_SITE=1``, so lesson 7's explorers carry their precomputed frames and work on the
page. The landing page has the lesson map (links to each page, to Colab and to the student
copies in ``students/``) and the records table (``results/*.json``). Sphinx with MyST-NB and
sphinx-book-theme builds it offline into ``build/site/`` (open ``build/site/index.html``); the
build fails if a page would load a script or style sheet from the internet.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from coursekit import config  # noqa: E402
from tools.course import TIME_BLOCK  # noqa: E402

FULL_COPIES = REPO / ".cache" / "executed" / "full"
QUICK_COPIES = REPO / ".cache" / "site" / "executed"
FRONT_END = Path(config.__file__).with_name("explorer.js")  # as coursekit.explorers.FRONT_END
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def lessons(names: list[str]) -> list[Path]:
    """The lesson files named (``"07"`` or a file name), or all of them."""
    every = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    chosen = [path for path in every if not names or any(path.stem.startswith(n) for n in names)]
    if len(chosen) < len(set(names)):
        raise SystemExit(f"unknown lesson in {names}; lessons: {', '.join(p.stem for p in every)}")
    return chosen


def execute_quick(lesson: Path, timeout: int, fresh: bool = False) -> Path:
    """Run ``lesson`` in quick mode in a fresh kernel (a temporary copy) with COURSEKIT_SITE=1;
    keep the executed copy in QUICK_COPIES and return it (reused while newer than the lesson,
    unless ``fresh``)."""
    target = QUICK_COPIES / lesson.name
    if not fresh and target.is_file() and target.stat().st_mtime > lesson.stat().st_mtime:
        return target
    mirror = os.environ.get("COURSEKIT_MIRROR") or os.pathsep.join(
        str(REPO.parent / "shared" / name) for name in ("datasets", "weights"))
    env = {**os.environ, "COURSEKIT_QUICK": "1", "COURSEKIT_SITE": "1", "COURSEKIT_MIRROR": mirror,
           "COURSEKIT_DATA": os.environ.get("COURSEKIT_DATA", str(REPO / ".cache" / "data")),
           "PYTHONHASHSEED": "0"}
    env.pop("MPLBACKEND", None)  # the kernel's inline backend: plt.show() figures reach the page
    notebook = nbformat.read(lesson, as_version=4)
    with tempfile.TemporaryDirectory(prefix=f"site-{lesson.stem[:2]}-") as scratch:
        print(f"  executing {lesson.name} in quick mode", flush=True)
        client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": scratch}})
        try:
            client.execute(env=env)
        except nbclient.exceptions.CellExecutionError as error:
            raise SystemExit(f"{lesson.name} failed in quick mode, so the site is not built:\n"
                             f"{str(error)[-1500:]}") from error
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def source_of(lesson: Path, quick: bool, timeout: int, fresh: bool = False) -> tuple[Path, str]:
    """The executed copy a page shows and how it was made."""
    full = FULL_COPIES / lesson.name
    if full.is_file() and not quick:
        return full, "full mode (make results)"
    return execute_quick(lesson, timeout, fresh), "quick mode (executed for this site)"


def _title(notebook) -> str:
    for cell in notebook.cells:
        found = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE) if cell.cell_type == "markdown" else None
        if found:
            return found.group(1).strip()
    return "untitled"


def stage_notebook(executed: Path, target: Path) -> str:
    """Copy an executed lesson for Sphinx: no saved widget state (MyST-NB would load a widget
    manager from a CDN for it), the Colab badge image served locally, the explorers' static
    copies with the current front-end module. Returns the title."""
    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata.pop("widgets", None)
    front_end = base64.b64encode(FRONT_END.read_bytes()).decode("ascii")
    lesson = REPO / "notebooks" / target.name  # its time block, written from the records after the run
    times = [found for cell in (nbformat.read(lesson, as_version=4).cells if lesson.is_file() else [])
             if cell.cell_type == "markdown" for found in TIME_BLOCK.findall(cell.source)]
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE, "../_static/colab-badge.svg")
            if times:
                cell.source = TIME_BLOCK.sub(lambda _: times[0], cell.source)
        for output in cell.get("outputs", []):  # explorers: today's front end, same frames
            if "text/html" in output.get("data", {}):
                output.data["text/html"] = re.sub(r"data:text/javascript;base64,[A-Za-z0-9+/=]+",
                                                  f"data:text/javascript;base64,{front_end}",
                                                  output.data["text/html"])
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return _title(notebook)


def _links(lesson: Path) -> tuple[str, str, str]:
    base = f"{config.REPOSITORY}/blob/{config.REPOSITORY_REF}"
    colab = f"https://colab.research.google.com/github/{base}"
    return (f"{colab}/notebooks/{lesson.name}", f"https://github.com/{base}/students/{lesson.name}",
            f"{colab}/students/{lesson.name}")


def _figures(figures: dict) -> str:
    def shown(value):
        return f"{value:.3g}" if isinstance(value, float) else str(value)
    return "; ".join(f"{name} {shown(value)}" for name, value in figures.items()
                     if isinstance(value, (int, float, str)))


def landing_page(pages: list[tuple[Path, str, str]]) -> str:
    """The index page: lesson map, records table, how the pages were made."""
    rows = ["| Lesson | Run it | Student copy | This page shows |", "|---|---|---|---|"]
    for lesson, title, how in pages:
        colab, student, student_colab = _links(lesson)
        rows.append(f"| [{title}](lessons/{lesson.stem}.ipynb) | [Colab]({colab}) | "
                    f"[notebook]({student}) · [Colab]({student_colab}) | {how} |")
    records = ["| Record | Mode | Commit | Date | Machine | Run | Quick run | Figures |",
               "|---|---|---|---|---|---|---|---|"]
    for path in sorted((REPO / "results").glob("*.json")):
        record = json.loads(path.read_text())
        machine = record.get("machine", {})
        records.append(
            f"| `{path.name}` | {record.get('mode', '')} | `{str(record.get('commit', ''))[:8]}` | "
            f"{str(record.get('date', ''))[:10]} | {machine.get('cpu', '')} ({machine.get('cores', '?')} cores) | "
            f"{record.get('seconds', 0) / 60:.1f} min | {record.get('quick_seconds', 0):.0f} s | "
            f"{_figures(record.get('figures', {}))} |")
    toc = "\n".join(f"lessons/{lesson.stem}" for lesson, _, _ in pages)
    return f"""# Image classification with CNNs: an open course

Eight lessons, from a messy folder of photos to looking inside a trained network. Each page
below is the lesson executed, with its figures; run it yourself on Colab or in JupyterLab
(`make lab`). The explorers of lesson 7 work on this page without Python: their frames were
computed when the lesson ran.

## The lessons

{chr(10).join(rows)}

## Recorded runs

Full-mode runs of the lessons (`make results`), as written in `results/`: the numbers the
lessons quote come from these records.

{chr(10).join(records)}

```{{toctree}}
:hidden:
:maxdepth: 1

{toc}
```
"""


def remote_assets(folder: Path) -> list[str]:
    """Every script, style sheet or module a page in ``folder`` would load from the internet."""
    pattern = r'<(?:script|link)[^>]*(?:src|href)="(?:https?:)?//[^"]+"[^>]*>|import[^;"]*"https?://[^"]+"'
    return [f"{page.relative_to(folder)}: {found[:120]}" for page in folder.rglob("*.html")
            for found in re.findall(pattern, page.read_text(encoding="utf-8"))]


def build(names: list[str], quick: bool, output: Path, timeout: int, fresh: bool = False) -> float:
    """Build the site into ``output``; return the seconds it took."""
    start = time.perf_counter()
    staging = REPO / "build" / "site-src"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(REPO / "website", staging)
    import jupyter_server_mathjax

    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", staging / "_static" / "mathjax")
    pages = []
    for lesson in lessons(names):
        executed, how = source_of(lesson, quick, timeout, fresh)
        pages.append((lesson, stage_notebook(executed, staging / "lessons" / lesson.name), how))
    (staging / "index.md").write_text(landing_page(pages), encoding="utf-8")
    shutil.rmtree(output, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(staging), str(output)],
                   check=True, cwd=REPO)
    remote = remote_assets(output)
    if remote:
        raise SystemExit("pages load from the internet:\n" + "\n".join(remote[:10]))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    parser.add_argument("--quick", action="store_true", help="quick-mode outputs for every page")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "site", help="output folder")
    parser.add_argument("--cell-timeout", type=int,
                        default=int(os.environ.get("COURSEKIT_CELL_TIMEOUT", "300")),
                        help="seconds a cell may run before the build fails (quick-mode runs)")
    parser.add_argument("--fresh", action="store_true", help="run quick-mode lessons again")
    args = parser.parse_args(argv)
    seconds = build(args.lessons, args.quick, args.out, args.cell_timeout, args.fresh)
    size = sum(path.stat().st_size for path in args.out.rglob("*") if path.is_file())
    print(f"site: {args.out / 'index.html'} ({size / 1e6:.1f} MB) built in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
