"""Every lesson on a student's own folder (issue 12): in quick mode, with ``COURSEKIT_DATASET``
pointing at a small three-class folder of real images with a broken file in it
(``own_folders.tiny``), each lesson runs top to bottom in a fresh kernel, prints the line
``datasets.describe()`` gives for that folder (so it used it, not the course's photos), and
leaves the folder byte-identical (every file hashed, the listing with sizes and times compared).

One test per lesson, every lesson, in ``make test`` and CI (marked ``slow``: each is scheduled as
a unit of its own, first). A cell that runs longer than ``COURSEKIT_CELL_TIMEOUT`` seconds (the
Makefile's ``CELL_TIMEOUT``, 120 by default) fails the test, so a stalled kernel is reported, not
waited out. One lesson: ``make test PYTEST_ARGS="-k 'students_folder and 04_'"``.

``COURSEKIT_OWN_DATA_FOLDERS=all`` runs them on the real scraped two-class folder and the
three-class grayscale Fashion-MNIST folder as well (``own_folders.scraped``, ``fashion``).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests import own_folders
from tests.conftest import REPO, mirror_folders, skip_or_fail

LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: Seconds one cell may run (quick mode); the Makefile passes the same limit to nbval.
CELL_TIMEOUT = int(os.environ.get("COURSEKIT_CELL_TIMEOUT", "120"))


def _fashion_source() -> Path:
    """The folder of Fashion-MNIST's original files in the course mirror, or skip."""
    for folder in mirror_folders():
        if (Path(folder) / "fashion-mnist" / own_folders.FASHION_FILES[0]).is_file():
            return Path(folder) / "fashion-mnist"
    skip_or_fail("Fashion-MNIST is not in the course mirror (../shared/datasets/fashion-mnist)")


#: The folders each lesson runs on: ``tiny`` in CI; ``COURSEKIT_OWN_DATA_FOLDERS=scraped,fashion``
#: (or ``all``) adds the real scraped two-class folder and the three-class grayscale one.
FOLDERS = {"tiny": "3 classes (cat, dog, sneaker)", "scraped": "2 classes (cat, dog)",
           "fashion": "3 classes (sneaker, trouser, tshirt)"}
REQUESTED_FOLDERS = os.environ.get("COURSEKIT_OWN_DATA_FOLDERS", "tiny")
CHOSEN_FOLDERS = list(FOLDERS) if REQUESTED_FOLDERS == "all" else REQUESTED_FOLDERS.split(",")


@pytest.fixture(scope="module", params=CHOSEN_FOLDERS)
def own_folder(request, quick_root, tmp_path_factory) -> tuple[Path, str]:
    """A student's folder (``own_folders``: tiny, scraped or fashion) and the classes it holds."""
    kind = request.param
    folder = tmp_path_factory.mktemp(f"student-{kind}") / "my_photos"
    if kind == "tiny":
        own_folders.tiny(folder, own_folders.cats_and_dogs(quick_root), _fashion_source())
    elif kind == "scraped":
        from coursekit import datasets

        full = datasets.load("cats_and_dogs_filtered", quick=False)
        own_folders.scraped(folder, own_folders.cats_and_dogs(full))
    else:
        own_folders.fashion(folder, _fashion_source())
    return folder, FOLDERS[kind]


def _printed(notebook) -> str:
    """Everything the executed notebook printed or displayed as text."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def test_every_lesson_is_run():
    """The lesson list is not empty and holds lessons 00 to the last one, none missing."""
    numbers = [int(path.stem[:2]) for path in LESSONS]
    assert numbers and numbers == list(range(len(numbers))), numbers


@pytest.mark.slow
class _LessonOnAStudentsFolder:
    """One lesson, top to bottom, on the student's folder (a class per lesson, below: xdist's
    `--dist loadscope` gives each class to one worker, so the lessons spread over both)."""

    lesson: Path

    def test_runs_on_a_students_folder(self, own_folder, monkeypatch):
        from nbclient import NotebookClient

        from coursekit import datasets

        own_folder, classes = own_folder
        before = own_folders.fingerprint(own_folder)
        monkeypatch.setenv("COURSEKIT_QUICK", "1")
        monkeypatch.setenv("COURSEKIT_DATASET", str(own_folder))  # the kernel inherits it
        monkeypatch.setenv("COURSEKIT_MIRROR", os.pathsep.join(mirror_folders()))
        expected = datasets.describe(datasets.load())
        assert classes in expected
        notebook = nbformat.read(self.lesson, as_version=4)
        NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                       resources={"metadata": {"path": str(self.lesson.parent)}}).execute()
        name = self.lesson.name
        assert expected in _printed(notebook), f"{name} did not use the folder COURSEKIT_DATASET names"
        assert own_folders.fingerprint(own_folder) == before, f"{name} changed the student's folder"


for _path in LESSONS:  # TestLesson00_start_here, ...: one class per lesson
    _name = f"TestLesson{_path.stem}"
    globals()[_name] = type(_name, (_LessonOnAStudentsFolder,), {"lesson": _path, "__doc__": _path.name})


def test_the_folder_builders_are_deterministic_and_the_fingerprint_sees_a_touch(quick_root, tmp_path):
    photos, source = own_folders.cats_and_dogs(quick_root), _fashion_source()
    written = own_folders.tiny(tmp_path / "a" / "my_photos", photos, source)
    own_folders.tiny(tmp_path / "b" / "my_photos", photos, source)
    before = own_folders.fingerprint(tmp_path / "a" / "my_photos")
    assert before == own_folders.fingerprint(tmp_path / "b" / "my_photos")
    assert len(written) == 38 and sum(entry[0] == "file" for entry in before.values()) == 38
    touched = tmp_path / "a" / "my_photos" / written[0]
    touched.write_bytes(touched.read_bytes())  # same bytes, new modification time
    assert own_folders.fingerprint(tmp_path / "a" / "my_photos") != before
