"""Tests for coursekit.messy: scan recovers the injected defects of the real photos exactly."""

from __future__ import annotations

import pytest

from coursekit.messy import make_messy_copy
from coursekit.scan import ISSUES, scan
from tests import _bad_corpus as corpus


def test_messy_copy_ground_truth_is_recovered_exactly(quick_root, tmp_path):
    source = quick_root / "train"
    source_before = corpus.snapshot(source)
    truth = make_messy_copy(source, tmp_path / "messy", seed=0)
    assert corpus.snapshot(source) == source_before  # src is only read
    found = scan(tmp_path / "messy", progress=False)
    merged = truth.merge(found[["path", "issues"]], on="path", how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    wrong = merged[merged["expected"] != merged["issues"]]
    assert wrong.empty, wrong[["path", "expected", "issues"]].to_string()
    injected = {code for codes in truth["expected"] for code in codes}
    assert injected == set(ISSUES) - {"symlink"}  # every defect kind but links
    assert (truth["expected"].map(len) == 0).sum() > 100  # mostly clean real photos
    with pytest.raises(ValueError, match="empty folder"):
        make_messy_copy(source, tmp_path / "messy")
