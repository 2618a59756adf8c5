"""The course's data: which dataset is active; a registry dataset comes from the cache if its
files match its digest, else from its archive (in ``data_dir()/downloads/``, or fetched there by
``downloads.fetch``), extracted and verified before it replaces anything; your own folder goes
to ``owndata.prepare``. ``prefetch()`` also fills Keras' cache (``downloads.KERAS_FILES``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
from filelock import FileLock
from tqdm.auto import tqdm

from coursekit import config, downloads, owndata
from coursekit.downloads import ChecksumError, WeightsUnavailable, sha256_file
from coursekit.splits import quick_subset

#: The dataset ``load()`` returns when ``COURSEKIT_DATASET`` is not set.
DEFAULT = "cats_and_dogs_filtered"
#: A verified folder keeps the size and mtime of its files here, to skip hashing them again.
STAMP = ".coursekit-verified"


class DatasetUnavailable(RuntimeError):
    """No verified copy, no mirror and no network: the message says what to download and where."""


@dataclass(frozen=True)
class Dataset:
    """One registry entry: where a dataset comes from and how to check it. Its archive holds one
    folder ``name``; ``digest``: a file in ``coursekit/digests/`` (or a path) of ``sha256  path`` lines."""

    name: str
    url: str
    archive: str
    size: str
    digest: str
    license: str
    citation: str
    quick_per_class: dict[str, int] = field(default_factory=dict)


#: name -> Dataset. One table, as in d2l's data hub; every entry is verified after download.
DATASETS: dict[str, Dataset] = {
    "cats_and_dogs_filtered": Dataset(
        name="cats_and_dogs_filtered",
        url="https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        archive="cats_and_dogs_filtered.zip",
        size="about 68 MB (3000 JPEG images)",
        digest="cats_and_dogs_filtered.sha256",
        license="No license file ships with the archive. The images are the TensorFlow "
                "tutorial subset of Kaggle's 'Dogs vs. Cats' (Microsoft Research Asirra); use "
                "them for study.",
        citation="Elson, Douceur, Howell, Saul. Asirra: A CAPTCHA that Exploits Interest-Aligned "
                 "Manual Image Categorization. ACM CCS 2007.",
        quick_per_class={"train": 100, "validation": 50},
    ),
}


def read_digest(dataset: Dataset) -> dict[str, str]:
    """Return a dataset's digest: path relative to its root folder (``train/cats/cat.0.jpg``) -> sha256."""
    own, packaged = Path(dataset.digest), resources.files("coursekit") / "digests" / dataset.digest
    text = (own if own.is_absolute() else packaged).read_text()
    lines = (line.split(maxsplit=1) for line in text.splitlines() if line.strip())
    return {path.strip().removeprefix(f"{dataset.name}/"): checksum for checksum, path in lines}


def verify_tree(folder: str | os.PathLike, expected: dict[str, str]) -> list[str]:
    """Compare a folder with a digest (relative path -> sha256); return the problems found,
    files it does not list under its top folders too (they would become training data)."""
    folder = Path(folder)
    problems = [f"{'checksum mismatch' if (folder / relative).is_file() else 'missing'}: {relative}"
                for relative, checksum in sorted(expected.items())
                if not (folder / relative).is_file() or sha256_file(folder / relative) != checksum]
    found = [path.relative_to(folder).as_posix() for top in sorted({key.split("/")[0] for key in expected})
             for path in sorted((folder / top).rglob("*")) if path.is_file()]
    return problems + [f"unexpected file: {relative}" for relative in found if relative not in expected]


def _stamp(root: Path, relative_paths, write: bool = False) -> bool:
    """True when the files are unchanged (size, mtime) since ``root`` was stamped (``write``)."""
    stamp = downloads.fingerprint(root, relative_paths)
    if write:
        (root / STAMP).write_text(stamp)
    return (root / STAMP).is_file() and (root / STAMP).read_text() == stamp


def _unavailable(dataset: Dataset, problems: list[str]) -> DatasetUnavailable:
    return DatasetUnavailable(
        f"Dataset {dataset.name!r} is not available on this machine.\n"
        + "".join(f"  - {problem}\n" for problem in problems)
        + f"To fix it, download {dataset.archive} ({dataset.size}) from\n    {dataset.url}\n"
        f"and put it in the folder\n    {config.data_dir() / 'downloads'}\nor set the "
        "COURSEKIT_MIRROR environment variable to a folder (or file:// or http:// URL) that "
        f"holds {dataset.archive}, then run this cell again.")


def _full(dataset: Dataset) -> Path:
    """The verified full dataset: from the cache, else from its archive (in ``downloads/``, or
    fetched there), extracted and verified before it replaces the cached one, under a lock."""
    expected = read_digest(dataset)
    root, archive = config.data_dir() / dataset.name, config.data_dir() / "downloads" / dataset.archive
    with FileLock(config.data_dir() / f".{dataset.name}.lock"):
        if root.is_dir() and (_stamp(root, expected) or not verify_tree(root, expected)):
            _stamp(root, expected, write=True)
            return root
        fetched, problems = None, [f"no verified copy in {root}"]
        if not archive.is_file():
            fetched, more = downloads.fetch(dataset.archive, dataset.url, archive, None, internet=True)
            if fetched is None:
                raise _unavailable(dataset, problems + more)
        with tempfile.TemporaryDirectory(prefix=f".{dataset.name}-", dir=config.data_dir()) as scratch:
            try:
                with zipfile.ZipFile(archive) as zipped:  # it strips '..' and '/' from names and
                    zipped.extractall(scratch)            # writes links as plain files
                extracted = Path(scratch, dataset.name)
                found = verify_tree(extracted, expected)  # also: a file the digest does not list
                if found:
                    raise ChecksumError(f"it does not hold the expected {dataset.name} files "
                                        f"({len(found)} problems, first: {found[0]}).")
            except (ChecksumError, zipfile.BadZipFile) as error:
                if fetched is None:  # the student put it there: never delete it, say so
                    raise ChecksumError(f"{archive} is not a valid {dataset.archive}: {error} Move "
                                        "it away and run again to download a fresh copy.") from error
                archive.unlink()  # our own download is corrupt: do not keep it
                raise _unavailable(dataset, problems + [f"{fetched}: {error}"]) from error
            shutil.rmtree(root, ignore_errors=True)
            os.replace(extracted, root)
        _stamp(root, expected, write=True)
    return root


