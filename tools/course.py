"""Course maintenance: lesson headers, slide metadata, badge URLs and student copies.

Students never need this; it lives outside the ``coursekit`` package. Run it from the
repository root (``make students`` and ``make slides`` call it)::

    python tools/course.py sync notebooks/04_training_a_cnn.ipynb   # one lesson (or a folder)
    python tools/course.py students                                    # every lesson -> students/
    python tools/course.py students notebooks/04_training_a_cnn.ipynb

``sync`` rewrites a lesson's Colab badge, install cell and mode-switch cell from
``coursekit.config.REPOSITORY``/``REPOSITORY_REF`` (the one place the repository is spelled),
adds slide metadata and strips outputs. ``students`` writes the student copies: solutions and
instructor notes removed, the badge pointing at the copy itself. Both leave a file alone when
its content would not change.

Cell tags used by the lessons:
``header``       the title cell with the badge;  ``colab-setup`` the install cell (first code cell);
``mode-switch``  the quick-mode cell;  ``solution`` an exercise solution (hidden by default,
removed from student copies);  ``instructor`` instructor notes (speaker notes in slides,
removed from student copies).
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
from pathlib import Path

import nbformat

from coursekit import config

REPO = Path(__file__).resolve().parents[1]
LESSONS = "notebooks"
STUDENTS = "students"
LESSON_GLOB = "[0-9][0-9]_*.ipynb"

HEADER_TAG = "header"
SETUP_TAG = "colab-setup"
MODE_TAG = "mode-switch"
SOLUTION_TAG = "solution"
INSTRUCTOR_TAG = "instructor"

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_PREFIX = "[![Open In Colab]"


def colab_url(relative_path: str) -> str:
    """Return the Colab URL that opens ``relative_path`` (e.g. ``students/03_x.ipynb``) from the repository."""
    return (f"https://colab.research.google.com/github/{config.REPOSITORY}/blob/"
            f"{config.REPOSITORY_REF}/{relative_path}")


def badge_line(relative_path: str) -> str:
    """Return the markdown line of the Open-in-Colab badge for ``relative_path``."""
    return f"{BADGE_PREFIX}({COLAB_BADGE})]({colab_url(relative_path)})"


def install_spec() -> str:
    """Return the pip requirement that installs coursekit from the repository at the pinned ref."""
    return f"coursekit @ git+https://github.com/{config.REPOSITORY}@{config.REPOSITORY_REF}"


def setup_cell_source() -> str:
    """Return the Colab install cell: installs coursekit on Colab, does nothing elsewhere."""
    return (
        "# Setup. On Google Colab this installs coursekit and turns on widget support;\n"
        "# anywhere else (your JupyterLab) it does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install -q "{install_spec()}"\n'
        "    from google.colab import output\n"
        "\n"
        "    output.enable_custom_widget_manager()"
    )


def mode_cell_source() -> str:
    """Return the quick-mode switch cell, identical in every lesson."""
    return (
        "import os\n"
        "\n"
        "# Quick mode runs this lesson on a small subset with few epochs (minutes on a laptop).\n"
        "# Uncomment the next line to switch it on; the tests run every lesson this way.\n"
        '# os.environ["COURSEKIT_QUICK"] = "1"\n'
        "\n"
        "from coursekit import config\n"
        "\n"
        "QUICK = config.quick_mode()\n"
        "config.start_lesson()"
    )


def tags(cell) -> set[str]:
    """Return the tags of a notebook cell."""
    return set(cell.get("metadata", {}).get("tags", []))


def add_slide_metadata(notebook) -> None:
    """Mark cells for ``nbconvert --to slides``: a heading starts a slide, '###' a sub-slide.

    Other cells continue the current slide; solutions are skipped and instructor notes become
    speaker notes (press ``s`` in the deck to see them).
    """
    for cell in notebook.cells:
        source = cell.source.lstrip()
        if SOLUTION_TAG in tags(cell):
            slide_type = "skip"
        elif INSTRUCTOR_TAG in tags(cell):
            slide_type = "notes"
        elif cell.cell_type == "markdown" and source.startswith(("# ", "## ")):
            slide_type = "slide"
        elif cell.cell_type == "markdown" and source.startswith("### "):
            slide_type = "subslide"
        else:
            slide_type = "-"
        cell.metadata["slideshow"] = {"slide_type": slide_type}


def clear_outputs(notebook) -> None:
    """Remove outputs and execution counts from every code cell (notebooks are stored clean)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)


