"""The course's datasets and pretrained-weight files: where they come from, and how to get them.

``load(name)`` returns a local folder holding the verified dataset, trying in order:

1. the cache (``data_dir()/name``), if its files match the shipped digest;
2. an archive the student put in ``data_dir()/downloads/`` by hand;
3. each ``COURSEKIT_MIRROR`` entry (a folder, ``file://`` or ``http(s)://`` URL), no internet;
4. the dataset's public URL, with a progress bar.

The official archives publish no checksum, so the *contents* are verified: the package ships
``digests/<name>.sha256`` (the sha256 of every image) and every extracted tree is checked
against it. Downloads are streamed to a ``.part`` file and renamed only when complete;
extraction happens in a temporary folder that is renamed only once verified; archives with
absolute paths, ``..``, links or device files are refused. If nothing works,
``DatasetUnavailable`` says what to download and where to put it.

``prefetch()`` also fills Keras' own cache (``$KERAS_HOME``, default ``~/.keras``) from the
mirror, so ``keras.datasets.fashion_mnist.load_data()`` and ``keras.applications`` models with
``weights="imagenet"`` work offline, unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from coursekit import config

__all__ = [
    "DATASETS",
    "KERAS_FILES",
    "ChecksumError",
    "Dataset",
    "DatasetUnavailable",
    "KerasFile",
    "UnsafeArchiveError",
    "class_names",
    "download",
    "fill_from_mirror",
    "keras_file_path",
    "load",
    "prefetch",
    "safe_extract",
    "verify_tree",
]

_CHUNK = 1 << 20


class DatasetUnavailable(RuntimeError):
    """No verified copy, no mirror and no network: the message says what to download and where."""


class ChecksumError(ValueError):
    """A downloaded or extracted file does not match its published checksum."""


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder or is a link or device file."""


@dataclass(frozen=True)
class Dataset:
    """One registry entry: where a dataset comes from and how to check it."""

    name: str
    url: str
    archive: str
    size: str
    digest: str  # file name under coursekit/digests/, lines "sha256  relative/path"
    license: str
    citation: str
    splits: tuple[str, ...]
    classes: tuple[str, ...]
    quick_per_class: dict[str, int] = field(default_factory=dict)


#: name -> Dataset. One table, as in d2l's data hub; every entry is verified after download.
DATASETS: dict[str, Dataset] = {
    "cats_and_dogs_filtered": Dataset(
        name="cats_and_dogs_filtered",
        url="https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        archive="cats_and_dogs_filtered.zip",
        size="about 68 MB (3000 JPEG images)",
        digest="cats_and_dogs_filtered.sha256",
        license=(
            "No license file ships with the archive. The images are the TensorFlow tutorial "
            "subset of Kaggle's 'Dogs vs. Cats' (Microsoft Research Asirra); use them for study."
        ),
        citation=(
            "Elson, Douceur, Howell, Saul. Asirra: A CAPTCHA that Exploits Interest-Aligned "
            "Manual Image Categorization. ACM CCS 2007."
        ),
        splits=("train", "validation"),
        classes=("cats", "dogs"),
        quick_per_class={"train": 100, "validation": 50},
    ),
}


@dataclass(frozen=True)
class KerasFile:
    """A file Keras downloads itself (dataset or weights), and where Keras caches it."""

    cache_path: str  # relative to keras_home(), exactly where Keras looks
    url: str
    sha256: str | None
    used_by: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.cache_path).name


_KERAS_DATA = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: Files that lessons need from Keras' own downloaders; ``prefetch()`` fills them from the mirror.
KERAS_FILES: tuple[KerasFile, ...] = (
    KerasFile(
        "models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
        _KERAS_APPS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
        "db51335132b1d77598da38a1365e77bb0d16690ab10c62abb89c476fff4ff42f",
        'keras.applications.MobileNetV2(alpha=0.35, include_top=False, weights="imagenet")',
    ),
    KerasFile(
        "models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5",
        _KERAS_APPS + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224.h5",
        None,
        'keras.applications.MobileNetV2(alpha=0.35, weights="imagenet") (with the ImageNet classifier)',
    ),
    KerasFile(
        "models/mobilenet_2_5_224_tf_no_top.h5",
        _KERAS_APPS + "mobilenet/mobilenet_2_5_224_tf_no_top.h5",
        "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf",
        'keras.applications.MobileNet(alpha=0.25, include_top=False, weights="imagenet")',
    ),
    KerasFile(
        "models/imagenet_class_index.json",
        "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
        "a1e7a966a1f601d39e4b43e119b3e7dd4a2ad3ea08cf69847cbaf021013767bc",
        "keras.applications.*.decode_predictions",
    ),
    *(
        KerasFile(
            f"datasets/fashion-mnist/{file_name}",
            _KERAS_DATA + f"fashion-mnist/{file_name}",
            sha,
            "keras.datasets.fashion_mnist.load_data()",
        )
        for file_name, sha in (
            ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
            ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
            ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        )
    ),
)


