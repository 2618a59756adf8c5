"""Tests for coursekit.owndata.prepare on small folders built from the real photos of the course
dataset (re-encoded with Pillow), and on every bad folder a student may bring."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from coursekit.owndata import MIN_PER_CLASS, OwnDataError, prepare
from coursekit.scan import scan
from coursekit.splits import check_leakage
from tests import _bad_corpus as corpus


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def photos(quick_root) -> dict[str, list[bytes]]:
    """The bytes of 40 real cat and 40 real dog JPEGs."""
    return {label: [path.read_bytes() for path in sorted((quick_root / "train" / label).iterdir())[:40]]
            for label in ("cats", "dogs")}


def _encode(data: bytes, kind: str, mode: str = "RGB", size=None) -> bytes:
    image = Image.open(io.BytesIO(data)).convert(mode)
    return corpus.encode(image.resize(size) if size else image, kind)


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _files(root: Path) -> dict[str, str]:
    """Every prepared image (split/class/name) -> its PIL mode; all must decode."""
    found = {}
    for path in sorted(root.glob("*/*/*")):
        with Image.open(path) as image:
            image.load()
            found[path.relative_to(root).as_posix()] = image.mode
    return found


def test_two_classes_with_broken_files(photos, tmp_path, data_dir, capsys):
    folder = tmp_path / "scraped"
    for label in ("cats", "dogs"):
        for k, data in enumerate(photos[label][:14]):
            _put(folder / label / f"{label}{k}.jpg", data)
    cat = photos["cats"][20]
    _put(folder / "cats" / "truncated.jpg", cat[:len(cat) // 2])
    _put(folder / "cats" / "forbidden.jpg", b"<html>403 Forbidden</html>")
    _put(folder / "cats" / "png_named.jpg", _encode(photos["cats"][21], "PNG"))
    _put(folder / "cats" / "palette.png", _encode(photos["cats"][22], "PNG", "P"))
    _put(folder / "dogs" / "transparent.png", _encode(photos["dogs"][21], "PNG", "RGBA"))
    _put(folder / "dogs" / "dogs0 (1).jpg", photos["dogs"][0])  # an exact copy
    _put(folder / "cats" / "both.jpg", photos["dogs"][30])  # one photo filed under both classes
    _put(folder / "dogs" / "both.jpg", photos["dogs"][30])
    _put(folder / "cats" / ".DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(100))
    before = corpus.snapshot(folder)

    root = prepare(folder, quick=False)
    assert corpus.snapshot(folder) == before  # nothing written, nothing touched
    assert root.parent == data_dir / "own" and root.name.startswith("scraped-")
    printed = capsys.readouterr().out
    assert "6 files left out" in printed and "truncated" in printed
    left_out = pd.read_csv(root / "left_out.csv").set_index("path")["reason"].to_dict()
    assert left_out == {"cats/.DS_Store": "not_image, hidden_file", "cats/both.jpg": "label_conflict",
                        "cats/forbidden.jpg": "not_image", "cats/truncated.jpg": "truncated",
                        "dogs/both.jpg": "label_conflict", "dogs/dogs0 (1).jpg": "duplicate"}
    files = _files(root)
    assert len(files) == 31 and set(files.values()) == {"RGB"}
    assert {"train/cats/png_named.jpg", "train/cats/palette.png"} <= {
        f"train/{path.split('/', 1)[1]}" for path in files}  # converted as lesson 1's repair names them
    counts = pd.Series([path.rsplit("/", 1)[0] for path in files]).value_counts()
    assert counts["train/cats"] == 11 and counts["validation/cats"] == 3 and counts["test/cats"] == 2
    assert counts["train/dogs"] == 10 and counts["validation/dogs"] == 3 and counts["test/dogs"] == 2
    reports = {name: scan(root / name, progress=False) for name in ("train", "validation", "test")}
    assert check_leakage(reports).empty

    assert prepare(folder, quick=False) == root and capsys.readouterr().out == ""  # cached
    quick = prepare(folder, quick=True)
    assert quick.name == root.name + "-quick" and _files(quick) == files  # all under the caps
    _put(folder / "dogs" / "new.jpg", photos["dogs"][35])
    assert prepare(folder, quick=False) != root  # the folder changed: prepared again


def test_three_classes_of_grayscale_photos(photos, tmp_path, data_dir):
    folder = tmp_path / "gray"
    for label, source in (("cats", photos["cats"][:12]), ("dogs", photos["dogs"][:12]),
                          ("both", photos["cats"][12:18] + photos["dogs"][12:18])):
        for k, data in enumerate(source):
            _put(folder / label / f"{k}.jpg", _encode(data, "JPEG", "L"))
    root = prepare(folder, quick=False)
    files = _files(root)
    assert len(files) == 36 and set(files.values()) == {"RGB"}
    assert all(path.endswith(".jpg") for path in files)  # converted to RGB, names kept (repair's rule)
    for name in ("train", "validation", "test"):
        assert sorted(path.name for path in (root / name).iterdir()) == ["both", "cats", "dogs"]


def test_five_classes_of_tiny_images(photos, tmp_path, data_dir):
    folder = tmp_path / "tiny"
    pool = photos["cats"] + photos["dogs"]
    for c in range(5):
        for k in range(12):
            _put(folder / f"class{c}" / f"{k}.png", _encode(pool[12 * c + k], "PNG", size=(20, 16)))
    root = prepare(folder, quick=False)
    files = _files(root)
    assert len(files) == 60  # too small for lesson 1's taste, still kept
    assert {path.split("/")[1] for path in files} == {f"class{c}" for c in range(5)}
    with Image.open(root / next(iter(files))) as image:
        assert image.size == (20, 16)


def test_twenty_classes(quick_root, tmp_path, data_dir):
    folder = tmp_path / "twenty"
    sources = sorted((quick_root / "train").glob("*/*.jpg"))  # 200 real photos, 10 per class
    for k, path in enumerate(sources):
        _put(folder / f"class{k % 20:02d}" / path.name, _encode(path.read_bytes(), "JPEG", size=(48, 36)))
    root = prepare(folder, quick=False)
    for name in ("train", "validation", "test"):
        assert len(list((root / name).iterdir())) == 20
    assert len(_files(root)) == 200 - len(pd.read_csv(root / "left_out.csv"))


def test_a_students_own_split_is_kept_and_cross_split_copies_dropped(photos, tmp_path, data_dir):
    folder = tmp_path / "split"
    for name, start, count in (("train", 0, 12), ("validation", 12, 4)):
        for label in ("cats", "dogs"):
            for k in range(start, start + count):
                _put(folder / name / label / f"{k}.jpg", photos[label][k])
    _put(folder / "validation" / "cats" / "again.jpg", photos["cats"][3])  # also in train
    root = prepare(folder, quick=False)
    files = _files(root)
    assert "validation/cats/again.jpg" not in files and len(files) == 32
    assert all(files.get(f"train/cats/{k}.jpg") for k in range(12))  # the student's split
    left_out = pd.read_csv(root / "left_out.csv")
    assert left_out.values.tolist() == [["validation/cats/again.jpg", "cross_split_copy",
                                         "exact copy of train/cats/3.jpg (would leak into validation)"]]
    assert sorted(path.name for path in root.iterdir()) == ["left_out.csv", "train", "validation"]


def test_two_notebooks_preparing_at_once_get_one_copy(photos, tmp_path, data_dir, capsys):
    folder = tmp_path / "shared"
    for label in ("cats", "dogs"):
        for k in range(MIN_PER_CLASS):
            _put(folder / label / f"{k}.jpg", photos[label][k])
    with ThreadPoolExecutor(2) as pool:
        roots = list(pool.map(lambda _: prepare(folder, quick=False), range(2)))
    assert roots[0] == roots[1] and len(_files(roots[0])) == 2 * MIN_PER_CLASS
    assert capsys.readouterr().out.count("images prepared") == 1
    assert [path.name for path in (data_dir / "own").iterdir() if path.is_dir()] == [roots[0].name]


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "is empty"),
    ("one class", "1 class folder"),
    ("too few", rf"'dogs' \(3\); each class needs at least {MIN_PER_CLASS}"),
    ("loose files", r"files next to the class folders \(photo.jpg\)"),
    ("nested", "nested deeper than expected"),
    ("no images", "holds no image the course can use"),
    ("mixed layout", "either only class folders, or train/"),
])
def test_clear_errors_name_the_folder_and_what_to_do(case, message, photos, tmp_path, data_dir):
    folder = tmp_path / "bad"
    if case != "missing":
        folder.mkdir()
    cats = {f"cats/{k}.jpg": photos["cats"][k] for k in range(MIN_PER_CLASS)}
    layouts = {
        "one class": cats,
        "too few": {**cats, **{f"dogs/{k}.jpg": photos["dogs"][k] for k in range(3)}},
        "loose files": {**cats, "dogs/1.jpg": photos["dogs"][1], "photo.jpg": photos["dogs"][2]},
        "nested": {**cats, "dogs/puppies/1.jpg": photos["dogs"][1]},
        "no images": {"cats/notes.txt": b"to do", "dogs/page.jpg": b"<html></html>"},
        "mixed layout": {"train/cats/1.jpg": photos["cats"][1], "dogs/1.jpg": photos["dogs"][1]},
    }
    for relative, data in layouts.get(case, {}).items():
        _put(folder / relative, data)
    with pytest.raises(OwnDataError, match=message) as error:
        prepare(folder, quick=False)
    assert str(folder) in str(error.value)
    assert not (data_dir / "own").exists() or not any((data_dir / "own").glob("bad-*/"))
