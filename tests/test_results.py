"""Recorded results: results.record/load, the recorder, the committed records, and text that
agrees with them (tools/figures.py: every figure the text quotes is backed)."""

from __future__ import annotations

import json
import subprocess

import nbformat
import pytest

from coursekit import results
from tests.test_notebooks import PATHS
from tools import figures, record

from tests.conftest import REPO
RECORDS = sorted((REPO / "results").glob("[0-9][0-9]_*.json"))
TRAINING_LESSONS = ["04", "05", "06", "07"]
FIELDS = {"lesson": str, "mode": str, "commit": str, "dirty": bool, "date": str, "machine": dict,
          "seconds": (int, float), "cell_seconds": list, "figures": dict}
MACHINE = {"cpu", "cores", "gpus", "python", "tensorflow", "keras", "numpy",
           "load_average_before", "load_average_after"}


def problems(entry: dict) -> list[str]:
    """What a record lacks or gets wrong (empty when it is complete)."""
    found = [f"{key}: missing or not {kind}" for key, kind in FIELDS.items() if not isinstance(entry.get(key), kind)]
    found += [f"machine.{key} missing" for key in sorted(MACHINE - set(entry.get("machine", {})))]
    found += [f"cell_seconds: {cell} lacks cell/seconds" for cell in entry.get("cell_seconds", [])
              if not {"cell", "seconds"} <= set(cell)]
    return found


# --- coursekit.results ---------------------------------------------------------------------------

def test_record_shows_the_figures_and_saves_them_while_recording(tmp_path, monkeypatch, capsys):
    import numpy as np

    target = tmp_path / "figures.json"
    monkeypatch.setenv(results.RECORD_VARIABLE, str(target))
    results.record(val_accuracy=np.float32(0.735), epochs_run=np.int64(17))
    results.record(train_seconds=312.46, val_accuracy=np.float32(0.735))  # same value again is fine
    assert capsys.readouterr().out.splitlines()[:2] == ["val_accuracy  0.735", "epochs_run    17"]
    saved = json.loads(target.read_text())
    assert saved == {"val_accuracy": pytest.approx(0.735), "epochs_run": 17, "train_seconds": 312.46}
    assert isinstance(saved["epochs_run"], int)
    with pytest.raises(ValueError, match="recorded twice"):
        results.record(epochs_run=18)
    with pytest.raises(ValueError, match="list"):
        results.record(history=[0.5, 0.6])
    with pytest.raises(ValueError, match="finite"):
        results.record(loss=float("nan"))
    monkeypatch.delenv(results.RECORD_VARIABLE)
    results.record(extra=1)
    assert "extra" not in json.loads(target.read_text()), "without the recorder nothing is written"


def test_load_finds_a_record_by_number_or_stem_and_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_RESULTS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "04_training_a_cnn.json").write_text(json.dumps({"lesson": "04_training_a_cnn"}))
    assert results.load("03")["lesson"] == "04_training_a_cnn"
    assert results.load("04_training_a_cnn.ipynb")["lesson"] == "04_training_a_cnn"
    with pytest.raises(FileNotFoundError, match=r"lesson '07'.*make results") as error:
        results.load("07")
    assert str(tmp_path) in str(error.value)


# --- tools/record.py ----------------------------------------------------------------------------

def test_recorder_runs_a_copy_in_a_fresh_kernel_and_writes_a_complete_record(tmp_path):
    lesson = tmp_path / "09_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\nfrom coursekit import results"),
        nbformat.v4.new_code_cell("results.record(quick=os.environ['COURSEKIT_QUICK'] == '1', accuracy=0.5)"),
    ]), lesson)
    before = lesson.read_bytes()
    entry = record.record_lesson(lesson, quick=True, shared_data=None, quick_timing=False, cell_timeout=120)
    assert problems(entry) == []
    assert entry["lesson"] == "09_tiny" and entry["mode"] == "quick"
    assert entry["figures"] == {"quick": True, "accuracy": 0.5}
    assert entry["commit"] == subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                             text=True).stdout.strip()
    assert lesson.read_bytes() == before, "the lesson itself is never executed in place"


def test_recorder_refuses_a_quick_record_in_results_and_unknown_lessons():
    with pytest.raises(SystemExit):
        record.main(["00", "--quick"])
    with pytest.raises(ValueError, match="the lessons are: 00_start_here"):
        record.lesson_path("42")
    assert record.lesson_path("03").name.startswith("03_")


# --- the committed records ----------------------------------------------------------------------

@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_committed_record_is_complete_full_mode_and_from_a_real_commit(path):
    entry = json.loads(path.read_text())
    assert problems(entry) == []
    assert entry["lesson"] == path.stem and (REPO / "notebooks" / f"{path.stem}.ipynb").is_file()
    assert entry["mode"] == "full", "only full-mode runs are committed (quick tries go to a scratch folder)"
    known = subprocess.run(["git", "cat-file", "-e", f"{entry['commit']}^{{commit}}"], cwd=REPO)
    assert known.returncode == 0, f"commit {entry['commit']} is not in this repository's history"


