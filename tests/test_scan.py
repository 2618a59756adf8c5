"""Tests for coursekit.scan on a corpus of bad files (tests/_bad_corpus.py) and from a plain script."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from coursekit import config
from coursekit.scan import BROKEN, ISSUES, PIPELINE_EXTENSIONS, dhash, scan, to_rgb, true_format
from tests import _bad_corpus as corpus
from tests.conftest import REPO


def test_every_file_gets_exactly_its_issue_codes(bad_corpus):
    _, expected, _, report = bad_corpus
    assert {row.path: tuple(sorted(row.issues)) for row in report.itertuples()} == expected


def test_every_issue_code_appears_in_the_corpus(bad_corpus):
    report = bad_corpus[3]
    assert {code for codes in report["issues"] for code in codes} == set(ISSUES)


def test_columns_types_and_labels(bad_corpus):
    report = bad_corpus[3]
    row = report.set_index("path")
    assert row.at["loose.png", "label"] is None
    assert row.at["cats/fake.jpg/inner.jpg", "label"] == "cats"
    assert row.at["cats/png_named.jpg", "format"] == "PNG"
    assert row.at["cats/png_named.jpg", "extension"] == ".jpg"
    assert row.at["cats/drawing.svg", "format"] == "SVG"
    assert row.at["cats/bomb.png", "format"] is None  # never opened: Pillow's message says why
    assert "400000000 pixels" in row.at["cats/bomb.png", "note"]
    assert row.at["cats/deep_rgb.png", "bit_depth"] == 16
    assert row.at["cats/empty.jpg", "bytes"] == 0
    assert row.at["cats/photo copy.jpg", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/photo_same_pixels.png", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/photo_resized.jpg", "duplicate_of"] == "cats/photo.jpg"
    assert row.at["cats/shared.jpg", "conflicts_with"] == ("dogs/shared.jpg",)
    assert row.at["cats/truncated.jpg", "note"].startswith("the file ends before the image data does (")
    assert report["ok"].equals(report["issues"].map(len) == 0)
    assert "fake.jpg" not in set(report["path"])  # folders are not rows
    assert report["width"].dtype == "Int64" and report["brightness_std"].dtype == "float64"


def test_links_are_never_followed(bad_corpus):
    row = bad_corpus[3].set_index("path").loc["cats/link_out.jpg"]
    assert row["sha256"] is None and row["format"] is None  # the target was never read
    assert not any(path.startswith("dogs/linked_folder/") for path in bad_corpus[3]["path"])


def test_scan_leaves_the_tree_byte_identical(bad_corpus):
    root, _, before, _ = bad_corpus
    assert corpus.snapshot(root) == before


def test_one_thread_and_many_threads_agree(bad_corpus):
    root, _, _, report = bad_corpus
    columns = ["path", "format", "width", "height", "sha256", "dhash", "issues", "note"]
    for workers in (1, 8):
        pd.testing.assert_frame_equal(scan(root, workers=workers, progress=False)[columns],
                                      report[columns])


def test_scan_never_lifts_pillows_limit_not_even_for_a_moment(bad_corpus):
    """Another thread opening images while a scan runs always has Pillow's protection."""
    limit, seen, done = Image.MAX_IMAGE_PIXELS, set(), threading.Event()

    def watch():
        while not done.is_set():
            seen.add(Image.MAX_IMAGE_PIXELS)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        report = scan(bad_corpus[0], workers=2, progress=False)
    finally:
        done.set()
        watcher.join()
    assert seen == {limit} and Image.MAX_IMAGE_PIXELS == limit
    assert report.set_index("path").at["cats/bomb.png", "issues"] == ("huge",)


def test_a_file_just_over_the_limit_is_huge_and_never_decoded(tmp_path):
    (tmp_path / "cats").mkdir()
    side = int(Image.MAX_IMAGE_PIXELS ** 0.5) + 1  # over the limit, under twice it: Pillow warns
    (tmp_path / "cats" / "big.png").write_bytes(corpus.png_bomb(side, side))
    with pytest.warns(Image.DecompressionBombWarning):
        row = scan(tmp_path, progress=False).iloc[0]
    assert row.issues == ("huge", "palette") and row.width == side and row.dhash is None


def test_to_rgb_converts_the_first_frame_and_leaves_the_image_on_its_frame():
    import io

    with Image.open(io.BytesIO(corpus.animated("GIF"))) as image:
        image.seek(2)
        converted = to_rgb(image)
        assert image.tell() == 2, "to_rgb moved the caller's image to another frame"
        image.seek(0)
        assert converted.tobytes() == image.convert("RGB").tobytes()


def test_a_plain_script_without_a_main_guard_can_scan(bad_corpus, tmp_path):
    """The five lines a student writes: no `if __name__ == "__main__":`, workers on."""
    script = tmp_path / "my_scan.py"
    script.write_text(textwrap.dedent(f"""\
        from coursekit import scan

        report = scan.scan({str(bad_corpus[0])!r}, workers=2, progress=False)
        print(len(report), int(report.ok.sum()))
        """))
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    report = bad_corpus[3]
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(report)), str(int(report["ok"].sum()))]