# --------------------------------------------------------------------------- checksums


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks.

    Example:
        >>> sha256_file("README.md")          # doctest: +SKIP
        '9f86d081884c7d65...'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_digest(dataset: Dataset) -> dict[str, str]:
    """Return the digest of a dataset: relative POSIX path -> sha256.

    ``dataset.digest`` names a file shipped in ``coursekit/digests/`` (or an absolute path).
    """
    if Path(dataset.digest).is_absolute():
        text = Path(dataset.digest).read_text()
    else:
        text = resources.files("coursekit").joinpath("digests", dataset.digest).read_text()
    entries = {}
    for line in text.splitlines():
        if line.strip():
            checksum, relative = line.split(maxsplit=1)
            entries[relative.strip()] = checksum
    return entries


def verify_tree(folder: str | os.PathLike, expected: dict[str, str], strict_dirs=()) -> list[str]:
    """Compare a folder with a digest; return a list of problems (empty when it matches).

    ``expected`` maps paths relative to ``folder`` to sha256. Files under any of
    ``strict_dirs`` that the digest does not list count as problems too (stray files in a
    class folder would become training data).

    Example:
        >>> verify_tree(root, read_digest(DATASETS["cats_and_dogs_filtered"]))   # doctest: +SKIP
        []
    """
    folder = Path(folder)
    problems = []
    for relative, checksum in tqdm(sorted(expected.items()), desc="verifying", unit="file",
                                   leave=False, mininterval=1.0):
        path = folder / relative
        if not path.is_file():
            problems.append(f"missing: {relative}")
        elif sha256_file(path) != checksum:
            problems.append(f"checksum mismatch: {relative}")
    for strict in strict_dirs:
        base = folder / strict
        if base.is_dir():
            for path in base.rglob("*"):
                relative = path.relative_to(folder).as_posix()
                if path.is_file() and relative not in expected:
                    problems.append(f"unexpected file: {relative}")
    return problems


# --------------------------------------------------------------------------- download


def download(url: str, destination: str | os.PathLike, sha256: str | None = None,
             progress: bool = True, timeout: float = 30.0) -> Path:
    """Stream ``url`` to ``destination`` and return its path; never leave a partial file.

    The bytes go to ``destination + '.part'``, which is renamed only when the transfer is
    complete (``Content-Length`` honoured) and, if given, ``sha256`` matches; on any error the
    ``.part`` file is removed and the error raised. Works for ``http(s)://`` and ``file://``.

    Example:
        >>> download("https://example.org/a.zip", "/tmp/a.zip")     # doctest: +SKIP
        PosixPath('/tmp/a.zip')
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f"{destination.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = response.headers.get("Content-Length")
            total = int(total) if total else None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=destination.name, disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise ConnectionError(f"download of {url} stopped after {received} of {total} bytes")
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ChecksumError(
                f"{url} has sha256 {digest.hexdigest()}, expected {sha256}: the file is corrupt "
                "or not the one the course needs."
            )
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return destination


# --------------------------------------------------------------------------- extraction


def _check_member_name(name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")) or ".." in path.parts:
        raise UnsafeArchiveError(f"refusing archive member {name!r}: it points outside the folder")


def safe_extract(archive: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Extract a .zip or .tar(.gz) archive into ``destination`` and return it.

    Every member is checked first, and nothing is written if one is unsafe: absolute paths,
    ``..`` components, symbolic or hard links and device files raise ``UnsafeArchiveError``.

    Example:
        >>> safe_extract("cats_and_dogs_filtered.zip", "/tmp/data")   # doctest: +SKIP
        PosixPath('/tmp/data')
    """
    archive, destination = Path(archive), Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                _check_member_name(member.filename)
                kind = stat.S_IFMT(member.external_attr >> 16)
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise UnsafeArchiveError(
                        f"refusing archive member {member.filename!r}: links and device files "
                        "are not allowed"
                    )
            zipped.extractall(destination)
        return destination
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tarred:
            members = tarred.getmembers()
            for member in members:
                _check_member_name(member.name)
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(
                        f"refusing archive member {member.name!r}: links and device files "
                        "are not allowed"
                    )
            tarred.extractall(destination, members=members)
        return destination
    raise UnsafeArchiveError(f"{archive} is neither a zip nor a tar archive")


