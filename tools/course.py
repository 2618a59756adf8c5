"""Course maintenance: lesson headers, slide metadata, badge URLs and student copies.

Students never need this; it lives outside the ``coursekit`` package. Run it from the
repository root (``make students`` and ``make slides`` call it)::

    python tools/course.py sync notebooks/04_training_a_cnn.ipynb   # one lesson (or a folder)
    python tools/course.py students                                    # every lesson -> students/
    python tools/course.py students notebooks/04_training_a_cnn.ipynb

``sync`` rewrites a lesson's Colab badge, install cell and mode-switch cell from
``coursekit.config.REPOSITORY``/``REPOSITORY_REF`` (the one place the repository is spelled),
writes the header's time estimate from the lesson and its record (``results/<lesson>.json``),
starts every solution with ``%%capture`` (Run All shows no solution's output), adds slide
metadata and strips outputs. ``students`` writes the student copies: solutions and
instructor notes removed, the badge pointing at the copy itself. Both leave a file alone when
its content would not change.

Cell tags used by the lessons:
``header``       the title cell with the badge and the time block;  ``colab-setup`` the install cell (first code cell);
``mode-switch``  the quick-mode cell;  ``solution`` an exercise solution (hidden by default,
removed from student copies);  ``instructor`` instructor notes (speaker notes in slides,
removed from student copies).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
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

#: JupyterLab shows a cell's output again whenever the cell runs (``jupyter.outputs_hidden`` does
#: not survive Run All), so a solution keeps its output to itself with IPython's ``%%capture``.
SOLUTION_START = ("%%capture\n# Solution. Run All keeps its output out of sight (the line above): "
                  "delete that line and run the cell to see it.\n")

# The time a lesson takes a student who meets its ideas for the first time: reads every word
# (technical text: 100-150 words a minute; we take the slow end), reads, runs and looks at every
# code cell (about a minute each), does every exercise (several minutes each), and waits for the
# quick-mode run (its record's ``quick_seconds``). "Going further" is counted apart.
WORDS_PER_MINUTE = 100
MINUTES_PER_CODE_CELL = 1
MINUTES_PER_EXERCISE = 5
LAB_MINUTES = 90
GOING_FURTHER = re.compile(r"^## Going further", re.M)
EXERCISE = re.compile(r"^#{2,4} (?:[^\n]*\b)?Exercise\b", re.M)
# The opening marker stands on a line of its own: a Markdown line that starts with "<!--" is an
# HTML block to its end, so the time paragraph must start on the next line to be rendered.
TIME_START, TIME_END = "<!-- lesson-time -->\n", "<!-- /lesson-time -->"
TIME_BLOCK = re.compile(re.escape(TIME_START.strip()) + ".*?" + re.escape(TIME_END), re.S)


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


def record_of(lesson_name: str) -> dict | None:
    """Return the record ``results/<lesson>.json`` of a lesson file name, or None if there is none.

    ``COURSEKIT_RESULTS`` names another folder of records (as for ``coursekit.results.load``).
    """
    folder = Path(os.environ.get("COURSEKIT_RESULTS") or REPO / "results")
    path = folder / f"{Path(lesson_name).stem}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _words(markdown: str) -> int:
    """Words a student reads in a markdown cell: no HTML comments, tags or link targets."""
    for pattern in (TIME_BLOCK, re.compile(r"<!--.*?-->", re.S), re.compile(r"<[^>]+>"), re.compile(r"\]\([^)]*\)")):
        markdown = pattern.sub(" ", markdown)
    return sum(1 for token in markdown.split() if re.search(r"\w", token))


def lesson_parts(notebook) -> dict:
    """Count what a student works through: words, code cells and exercises, before "Going further"
    (``core``) and from there on (``further``). Solutions and instructor notes are not counted."""
    parts = {part: {"words": 0, "code_cells": 0, "exercises": 0} for part in ("core", "further")}
    part = "core"
    for cell in notebook.cells:
        if {SOLUTION_TAG, INSTRUCTOR_TAG} & tags(cell):
            continue
        if cell.cell_type == "markdown":
            part = "further" if GOING_FURTHER.search(cell.source) else part
            parts[part]["words"] += _words(cell.source)
            parts[part]["exercises"] += len(EXERCISE.findall(cell.source))
        elif cell.cell_type == "code":
            parts[part]["code_cells"] += 1
    return parts


def minutes(counts: dict) -> float:
    """Minutes for ``counts`` (words, code cells, exercises) at the rates above."""
    return (counts["words"] / WORDS_PER_MINUTE + counts["code_cells"] * MINUTES_PER_CODE_CELL
            + counts["exercises"] * MINUTES_PER_EXERCISE)


def lesson_time(notebook, record: dict | None) -> dict:
    """Return the lab-time estimate of a lesson: its parts, ``quick_minutes`` (None without a
    record), ``minutes`` (the core part plus the quick-mode run, rounded up) and ``further``."""
    parts = lesson_parts(notebook)
    quick = record["quick_seconds"] / 60 if record and "quick_seconds" in record else None
    return {**parts, "quick_minutes": quick, "minutes": math.ceil(minutes(parts["core"]) + (quick or 0)),
            "further": math.ceil(minutes(parts["further"]))}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def time_block(notebook, lesson_name: str, record: dict | None) -> str:
    """Return the header's time paragraph (between the lesson-time markers) for a lesson."""
    time = lesson_time(notebook, record)
    core = time["core"]
    quick = (f", and waiting for the quick-mode run ({_duration(time['quick_minutes'] * 60)})"
             if time["quick_minutes"] is not None else "; the quick-mode run is not counted (no record yet)")
    exercises = _plural(core["exercises"], "exercise")
    text = (f"**Time:** about {time['minutes']} minutes of a {LAB_MINUTES}-minute lab, for a student meeting these "
            f"ideas for the first time: reading {core['words']:,} words at {WORDS_PER_MINUTE} words a minute "
            f"({core['words'] / WORDS_PER_MINUTE:.0f} min), reading, running and looking at {core['code_cells']} "
            f"code cells at about a minute each, {exercises} at about {MINUTES_PER_EXERCISE} minutes"
            f"{' each' if core['exercises'] != 1 else ''}{quick}. ")
    if time["further"]:
        text += f"*Going further* adds about {_plural(time['further'], 'minute')} of reading and running. "
    if record is None:
        text += f"**Run time:** not recorded yet (`make results` writes `results/{Path(lesson_name).stem}.json`)."
    else:
        machine = record.get("machine", {})
        text += (f"**Run time** from its record (`results/{Path(lesson_name).stem}.json`, {machine.get('cpu', 'a CPU')}, "
                 f"{machine.get('cores', '?')} cores, GPU: {machine.get('gpus', 'none')}): full mode "
                 f"{_duration(record['seconds'])}, quick mode "
                 f"{_duration(record['quick_seconds']) if 'quick_seconds' in record else 'not timed'}.")
    return TIME_START + text + TIME_END


