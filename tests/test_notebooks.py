"""Lint of the lessons (and their student copies): stored clean, same header, badge matches path,
exercises, accessibility."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from coursekit import config
from tools import course

from tests.conftest import REPO
LESSONS = [
    "00_start_here.ipynb",
    "01_data_cleaning.ipynb",
    "02_exploratory_analysis.ipynb",
    "03_images_and_convolutions.ipynb",
    "04_training_a_cnn.ipynb",
    "05_augmentation_and_overfitting.ipynb",
    "06_transfer_learning.ipynb",
    "07_seeing_what_cnns_learn.ipynb",
]
PATHS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: The committed student copies (tests/test_classroom.py keeps them in step with the lessons).
STUDENT_PATHS = sorted((REPO / "students").glob("*.ipynb"))
BOTH = PATHS + STUDENT_PATHS


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def test_every_lesson_exists_in_order():
    assert [path.name for path in PATHS] == LESSONS


@pytest.mark.parametrize("path", BOTH, ids=_name)
def test_stored_without_outputs(path):
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {index} has outputs: strip them (python tools/course.py sync {_name(path)})"
            assert cell.execution_count is None, f"cell {index} has an execution count"


@pytest.mark.parametrize("path", BOTH, ids=_name)
def test_header_badge_matches_own_path(path):
    """A lesson's badge opens the lesson; a student copy's badge opens the student copy."""
    header = _read(path).cells[0]
    assert header.cell_type == "markdown" and course.HEADER_TAG in _tags(header)
    badges = re.findall(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)", header.source)
    assert badges == [course.colab_url(_name(path))]
    assert badges[0].endswith(f"/{config.REPOSITORY_REF}/{_name(path)}")
    assert "**What you will learn**" in header.source
    assert header.source.count(course.TIME_START) == 1, "the time block (python tools/course.py sync FILE)"


@pytest.mark.parametrize("path", BOTH, ids=_name)
def test_setup_and_mode_cells_come_from_the_one_template(path):
    code_cells = [cell for cell in _read(path).cells if cell.cell_type == "code"]
    setup, mode = code_cells[0], code_cells[1]
    assert course.SETUP_TAG in _tags(setup) and setup.source == course.setup_cell_source()
    assert course.MODE_TAG in _tags(mode) and mode.source == course.mode_cell_source()
    assert f"github.com/{config.REPOSITORY}@{config.REPOSITORY_REF}" in setup.source


def test_repository_url_lives_in_one_place():
    """No notebook, module or maintainer script spells the repository URL except through config."""
    hits = []
    scripts = [*(REPO / "coursekit").glob("*.py"), *(REPO / "tools").glob("*.py"), REPO / "README.md"]
    for path in scripts:
        if path.name != "config.py" and config.REPOSITORY in path.read_text():
            hits.append(path.name)
    for path in BOTH:
        for cell in _read(path).cells:
            if config.REPOSITORY in cell.source and not ({course.HEADER_TAG, course.SETUP_TAG} & _tags(cell)):
                hits.append(f"{_name(path)}: {cell.source[:40]!r}")
    assert hits == [], "the repository URL must come from coursekit.config (python tools/course.py sync FILE)"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_lesson_structure(path):
    cells = _read(path).cells
    markdown = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    code = "\n".join(cell.source for cell in cells if cell.cell_type == "code")
    assert re.search(r"^## Summary", markdown, re.M), "a Summary section"
    assert re.search(r"^## Going further", markdown, re.M), "a Going further section"
    assert "checks." in code, "at least one exercise with a self-check"
    solutions = [cell for cell in cells if course.SOLUTION_TAG in _tags(cell)]
    assert solutions, "exercise solutions in cells tagged 'solution'"
    for cell in solutions:
        assert cell.metadata.get("jupyter", {}).get("source_hidden"), "solutions start collapsed"
        # JupyterLab shows a cell's outputs again when it runs, so Run All would print every answer
        assert cell.source.startswith(course.SOLUTION_START), "a solution keeps its output to itself (%%capture)"
    assert any(course.INSTRUCTOR_TAG in _tags(cell) for cell in cells), "instructor notes"


@pytest.mark.parametrize("path", BOTH, ids=_name)
def test_slide_metadata_on_every_cell(path):
    for cell in _read(path).cells:
        assert cell.metadata.get("slideshow", {}).get("slide_type") in {"slide", "subslide", "fragment", "-", "skip", "notes"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_accessibility_and_api_hygiene(path):
    for index, cell in enumerate(_read(path).cells):
        if cell.cell_type == "markdown":
            assert not re.search(r"!\[\s*\]\(", cell.source), f"cell {index}: image without alt text"
            for tag in re.findall(r"<img[^>]*>", cell.source):
                assert re.search(r"alt=\"[^\"]+\"", tag), f"cell {index}: <img> without alt text"
        else:
            assert not re.search(r"cmap\s*=\s*['\"](jet|rainbow|hsv)['\"]", cell.source), \
                f"cell {index}: use a colour-blind-safe colormap (viridis, magma, cividis)"
            assert "keras.src" not in cell.source and "K.function" not in cell.source, \
                f"cell {index}: public keras API only"
