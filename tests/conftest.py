"""Shared fixtures: an isolated data folder and Keras cache, the CI mirror, tiny archives; and the
rules of a CI run: no quiet skips, the long units scheduled first.

``COURSEKIT_NO_SKIPS=1`` (``.ci/run`` sets it): a test that lacks data fails instead of skipping
(``skip_or_fail``), and any other skip fails the run at the end, with each skip and its reason
listed. Without it a skip is still counted: the run's last lines say how many tests skipped and why.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coursekit import config

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def no_skips() -> bool:
    """True in CI (``COURSEKIT_NO_SKIPS=1``): a skipped test is a failure there."""
    return os.environ.get("COURSEKIT_NO_SKIPS", "") not in ("", "0")


def skip_or_fail(reason: str):
    """Skip a test that lacks data or weights; fail it instead under ``COURSEKIT_NO_SKIPS=1``."""
    if no_skips():
        pytest.fail(f"{reason} (COURSEKIT_NO_SKIPS=1: missing data is a failure here)", pytrace=False)
    pytest.skip(reason)


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
        skip_or_fail("the course mirror (../shared/datasets) is not present")
    monkeypatch.setenv("COURSEKIT_MIRROR", os.pathsep.join(folders))
    return folders


@pytest.fixture(scope="session")
def quick_root():
    """The quick-mode subset of cats_and_dogs_filtered (200 train, 100 validation real JPEGs)."""
    from coursekit import datasets

    if not mirror_folders() and not (config.data_dir() / "cats_and_dogs_filtered").is_dir():
        skip_or_fail("the course mirror (../shared/datasets) is not present")
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


# ---------------------------------------------------------------- the CI run's rules
# `make test` runs `pytest -n 2 --dist loadscope --no-loadscope-reorder`: xdist hands each worker
# whole scopes (a notebook, whose cells share one kernel; a test file; a test class), in the order
# below. Each lesson's run on a student's folder is a class of its own
# (tests/test_own_data_lessons.py), so the eight spread over both workers. The long scopes (tests
# marked `slow`, notebooks under nbval) go first and the short files fill in behind them, so the
# two workers finish close together. `-m "not slow"` leaves the slow tests out.
# (Not `--dist loadgroup`: pytest 9 builds node ids from `Node._id`, so the `@group` suffix that
# xdist 3.8 writes into `Node._nodeid` never reaches the scheduler, and every test is its own group.)

def _long_first(item) -> int:
    return 0 if item.get_closest_marker("slow") or item.path.suffix == ".ipynb" else 1


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    items.sort(key=_long_first)  # stable: each file keeps its own order


def _skips(config) -> tuple[list, list]:
    """(skipped tests, notebook cells skipped by NBVAL_SKIP), from the terminal reporter, which
    sees every report: tests, docstring examples, notebooks, and xdist workers' reports."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    reports = [r for r in (reporter.stats.get("skipped", []) if reporter else []) if not hasattr(r, "wasxfail")]
    # a cell marked NBVAL_SKIP (e.g. %tensorboard, which needs a browser) is skipped by the
    # notebook's own choice, visible in the notebook: counted apart, never a failure
    cells = [r for r in reports if r.nodeid.split("::")[0].endswith(".ipynb")]
    return [r for r in reports if r not in cells], cells


def pytest_terminal_summary(terminalreporter, config):
    if hasattr(config, "workerinput"):
        return
    skipped, cells = _skips(config)
    write = terminalreporter.write_line
    write(f"skipped tests: {len(skipped)}; notebook cells marked NBVAL_SKIP: {len(cells)}")
    for report in skipped:
        longrepr = report.longrepr
        write(f"  SKIPPED {report.nodeid}: {longrepr[2] if isinstance(longrepr, tuple) else longrepr}")
    for report in cells:
        write(f"  NBVAL_SKIP {report.nodeid}")
    if skipped and no_skips():
        write("COURSEKIT_NO_SKIPS=1: every SKIPPED test above fails this run", red=True)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0 and no_skips() and not hasattr(session.config, "workerinput") and _skips(session.config)[0]:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ---------------------------------------------------------------- tiny models (lesson 7 modules)
# Sequential, Functional and nested (a "pretrained base" as one layer): the shapes a student's
# model takes. Session-wide: the tests never change them (they check that nothing changes).

TINY = 32  # image side of the tiny models


