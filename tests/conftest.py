"""Shared fixtures: an isolated data folder and Keras cache, the CI mirror, tiny archives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coursekit import config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def mirror_folders() -> list[str]:
    """The course mirror folders that exist beside the project (../shared in CI)."""
    from_env = [entry for entry in config.mirrors() if Path(entry).is_dir()]
    found = [str(SHARED / name) for name in ("datasets", "weights") if (SHARED / name).is_dir()]
    return list(dict.fromkeys(from_env + found))


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty data folder and Keras cache, no mirror, full mode: nothing leaks between tests."""
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("COURSEKIT_MIRROR", raising=False)
    monkeypatch.delenv("COURSEKIT_QUICK", raising=False)
    monkeypatch.delenv("COURSEKIT_DATASET", raising=False)
    return tmp_path


@pytest.fixture
def course_mirror(monkeypatch):
    """Point COURSEKIT_MIRROR at the real course files, or skip when they are not here."""
    folders = mirror_folders()
    if not folders:
        pytest.skip("the course mirror (../shared/datasets) is not present")
    monkeypatch.setenv("COURSEKIT_MIRROR", os.pathsep.join(folders))
    return folders


@pytest.fixture(scope="session")
def quick_root():
    """The quick-mode subset of cats_and_dogs_filtered (200 train, 100 validation real JPEGs)."""
    from coursekit import datasets

    if not mirror_folders() and not (config.data_dir() / "cats_and_dogs_filtered").is_dir():
        pytest.skip("the course mirror (../shared/datasets) is not present")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSEKIT_MIRROR", os.pathsep.join(mirror_folders()))
        return datasets.load("cats_and_dogs_filtered", quick=True)


@pytest.fixture(scope="session")
def tiny_root(quick_root, tmp_path_factory):
    """16 train and 8 validation real photos per class of the quick subset (same layout)."""
    import shutil

    target = tmp_path_factory.mktemp("tiny")
    for split, count in (("train", 16), ("validation", 8)):
        for class_name in ("cats", "dogs"):
            (target / split / class_name).mkdir(parents=True)
            for path in sorted((quick_root / split / class_name).iterdir())[:count]:
                shutil.copy(path, target / split / class_name / path.name)
    return target


@pytest.fixture(scope="session")
def bad_corpus(tmp_path_factory):
    """The folder of bad files from tests/_bad_corpus.py (built once, never modified):
    (root, expected codes per path, snapshot of the tree, scan report)."""
    from coursekit.scan import scan
    from tests import _bad_corpus

    base = tmp_path_factory.mktemp("bad_corpus")
    expected = _bad_corpus.build(base / "folder", base / "outside")
    snapshot = _bad_corpus.snapshot(base / "folder")
    return base / "folder", expected, snapshot, scan(base / "folder", progress=False)