def test_records_exist_for_the_training_lessons():
    recorded = {path.name[:2] for path in RECORDS}
    missing = [number for number in TRAINING_LESSONS if number not in recorded]
    assert missing == [], (f"no full-mode record for lesson(s) {', '.join(missing)}: expected until the "
                           "lead records them on the project machine with `make results`")


# --- text and records agree (tools/figures.py) --------------------------------------------------

def test_figure_extraction_reads_units_ranges_and_tables_and_skips_code():
    text = ("It takes 5-15 minutes (quick: 35 s) and reaches 0.735 after 20 epochs on 2000 training "
            "photos, 76-81% overlap, 1.2 million photos, 3.45 M parameters, 1.8 GB. "
            "`Dropout(0.5)`, TensorFlow 2.21, Python 3.10-3.13, lesson 3, [link](https://x.org/0.5%).")
    found = [(figure.kind, figure.number) for figure in figures.extract(text, "cell 1")]
    assert found == [("time", "5"), ("time", "15"), ("time", "35"), ("fraction", "0.735"), ("epochs", "20"),
                     ("count", "2000"), ("percent", "76"), ("percent", "81"), ("count", "1.2"),
                     ("count", "3.45"), ("memory", "1.8")]
    table = "| variant | accuracy | epochs run (kept) |\n|---|---|---|\n| baseline (lesson 3) | 0.74 | 19 (13) |"
    assert [(f.kind, f.number) for f in figures.extract(table, "cell 2")] == [
        ("fraction", "0.74"), ("epochs", "19"), ("epochs", "13")]


def test_the_lint_catches_the_inconsistencies_of_issue_10():
    """Lesson 3's three run times, 1.2 vs 1.3 million, lesson 4's 'about 0.97' vs lesson 5's 0.978."""
    records = {"3": {"seconds": 372.0, "quick_seconds": 41.0, "figures": {"val_accuracy": 0.7351}},
               "5": {"seconds": 1050.0, "figures": {"finetuned_val_accuracy": 0.978}}}
    allowed = {"constants": {"imagenet_training_images": {"value": 1281167, "why": "ILSVRC 2012"}},
               "phrases": [{"text": "If 90 % of the photos", "where": "04_x", "why": "a hypothetical"}]}
    lesson_3 = [("cell 0", "**Time to run:** about 15 minutes in full mode, under 1 minute in quick mode"),
                ("cell 60", "0.735 validation accuracy, about 6 minutes for the whole notebook."),
                ("cell 67", "Run full mode before class (5-15 minutes on a laptop CPU).")]
    flagged, _ = figures.check_document("03_x", lesson_3, ("3",), set(), records, allowed)
    assert [(f.where, f.number) for f in flagged] == [("cell 0", "15"), ("cell 67", "5"), ("cell 67", "15")]
    lesson_4 = [("cell 3", "If 90 % of the photos were dogs ... we train for 30 epochs."),
                ("cell 32", "Lesson 5 reaches about 0.97 on the same photos."),
                ("cell 33", "Lesson 5 reaches about 0.98; the baseline reaches 0.735 (lesson 3).")]
    flagged, used = figures.check_document("04_x", lesson_4, ("4",), {30.0}, records, allowed)
    assert [(f.where, f.number) for f in flagged] == [("cell 32", "0.97")] and used == {0}
    million = [("cell 4", "ImageNet (1.2 million photos)"), ("cell 17", "trained on 1.3 million photos")]
    flagged, _ = figures.check_document("05_x", million, ("5",), set(), records, allowed)
    assert [f.number for f in flagged] == ["1.2"]


@pytest.mark.parametrize("path", PATHS + [REPO / "README.md"], ids=lambda p: p.name)
def test_every_figure_the_text_quotes_is_backed(path):
    """Fails today for text written before the records: the lesson owners fix the text."""
    flagged, _ = figures.check(path)
    listed = "\n  ".join(map(str, flagged))
    assert not flagged, (f"{len(flagged)} figure(s) in {path.name} that no record (results/), constant "
                         f"(results/constants.yml) or code cell backs "
                         f"(python tools/figures.py {path.relative_to(REPO)}):\n  {listed}")


def test_allow_list_is_documented_small_and_used():
    allowed = figures.allow_list()
    documents = {path.stem for path in PATHS} | {"README.md", "*"}
    for name, entry in allowed["constants"].items():
        assert isinstance(entry.get("value"), (int, float)) and entry.get("why"), f"{name}: value and why"
        where = entry.get("where", "*")
        assert set([where] if isinstance(where, str) else where) <= documents, f"{name}: unknown where {where}"
    used = set()
    for path in PATHS + [REPO / "README.md"]:
        used |= figures.check(path, allowed=allowed)[1]
    for index, phrase in enumerate(allowed["phrases"]):
        assert phrase.get("why") and phrase.get("where") in documents, f"phrase {phrase}: where and why"
        assert index in used, f"phrase {phrase['text']!r} no longer excuses any figure: remove it"
    assert len(allowed["constants"]) + len(allowed["phrases"]) <= 40, "the allow-list is meant to stay short"