def test_pipeline_agrees_with_tensorflow(bad_corpus):
    """Files scan() accepts decode in tf.io.decode_image as image_dataset_from_directory calls it;
    files it calls broken do not, or are skipped by the extension list, or decode wrongly."""
    config.import_keras()
    import tensorflow as tf

    root, _, _, report = bad_corpus
    seen = {"accepted": 0, "broken": 0, "unsupported": 0}
    for row in report.itertuples():
        path = root / row.path
        if path.is_symlink() or not path.is_file() or "huge" in row.issues:
            continue  # never read links and pipes; a 400-megapixel decode is the point of "huge"
        try:
            decoded = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False).numpy()
        except (tf.errors.InvalidArgumentError, ValueError):
            decoded = None
        broken = set(row.issues) & BROKEN
        if not broken:
            seen["accepted"] += 1
            assert decoded is not None and decoded.shape == (row.height, row.width, 3), row.path
        elif broken & {"empty_file", "not_image", "unreadable", "truncated"}:
            seen["broken"] += 1
            assert decoded is None, row.path
        else:  # unsupported_format: TF fails, or idfd skips the extension, or the pixels are wrong
            seen["unsupported"] += 1
            skipped = row.extension not in PIPELINE_EXTENSIONS
            wrong = False
            if decoded is not None and not skipped:
                with Image.open(path) as image:
                    wrong = not np.array_equal(decoded, np.asarray(image.convert("RGB")))
            assert decoded is None or skipped or wrong, row.path
    assert seen["accepted"] >= 20 and seen["broken"] >= 5 and seen["unsupported"] >= 7, seen


def test_true_format_decodes_instead_of_trusting_names(bad_corpus):
    root = bad_corpus[0]
    assert true_format(root / "cats/png_named.jpg") == "PNG"
    assert true_format(root / "cats/truncated.jpg") is None
    assert true_format(root / "cats/notes.jpg") is None
    assert true_format(root / "cats/photo.jpg") == "JPEG"


def test_dhash_is_close_for_copies_and_far_for_different_images():
    image = corpus.photo(7, (320, 240))
    distance = lambda a, b: int((dhash(a) != dhash(b)).sum())
    assert distance(image, image.resize((250, 190))) <= 10
    assert distance(image, corpus.photo(8, (320, 240))) > 60
    with pytest.raises(ValueError):
        dhash(image, hash_size=1)


def test_thumbnails_of_one_kind_of_object_are_not_near_copies(tmp_path):
    """Different 28x28 silhouettes of one kind (Fashion-MNIST-like trousers) hash within the
    near-copy threshold; scan must not chain them into one group (issue 12: a class's files
    would all land in one split). The same drawings at photo size stay near copies."""
    for side, expect_near in ((28, False), (112, True)):
        folder = tmp_path / str(side) / "trousers"
        folder.mkdir(parents=True)
        for k in range(4):
            image = np.zeros((28, 28), np.uint8)
            image[3:26, 8 + k % 2:13] = 200 + 10 * k     # left leg
            image[3:26, 15:20 - k // 2] = 200 + 10 * k   # right leg
            Image.fromarray(image).resize((side, side)).save(folder / f"t{k}.png")
        report = scan(folder.parent, progress=False)
        near = report["issues"].map(lambda codes: "near_duplicate" in codes)
        assert near.any() == expect_near, side
        assert (report["group"].nunique() < 4) == expect_near, side


def test_scan_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        scan(tmp_path / "missing")
    with pytest.raises(ValueError, match="workers"):
        scan(tmp_path, workers=0)
    with pytest.raises(ValueError, match="min_side"):
        scan(tmp_path, min_side=0)


def test_check_header_lies_counts_files_that_start_like_images_but_fail(bad_corpus, capsys):
    from coursekit import checks

    root = bad_corpus[0]
    assert checks.header_lies(root) == ["cats/bomb.png", "cats/corrupt.png", "cats/truncated.jpg"]
    assert checks.check_header_lies(3, root) is True
    assert checks.check_header_lies(2, root) is False
    assert checks.check_header_lies("three", root) is False
    assert checks.check_header_lies(..., root) is False
    assert "✅" in capsys.readouterr().out


def test_lesson_1_checks_compute_their_answers(capsys):
    from coursekit import checks

    assert checks.check_broken_codes(set(BROKEN)) and not checks.check_broken_codes(BROKEN - {"huge"})
    assert checks.check_leak_fraction(0.8, 80, range(100)) and not checks.check_leak_fraction(0.2, 80, range(100))
    table = pd.DataFrame({"tags": ["cats;square", "CATS;portrait", "dogs;square"]})
    originals = pd.DataFrame({"label": ["cats", "cats", "dogs"]})
    assert checks.check_synonyms({"CATS": "cats"}, table, originals)
    assert not checks.check_synonyms({}, table, originals) and not checks.check_synonyms(..., table, originals)
    assert capsys.readouterr().out.count("✅") == 3