# --------------------------------------------------------------------------- load


def _fingerprint(folder: Path, relative_paths) -> str:
    """A cheap fingerprint (size and mtime of each file) to skip re-hashing a verified tree."""
    digest = hashlib.sha256()
    for relative in sorted(relative_paths):
        info = (folder / relative).stat()
        digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _stamp_ok(root: Path, expected: dict[str, str]) -> bool:
    stamp = root / ".coursekit-verified"
    if not stamp.is_file():
        return False
    try:
        return stamp.read_text().strip() == _fingerprint(root, expected)
    except OSError:  # a listed file is missing
        return False


def _write_stamp(root: Path, expected: dict[str, str]) -> None:
    (root / ".coursekit-verified").write_text(_fingerprint(root, expected) + "\n")


def _is_url(entry: str) -> bool:
    return urllib.parse.urlparse(entry).scheme in {"http", "https", "file"}


def _mirror_candidates(relative: str):
    """Yield (kind, location) for ``relative`` in each COURSEKIT_MIRROR entry."""
    for entry in config.mirrors():
        if entry.startswith("file://"):
            yield "file", Path(urllib.request.url2pathname(urllib.parse.urlparse(entry).path)) / relative
        elif _is_url(entry):
            yield "url", entry.rstrip("/") + "/" + urllib.parse.quote(relative)
        else:
            yield "file", Path(entry).expanduser() / relative


def _unavailable(dataset: Dataset, reasons: list[str]) -> DatasetUnavailable:
    downloads = config.data_dir() / "downloads"
    return DatasetUnavailable(
        f"Dataset {dataset.name!r} is not available on this machine.\n"
        + "".join(f"  - {reason}\n" for reason in reasons)
        + f"To fix it, download {dataset.archive} ({dataset.size}) from\n    {dataset.url}\n"
        f"and put it in the folder\n    {downloads}\n"
        "or set the COURSEKIT_MIRROR environment variable to a folder (or file:// or http:// "
        f"URL) that holds {dataset.archive}, then run this cell again."
    )


def _archive_sources(dataset: Dataset):
    """Yield (origin, description, callable returning a local archive path or None) in order.

    origin is "manual" (put in downloads/ by hand), "mirror" (a mirror folder, read in place)
    or "downloaded" (fetched by us into downloads/, so ours to delete if it is corrupt).
    """
    manual = config.data_dir() / "downloads" / dataset.archive
    yield "manual", f"archive in {manual.parent}", lambda: manual if manual.is_file() else None
    for kind, location in _mirror_candidates(dataset.archive):
        if kind == "file":
            yield "mirror", f"mirror {location}", lambda loc=location: loc if loc.is_file() else None
        else:
            yield "downloaded", f"mirror {location}", lambda loc=location: download(loc, manual)
    yield "downloaded", f"download {dataset.url}", lambda: download(dataset.url, manual)


def _install_from(archive: Path, dataset: Dataset, expected: dict[str, str]) -> Path:
    """Extract into a temporary folder, verify, then move into the cache."""
    cache = config.data_dir()
    top = next(iter(expected)).split("/", 1)[0]
    with tempfile.TemporaryDirectory(prefix=f".{dataset.name}-", dir=cache) as scratch:
        safe_extract(archive, scratch)
        extracted = Path(scratch) / top
        problems = verify_tree(extracted.parent, expected,
                               strict_dirs=[f"{top}/{split}" for split in dataset.splits])
        if problems:
            raise ChecksumError(
                f"{archive} does not contain the expected {dataset.name} files "
                f"({len(problems)} problems, first: {problems[0]})."
            )
        target = cache / top
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
    _write_stamp(target, _relative_to_root(expected))
    return target