def with_time_block(source: str, block: str) -> str:
    """Put ``block`` into a header's source: in place of the old block, else at the end."""
    if TIME_BLOCK.search(source):
        return TIME_BLOCK.sub(lambda _: block, source)
    return source.rstrip() + "\n\n" + block


def solution_source(source: str) -> str:
    """Return a solution cell's source starting with ``SOLUTION_START`` (added once)."""
    return source if source.startswith(SOLUTION_START) else SOLUTION_START + source


def synced(notebook, relative_path: str):
    """Return a copy of a lesson with its badge (for ``relative_path``), time block (from the
    lesson file's record), setup and mode cells rewritten from the templates, solutions starting
    with ``%%capture``, slide metadata added and outputs cleared."""
    notebook = copy.deepcopy(notebook)
    name = Path(relative_path).name
    for cell in notebook.cells:
        if HEADER_TAG in tags(cell):
            cell.source = "\n".join(badge_line(relative_path) if line.startswith(BADGE_PREFIX) else line
                                    for line in cell.source.splitlines())
            cell.source = with_time_block(cell.source, time_block(notebook, name, record_of(name)))
        elif SETUP_TAG in tags(cell):
            cell.source = setup_cell_source()
        elif MODE_TAG in tags(cell):
            cell.source = mode_cell_source()
        elif SOLUTION_TAG in tags(cell):
            cell.source = solution_source(cell.source)
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
