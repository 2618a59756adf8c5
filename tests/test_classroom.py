"""Lecture use: student copies without solutions, slide decks from every lesson."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit import notebooks
from tests.test_notebooks import PATHS

REPO = Path(__file__).resolve().parents[1]


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def test_students_command_writes_a_copy_of_every_lesson_in_sync(tmp_path):
    result = subprocess.run([sys.executable, "-m", "coursekit", "students", "--target", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in PATHS]
    for lesson in PATHS:
        original = nbformat.read(lesson, as_version=4)
        student = nbformat.read(tmp_path / lesson.name, as_version=4)
        kept = [c for c in original.cells if not ({"solution", "instructor"} & _tags(c))]
        assert [c.source for c in student.cells] == [c.source for c in kept], lesson.name
        assert not any({"solution", "instructor"} & _tags(c) for c in student.cells)
        assert any("checks." in c.source for c in student.cells), "exercises stay in"
        assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")


def test_student_copy_removes_solutions_and_instructor_notes():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Exercise"),
        nbformat.v4.new_code_cell("answer = ...", outputs=[]),
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_markdown_cell("Ask the room first.", metadata={"tags": ["instructor"]}),
    ])
    student = notebooks.student_copy(notebook)
    assert [c.source for c in student.cells] == ["## Exercise", "answer = ..."]
    assert len(notebook.cells) == 4  # the lesson itself is not changed


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_slides_build_for_every_lesson(path, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides", "--output-dir", str(tmp_path),
         "--TagRemovePreprocessor.enabled=True", "--TagRemovePreprocessor.remove_cell_tags=solution",
         str(path)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    deck = (tmp_path / (path.stem + ".slides.html")).read_text()
    cells = nbformat.read(path, as_version=4).cells
    slides = sum(1 for c in cells if c.metadata.get("slideshow", {}).get("slide_type") == "slide")
    assert slides >= 3, "a lesson deck has a title slide and section slides"
    assert "reveal" in deck.lower()
    title = re.sub(r"^#\s*", "", cells[0].source.splitlines()[0])
    assert title.split(":")[0] in deck
    assert deck.count("<section") >= slides
    for cell in cells:  # solutions stay out of the deck; instructor notes become speaker notes
        slide_type = cell.metadata.get("slideshow", {}).get("slide_type")
        if "solution" in _tags(cell):
            assert slide_type == "skip"
        if "instructor" in _tags(cell):
            assert slide_type == "notes"