def _relative_to_root(expected: dict[str, str]) -> dict[str, str]:
    """Turn 'top/train/cats/x.jpg' keys into 'train/cats/x.jpg'."""
    return {key.split("/", 1)[1]: value for key, value in expected.items()}


@contextlib.contextmanager
def _cache_lock(name: str):
    """Hold an exclusive lock on ``data_dir()/.name.lock`` so that two notebooks (or test
    workers) filling the cache at once do not replace a folder the other one is reading."""
    lock_path = config.data_dir() / f".{name}.lock"
    with open(lock_path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; installs are still atomic renames
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _full(dataset: Dataset) -> Path:
    with _cache_lock(dataset.name):
        return _full_locked(dataset)


def _full_locked(dataset: Dataset) -> Path:
    expected = read_digest(dataset)
    top = next(iter(expected)).split("/", 1)[0]
    root = config.data_dir() / top
    if root.is_dir() and (_stamp_ok(root, _relative_to_root(expected))
                          or not verify_tree(root, _relative_to_root(expected))):
        _write_stamp(root, _relative_to_root(expected))
        return root
    reasons = [f"no verified copy in {root}"]
    if not config.mirrors():
        reasons.append("COURSEKIT_MIRROR is not set")
    for origin, description, fetch in _archive_sources(dataset):
        try:
            archive = fetch()
        except (OSError, urllib.error.URLError, ValueError) as error:  # network, HTTP, bad URL
            reasons.append(f"{description}: {error}")
            continue
        if archive is None:
            reasons.append(f"{description}: not found")
            continue
        try:
            return _install_from(Path(archive), dataset, expected)
        except (ChecksumError, UnsafeArchiveError, zipfile.BadZipFile, tarfile.TarError) as error:
            if origin == "downloaded":  # our own download is corrupt: do not keep it
                Path(archive).unlink(missing_ok=True)
            reasons.append(f"{description}: {error}")
            if origin == "manual":  # never delete what the student put there; say so
                raise ChecksumError(
                    f"{archive} is not a valid {dataset.archive}: {error} Move it away and "
                    "run again to download a fresh copy."
                ) from error
    raise _unavailable(dataset, reasons)


def _quick(dataset: Dataset, full_root: Path) -> Path:
    """Return a small deterministic subset of the verified full set, same folder layout."""
    expected = _relative_to_root(read_digest(dataset))
    chosen = {}
    for split, per_class in dataset.quick_per_class.items():
        for label in dataset.classes:
            prefix = f"{split}/{label}/"
            files = sorted((path for path in expected if path.startswith(prefix)),
                           key=lambda path: (len(path), path))  # cat.2 before cat.10
            chosen.update({path: expected[path] for path in files[:per_class]})
    root = config.data_dir() / f"{full_root.name}_quick"
    if root.is_dir() and _stamp_ok(root, chosen):
        return root
    with _cache_lock(root.name):
        if root.is_dir() and _stamp_ok(root, chosen):  # another process just built it
            return root
        return _build_subset(dataset, full_root, chosen, root)


def _build_subset(dataset: Dataset, full_root: Path, chosen: dict[str, str], root: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix=f".{root.name}-", dir=config.data_dir()) as scratch:
        for relative in chosen:
            target = Path(scratch) / "subset" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(full_root / relative, target)
        problems = verify_tree(Path(scratch) / "subset", chosen)
        if problems:
            raise ChecksumError(f"quick subset of {dataset.name} failed verification: {problems[0]}")
        if root.exists():
            shutil.rmtree(root)
        os.replace(Path(scratch) / "subset", root)
    _write_stamp(root, chosen)
    return root


def load(name: str = "cats_and_dogs_filtered", quick: bool | None = None) -> Path:
    """Return the local root folder of a course dataset, verified against its digest.

    In quick mode (``quick=None`` follows ``COURSEKIT_QUICK``) the folder is a small,
    deterministic subset of the same verified images with the same layout (for
    ``cats_and_dogs_filtered``: 100 train and 50 validation images per class).

    Raises ``DatasetUnavailable`` when no cache, mirror or network has the data.

    Example:
        >>> root = load("cats_and_dogs_filtered")
        >>> sorted(p.name for p in (root / "train").iterdir())
        ['cats', 'dogs']
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; the course has: {', '.join(sorted(DATASETS))}")
    dataset = DATASETS[name]
    full_root = _full(dataset)
    use_quick = config.quick_mode() if quick is None else quick
    return _quick(dataset, full_root) if use_quick and dataset.quick_per_class else full_root


def class_names(root: str | os.PathLike, split: str = "train") -> list[str]:
    """Return the sorted class folder names of a split (the order Keras uses for labels)."""
    return sorted(p.name for p in (Path(root) / split).iterdir() if p.is_dir())


# --------------------------------------------------------------------------- Keras caches


def keras_file_path(file: KerasFile | str) -> Path:
    """Return where Keras looks for a file (``$KERAS_HOME/models/...`` or ``.../datasets/...``)."""
    if isinstance(file, str):
        matches = [entry for entry in KERAS_FILES if entry.name == file]
        if not matches:
            known = ", ".join(entry.name for entry in KERAS_FILES)
            raise ValueError(f"unknown Keras file {file!r}; known files: {known}")
        file = matches[0]
    return config.keras_home() / file.cache_path


def fill_from_mirror(cache_path: str, sha256: str | None = None) -> Path | None:
    """Copy one file Keras caches (``"models/<file>.h5"``) from the mirror into Keras' cache.

    Returns the cached path, or None when no ``COURSEKIT_MIRROR`` entry holds the file. Lessons
    call this themselves (through ``models.pretrained_base``), so none of them depends on
    lesson 0's ``prefetch()`` having run.

    Example:
        >>> fill_from_mirror("models/imagenet_class_index.json")      # doctest: +SKIP
        PosixPath('/home/ada/.keras/models/imagenet_class_index.json')
    """
    known = {entry.cache_path: entry for entry in KERAS_FILES}
    entry = known.get(cache_path) or KerasFile(cache_path, "", sha256, "")
    if sha256 is not None:
        entry = KerasFile(entry.cache_path, entry.url, sha256, entry.used_by)
    return keras_file_path(entry) if _fill_keras_file(entry) != "missing" else None


def _fill_keras_file(file: KerasFile) -> str:
    """Put one Keras file in Keras' cache from the mirror; return where it came from."""
    target = config.keras_home() / file.cache_path
    if target.is_file() and (file.sha256 is None or sha256_file(target) == file.sha256):
        return "cache"
    relative_options = [str(PurePosixPath(file.cache_path).relative_to(
        PurePosixPath(file.cache_path).parts[0])), file.name]
    for relative in dict.fromkeys(relative_options):
        for kind, location in _mirror_candidates(relative):
            try:
                if kind == "file":
                    if not location.is_file():
                        continue
                    location = location.resolve().as_uri()
                download(location, target, sha256=file.sha256, progress=False)
                return f"mirror {location}"
            except (OSError, urllib.error.URLError, ValueError):
                continue
    return "missing"


def prefetch(datasets=("cats_and_dogs_filtered",), keras_files=True, quick: bool | None = None):
    """Fetch everything the lessons need once, so the course then runs offline.

    Loads each dataset (full set, and the quick subset in quick mode) and copies the Keras
    files of ``KERAS_FILES`` from the mirror into Keras' cache. Files that no mirror holds
    are left for Keras to download on first use (when online). Returns a pandas DataFrame
    with one row per item: what, where it is, and where it came from.

    Example:
        >>> prefetch()                  # doctest: +SKIP
    """
    import pandas as pd

    rows = []
    items = [("dataset", name) for name in datasets]
    if keras_files:
        items += [("keras file", file) for file in KERAS_FILES]
    for kind, item in tqdm(items, desc="prefetch", unit="item"):
        if kind == "dataset":
            try:
                path, source = load(item, quick=quick), "verified"
            except DatasetUnavailable as error:
                path, source = None, str(error).splitlines()[0]
            rows.append({"item": item, "kind": kind, "status": source, "path": str(path)})
        else:
            source = _fill_keras_file(item)
            rows.append({"item": item.name, "kind": kind,
                         "status": "missing (Keras downloads it on first use)" if source == "missing"
                         else source, "path": str(keras_file_path(item))})
    return pd.DataFrame(rows)