def _quick(dataset: Dataset, full_root: Path) -> Path:
    """A small deterministic subset of the verified full set (``splits.quick_subset``)."""
    if not dataset.quick_per_class:
        return full_root
    chosen = quick_subset(read_digest(dataset), dataset.quick_per_class)
    root = config.data_dir() / f"{full_root.name}_quick"
    with FileLock(config.data_dir() / f".{root.name}.lock"):
        if not _stamp(root, chosen):  # copies of files verified a moment ago
            owndata.publish(root, {path: (full_root / path, False) for path in chosen},
                            {str(Path(path).parent) for path in chosen})
            _stamp(root, chosen, write=True)
    return root


def use(folder: str | os.PathLike | None) -> None:
    """Make ``load()`` return ``folder`` (class folders, maybe inside ``train/``, ``validation/``
    [``test/``]; or a name of ``DATASETS``; None: the default) by setting ``COURSEKIT_DATASET``.

    >>> use(None); active()
    'cats_and_dogs_filtered'
    """
    if folder is None:
        os.environ.pop("COURSEKIT_DATASET", None)
        return
    if str(folder) not in DATASETS and not Path(folder).expanduser().is_dir():
        raise ValueError(f"{folder} is not a folder (and not one of the course datasets: "
                         f"{', '.join(DATASETS)}); give the folder that holds your class folders")
    os.environ["COURSEKIT_DATASET"] = (str(folder) if str(folder) in DATASETS
                                       else str(Path(folder).expanduser().resolve()))


def active() -> str:
    """Return the dataset ``load()`` uses: ``COURSEKIT_DATASET`` (a folder or name), else the default."""
    return os.environ.get("COURSEKIT_DATASET", "").strip() or DEFAULT


def load(name: str | os.PathLike | None = None, quick: bool | None = None) -> Path:
    """Return the root folder (``train/``, ``validation/``) of ``name``: a key of ``DATASETS``, a folder
    of yours (``owndata.prepare``) or None for ``active()``; quick mode: a small subset, same layout."""
    name = active() if name is None else str(name)
    if name in DATASETS:
        dataset = DATASETS[name]
        full_root = _full(dataset)
        return _quick(dataset, full_root) if config.quick_mode(quick) else full_root
    if Path(name).expanduser().is_dir():  # lesson 1's cleaning and splitting, on your folder
        return owndata.prepare(Path(name).expanduser(), quick=quick)
    raise ValueError(f"{name!r} is neither a course dataset ({', '.join(sorted(DATASETS))}) nor "
                     "an existing folder; point COURSEKIT_DATASET (or datasets.use) at the folder "
                     "that holds your class folders")


def class_names(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Return the sorted class folder names of a split (the order Keras uses for labels)."""
    return sorted(path.name for path in (Path(root) / split).iterdir() if path.is_dir())


def describe(root: str | os.PathLike | None = None) -> str:
    """Return one line on the active dataset (``root``: what ``load()`` returned), e.g.
    ``'cats_and_dogs_filtered (quick mode): 2 classes (cats, dogs); train 200, validation 100 images'``."""
    root = load() if root is None else Path(root)
    names = class_names(root)
    shown = ", ".join(names[:12]) + (f", ... ({len(names) - 12} more)" if len(names) > 12 else "")
    counts = ", ".join(f"{split} {sum(1 for path in (root / split).rglob('*') if path.is_file())}"
                       for split in ("train", "validation", "test") if (root / split).is_dir())
    mode = " (quick mode)" if config.quick_mode() else ""
    return f"{active()}{mode}: {len(names)} classes ({shown}); {counts} images"


def prefetch(datasets=None, keras_files: bool = True, quick: bool | None = None):
    """Fetch each dataset (default: the active one) and ``downloads.KERAS_FILES`` once; return a row per
    item (status, path); none ``missing``: the course runs offline (``optional``: one cell goes without)."""
    items = [("dataset", name) for name in ((active(),) if datasets is None else datasets)]
    items += [("keras file", file) for file in downloads.KERAS_FILES] if keras_files else []
    rows = []
    for kind, item in tqdm(items, desc="prefetch", unit="item"):
        try:
            path, status = ((load(item, quick=quick), "verified") if kind == "dataset"
                            else (item.path, downloads.fetch_keras_file(item)))
        except (DatasetUnavailable, WeightsUnavailable) as error:
            why, optional = str(error).splitlines()[0], kind != "dataset" and item.optional
            path, status = None, f"optional, not here: {optional} ({why})" if optional else f"missing: {why}"
        rows.append({"item": item if kind == "dataset" else item.name, "kind": kind,
                     "status": status, "path": path and str(path)})
    return pd.DataFrame(rows)
