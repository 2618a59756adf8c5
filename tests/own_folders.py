"""Folders a student might bring, built from real images only, the same bytes every time.

- ``scraped``: about 300 real cat and dog photos as a web scraper leaves them (PNG data named
  .jpg, palette and RGBA PNGs, grayscale JPEGs, a WebP, exact copies, one photo under both
  classes, a truncated download, an HTML error page named .jpg, ``.DS_Store``);
- ``fashion``: three classes of real Fashion-MNIST clothes (28x28 grayscale PNGs);
- ``tiny``: three small classes with a few of those problems, for CI (lessons run fast on it).

Every builder writes into an empty ``target``, sets every modification time to one fixed date
(``owndata.prepare`` keys its cache on paths, sizes and times: the same folder built again is
prepared once) and returns the list of files it wrote. ``fingerprint(folder)`` hashes every
file and the listing (names, kinds, sizes, modes, times), to prove a lesson changed nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

#: Every file and folder the builders write gets this modification time (2024-01-01 UTC).
FIXED_TIME = 1_704_067_200
#: Fashion-MNIST's class numbers (its README), as folder names.
FASHION_CLASSES = {"tshirt": 0, "trouser": 1, "pullover": 2, "dress": 3, "coat": 4, "sandal": 5,
                   "shirt": 6, "sneaker": 7, "bag": 8, "boot": 9}
FASHION_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def cats_and_dogs(root: str | os.PathLike) -> dict[str, list[bytes]]:
    """The real photos of a ``cats_and_dogs_filtered`` root (full or quick subset), train then
    validation, by class (``"cats"``, ``"dogs"``), in sorted file order."""
    root = Path(root)
    return {label: [path.read_bytes() for split in ("train", "validation")
                    for path in sorted((root / split / label).glob("*.jpg"))]
            for label in ("cats", "dogs")}


def fashion_mnist(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 real test images (28x28 uint8) and labels of Fashion-MNIST, read from the
    original ``t10k-*.gz`` files in ``folder`` (the course mirror's ``fashion-mnist/``)."""
    folder = Path(folder)
    with gzip.open(folder / FASHION_FILES[0]) as file:
        images = np.frombuffer(file.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(folder / FASHION_FILES[1]) as file:
        labels = np.frombuffer(file.read(), np.uint8, offset=8)
    return images, labels


def fingerprint(folder: str | os.PathLike) -> dict[str, tuple]:
    """Everything under ``folder`` (links not followed): relative path -> (kind, size, mode,
    modification time, sha256 of the bytes for a file). Equal before and after: untouched."""
    folder = Path(folder)
    found = {}
    for path in sorted(folder.rglob("*")) + [folder]:
        info = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else None
        found[path.relative_to(folder).as_posix()] = (kind, info.st_size if kind == "file" else None,
                                                      info.st_mode, info.st_mtime_ns, digest)
    return found


def _encode(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _recode(data: bytes, kind: str, mode: str = "RGB", **options) -> bytes:
    """A real photo re-encoded the way a scraper or a phone might have saved it."""
    with Image.open(io.BytesIO(data)) as image:
        return _encode(image.convert(mode), kind, **options)


def _write(target: Path, files: dict[str, bytes]) -> list[str]:
    """Write ``relative path -> bytes`` into the empty ``target``, then fix every time."""
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty: the builders write into an empty folder")
    for relative, data in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(data)
    for path in sorted(target.rglob("*"), reverse=True) + [target]:  # files before their folders
        os.utime(path, (FIXED_TIME, FIXED_TIME), follow_symlinks=False)
    return sorted(files)


def scraped(target: str | os.PathLike, photos: dict[str, list[bytes]], per_class: int = 148) -> list[str]:
    """A two-class folder as a web scraper leaves it: ``cat/`` and ``dog/``, ``per_class``
    real photos each (``photos``: ``cats_and_dogs(root)``), names like ``images (12).jpg``.

    Among them: every 15th photo is PNG data named .jpg, every 20th a palette PNG, every 25th an
    RGBA PNG, every 12th a grayscale JPEG, the 7th a WebP; plus three exact copies, one photo
    under both classes, a truncated download, an HTML error page named .jpg and ``.DS_Store``
    files. Returns the relative paths written.
    """
    if min(len(found) for found in photos.values()) <= per_class:
        raise ValueError(f"scraped needs more than {per_class} photos per class")
    files = {}
    for folder, label in (("cat", "cats"), ("dog", "dogs")):
        for k, data in enumerate(photos[label][:per_class]):
            name = f"{folder}/images ({k}).jpg"
            if k == 7:
                files[name.replace(".jpg", ".webp")] = _recode(data, "WEBP", quality=90)
            elif k % 25 == 3:
                files[name.replace(".jpg", ".png")] = _recode(data, "PNG", "RGBA")
            elif k % 20 == 2:
                files[name.replace(".jpg", ".png")] = _recode(data, "PNG", "P")
            elif k % 15 == 1:
                files[name] = _recode(data, "PNG")  # a PNG saved under a .jpg name
            elif k % 12 == 5:
                files[name] = _recode(data, "JPEG", "L", quality=90)
            else:
                files[name] = data
        for k in (10, 40, 90):  # the same photo downloaded twice
            files[f"{folder}/images ({k}) (1).jpg"] = files[f"{folder}/images ({k}).jpg"]
        files[f"{folder}/.DS_Store"] = b"\x00\x00\x00\x01Bud1" + bytes(60)
    files["cat/images (both).jpg"] = files["dog/images (both).jpg"] = photos["dogs"][-1]
    cut = photos["cats"][-1]
    files["cat/download.jpg"] = cut[: len(cut) // 2]  # a download that stopped half-way
    files["dog/image.jpg"] = b"<!DOCTYPE html><html><body>403 Forbidden</body></html>\n"
    return _write(Path(target), files)


def fashion(target: str | os.PathLike, source: str | os.PathLike, per_class: int = 120,
            classes=("tshirt", "trouser", "sneaker")) -> list[str]:
    """Classes of real Fashion-MNIST clothes (names of ``FASHION_CLASSES``): the first
    ``per_class`` test images of each, 28x28 grayscale PNGs. ``source``: the folder of
    Fashion-MNIST's ``t10k-*.gz`` files. Returns the relative paths written."""
    images, labels = fashion_mnist(source)
    files = {}
    for name in classes:
        for index in np.flatnonzero(labels == FASHION_CLASSES[name])[:per_class]:
            files[f"{name}/{name}_{index:05d}.png"] = _encode(Image.fromarray(images[index], "L"), "PNG")
    return _write(Path(target), files)


def tiny(target: str | os.PathLike, photos: dict[str, list[bytes]], source: str | os.PathLike,
         per_class: int = 12) -> list[str]:
    """A small three-class folder for CI: ``cat/`` and ``dog/`` (real photos, among the dogs a
    grayscale JPEG and PNG data named .jpg) and ``sneaker/`` (Fashion-MNIST, 28x28 grayscale
    PNGs), ``per_class`` each, plus a truncated JPEG and a ``.DS_Store``. ``photos``:
    ``cats_and_dogs(root)``; ``source``: the folder of Fashion-MNIST's ``t10k-*.gz`` files."""
    images, labels = fashion_mnist(source)
    files = {f"cat/cat{k:02d}.jpg": data for k, data in enumerate(photos["cats"][:per_class])}
    for k, data in enumerate(photos["dogs"][:per_class]):
        kind, mode = {1: ("PNG", "RGB"), 2: ("JPEG", "L")}.get(k, (None, None))
        files[f"dog/dog{k:02d}.jpg"] = _recode(data, kind, mode) if kind else data
    for k, index in enumerate(np.flatnonzero(labels == FASHION_CLASSES["sneaker"])[:per_class]):
        files[f"sneaker/sneaker{k:02d}.png"] = _encode(Image.fromarray(images[index], "L"), "PNG")
    cut = photos["cats"][-1]
    files["cat/broken.jpg"] = cut[: len(cut) // 3]
    files["dog/.DS_Store"] = b"\x00\x00\x00\x01Bud1" + bytes(60)
    return _write(Path(target), files)
