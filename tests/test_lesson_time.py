"""Every lesson fits one 90-minute lab, and its first screen says how long it takes and why.

The estimate (``tools/course.py``: ``lesson_time``) counts what a student meeting the ideas for the
first time works through before "Going further": words at 100 a minute, a minute per code cell to
read, run and look at, 5 minutes per exercise, plus the quick-mode run time of the lesson's record
(``results/<lesson>.json``: ``quick_seconds``). A lesson without a record fails here (``make
results`` records every lesson); it is never skipped.
"""

from __future__ import annotations

import nbformat
import pytest

from tests.test_notebooks import BOTH, PATHS
from tools import course


def _name(path) -> str:
    return f"{path.parent.name}/{path.name}"


def over_the_lab(notebook, name: str, record: dict | None) -> str | None:
    """Why a lesson does not fit the lab (no record, no quick-mode time, too long), or None."""
    if record is None:
        return (f"results/{name.removesuffix('.ipynb')}.json is missing: the estimate needs the lesson's "
                "quick-mode run time (`make results` records every lesson)")
    if "quick_seconds" not in record:
        return f"the record of {name} has no quick_seconds (`make results` times the quick run too)"
    time = course.lesson_time(notebook, record)
    if time["minutes"] > course.LAB_MINUTES:
        return (f"{name} needs about {time['minutes']} minutes, more than a {course.LAB_MINUTES}-minute lab: "
                f"{time['core']}, quick run {time['quick_minutes']:.1f} min; move a side topic to Going further "
                "or to the lesson whose story it serves")
    return None


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_lesson_fits_a_90_minute_lab(path):
    notebook = nbformat.read(path, as_version=4)
    problem = over_the_lab(notebook, path.name, course.record_of(path.name))
    assert problem is None, problem


@pytest.mark.parametrize("path", BOTH, ids=_name)
def test_the_first_screen_states_the_estimate_and_the_recorded_run_times(path):
    notebook = nbformat.read(path, as_version=4)
    header = notebook.cells[0].source
    expected = course.time_block(notebook, path.name, course.record_of(path.name))
    assert expected in header, f"the header's time block is out of date: python tools/course.py sync {_name(path)}"


def _lesson(*cells):
    header = nbformat.v4.new_markdown_cell("# Lesson 9: A test\n\nTwo words.\n\n<!-- lesson-time -->old text<!-- /lesson-time -->",
                                           metadata={"tags": [course.HEADER_TAG]})
    return nbformat.v4.new_notebook(cells=[header, *cells])


def test_the_estimate_counts_words_cells_and_exercises_before_going_further():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    notebook = _lesson(
        md("## 1. Ten words [a link](https://example.org/not/counted) <!-- nor this -->: one two three four five"),
        code("x = 1"),
        md("### Exercise 1: a question\n\nAnswer it."),
        code("answer = ..."),
        code("answer = 42", metadata={"tags": [course.SOLUTION_TAG]}),
        md("Ask the room.", metadata={"tags": [course.INSTRUCTOR_TAG]}),
        md("## Going further\n\n#### Exercise 2: more"),
        code("y = 2"),
    )
    parts = course.lesson_parts(notebook)
    assert course._words(notebook.cells[0].source) == 6  # "Lesson 9: A test", "Two words.": not the time block
    assert parts["core"] == {"words": 6 + 10 + 6, "code_cells": 2, "exercises": 1}  # no solution, no instructor note
    assert parts["further"] == {"words": 5, "code_cells": 1, "exercises": 1}
    time = course.lesson_time(notebook, {"seconds": 600, "quick_seconds": 90})
    assert time["minutes"] == 9  # 22 words / 100 + 2 cells + 1 exercise x 5 + 1.5 min quick run, rounded up
    assert time["further"] == 7  # 5 words, 1 cell, 1 exercise
    assert time["quick_minutes"] == 1.5


def test_the_time_block_is_rewritten_in_place_and_sync_is_stable():
    notebook = _lesson(nbformat.v4.new_code_cell("x = 1"))
    record = {"seconds": 245.0, "quick_seconds": 22.0, "machine": {"cpu": "AMD EPYC", "cores": 2, "gpus": "none"}}
    block = course.time_block(notebook, "09_test.ipynb", record)
    once = course.with_time_block(notebook.cells[0].source, block)
    assert once.count(course.TIME_START) == 1 and "old text" not in once
    assert "full mode 4.1 min, quick mode 22 s" in block and "`results/09_test.json`" in block
    notebook.cells[0].source = once
    assert course.time_block(notebook, "09_test.ipynb", record) == block  # its own words are not counted
    assert "not recorded yet" in course.time_block(notebook, "09_test.ipynb", None)


def test_a_lesson_without_a_record_or_too_long_for_the_lab_fails():
    short = _lesson(nbformat.v4.new_code_cell("x = 1"))
    assert "is missing" in over_the_lab(short, "09_test.ipynb", None)
    assert "quick_seconds" in over_the_lab(short, "09_test.ipynb", {"seconds": 60})
    assert over_the_lab(short, "09_test.ipynb", {"seconds": 60, "quick_seconds": 30}) is None
    long = _lesson(*[nbformat.v4.new_code_cell(f"x = {n}") for n in range(90)],
                   nbformat.v4.new_markdown_cell("word " * 800))
    assert "more than a 90-minute lab" in over_the_lab(long, "09_test.ipynb", {"seconds": 60, "quick_seconds": 30})
    further = _lesson(nbformat.v4.new_markdown_cell("## Going further"),
                      *[nbformat.v4.new_code_cell(f"x = {n}") for n in range(120)])
    assert over_the_lab(further, "09_test.ipynb", {"seconds": 60, "quick_seconds": 30}) is None  # counted apart


def test_records_come_from_the_results_folder_or_coursekit_results(tmp_path, monkeypatch):
    (tmp_path / "09_test.json").write_text('{"seconds": 1.0, "quick_seconds": 2.0}', encoding="utf-8")
    monkeypatch.setenv("COURSEKIT_RESULTS", str(tmp_path))
    assert course.record_of("09_test.ipynb") == {"seconds": 1.0, "quick_seconds": 2.0}
    assert course.record_of("08_none.ipynb") is None
