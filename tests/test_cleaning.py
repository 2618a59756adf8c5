"""Tests for coursekit.cleaning: a corpus of bad files, quarantine/undo/repair, splits, leakage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from coursekit import cleaning, config, datasets
from tests import _bad_corpus as corpus


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The bad corpus, its expected codes, and its snapshot (built once for the module)."""
    base = tmp_path_factory.mktemp("corpus")
    root, outside = base / "folder", base / "outside"
    expected = corpus.build(root, outside)
    return root, outside, expected, corpus.snapshot(root)


@pytest.fixture(scope="module")
def report(built):
    root, _, _, _ = built
    return cleaning.scan(root, progress=False)


@pytest.fixture
def fresh(tmp_path):
    """A corpus of our own, for tests that move files."""
    root, outside = tmp_path / "folder", tmp_path / "outside"
    expected = corpus.build(root, outside)
    return root, expected, corpus.snapshot(root)


def _codes(report: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    return {row.path: tuple(sorted(row.issues)) for row in report.itertuples()}


def test_every_file_gets_exactly_its_issue_codes(built, report):
    _, _, expected, _ = built
    assert _codes(report) == expected


def test_every_issue_code_appears_in_the_corpus(report):
    found = {code for codes in report["issues"] for code in codes}
    assert found == set(cleaning.ISSUES)


def test_columns_types_and_labels(report):
    for column in ("path", "label", "format", "extension", "width", "height", "mode", "bytes",
                   "sha256", "issues", "ok"):
        assert column in report
    row = report.set_index("path")
    assert row.at["loose.png", "label"] is None
    assert row.at["cats/fake.jpg/inner.jpg", "label"] == "cats"
    assert row.at["cats/png_named.jpg", "format"] == "PNG"
    assert row.at["cats/png_named.jpg", "extension"] == ".jpg"
    assert row.at["cats/drawing.svg", "format"] == "SVG"
    assert row.at["cats/bomb.png", "width"] == 20_000
    assert row.at["cats/deep_rgb.png", "bit_depth"] == 16
    assert row.at["cats/empty.jpg", "bytes"] == 0
    assert row.at["cats/photo copy.jpg", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/photo_same_pixels.png", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/photo_resized.jpg", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/shared.jpg", "conflicts_with"] == ("dogs/shared.jpg",)
    assert report["ok"].equals(report["issues"].map(len) == 0)
    assert "fake.jpg" not in set(report["path"])  # folders are not rows


def test_links_are_never_followed(report):
    row = report.set_index("path").loc["cats/link_out.jpg"]
    assert row["sha256"] is None and row["format"] is None  # the target was never read
    assert not any(path.startswith("dogs/linked_folder/") for path in report["path"])


def test_scan_leaves_the_tree_byte_identical(built, report):
    root, _, _, before = built
    assert corpus.snapshot(root) == before


def test_parallel_scan_matches_serial(built, report, monkeypatch):
    root, _, _, _ = built
    monkeypatch.setattr(cleaning, "_SERIAL_BELOW", 0)
    parallel = cleaning.scan(root, workers=2, progress=False)
    columns = ["path", "format", "width", "height", "sha256", "dhash", "issues"]
    pd.testing.assert_frame_equal(parallel[columns], report[columns])


def test_pipeline_agrees_with_tensorflow(built, report):
    """Files scan() accepts decode in tf.io.decode_image as image_dataset_from_directory calls it;
    files it calls broken do not, or are skipped by the extension list, or decode wrongly."""
    config.import_keras()
    import tensorflow as tf

    root, _, _, _ = built
    seen = {"accepted": 0, "broken": 0, "unsupported": 0}
    for row in report.itertuples():
        path = root / row.path
        if path.is_symlink() or not path.is_file() or "huge" in row.issues:
            continue  # never read links and pipes; a 400-megapixel decode is the point of "huge"
        try:
            decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False).numpy()
        except (tf.errors.InvalidArgumentError, ValueError):
            decoded = None
        broken = set(row.issues) & cleaning.BROKEN
        if not broken:
            seen["accepted"] += 1
            assert decoded is not None and decoded.shape == (row.height, row.width, 3), row.path
        elif broken & {"empty_file", "not_image", "unreadable", "truncated"}:
            seen["broken"] += 1
            assert decoded is None, row.path
        else:  # unsupported_format: TF fails, or idfd skips the extension, or the pixels are wrong
            seen["unsupported"] += 1
            skipped = row.extension not in cleaning.PIPELINE_EXTENSIONS
            wrong = False
            if decoded is not None and not skipped:
                with Image.open(path) as image:
                    wrong = not np.array_equal(decoded, np.asarray(image.convert("RGB")))
            assert decoded is None or skipped or wrong, row.path
    assert seen["accepted"] >= 20 and seen["broken"] >= 5 and seen["unsupported"] >= 7, seen


def test_quarantine_then_undo_restores_the_tree(fresh, tmp_path):
    root, expected, before = fresh
    report = cleaning.scan(root, progress=False)
    manifest = cleaning.quarantine(report, root, tmp_path / "quarantine", issues=cleaning.ISSUES)
    moved = {path for path, codes in expected.items() if codes}
    assert not any(os.path.lexists(root / path) for path in moved)
    assert all(os.path.lexists(tmp_path / "quarantine" / path) for path in moved)
    document = json.loads(manifest.read_text())
    assert {entry["path"] for entry in document["entries"]} == moved
    entry = next(e for e in document["entries"] if e["path"] == "cats/truncated.jpg")
    assert entry["sha256"] == report.set_index("path").at["cats/truncated.jpg", "sha256"]
    assert entry["issues"] == ["truncated"] and entry["time"]
    assert cleaning.scan(root, progress=False)["ok"].all()
    assert cleaning.undo(manifest) == len(moved)
    assert corpus.snapshot(root) == before
    with pytest.raises(ValueError, match="already undone"):
        cleaning.undo(manifest)


def test_undo_refuses_when_a_destination_is_occupied(fresh, tmp_path):
    root, _, _ = fresh
    report = cleaning.scan(root, progress=False)
    quarantine = tmp_path / "quarantine"
    manifest = cleaning.quarantine(report, root, quarantine)
    (root / "cats" / "truncated.jpg").write_bytes(b"someone put a new file here")
    folder_before, quarantine_before = corpus.snapshot(root), corpus.snapshot(quarantine)
    with pytest.raises(ValueError, match="occupied"):
        cleaning.undo(manifest)
    assert corpus.snapshot(root) == folder_before
    assert corpus.snapshot(quarantine) == quarantine_before


def test_quarantine_refuses_changed_files_and_bad_places(fresh, tmp_path):
    root, _, before = fresh
    report = cleaning.scan(root, progress=False)
    with pytest.raises(ValueError, match="outside"):
        cleaning.quarantine(report, root, root / "quarantine")
    with pytest.raises(ValueError, match="unknown issue codes"):
        cleaning.quarantine(report, root, tmp_path / "q", issues=["corrupted"])
    (root / "cats" / "empty.jpg").write_bytes(b"now it has bytes")
    with pytest.raises(ValueError, match="changed since the scan"):
        cleaning.quarantine(report, root, tmp_path / "q")
    assert not (tmp_path / "q").exists()


def test_repair_converts_fixable_files_and_undo_restores(fresh, tmp_path):
    root, _, before = fresh
    report = cleaning.scan(root, progress=False)
    manifest = cleaning.repair(report, root, tmp_path / "quarantine")
    after = cleaning.scan(root, progress=False).set_index("path")
    for path in ["cats/png_named.jpg", "cats/cmyk.jpg", "cats/alpha.png", "cats/palette.png",
                 "cats/deep_gray.png", "cats/deep_rgb.png", "cats/gray.jpg", "cats/moving.gif"]:
        repaired = path if not path.endswith(".gif") else path[:-4] + ".png"
        assert after.at[repaired, "mode"] == "RGB", path
        assert not set(after.at[repaired, "issues"]) & cleaning.FIXABLE, path
    assert after.at["cats/image.png", "issues"] == ()  # the WebP, converted to a PNG
    assert after.at["cats/png_named.jpg", "format"] == "JPEG"
    original = np.asarray(Image.open(tmp_path / "quarantine" / "cats/deep_gray.png"), dtype=np.float64)
    fixed = np.asarray(Image.open(root / "cats/deep_gray.png"), dtype=np.float64)[..., 0]
    assert np.abs(fixed - original / 257).max() <= 1  # scaled to 8 bits, not clipped at 255
    assert fixed.max() > 200
    assert (tmp_path / "quarantine" / "cats/truncated.jpg").exists() is False  # broken: untouched
    cleaning.undo(manifest)
    assert corpus.snapshot(root) == before


def test_true_format_decodes_instead_of_trusting_names(built):
    root, _, _, _ = built
    assert cleaning.true_format(root / "cats/png_named.jpg") == "PNG"
    assert cleaning.true_format(root / "cats/truncated.jpg") is None
    assert cleaning.true_format(root / "cats/notes.jpg") is None
    assert cleaning.true_format(root / "cats/photo.jpg") == "JPEG"


def test_dhash_is_close_for_copies_and_far_for_different_images():
    image = corpus.photo(7, (320, 240))
    resized = image.resize((250, 190))
    distance = lambda a, b: int((cleaning.dhash(a) != cleaning.dhash(b)).sum())
    assert distance(image, resized) <= 10
    assert distance(image, corpus.photo(8, (320, 240))) > 60
    with pytest.raises(ValueError):
        cleaning.dhash(image, hash_size=1)


def _fake_report(count: int, labels=("cats", "dogs")) -> pd.DataFrame:
    rows = [{"path": f"{labels[k % len(labels)]}/img{k}.jpg", "label": labels[k % len(labels)],
             "issues": (), "duplicate_of": None, "conflicts_with": ()} for k in range(count)]
    return pd.DataFrame(rows)


def test_split_is_deterministic_stratified_and_stable():
    report = _fake_report(4000)
    first = cleaning.split(report, (0.7, 0.15, 0.15), seed=3)
    assert first["split"].tolist() == cleaning.split(report, (0.7, 0.15, 0.15), seed=3)["split"].tolist()
    share = first.groupby("label")["split"].value_counts(normalize=True)
    for label in ("cats", "dogs"):  # 2000 per label: 3 standard errors is about 0.025
        assert abs(share[(label, "train")] - 0.7) < 0.03
        assert abs(share[(label, "test")] - 0.15) < 0.03
    grown = cleaning.split(pd.concat([report, _fake_report(500).assign(
        path=lambda t: "new/" + t["path"])], ignore_index=True), (0.7, 0.15, 0.15), seed=3)
    old = grown.set_index("path").loc[first["path"], "split"]
    assert old.tolist() == first["split"].tolist()  # adding files moved none of the old ones
    assert cleaning.split(report, (0.7, 0.15, 0.15), seed=4)["split"].tolist() != first["split"].tolist()


def test_split_keeps_copies_together_and_rejects_bad_arguments(report):
    splits = cleaning.split(report, {"train": 0.5, "test": 0.5}, seed=0)
    assert "cats/truncated.jpg" not in set(splits["path"])  # broken files are left out
    assert "loose.png" not in set(splits["path"])  # no label
    by_path = splits.set_index("path")["split"]
    for copy in ["cats/photo copy.jpg", "cats/photo_same_pixels.png", "cats/photo_resized.jpg"]:
        assert by_path[copy] == by_path["cats/photo.jpg"]
    assert by_path["cats/shared.jpg"] == by_path["dogs/shared.jpg"]
    for seed in range(20):
        assert cleaning.check_leakage(cleaning.split(report, (0.4, 0.3, 0.3), seed=seed)).empty
    for bad in [(0.5, 0.6), (0.0, 1.0), (1.2, -0.2), ("a", "b"), (0.2,) * 5, {"train": 0.9}]:
        with pytest.raises(ValueError):
            cleaning.split(report, bad)


def test_check_leakage_finds_copies_across_splits(report):
    splits = cleaning.split(report, (0.5, 0.5), seed=0)
    wrong = splits.copy()
    wrong.loc[wrong["path"] == "cats/photo copy.jpg", "split"] = "somewhere else"
    wrong.loc[wrong["path"] == "cats/photo_resized.jpg", "split"] = "another"
    leaks = cleaning.check_leakage(wrong)
    pairs = {(row.path_a, row.path_b, row.kind) for row in leaks.itertuples()}
    assert ("cats/photo copy.jpg", "cats/photo.jpg", "exact") in pairs or \
        ("cats/photo.jpg", "cats/photo copy.jpg", "exact") in pairs
    assert any("cats/photo_resized.jpg" in (a, b) and kind == "near" for a, b, kind in pairs)


def test_check_leakage_across_two_scanned_folders(tmp_path):
    for name, seeds in (("train", (1, 2, 3)), ("validation", (4, 5, 1))):
        for seed in seeds:
            target = tmp_path / name / "cats" / f"img{seed}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(corpus.encode(corpus.photo(seed), "JPEG"))
    leaks = cleaning.check_leakage({name: cleaning.scan(tmp_path / name, progress=False)
                                    for name in ("train", "validation")})
    assert leaks[["path_a", "split_a", "path_b", "split_b", "kind"]].values.tolist() == [
        ["cats/img1.jpg", "train", "cats/img1.jpg", "validation", "exact"]]


def test_scan_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        cleaning.scan(tmp_path / "missing")
    with pytest.raises(ValueError, match="workers"):
        cleaning.scan(tmp_path, workers=0)
    with pytest.raises(ValueError, match="min_side"):
        cleaning.scan(tmp_path, min_side=0)


def _mirror_or_skip() -> Path:
    try:
        return datasets.load("cats_and_dogs_filtered", quick=True)
    except datasets.DatasetUnavailable:
        pytest.skip("cats_and_dogs_filtered is not available (no mirror, no network)")


def test_messy_copy_ground_truth_is_recovered_exactly(tmp_path):
    source = _mirror_or_skip() / "train"
    source_before = corpus.snapshot(source)
    truth = cleaning.make_messy_copy(source, tmp_path / "messy", seed=0)
    assert corpus.snapshot(source) == source_before  # src is only read
    found = cleaning.scan(tmp_path / "messy", progress=False)
    merged = truth.merge(found[["path", "issues"]], on="path", how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    wrong = merged[merged["expected"] != merged["issues"]]
    assert wrong.empty, wrong[["path", "expected", "issues"]].to_string()
    injected = {code for codes in truth["expected"] for code in codes}
    assert injected == set(cleaning.ISSUES) - {"symlink"}  # every defect kind but links
    assert (truth["expected"].map(len) == 0).sum() > 100  # mostly clean real photos
    with pytest.raises(ValueError, match="empty folder"):
        cleaning.make_messy_copy(source, tmp_path / "messy")


def test_check_header_lies_counts_files_that_start_like_images_but_fail(built, capsys):
    from coursekit import checks

    root, _, _, _ = built
    assert checks.header_lies(root) == ["cats/bomb.png", "cats/corrupt.png", "cats/truncated.jpg"]
    assert checks.check_header_lies(3, root) is True
    assert checks.check_header_lies(2, root) is False
    assert checks.check_header_lies("three", root) is False
    assert checks.check_header_lies(..., root) is False
    assert "✅" in capsys.readouterr().out
