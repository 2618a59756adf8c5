"""Every lesson on a student's own folder (issue 12): in quick mode, with ``COURSEKIT_DATASET``
pointing at a small three-class folder of real images with a broken file in it
(``own_folders.tiny``), each lesson runs top to bottom in a fresh kernel, prints the line
``datasets.describe()`` gives for that folder (so it used it, not the course's photos), and
leaves the folder byte-identical (every file hashed, the listing with sizes and times compared).

One test per lesson. ``make test`` runs the lessons in ``IN_CI`` (the CI budget: every lesson
on the default photos under nbval, and these once more on the student's folder);
``COURSEKIT_OWN_DATA_LESSONS=all`` (or ``03,05``) runs the others too::

    COURSEKIT_OWN_DATA_LESSONS=all make test PYTEST_ARGS="-k students_folder"

``COURSEKIT_OWN_DATA_FOLDERS=all`` runs them on the real scraped two-class folder and the
three-class grayscale Fashion-MNIST folder as well (``own_folders.scraped``, ``fashion``).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from tests import own_folders
from tests.conftest import REPO, mirror_folders

LESSONS = sorted((REPO / "notebooks").glob("0*.ipynb"))
#: Lessons whose own-data path differs most from the default one (lesson 0's switch, lesson 1's
#: copy of the student's folder, lesson 2 on mixed sizes and modes), at the lowest cost; the
#: training lessons (03-06) cost minutes each on two cores, and run on request.
IN_CI = {"00", "01", "02"}
REQUESTED = os.environ.get("COURSEKIT_OWN_DATA_LESSONS", "")


def _fashion_source() -> Path:
    """The folder of Fashion-MNIST's original files in the course mirror, or skip."""
    for folder in mirror_folders():
        if (Path(folder) / "fashion-mnist" / own_folders.FASHION_FILES[0]).is_file():
            return Path(folder) / "fashion-mnist"
    pytest.skip("Fashion-MNIST is not in the course mirror (../shared/datasets/fashion-mnist)")


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


def _marks(path: Path):
    number = path.stem[:2]
    chosen = IN_CI | ({number} if REQUESTED == "all" or number in REQUESTED.split(",") else set())
    return [] if number in chosen else [pytest.mark.skip(
        reason=f"not in the CI budget; COURSEKIT_OWN_DATA_LESSONS={number} runs it")]


@pytest.mark.parametrize("lesson", [pytest.param(path, marks=_marks(path), id=path.stem)
                                    for path in LESSONS])
def test_lesson_runs_on_a_students_folder(lesson, own_folder, monkeypatch):
    from nbclient import NotebookClient

    from coursekit import datasets

    own_folder, classes = own_folder
    before = own_folders.fingerprint(own_folder)
    monkeypatch.setenv("COURSEKIT_QUICK", "1")
    monkeypatch.setenv("COURSEKIT_DATASET", str(own_folder))  # the kernel inherits it
    monkeypatch.setenv("COURSEKIT_MIRROR", os.pathsep.join(mirror_folders()))
    expected = datasets.describe(datasets.load())
    assert classes in expected
    notebook = nbformat.read(lesson, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(lesson.parent)}}).execute()
    assert expected in _printed(notebook), f"{lesson.name} did not use the folder COURSEKIT_DATASET names"
    assert own_folders.fingerprint(own_folder) == before, f"{lesson.name} changed the student's folder"


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
