"""The course's data: which dataset is active, where it comes from, and the files Keras needs.

A registry dataset comes from the cache if its files match its digest, else from its archive
(in ``data_dir()/downloads/``, a ``COURSEKIT_MIRROR`` entry or its URL), extracted safely and
verified before it replaces anything. ``prefetch()`` also fills Keras' cache (``KERAS_FILES``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from filelock import FileLock
from tqdm.auto import tqdm

from coursekit import config

#: The dataset ``load()`` returns when ``COURSEKIT_DATASET`` is not set.
DEFAULT = "cats_and_dogs_filtered"
#: A verified folder keeps the size and mtime of its files here, to skip hashing them again.
STAMP = ".coursekit-verified"


class DatasetUnavailable(RuntimeError):
    """No verified copy, no mirror and no network: the message says what to download and where."""


class WeightsUnavailable(RuntimeError):
    """A file Keras needs is neither in its cache nor in a mirror and cannot be downloaded."""


class ChecksumError(ValueError):
    """A downloaded or extracted file does not match its published checksum."""


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


@dataclass(frozen=True)
class KerasFile:
    """A file Keras loads from its cache folder ``$KERAS_HOME/models``, and where to get it."""

    name: str
    url: str
    sha256: str | None  # None: no published checksum known to the course

    @property
    def path(self) -> Path:
        """Where Keras looks for the file (``KERAS_HOME`` is read at call time)."""
        return config.keras_home() / "models" / self.name


_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_MOBILENET_V2 = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224"

#: The files the lessons need from Keras' cache: the one registry of weight files.
KERAS_FILES: tuple[KerasFile, ...] = (
    KerasFile(f"{_MOBILENET_V2}_no_top.h5", f"{_KERAS_APPS}mobilenet_v2/{_MOBILENET_V2}_no_top.h5",
              "db51335132b1d77598da38a1365e77bb0d16690ab10c62abb89c476fff4ff42f"),
    KerasFile(f"{_MOBILENET_V2}.h5", f"{_KERAS_APPS}mobilenet_v2/{_MOBILENET_V2}.h5", None),  # + classifier
    KerasFile("imagenet_class_index.json",  # the class names decode_predictions reads
              "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
              "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc"),
)


def keras_file(name: str, application: str | None = None) -> KerasFile:
    """Return the registry entry of a file Keras caches, by file name; a weight file it lacks
    gets one on Keras' URL (no checksum) when ``application`` names its folder there.

    Example:
        >>> keras_file("imagenet_class_index.json").sha256[:12]
        'a1e7a966a1f6'
        >>> keras_file("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg16").url.split("/")[-2:]
        ['vgg16', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5']
    """
    for entry in KERAS_FILES:
        if entry.name == name:
            return entry
    if application is None:
        known = ", ".join(entry.name for entry in KERAS_FILES)
        raise ValueError(f"unknown Keras file {name!r}; the registry has: {known}")
    return KerasFile(name, f"{_KERAS_APPS}{application}/{name}", None)


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """True when the files are unchanged (size, mtime) since ``root`` was verified and stamped
    (``write=True`` stamps it): a verified tree needs no hashing again."""
    digest = hashlib.sha256()
    for relative in sorted(relative_paths):
        info = (root / relative).stat() if (root / relative).is_file() else None
        digest.update(f"{relative}\0{info and (info.st_size, info.st_mtime_ns)}\n".encode())
    if write:
        (root / STAMP).write_text(digest.hexdigest())
    return (root / STAMP).is_file() and (root / STAMP).read_text() == digest.hexdigest()


def download(url: str, destination: str | os.PathLike, sha256: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Stream ``url`` (``http(s)://`` or ``file://``) to ``destination`` through a ``.part`` file,
    renamed only when complete and matching ``sha256`` if given; return its path."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{os.getpid()}.part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm.wrapattr(response, "read", total=total, desc=destination.name,
                               disable=not progress, leave=False) as source:
                shutil.copyfileobj(source, out, 1 << 20)
        if total is not None and partial.stat().st_size != total:
            raise ConnectionError(f"download of {url} stopped after {partial.stat().st_size} "
                                  f"of {total} bytes")
        if sha256 is not None and sha256_file(partial) != sha256:
            raise ChecksumError(f"{url} has sha256 {sha256_file(partial)}, expected {sha256}: the "
                                "file is corrupt or not the one the course needs.")
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination


def _fetch(name: str, url: str, target: Path, sha256: str | None, internet: bool):
    """Copy ``name`` to ``target`` from the first ``COURSEKIT_MIRROR`` entry that holds it, else
    download ``url``. Returns (where it came from, or None, and the problems met on the way)."""
    sources = []
    for entry in config.mirrors():
        if urllib.parse.urlparse(entry).scheme in ("http", "https"):
            sources.append((f"mirror {entry}", f"{entry.rstrip('/')}/{urllib.parse.quote(name)}"))
            continue
        folder = Path(urllib.request.url2pathname(urllib.parse.urlparse(entry).path)
                      if entry.startswith("file:") else entry).expanduser()
        if (folder / name).is_file():
            sources.append((f"mirror {folder / name}", (folder / name).resolve().as_uri()))
    problems = [] if sources else ["no COURSEKIT_MIRROR entry holds it"]
    if internet:
        sources.append((f"downloaded from {url}", url))
    else:
        problems.append("downloads were switched off")
    for source, location in sources:
        try:
            download(location, target, sha256=sha256, progress=source.startswith("downloaded"))
            return source, problems
        except (OSError, urllib.error.URLError, ValueError) as error:  # network, bad file
            problems.append(f"{source}: {str(error).splitlines()[0] if str(error) else error!r}")
    return None, problems


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
            fetched, more = _fetch(dataset.archive, dataset.url, archive, None, internet=True)
            if fetched is None:
                raise _unavailable(dataset, problems + more)
        with tempfile.TemporaryDirectory(prefix=f".{dataset.name}-", dir=config.data_dir()) as scratch:
            try:
                with zipfile.ZipFile(archive) as zipped:  # it strips '..' and '/' from names and
                    zipped.extractall(scratch)            # writes links as plain files
                extracted = Path(scratch, dataset.name)
                found = verify_tree(extracted, expected)
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
    """A small deterministic subset of the verified full set, same layout: the course's one
    quick-mode rule (``splits.quick_subset``), as for your own folder."""
    from coursekit.splits import quick_subset  # imports the scanner: only needed here

    chosen = quick_subset(read_digest(dataset), dataset.quick_per_class)
    root = config.data_dir() / f"{full_root.name}_quick"
    with FileLock(config.data_dir() / f".{root.name}.lock"):
        if _stamp(root, chosen):
            return root
        with tempfile.TemporaryDirectory(prefix=f".{root.name}-", dir=config.data_dir()) as scratch:
            for relative in chosen:  # copies of files verified a moment ago
                (Path(scratch) / "subset" / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(full_root / relative, Path(scratch) / "subset" / relative)
            shutil.rmtree(root, ignore_errors=True)
            os.replace(Path(scratch) / "subset", root)
        _stamp(root, chosen, write=True)
    return root


def use(folder: str | os.PathLike | None) -> None:
    """Make ``load()`` return ``folder`` (class folders, maybe inside ``train/``, ``validation/``
    [``test/``]; or a name of ``DATASETS``; None: the default) by setting ``COURSEKIT_DATASET``.

    Example:
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
    """Return the root folder (``train/``, ``validation/``) of ``name``: a key of ``DATASETS``, a
    folder of yours (split by ``owndata.prepare``) or None for ``active()``. Quick mode
    (``quick=None``: ``COURSEKIT_QUICK``) gives a small deterministic subset, same layout."""
    name = active() if name is None else str(name)
    if name in DATASETS:
        dataset = DATASETS[name]
        full_root = _full(dataset)
        use_quick = config.quick_mode() if quick is None else quick
        return _quick(dataset, full_root) if use_quick and dataset.quick_per_class else full_root
    if Path(name).expanduser().is_dir():
        from coursekit import owndata  # lesson 1's cleaning and splitting, on your folder

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


def fetch_keras_file(file: KerasFile | str, internet: bool = True) -> str:
    """Put a registry file into Keras' cache (``file.path``) from the cache, a mirror or (with
    ``internet``) its URL, checked by its sha256 where known; return which, or raise
    ``WeightsUnavailable`` saying why each source failed and what to do."""
    file = keras_file(file) if isinstance(file, str) else file
    if file.path.is_file() and (file.sha256 is None or sha256_file(file.path) == file.sha256):
        return "cache"
    source, problems = _fetch(file.name, file.url, file.path, file.sha256, internet)
    if source is None:
        raise WeightsUnavailable(
            f"{'; '.join(problems)}\nKeras needs {file.name} in the folder\n"
            f"    {file.path.parent}\nDownload it from\n    {file.url}\nand put it in that folder "
            "(or set COURSEKIT_MIRROR to a folder that holds it and run `python -m coursekit "
            "prefetch`), then run this cell again.")
    return source


def prefetch(datasets=None, keras_files: bool = True, quick: bool | None = None):
    """Fetch each dataset (default: the active one) and every file of ``KERAS_FILES`` once, so
    that the course then runs offline; return one row per item: its status and path."""
    import pandas as pd

    items = [("dataset", name) for name in ((active(),) if datasets is None else datasets)]
    items += [("keras file", file) for file in KERAS_FILES] if keras_files else []
    rows = []
    for kind, item in tqdm(items, desc="prefetch", unit="item"):
        try:
            if kind == "dataset":
                path, status = load(item, quick=quick), "verified"
            else:
                path, status = item.path, fetch_keras_file(item)
        except (DatasetUnavailable, WeightsUnavailable) as error:
            path, status = None, "missing: " + str(error).splitlines()[0]
        rows.append({"item": item if kind == "dataset" else item.name, "kind": kind,
                     "status": status, "path": str(path)})
    return pd.DataFrame(rows)