def synced(notebook, relative_path: str):
    """Return a copy of a lesson with its badge (for ``relative_path``), setup and mode cells
    rewritten from the templates, slide metadata added and outputs cleared."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if HEADER_TAG in tags(cell):
            cell.source = "\n".join(badge_line(relative_path) if line.startswith(BADGE_PREFIX) else line
                                    for line in cell.source.splitlines())
        elif SETUP_TAG in tags(cell):
            cell.source = setup_cell_source()
        elif MODE_TAG in tags(cell):
            cell.source = mode_cell_source()
    add_slide_metadata(notebook)
    clear_outputs(notebook)
    return notebook


def student_copy(notebook, name: str):
    """Return the student copy of lesson ``name``: no solution or instructor cells, badge on itself."""
    kept = copy.deepcopy(notebook)
    kept.cells = [cell for cell in kept.cells if not ({SOLUTION_TAG, INSTRUCTOR_TAG} & tags(cell))]
    return synced(kept, f"{STUDENTS}/{name}")


def text(notebook) -> str:
    """Return the notebook as the text stored on disk (nbformat's layout, final newline)."""
    written = nbformat.writes(notebook)
    return written if written.endswith("\n") else written + "\n"


def write_if_changed(path: Path, content: str) -> bool:
    """Write ``content`` to ``path`` unless the file already holds exactly that; True if written."""
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return True


def sync(path: str | Path) -> bool:
    """Sync one lesson file in place (badge on its own ``folder/name``); True if the file changed.

    A file whose content would stay the same is not written (its timestamp does not move).
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    updated = text(synced(notebook, f"{path.parent.name}/{path.name}"))
    return updated != text(notebook) and write_if_changed(path, updated)


def write_student_copy(lesson: str | Path, target: str | Path = REPO / STUDENTS) -> tuple[Path, bool]:
    """Write the student copy of one lesson into ``target``; return (path, whether it changed)."""
    lesson = Path(lesson)
    out = Path(target) / lesson.name
    return out, write_if_changed(out, text(student_copy(nbformat.read(lesson, as_version=4), lesson.name)))


def lesson_files(paths: list[str]) -> list[Path]:
    """Expand the command-line paths: a file stays itself, a folder gives its numbered lessons."""
    found = []
    for entry in map(Path, paths):
        if entry.is_dir():
            found.extend(sorted(entry.glob(LESSON_GLOB)))
        elif entry.is_file() and entry.suffix == ".ipynb":
            found.append(entry)
        else:
            raise ValueError(f"{entry} is neither a notebook nor a folder of lessons ({LESSON_GLOB})")
    return found


def slides_command(paths: list[Path], output_dir: str | Path, execute: bool = False) -> list[str]:
    """Return the ``jupyter nbconvert`` command that builds reveal.js decks without solutions."""
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--output-dir", str(output_dir),
               "--TagRemovePreprocessor.enabled=True", f"--TagRemovePreprocessor.remove_cell_tags={SOLUTION_TAG}"]
    if execute:
        command += ["--execute", "--ExecutePreprocessor.timeout=1800"]
    return command + [str(path) for path in paths]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/course.py", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sync_parser = commands.add_parser("sync", help="rewrite headers from config.REPOSITORY, add slide metadata")
    sync_parser.add_argument("paths", nargs="+", help="lesson files or folders of lessons")
    students = commands.add_parser("students", help="write student copies (no solutions, no instructor notes)")
    students.add_argument("paths", nargs="*", default=[str(REPO / LESSONS)], help="lessons (default: all)")
    students.add_argument("--target", default=str(REPO / STUDENTS))
    slides = commands.add_parser("slides", help="build a reveal.js deck per lesson, executed")
    slides.add_argument("paths", nargs="*", default=[str(REPO / LESSONS)])
    slides.add_argument("--output-dir", default=str(REPO / "slides"))
    args = parser.parse_args(argv)
    if args.command == "sync":
        for path in lesson_files(args.paths):
            print(("updated  " if sync(path) else "unchanged") + f" {path}")
    elif args.command == "students":
        for lesson in lesson_files(args.paths):
            out, changed = write_student_copy(lesson, args.target)
            print(("wrote    " if changed else "unchanged") + f" {out}")
    else:
        return subprocess.run(slides_command(lesson_files(args.paths), args.output_dir, execute=True)).returncode
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
