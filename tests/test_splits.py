"""Tests for coursekit.splits: per-class splits by content hash, leakage checks, the quick rule."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from coursekit.scan import scan
from coursekit.splits import check_leakage, excluded, quick_subset, split
from tests import _bad_corpus as corpus


def _report(count: int, labels=("cats", "dogs"), prefix: str = "") -> pd.DataFrame:
    """A scan-like table of ``count`` distinct images, alternating between the labels."""
    rows = [{"path": f"{prefix}{labels[k % len(labels)]}/img{k}.jpg", "label": labels[k % len(labels)],
             "format": "JPEG", "issues": (), "group": f"{prefix}{labels[k % len(labels)]}/img{k}.jpg",
             "sha256": hashlib.sha256(f"{prefix}{k}".encode()).hexdigest()} for k in range(count)]
    return pd.DataFrame(rows)


def test_each_class_gets_its_fractions_as_closely_as_possible():
    report = pd.concat([_report(1000), _report(45, ("birds",), "b")], ignore_index=True)
    splits = split(report, (0.7, 0.15, 0.15), seed=3)
    counts = splits.groupby(["label", "split"]).size().unstack()
    assert counts.loc["cats"].tolist() == counts.loc["dogs"].tolist()
    assert counts.loc["cats", ["train", "validation", "test"]].tolist() == [350, 75, 75]
    for column, ideal in (("train", 31.5), ("validation", 6.75), ("test", 6.75)):
        assert abs(counts.loc["birds", column] - ideal) <= 1  # 45 single images: off by < 1
    assert split(report, (0.7, 0.15, 0.15), seed=3)["split"].tolist() == splits["split"].tolist()
    assert split(report, (0.7, 0.15, 0.15), seed=4)["split"].tolist() != splits["split"].tolist()


def test_the_split_follows_the_content_not_the_names():
    report = _report(200)
    renamed = report.assign(path=report["path"].str.replace("img", "photo_"))
    assert split(renamed, seed=0)["split"].tolist() == split(report, seed=0)["split"].tolist()
    grown = split(pd.concat([report, _report(20, prefix="new")], ignore_index=True), seed=0)
    old = grown.set_index("path").loc[report["path"], "split"]
    moved = int((old.to_numpy() != split(report, seed=0)["split"].to_numpy()).sum())
    assert moved <= 10  # 10% more files: only groups next to a boundary change side


def test_split_keeps_copies_together_and_leaves_out_conflicts(bad_corpus):
    report = bad_corpus[3]
    splits = split(report, {"train": 0.5, "test": 0.5}, seed=0)
    left_out = excluded(report).set_index("path")["reason"]
    assert set(splits["path"]) | set(left_out.index) == set(report["path"])
    assert left_out["cats/truncated.jpg"] == "truncated"
    assert left_out["loose.png"] == "no class folder"
    assert left_out["cats/link_out.jpg"] == "symlink"
    assert left_out["cats/shared.jpg"] == left_out["dogs/shared.jpg"] == "label_conflict"
    assert "cats/image.webp" not in left_out  # a WebP photo: repair converts it, so it is split
    by_path = splits.set_index("path")["split"]
    for copy in ["cats/photo copy.jpg", "cats/photo_same_pixels.png", "cats/photo_resized.jpg"]:
        assert by_path[copy] == by_path["cats/photo.jpg"]
    for seed in range(20):
        assert check_leakage(split(report, (0.4, 0.3, 0.3), seed=seed)).empty


def test_split_rejects_bad_arguments(bad_corpus):
    for bad in [(0.5, 0.6), (0.0, 1.0), (1.2, -0.2), ("a", "b"), (0.2,) * 5, {"train": 0.9}]:
        with pytest.raises(ValueError, match="fractions"):
            split(bad_corpus[3], bad)
    with pytest.raises(ValueError, match="sha256"):
        split(bad_corpus[3].drop(columns="sha256"))


def test_check_leakage_finds_copies_across_splits(bad_corpus):
    wrong = split(bad_corpus[3], (0.5, 0.5), seed=0)
    wrong.loc[wrong["path"] == "cats/photo copy.jpg", "split"] = "somewhere else"
    wrong.loc[wrong["path"] == "cats/photo_resized.jpg", "split"] = "another"
    pairs = {(row.path_a, row.path_b, row.kind) for row in check_leakage(wrong).itertuples()}
    assert {("cats/photo copy.jpg", "cats/photo.jpg", "exact"),
            ("cats/photo.jpg", "cats/photo copy.jpg", "exact")} & pairs
    assert any("cats/photo_resized.jpg" in (a, b) and kind == "near" for a, b, kind in pairs)


def test_check_leakage_across_two_scanned_folders(tmp_path):
    for name, seeds in (("train", (1, 2, 3)), ("validation", (4, 5, 1))):
        for seed in seeds:
            target = tmp_path / name / "cats" / f"img{seed}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(corpus.encode(corpus.photo(seed), "JPEG"))
    leaks = check_leakage({name: scan(tmp_path / name, progress=False)
                           for name in ("train", "validation")})
    assert leaks[["path_a", "split_a", "path_b", "split_b", "kind"]].values.tolist() == [
        ["cats/img1.jpg", "train", "cats/img1.jpg", "validation", "exact"]]


def test_quick_subset_is_the_default_datasets_rule(quick_root):
    """The quick subset of cats_and_dogs_filtered is what quick_subset picks from the full set."""
    from coursekit import datasets

    full = datasets.load("cats_and_dogs_filtered", quick=False)
    every = [path.relative_to(full).as_posix() for path in full.rglob("*.jpg")]
    picked = quick_subset(every, {"train": 100, "validation": 50})
    assert picked == sorted(path.relative_to(quick_root).as_posix() for path in quick_root.rglob("*.jpg"))
    assert quick_subset(["a/x10.jpg", "a/x9.jpg", "a/x1.jpg", "b/z.jpg"], 2) == [
        "a/x1.jpg", "a/x9.jpg", "b/z.jpg"]