def _tiny_base(keras, name: str):
    """A small Functional 'pretrained base': conv -> BN -> ReLU -> conv -> add -> ReLU."""
    inputs = keras.Input((TINY, TINY, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", name="base_conv1")(inputs)
    x = keras.layers.BatchNormalization(name="base_bn1")(x)
    x = keras.layers.ReLU(name="base_relu1")(x)
    y = keras.layers.Conv2D(6, 3, padding="same", name="base_conv2")(x)
    x = keras.layers.Add(name="base_add")([x, y])
    return keras.Model(inputs, keras.layers.ReLU(name="base_out")(x), name=name)


@pytest.fixture(scope="session")
def tiny_sequential():
    """Rescaling -> conv/pool x2 -> Flatten -> Dense(1, sigmoid): two classes."""
    keras = config.import_keras()
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((TINY, TINY, 3)), keras.layers.Rescaling(1 / 255, name="rescale"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv_a"),
        keras.layers.MaxPooling2D(2, name="pool_a"),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv_b"),
        keras.layers.MaxPooling2D(2, name="pool_b"), keras.layers.Flatten(name="flat"),
        keras.layers.Dense(1, activation="sigmoid", name="out")], name="tiny_sequential")


@pytest.fixture(scope="session")
def tiny_functional():
    """Two branches concatenated, an op that is not a layer, Dense(3, softmax): three classes."""
    keras = config.import_keras()
    keras.utils.set_random_seed(1)
    inputs = keras.Input((TINY, TINY, 3), name="pixels")
    x = inputs / 255.0  # Keras 3 records this operation in the graph
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="f_left")(x)
    right = keras.layers.Conv2D(4, 5, padding="same", activation="relu", name="f_right")(x)
    x = keras.layers.Concatenate(name="f_concat")([left, right])
    x = keras.layers.GlobalAveragePooling2D(name="f_gap")(keras.layers.MaxPooling2D(2, name="f_pool")(x))
    outputs = keras.layers.Dense(3, activation="softmax", name="f_out")(x)
    return keras.Model(inputs, outputs, name="tiny_functional")


@pytest.fixture(scope="session")
def tiny_nested():
    """The transfer-learning shape: input -> preprocessing -> base (ONE layer) -> GAP -> Dense."""
    keras = config.import_keras()
    keras.utils.set_random_seed(2)
    inputs = keras.Input((TINY, TINY, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="n_preprocess")(inputs)
    x = _tiny_base(keras, "tiny_base")(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="n_gap")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="n_out")(x)
    return keras.Model(inputs, outputs, name="tiny_transfer")


@pytest.fixture(scope="session")
def tiny_nested_sequential():
    keras = config.import_keras()
    keras.utils.set_random_seed(3)
    return keras.Sequential([
        keras.Input((TINY, TINY, 3)), keras.layers.Rescaling(1 / 127.5, offset=-1, name="s_preprocess"),
        _tiny_base(keras, "tiny_base_seq"), keras.layers.GlobalAveragePooling2D(name="s_gap"),
        keras.layers.Dense(1, activation="sigmoid", name="s_out")], name="tiny_transfer_seq")


@pytest.fixture(scope="session")
def tiny_images():
    """Three random 0-255 images for the tiny models."""
    import numpy as np

    return np.random.default_rng(0).uniform(0, 255, (3, TINY, TINY, 3)).astype("float32")


@pytest.fixture(scope="session")
def strip_classifier():
    """``strip_classifier(n)``: an n-class softmax model whose class k looks at strip k only.

    Channel k of layer "s_maps" sees only the k-th vertical strip (8 pixels wide) of an
    8 x 8n image, and class k's logit is the mean of channel k: Grad-CAM for class k must
    put all its heat in strip k.
    """
    import functools

    import numpy as np

    keras = config.import_keras()

    @functools.lru_cache(maxsize=None)
    def build(classes: int):
        keras.utils.set_random_seed(classes)
        inputs = keras.Input((8, 8 * classes, 3))
        branches = []
        for k in range(classes):
            mask = np.zeros((1, 8, 8 * classes, 1), "float32")
            mask[:, :, 8 * k:8 * (k + 1)] = 1.0
            strip = keras.layers.Lambda(lambda x, m=mask: x * m, name=f"s_strip{k}")(inputs)
            branches.append(keras.layers.Conv2D(
                1, 3, padding="same", activation="relu", name=f"s_conv{k}",
                kernel_initializer=keras.initializers.RandomUniform(0.01, 0.1))(strip))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Concatenate(name="s_maps")(branches))
        outputs = keras.layers.Dense(classes, activation="softmax", name="s_out",
                                     kernel_initializer="identity")(x)
        return keras.Model(inputs, outputs, name=f"strips_{classes}")

    return build
