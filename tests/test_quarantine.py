"""Tests for coursekit.quarantine: quarantine, undo and repair on a fresh bad corpus each."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from coursekit.quarantine import quarantine, repair, undo
from coursekit.scan import FIXABLE, ISSUES, scan
from tests import _bad_corpus as corpus


@pytest.fixture
def fresh(tmp_path):
    """A corpus of our own, for tests that move files: (root, expected codes, snapshot, report)."""
    root = tmp_path / "folder"
    expected = corpus.build(root, tmp_path / "outside")
    return root, expected, corpus.snapshot(root), scan(root, progress=False)


def test_quarantine_then_undo_restores_the_tree(fresh, tmp_path):
    root, expected, before, report = fresh
    manifest = quarantine(report, root, tmp_path / "quarantine", issues=ISSUES)
    moved = {path for path, codes in expected.items() if codes}
    assert not any(os.path.lexists(root / path) for path in moved)
    assert all(os.path.lexists(tmp_path / "quarantine" / path) for path in moved)
    document = json.loads(manifest.read_text())
    assert {entry["path"] for entry in document["entries"]} == moved
    entry = next(e for e in document["entries"] if e["path"] == "cats/truncated.jpg")
    assert entry["sha256"] == report.set_index("path").at["cats/truncated.jpg", "sha256"]
    assert entry["issues"] == ["truncated"] and entry["time"]
    assert scan(root, progress=False)["ok"].all()
    assert undo(manifest) == len(moved)
    assert corpus.snapshot(root) == before
    with pytest.raises(ValueError, match="already undone"):
        undo(manifest)


def test_undo_refuses_when_a_destination_is_occupied(fresh, tmp_path):
    root, _, _, report = fresh
    manifest = quarantine(report, root, tmp_path / "quarantine")
    (root / "cats" / "truncated.jpg").write_bytes(b"someone put a new file here")
    folder_before, quarantine_before = corpus.snapshot(root), corpus.snapshot(tmp_path / "quarantine")
    with pytest.raises(ValueError, match="occupied"):
        undo(manifest)
    assert corpus.snapshot(root) == folder_before
    assert corpus.snapshot(tmp_path / "quarantine") == quarantine_before


def test_quarantine_refuses_changed_files_and_bad_places(fresh, tmp_path):
    root, _, _, report = fresh
    with pytest.raises(ValueError, match="outside"):
        quarantine(report, root, root / "quarantine")
    with pytest.raises(ValueError, match="unknown issue codes"):
        quarantine(report, root, tmp_path / "q", issues=["corrupted"])
    (root / "cats" / "empty.jpg").write_bytes(b"now it has bytes")
    with pytest.raises(ValueError, match="changed since the scan"):
        quarantine(report, root, tmp_path / "q")
    assert not (tmp_path / "q").exists()


def test_repair_converts_fixable_files_and_undo_restores(fresh, tmp_path):
    root, _, before, report = fresh
    manifest = repair(report, root, tmp_path / "quarantine")
    after = scan(root, progress=False).set_index("path")
    for path in ["cats/png_named.jpg", "cats/cmyk.jpg", "cats/alpha.png", "cats/palette.png",
                 "cats/deep_gray.png", "cats/deep_rgb.png", "cats/gray.jpg", "cats/moving.gif"]:
        repaired = path if not path.endswith(".gif") else path[:-4] + ".png"
        assert after.at[repaired, "mode"] == "RGB", path
        assert not set(after.at[repaired, "issues"]) & FIXABLE, path
    assert after.at["cats/image.png", "issues"] == ()  # the WebP, converted to a PNG
    assert after.at["cats/png_named.jpg", "format"] == "JPEG"
    original = np.asarray(Image.open(tmp_path / "quarantine" / "cats/deep_gray.png"), dtype=np.float64)
    fixed = np.asarray(Image.open(root / "cats/deep_gray.png"), dtype=np.float64)[..., 0]
    assert np.abs(fixed - original / 257).max() <= 1  # scaled to 8 bits, not clipped at 255
    assert fixed.max() > 200
    assert (tmp_path / "quarantine" / "cats/truncated.jpg").exists() is False  # broken: untouched
    undo(manifest)
    assert corpus.snapshot(root) == before
