"""Lecture use: student copies without solutions (committed, kept in sync), slide decks."""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys

import nbformat
import pytest

from tests.test_notebooks import PATHS, STUDENT_PATHS
from tools import course

from tests.conftest import REPO
REGENERATE = "make students (or: python tools/course.py students)"


def test_a_student_copy_of_every_lesson_is_committed():
    assert [path.name for path in STUDENT_PATHS] == [path.name for path in PATHS], \
        f"students/ must hold one copy per lesson: run {REGENERATE}"


@pytest.mark.parametrize("lesson", PATHS, ids=lambda p: p.name)
def test_student_copy_is_in_sync_with_its_lesson(lesson):
    """Regenerated in memory, the copy equals the committed file byte for byte."""
    committed = REPO / course.STUDENTS / lesson.name
    expected = course.text(course.student_copy(nbformat.read(lesson, as_version=4), lesson.name))
    assert committed.is_file(), f"{committed.relative_to(REPO)} is missing: run {REGENERATE}"
    assert committed.read_text(encoding="utf-8") == expected, \
        f"{committed.relative_to(REPO)} is out of date with notebooks/{lesson.name}: run {REGENERATE}"


@pytest.mark.parametrize("path", STUDENT_PATHS, ids=lambda p: p.name)
def test_student_copy_keeps_exercises_and_drops_answers(path):
    cells = nbformat.read(path, as_version=4).cells
    assert not any({course.SOLUTION_TAG, course.INSTRUCTOR_TAG} & course.tags(c) for c in cells)
    assert any("checks." in c.source for c in cells if c.cell_type == "code"), "exercises stay in"


def test_student_copy_removes_solutions_and_instructor_notes_and_points_the_badge_at_itself():
    header = nbformat.v4.new_markdown_cell(f"# Lesson 9\n\n{course.badge_line('notebooks/09_x.ipynb')}",
                                           metadata={"tags": [course.HEADER_TAG]})
    notebook = nbformat.v4.new_notebook(cells=[
        header,
        nbformat.v4.new_markdown_cell("## Exercise"),
        nbformat.v4.new_code_cell("answer = ...", outputs=[]),
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_markdown_cell("Ask the room first.", metadata={"tags": ["instructor"]}),
    ])
    student = course.student_copy(notebook, "09_x.ipynb")
    assert [c.source for c in student.cells[1:]] == ["## Exercise", "answer = ..."]
    assert course.colab_url("students/09_x.ipynb") in student.cells[0].source
    assert "notebooks/09_x.ipynb" not in student.cells[0].source
    assert len(notebook.cells) == 5 and "notebooks/09_x" in notebook.cells[0].source  # lesson unchanged


def test_students_command_writes_one_file_and_leaves_unchanged_files_alone(tmp_path, capsys):
    lesson = PATHS[0]
    command = [sys.executable, "tools/course.py", "students", str(lesson), "--target", str(tmp_path)]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    written = tmp_path / lesson.name
    assert [p.name for p in tmp_path.iterdir()] == [lesson.name]
    assert written.read_text(encoding="utf-8") == (REPO / course.STUDENTS / lesson.name).read_text(encoding="utf-8")
    stamp = written.stat().st_mtime_ns
    assert course.main(command[2:]) == 0  # the same command again, in this process
    assert "unchanged" in capsys.readouterr().out
    assert written.stat().st_mtime_ns == stamp


def test_sync_takes_single_files_and_never_touches_a_file_it_does_not_change(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    clean, dirty = folder / PATHS[0].name, folder / PATHS[1].name
    in_sync = course.text(course.synced(nbformat.read(PATHS[0], as_version=4), f"notebooks/{clean.name}"))
    clean.write_text(in_sync, encoding="utf-8")
    notebook = nbformat.read(PATHS[1], as_version=4)
    notebook.cells[0].source = notebook.cells[0].source.replace(course.colab_url(f"notebooks/{dirty.name}"),
                                                                "https://example.org/old-badge")
    first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
    first_code.outputs = [nbformat.v4.new_output("stream", text="left over")]
    nbformat.write(notebook, dirty)
    stamp = clean.stat().st_mtime_ns
    assert course.main(["sync", str(clean), str(dirty)]) == 0
    assert clean.stat().st_mtime_ns == stamp and clean.read_text(encoding="utf-8") == in_sync
    repaired = nbformat.read(dirty, as_version=4)
    assert course.colab_url(f"notebooks/{dirty.name}") in repaired.cells[0].source
    assert "old-badge" not in dirty.read_text(encoding="utf-8")
    assert all(not cell.get("outputs") for cell in repaired.cells if cell.cell_type == "code")
    with pytest.raises(ValueError, match="neither a notebook nor a folder"):
        course.lesson_files([str(tmp_path / "missing.ipynb")])


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    """Build every lesson's deck in one nbconvert run (one start-up instead of seven)."""
    folder = tmp_path_factory.mktemp("slides")
    result = subprocess.run(course.slides_command(PATHS, folder), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_slides_build_for_every_lesson(path, decks):
    deck = (decks / (path.stem + ".slides.html")).read_text()
    cells = nbformat.read(path, as_version=4).cells
    slides = sum(1 for c in cells if c.metadata.get("slideshow", {}).get("slide_type") == "slide")
    assert slides >= 3, "a lesson deck has a title slide and section slides"
    assert "reveal" in deck.lower()
    title = re.sub(r"^#\s*", "", cells[0].source.splitlines()[0])
    assert title.split(":")[0] in deck
    assert deck.count("<section") >= slides
    for cell in cells:  # solutions stay out of the deck; instructor notes become speaker notes
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        if course.SOLUTION_TAG in course.tags(cell):
            assert slide_type == "skip"
        if course.INSTRUCTOR_TAG in course.tags(cell):
            assert slide_type == "notes"


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell assigns or imports, names it reads); IPython magics and shell lines ignored."""
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    stored, loaded = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            stored.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return stored, loaded


def _reads_of_solution_names(cells) -> list[str]:
    """Cells (by index) that read a name which, so far, only a solution cell has defined."""
    defined, only_in_solutions, needed = set(dir(builtins)), set(), []
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        stored, loaded = _names(cell.source)
        if course.SOLUTION_TAG in course.tags(cell):
            only_in_solutions |= stored - defined
            continue
        needed += [f"cell {index} reads {name!r}" for name in sorted(loaded & only_in_solutions - stored)]
        defined |= stored
        only_in_solutions -= stored
    return needed


def test_the_solution_name_check_finds_a_name_only_a_solution_defines():
    cells = [nbformat.v4.new_code_cell("import numpy as np\nanswer = ..."),
             nbformat.v4.new_code_cell("helper = np.sqrt(2)\n%time helper", metadata={"tags": ["solution"]}),
             nbformat.v4.new_code_cell("print(answer, helper)")]
    assert _reads_of_solution_names(cells) == ["cell 2 reads 'helper'"]


@pytest.mark.parametrize("lesson", PATHS, ids=lambda p: p.name)
def test_no_later_cell_needs_a_name_only_a_solution_defines(lesson):
    """A student copy runs top to bottom without the solutions (a static check: no kernel needed)."""
    needed = _reads_of_solution_names(nbformat.read(lesson, as_version=4).cells)
    assert needed == [], f"only a solution cell defines what these cells need: {needed}"
