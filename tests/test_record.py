"""tools/record.py (`make results`): every lesson by default, executed copies kept, a cell that
stalls fails the lesson within its timeout. (The record's fields: tests/test_results.py.)"""

from __future__ import annotations

import time

import nbformat
import pytest

from tests.conftest import REPO
from tools import record


def _lesson(folder, *cells) -> object:
    path = folder / "09_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell) for cell in cells]), path)
    return path


def test_the_default_is_every_lesson():
    lessons = sorted(path.stem for path in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [record.lesson_path(name).stem for name in record.DEFAULT_LESSONS] == lessons
    assert len(lessons) == 8
    assert f"LESSONS ?= {' '.join(record.DEFAULT_LESSONS)}" in (REPO / "Makefile").read_text()


def test_cell_timeouts_per_mode(monkeypatch):
    monkeypatch.delenv("COURSEKIT_CELL_TIMEOUT", raising=False)
    assert record.cell_timeout_for(quick=True) == 120 and record.cell_timeout_for(quick=False) == 2400
    monkeypatch.setenv("COURSEKIT_CELL_TIMEOUT", "90")
    assert record.cell_timeout_for(quick=True) == 90


def test_executed_copies_are_kept_per_mode_with_papermills_cell_times(tmp_path):
    lesson = _lesson(tmp_path, "import os, time\nfrom coursekit import results", "time.sleep(1.5)",
                     "results.record(quick=os.environ['COURSEKIT_QUICK'] == '1')\nprint('done')",
                     "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
                     "print(os.environ['COURSEKIT_SITE'])")
    keep = tmp_path / "executed"
    entry = record.record_lesson(lesson, quick=False, shared_data=None, quick_timing=True, keep=keep)
    assert entry["mode"] == "full" and entry["figures"] == {"quick": False} and entry["quick_seconds"] > 0
    assert entry["cell_seconds"][0]["cell"] == 1 and 1.4 <= entry["cell_seconds"][0]["seconds"] < 10
    for mode in ("full", "quick"):
        executed = nbformat.read(keep / mode / lesson.name, as_version=4)
        assert executed.cells[2].outputs[-1]["text"].strip().endswith("done")
        figure, site = executed.cells[3].outputs  # the figure stays in the copy (inline, not Agg)
        assert "image/png" in figure["data"] and site["text"] == "1\n"
    assert not (keep / "failed").exists()


def test_a_stalled_cell_fails_the_lesson_within_its_timeout(tmp_path):
    lesson = _lesson(tmp_path, "print('before')", "import time\ntime.sleep(600)", "print('never')")
    start = time.perf_counter()
    with pytest.raises(record.LessonFailed, match="09_tiny failed in quick mode") as error:
        record.execute(lesson, quick=True, data=None, cell_timeout=3, keep=tmp_path / "executed")
    assert time.perf_counter() - start < 120, "waited out instead of failing"
    assert "Timeout" in str(error.value) and str(tmp_path / "executed" / "failed") in str(error.value)
    failed = nbformat.read(tmp_path / "executed" / "failed" / lesson.name, as_version=4)
    assert failed.cells[0].outputs[0]["text"] == "before\n" and not failed.cells[2].outputs


def test_a_full_record_waits_for_a_quiet_machine_and_gives_up_in_time():
    loads, slept = iter([1.8, 1.4, 0.9, 0.5]), []
    assert record.settle(1.0, load=lambda: (next(loads),), sleep=slept.append, poll=5) == 0.9
    assert slept == [5, 5]
    busy, slept = (lambda: (3.0,)), []
    assert record.settle(1.0, most=12, load=busy, sleep=slept.append, poll=5) == 3.0  # records anyway
    assert sum(slept) == 15
    assert record.settle(0, load=busy, sleep=slept.append) == 3.0 and sum(slept) == 15  # 0: no wait
