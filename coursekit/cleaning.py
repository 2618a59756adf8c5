"""Clean a messy image folder: scan it, quarantine or repair the bad files, undo, split safely.

``scan(folder)`` reads every file under ``folder`` once (hidden files too), decodes it with
Pillow and returns a table with one row per file and a tuple of issue codes. ``quarantine``
moves chosen files out (with a manifest), ``undo`` puts them back byte-identical, ``repair``
converts fixable files and keeps the originals in the quarantine. Nothing is ever deleted,
``scan`` never writes into the folder and never follows a symbolic link.

What the training pipeline accepts (measured with TensorFlow 2.21 / Keras 3.15)
--------------------------------------------------------------------------------
``keras.utils.image_dataset_from_directory`` (idfd) takes every sub-folder of the root whose
name does not start with ``.`` as a class, walks it recursively and keeps the files whose
*lower-cased extension* is one of ``.bmp .gif .jpeg .jpg .png``: other files are skipped
silently, hidden files such as macOS ``._cat.1.jpg`` are kept (and crash training). Each file is
then decoded by ``tf.io.decode_image(contents, channels=3, expand_animations=False)``, which
sniffs the real format from the bytes, so a PNG named ``.jpg`` still decodes. Measured:

- decodes correctly: JPEG (baseline, progressive, grayscale, CMYK), PNG of every colour type
  and bit depth (16-bit is scaled to 8-bit, alpha is dropped), GIF (first frame only), BMP
  24/32-bit and 8-bit grayscale, static WebP;
- fails with an error: truncated or corrupt files, 1-bit BMP, animated WebP, TIFF, ICO, PPM,
  TGA, PCX, JPEG 2000, AVIF, SVG, anything that is not an image (its error names the formats it
  knows: "One of JPEG, JPEG XL, PNG, GIF, BMP, WebP required", so HEIC fails too);
- wrong data without an error: palette BMPs decode as their palette *indices* (a grey mess);
- skipped without an error: ``.webp`` and ``.jxl`` (not in idfd's list, although
  ``decode_image`` can decode them), and every image whose extension is not in the list.

So the formats the pipeline accepts are JPEG (Pillow calls multi-picture camera JPEGs "MPO"),
PNG, GIF and uncompressed RGB or grayscale BMP; everything else gets ``unsupported_format``.

Issue codes (the one place they are defined: ``ISSUES``)
---------------------------------------------------------
Broken: the pipeline crashes on the file, skips it, or runs out of memory (``BROKEN``)
  ``empty_file``          0 bytes (an interrupted download).
  ``not_image``           no image format recognised (text, HTML error page, ``.DS_Store``,
                          a special file such as a named pipe, which is never opened).
  ``unreadable``          looks like an image but Pillow cannot decode the pixels (corrupt data,
                          broken header, permission denied).
  ``truncated``           the file ends before the image data does.
  ``unsupported_format``  a real image the pipeline cannot use (see above), SVG, HEIC, ...
  ``huge``                more pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (about 89 million):
                          decoding it could exhaust memory (a decompression bomb); not decoded.
Fixable: decodes, but the pixels are not what the model should see (``FIXABLE``, ``repair``)
  ``extension_mismatch``  the extension does not match the real format (idfd skips the file if
                          the extension is not in its list, other tools fail on it).
  ``animated``            more than one frame; the pipeline silently keeps the first.
  ``cmyk``                CMYK colour (print); colours depend on the converter.
  ``palette``             palette (indexed) colours.
  ``has_alpha``           an alpha channel or transparent colour; ``channels=3`` drops it, so
                          transparent pixels show whatever colour they happen to store.
  ``grayscale``           one channel (``1``, ``L``, ``LA``, ``I;16``...); idfd repeats it 3 times.
  ``high_bit_depth``      more than 8 bits per channel (16-bit PNG, 32-bit TIFF).
Suspicious: the file loads fine but may hurt the model or the evaluation
  ``too_small``           shorter side below ``min_side`` pixels (default 32).
  ``blank``               near-uniform: the standard deviation of its brightness is below
                          ``blank_std`` (default 5 on the 0-255 scale): all black, all white...
  ``duplicate``           same bytes or same decoded pixels as another file with the same label;
                          the first of each group (shortest path, then alphabetical) is kept
                          clean and named in ``duplicate_of``.
  ``near_duplicate``      same label and a perceptual hash (256-bit dHash) within
                          ``near_threshold`` bits (default 20) of another file.
  ``label_conflict``      the same image (exact or near duplicate) under two different labels:
                          every copy is flagged, because which label is right is unknown.
  ``hidden_file``         a path component starts with ``.`` (``.DS_Store``, ``._x.jpg``).
  ``symlink``             a symbolic link: never followed, never read (it may point outside).

Example:
    >>> report = scan("messy/")                                   # doctest: +SKIP
    >>> report.loc[~report.ok, ["path", "issues"]]                # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import io
import json
import os
import shutil
import stat
import struct
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np
from PIL import Image, ImageStat, UnidentifiedImageError

if TYPE_CHECKING:
    import pandas as pd

# pandas and tqdm are imported inside the functions that need them: the scan worker processes
# import this module, and without them they start in a fraction of a second.

__all__ = [
    "BROKEN",
    "DEFAULT_QUARANTINE",
    "FIXABLE",
    "ISSUES",
    "PIPELINE_EXTENSIONS",
    "PIPELINE_FORMATS",
    "SUSPICIOUS",
    "check_leakage",
    "dhash",
    "make_messy_copy",
    "quarantine",
    "repair",
    "scan",
    "split",
    "true_format",
    "undo",
]

#: Every issue code with its one-line explanation (the module docstring has the long form).
ISSUES: dict[str, str] = {
    "empty_file": "the file has 0 bytes",
    "not_image": "no image format recognised (text, HTML, .DS_Store, a special file)",
    "unreadable": "looks like an image, but the pixels cannot be decoded",
    "truncated": "the file ends before the image data does",
    "unsupported_format": "a format the training pipeline cannot decode or skips",
    "huge": "more pixels than PIL.Image.MAX_IMAGE_PIXELS (decompression bomb), not decoded",
    "extension_mismatch": "the file extension does not match the real format",
    "animated": "more than one frame; the pipeline keeps only the first",
    "cmyk": "CMYK (print) colours",
    "palette": "palette (indexed) colours",
    "has_alpha": "has an alpha channel or a transparent colour, which the pipeline drops",
    "grayscale": "a single channel",
    "high_bit_depth": "more than 8 bits per channel",
    "too_small": "shorter side below min_side pixels",
    "blank": "near-uniform (all black, all white, one colour)",
    "duplicate": "same bytes or same pixels as another file with the same label",
    "near_duplicate": "perceptually almost identical to another file with the same label",
    "label_conflict": "the same image appears under two different labels",
    "hidden_file": "hidden file or inside a hidden folder",
    "symlink": "a symbolic link (never followed)",
}
BROKEN = frozenset({"empty_file", "not_image", "unreadable", "truncated", "unsupported_format",
                    "huge"})
FIXABLE = frozenset({"extension_mismatch", "animated", "cmyk", "palette", "has_alpha",
                     "grayscale", "high_bit_depth"})
SUSPICIOUS = frozenset(ISSUES) - BROKEN - FIXABLE
#: What ``quarantine`` moves out when not told otherwise: files no model should train on.
DEFAULT_QUARANTINE = BROKEN | {"blank", "duplicate", "label_conflict", "hidden_file", "symlink"}

#: Formats (Pillow's names) that image_dataset_from_directory + tf.io.decode_image decode right.
PIPELINE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP"})
#: The extensions image_dataset_from_directory keeps (keras ALLOWLIST_FORMATS).
PIPELINE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

_EXTENSIONS_OF = {"JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"}, "MPO": {".jpg", ".jpeg", ".mpo"},
                  "SVG": {".svg", ".svgz"}, "HEIF": {".heic", ".heif"}, "JPEG XL": {".jxl"}}
_GRAY_MODES = {"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_HIGH_DEPTH_MODES = {"I": 32, "F": 32, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16}
_READ_LIMIT = 64 << 20  # files up to this size are read into memory once; larger ones streamed
_SERIAL_BELOW = 64  # folders with fewer files are scanned in this process (no pool start-up)


# ----------------------------------------------------------------------------- per-file work


def dhash(image: Image.Image, hash_size: int = 16) -> np.ndarray:
    """Return the difference hash of an image: ``hash_size**2`` booleans.

    Shrink the grayscale image to ``(hash_size + 1) x hash_size`` pixels and record, for each
    pixel, whether it is brighter than its left neighbour. Resizing and re-compressing an
    image barely changes these bits; two different photos differ in about half of them.

    Example:
        >>> bits = dhash(Image.new("RGB", (64, 48), "white"))
        >>> bits.shape, bits.any()
        ((256,), np.False_)
    """
    if hash_size < 2:
        raise ValueError(f"hash_size must be at least 2, got {hash_size}")
    small = image.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).ravel()


def _sniff(head: bytes) -> tuple[str | None, bool]:
    """Guess a format from the first bytes: (name or None, looks_like_a_raster_image)."""
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head[:4096].lower()):
        return "SVG", False
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}:
        return "HEIF", False
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "JPEG XL", False  # Pillow cannot decode it, idfd skips .jxl
    signatures = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM",
                  b"II*\x00", b"MM\x00*")
    raster = any(head.startswith(signature) for signature in signatures) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP")
    return None, raster


def _bit_depth(image: Image.Image, head: bytes) -> int:
    if image.format == "PNG" and head[12:16] == b"IHDR":
        return head[24]  # the IHDR bit depth (Pillow reads 16-bit RGB PNGs as 8-bit "RGB")
    if image.mode == "1":
        return 1
    return _HIGH_DEPTH_MODES.get(image.mode, 8)


def _pipeline_problem(image: Image.Image, frames: int) -> str | None:
    """Why the TF pipeline cannot use this decodable image, or None if it can."""
    if image.format == "WEBP":
        return ("image_dataset_from_directory skips .webp files (tf.io.decode_image would decode "
                "a still WebP, not an animated one)")
    if image.format not in PIPELINE_FORMATS:
        return f"tf.io.decode_image cannot decode {image.format}"
    if image.format == "BMP":
        if image.mode in {"1", "P"}:
            return "tf.io.decode_image fails on 1-bit BMPs and reads palette BMPs as indices"
        if image.info.get("compression", 0) not in (0, 3):
            return "tf.io.decode_image only reads uncompressed BMPs"
    return None


def _extension_ok(fmt: str, extension: str) -> bool:
    allowed = _EXTENSIONS_OF.get(fmt) or {
        ext for ext, name in Image.registered_extensions().items() if name == fmt}
    return extension in allowed


def _decode_error(error: BaseException) -> str:
    message = str(error)
    return "truncated" if "truncated" in message.lower() else "unreadable"


def _inspect(task: tuple[str, str, dict]) -> dict:
    """Read one file once and return its row (without the cross-file codes)."""
    absolute, relative, options = task
    parts = PurePosixPath(relative).parts
    row = {
        "path": relative, "label": parts[0] if len(parts) > 1 else None,
        "format": None, "extension": PurePosixPath(relative).suffix.lower(),
        "width": None, "height": None, "mode": None, "frames": None, "bit_depth": None,
        "bytes": None, "sha256": None, "pixel_sha256": None, "dhash": None,
        "brightness_std": None, "codes": [], "note": "",
    }
    codes = row["codes"]
    if any(part.startswith(".") for part in parts):
        codes.append("hidden_file")
    try:
        info = os.lstat(absolute)
    except OSError as error:  # removed or renamed while the scan ran
        codes.append("unreadable")
        row["note"] = f"cannot read: {error.strerror or error}"
        return row
    row["bytes"] = info.st_size
    if stat.S_ISLNK(info.st_mode):
        codes.append("symlink")
        row["note"] = f"link to {os.readlink(absolute)!r}, not followed"
        return row
    if not stat.S_ISREG(info.st_mode):
        codes.append("not_image")
        row["note"] = "not a regular file (pipe, socket or device), not opened"
        return row
    if info.st_size == 0:
        codes.append("empty_file")
        row["sha256"] = hashlib.sha256(b"").hexdigest()
        return row
    digest = hashlib.sha256()
    try:
        if info.st_size <= _READ_LIMIT:
            with open(absolute, "rb") as handle:
                data = handle.read()
            digest.update(data)
            source: io.BytesIO | str = io.BytesIO(data)
            head = data[:4096]
        else:
            with open(absolute, "rb") as handle:
                head = handle.read(4096)
                handle.seek(0)
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            source = absolute
    except OSError as error:
        codes.append("unreadable")
        row["note"] = f"cannot read: {error.strerror or error}"
        return row
    row["sha256"] = digest.hexdigest()
    try:
        image = Image.open(source)
    except UnidentifiedImageError:
        sniffed, raster = _sniff(head)
        if sniffed:
            row["format"] = sniffed
            codes.append("unsupported_format")
            row["note"] = ("image_dataset_from_directory skips .jxl files, and Pillow cannot check "
                           "them" if sniffed == "JPEG XL" else f"tf.io.decode_image cannot decode {sniffed}")
            if not _extension_ok(sniffed, row["extension"]):
                codes.append("extension_mismatch")
        elif raster:
            codes.append("unreadable")
            row["note"] = "the header of an image format, but Pillow cannot open it"
        else:
            codes.append("not_image")
        return row
    except Exception as error:  # noqa: BLE001 - any plugin error means an unreadable header
        codes.append(_decode_error(error))
        row["note"] = f"{type(error).__name__}: {error}"
        return row
    with image:
        _inspect_image(image, head, row, options)
    return row


def _inspect_image(image: Image.Image, head: bytes, row: dict, options: dict) -> None:
    codes = row["codes"]
    row.update(format=image.format, width=image.width, height=image.height, mode=image.mode)
    row["bit_depth"] = _bit_depth(image, head)
    if image.mode == "CMYK":
        codes.append("cmyk")
    if image.mode in {"P", "PA"}:
        codes.append("palette")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        codes.append("has_alpha")
    if image.mode in _GRAY_MODES:
        codes.append("grayscale")
    if row["bit_depth"] > 8:
        codes.append("high_bit_depth")
    if not _extension_ok(image.format, row["extension"]):
        codes.append("extension_mismatch")
    if min(image.size) < options["min_side"]:
        codes.append("too_small")
    if image.width * image.height > options["max_pixels"]:
        codes.append("huge")
        row["note"] = f"{image.width}x{image.height} = {image.width * image.height:,} pixels"
        return
    try:
        frames = getattr(image, "n_frames", 1)
        row["frames"] = frames
        if frames > 1 and image.format != "MPO":  # MPO: a camera JPEG with extra pictures;
            codes.append("animated")              # the pipeline reads its main picture
        problem = _pipeline_problem(image, frames)
        if problem:
            codes.append("unsupported_format")
            row["note"] = problem
        scale = _analysis_scale(image.size)
        drafted = image.format in {"JPEG", "MPO"} and scale > 1
        if drafted:  # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly: 2-4x faster, less memory
            image.draft("L" if image.mode in {"RGB", "L"} else image.mode,
                        (image.width // scale, image.height // scale))
        image.load()  # decodes all the data, even in draft mode: truncation is still detected
    except Exception as error:  # noqa: BLE001 - every decoder failure is recorded, not raised
        codes.append(_decode_error(error))
        row["note"] = f"{type(error).__name__}: {error}"
        return
    gray = _to_gray(image)
    if not drafted and scale > 1:
        gray = gray.reduce(scale)  # the same box average that JPEG draft mode gives
    row["brightness_std"] = float(ImageStat.Stat(gray).stddev[0])
    if row["brightness_std"] < options["blank_std"]:
        codes.append("blank")
    row["dhash"] = np.packbits(dhash(gray, options["hash_size"])).tobytes().hex()


_ANALYSIS_SIDE = 64  # blank and dHash checks look at the image shrunk to about this short side


def _analysis_scale(size: tuple[int, int]) -> int:
    """The largest of 1, 2, 4, 8 that keeps the shorter side at least ``_ANALYSIS_SIDE``."""
    scale = 1
    while scale < 8 and min(size) // (scale * 2) >= _ANALYSIS_SIDE:
        scale *= 2
    return scale


def _to_gray(image: Image.Image) -> Image.Image:
    """8-bit luminance of the current frame; 16/32-bit images are scaled (Pillow would clip)."""
    if image.mode in _HIGH_DEPTH_MODES:
        array = np.asarray(image).astype(np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        return Image.fromarray(np.round(array / peak * 255).clip(0, 255).astype(np.uint8))
    return image if image.mode == "L" else image.convert("L")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Return the first frame as 8-bit RGB: 16-bit scaled (not clipped), alpha over white."""
    image.seek(0)
    image.load()
    if image.mode in _HIGH_DEPTH_MODES:
        image = _to_gray(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _pixel_sha256(path: str) -> str | None:
    """sha256 of the fully decoded first frame as 8-bit RGB (alpha kept), or None."""
    try:
        with _pillow_limits_off(), Image.open(path) as image:
            image.load()
            if image.mode in _HIGH_DEPTH_MODES:
                image = _to_gray(image)
            converted = image.convert("RGBA" if image.mode in _ALPHA_MODES
                                      or "transparency" in image.info else "RGB")
            digest = hashlib.sha256(f"{converted.mode} {converted.width}x{converted.height}".encode())
            digest.update(converted.tobytes())
            return digest.hexdigest()
    except Exception:  # noqa: BLE001 - a file that changed or broke since the scan: no match
        return None


# ----------------------------------------------------------------------------- cross-file codes


class _Groups:
    """Union-find over row numbers."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, first: int, second: int) -> None:
        self.parent[self.find(first)] = self.find(second)

    def members(self) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for item in range(len(self.parent)):
            groups.setdefault(self.find(item), []).append(item)
        return [group for group in groups.values() if len(group) > 1]


def _close_pairs(hashes: list[str], threshold: int, block: int = 512) -> list[tuple[int, int, int]]:
    """Return (i, j, distance) for i < j whose hex hashes differ in at most ``threshold`` bits."""
    if len(hashes) < 2:
        return []
    bits = np.unpackbits(np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h in hashes]),
                         axis=1).astype(np.float32)
    pairs = []
    for start in range(0, len(bits), block):
        chunk = bits[start:start + block]
        distance = chunk @ (1 - bits).T + (1 - chunk) @ bits.T  # Hamming distance, blockwise
        rows, cols = np.nonzero(distance <= threshold)
        for i, j in zip(rows + start, cols):
            if i < j:
                pairs.append((int(i), int(j), int(distance[i - start, j])))
    return pairs


def _keeper_order(paths: list[str]) -> list[int]:
    return sorted(range(len(paths)), key=lambda k: (len(paths[k]), paths[k]))


def _cross_file_codes(rows: list[dict], folder: Path, near_threshold: int) -> None:
    """Add duplicate / near_duplicate / label_conflict codes in place.

    Same bytes: equal sha256. Same pixels: only files of equal size whose dHashes are close can
    hold the same pixels, so only those are decoded again in full and compared (pixel_sha256).
    """
    for row in rows:
        row.update(duplicate_of=None, conflicts_with=())
    images = [k for k, row in enumerate(rows) if row["format"] is not None]
    exact, near = _Groups(len(rows)), _Groups(len(rows))
    first_with: dict[str, int] = {}
    for k in images:
        exact.union(k, first_with.setdefault(rows[k]["sha256"], k))
    hashed = [k for k in images if rows[k]["dhash"] is not None]
    for i, j, _ in _close_pairs([rows[k]["dhash"] for k in hashed], near_threshold):
        a, b = hashed[i], hashed[j]
        size_a, size_b = (rows[a]["width"], rows[a]["height"]), (rows[b]["width"], rows[b]["height"])
        if size_a == size_b and exact.find(a) != exact.find(b):
            for k in (a, b):
                if rows[k]["pixel_sha256"] is None:
                    rows[k]["pixel_sha256"] = _pixel_sha256(os.fspath(folder / rows[k]["path"]))
            if rows[a]["pixel_sha256"] and rows[a]["pixel_sha256"] == rows[b]["pixel_sha256"]:
                exact.union(a, b)
        if "blank" not in rows[a]["codes"] and "blank" not in rows[b]["codes"]:
            near.union(a, b)  # blank images all look alike to a perceptual hash
    for group in exact.members():
        for k in group[1:]:
            near.union(group[0], k)
    for group in near.members():
        labelled = [k for k in group if rows[k]["label"] is not None]
        if len({rows[k]["label"] for k in labelled}) > 1:
            for k in labelled:
                rows[k]["codes"].append("label_conflict")
                rows[k]["conflicts_with"] = tuple(sorted(
                    rows[m]["path"] for m in labelled if rows[m]["label"] != rows[k]["label"]))
        by_label: dict[str | None, list[int]] = {}
        for k in group:
            by_label.setdefault(rows[k]["label"], []).append(k)
        for members in by_label.values():
            order = [members[k] for k in _keeper_order([rows[m]["path"] for m in members])]
            keeper = order[0]
            for k in order[1:]:
                same = exact.find(k) == exact.find(keeper)
                rows[k]["codes"].append("duplicate" if same else "near_duplicate")
                rows[k]["duplicate_of"] = rows[keeper]["path"]


# ----------------------------------------------------------------------------- scan


def _walk(folder: Path) -> list[tuple[str, str]]:
    """Return (absolute, relative POSIX) for every non-directory entry, links not followed."""
    found = []
    pending = [folder]
    while pending:
        current = pending.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                else:
                    relative = Path(entry.path).relative_to(folder).as_posix()
                    found.append((entry.path, relative))
    return sorted(found, key=lambda item: item[1])


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def scan(folder: str | os.PathLike, *, workers: int | None = None, progress: bool = True,
         min_side: int = 32, blank_std: float = 5.0, near_threshold: int = 20,
         hash_size: int = 16, max_pixels: int | None = None) -> pd.DataFrame:
    """Return one row per file under ``folder`` with its real format and its issue codes.

    Every file is read once: its bytes are hashed (``sha256``) and decoded by Pillow. The
    whole file is decoded (so truncation and corruption are found), JPEGs in draft mode at the
    1/2, 1/4 or 1/8 scale that keeps the shorter side at least 64 pixels, which is 2-3 times
    faster and bounds memory; other formats are shrunk to the same scale after decoding. The
    small image gives ``brightness_std`` (blank images) and a 256-bit ``dhash`` (near
    duplicates). Files of equal size with close dHashes are then decoded in full once more
    and compared pixel by pixel (``pixel_sha256``, None for the others). Files are spread over
    ``workers`` processes (default: the usable cores; under 64 files: this process). Images
    above ``max_pixels`` (default ``PIL.Image.MAX_IMAGE_PIXELS``) are not decoded.
    In a script, call ``scan`` under ``if __name__ == "__main__":`` (the worker processes
    import your script), as for any ``multiprocessing`` code.

    Columns: ``path`` (relative, POSIX), ``label`` (first folder level or None), ``format``,
    ``extension``, ``width``, ``height``, ``mode``, ``frames``, ``bit_depth``, ``bytes``,
    ``sha256``, ``pixel_sha256``, ``dhash``, ``brightness_std``, ``issues`` (tuple of codes, see
    ``ISSUES``), ``ok`` (no issue), ``duplicate_of`` (the kept copy), ``conflicts_with`` (the
    copies under other labels), ``note`` (the reasons in words, with the decoder's message).

    Example:
        >>> report = scan(datasets.load() / "train", progress=False)     # doctest: +SKIP
        >>> report.ok.all()                                               # doctest: +SKIP
        True
    """
    import pandas as pd
    from tqdm.auto import tqdm

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"scan needs a folder, got {str(folder)!r} (does not exist or is a file)")
    for name, value, low in (("min_side", min_side, 1), ("near_threshold", near_threshold, 0),
                             ("hash_size", hash_size, 2)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive int or None, got {workers!r}")
    root = root.resolve()
    options = {"min_side": min_side, "blank_std": float(blank_std), "hash_size": hash_size,
               "max_pixels": max_pixels or Image.MAX_IMAGE_PIXELS or 89_478_485}
    tasks = [(absolute, relative, options) for absolute, relative in _walk(root)]
    workers = workers or _default_workers()
    bar = dict(total=len(tasks), desc=f"scan {root.name}", unit="file", disable=not progress)
    if workers == 1 or len(tasks) < _SERIAL_BELOW:
        with _pillow_limits_off():
            rows = [_inspect(task) for task in tqdm(tasks, **bar)]
    else:
        try:
            with ProcessPoolExecutor(workers, mp_context=_pool_context(),
                                     initializer=_worker_start) as pool:
                chunk = max(1, min(32, len(tasks) // (workers * 8)))
                rows = list(tqdm(pool.map(_inspect, tasks, chunksize=chunk), **bar))
        except BrokenProcessPool as error:
            raise RuntimeError(
                "scan's worker processes stopped before finishing. In a script, call scan() "
                "under `if __name__ == \"__main__\":` (worker processes import your script), "
                "or pass workers=1 to scan in this process.") from error
    _cross_file_codes(rows, root, near_threshold)
    order = {code: k for k, code in enumerate(ISSUES)}
    for row in rows:
        row["issues"] = tuple(sorted(set(row.pop("codes")), key=order.__getitem__))
        row["ok"] = not row["issues"]
        row["note"] = _reason(row)
    columns = ["path", "label", "format", "extension", "width", "height", "mode", "frames",
               "bit_depth", "bytes", "sha256", "pixel_sha256", "dhash", "brightness_std",
               "issues", "ok", "duplicate_of", "conflicts_with", "note"]
    numbers = {"width", "height", "frames", "bit_depth", "bytes"}
    dtypes = {column: "Int64" if column in numbers else object for column in columns}
    dtypes.update(brightness_std="float64", ok="bool")
    # object columns keep None as None (pandas 3 would turn missing strings into NaN)
    report = pd.DataFrame({column: pd.Series([row[column] for row in rows], dtype=dtypes[column],
                                             index=range(len(rows))) for column in columns})
    report.attrs["folder"] = str(root)
    return report


def _reason(row: dict) -> str:
    """One readable sentence per file: what each issue means here, then the decoder's details."""
    explained = []
    for code in row["issues"]:
        if code in {"duplicate", "near_duplicate"} and row["duplicate_of"]:
            explained.append(f"{'copy' if code == 'duplicate' else 'near copy'} of {row['duplicate_of']}")
        elif code == "extension_mismatch":
            explained.append(f"a {row['format']} file with "
                             + (f"a {row['extension']} name" if row["extension"] else "no extension"))
        elif code == "label_conflict" and row["conflicts_with"]:
            explained.append(f"same image as {', '.join(row['conflicts_with'])}")
        else:
            explained.append(ISSUES[code])
    detail = row["note"]
    return "; ".join(explained) + (f" ({detail})" if detail and explained else detail)


class _pillow_limits_off:
    """Let Pillow open images of any size: scan applies its own ``max_pixels`` check first."""

    def __enter__(self) -> None:
        self.saved = Image.MAX_IMAGE_PIXELS
        self.filter = warnings.catch_warnings()
        self.filter.__enter__()
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = None

    def __exit__(self, *exc) -> None:
        Image.MAX_IMAGE_PIXELS = self.saved
        self.filter.__exit__(*exc)


def _pool_context():
    """Fresh worker processes, never a fork of this one (TensorFlow's threads make forks unsafe).

    ``forkserver`` (Linux, macOS) starts one clean server process, with this module imported,
    the first time and forks workers from it, so later scans start in milliseconds; Windows
    has only ``spawn``. Like Python 3.14's default, the server stays until Python exits.
    """
    if "forkserver" in get_all_start_methods():
        context = get_context("forkserver")
        context.set_forkserver_preload(["coursekit.cleaning"])  # only used when it first starts
        return context
    return get_context("spawn")


def _worker_start() -> None:
    Image.MAX_IMAGE_PIXELS = None  # a fresh worker process: nothing else to disturb
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def true_format(path: str | os.PathLike) -> str | None:
    """Return the real format of a file by decoding it with Pillow, or None if it is no image.

    The replacement for ``imghdr.what`` (removed in Python 3.13), which only looked at the first
    bytes: this decodes the whole image, so a truncated JPEG returns None too.

    Example:
        >>> true_format("cat.1.jpg")        # doctest: +SKIP
        'JPEG'
    """
    try:
        with Image.open(path) as image:
            image.load()
            return image.format
    except Exception:  # noqa: BLE001 - every failure means "not a usable image"
        return None


# ----------------------------------------------------------------------------- quarantine / undo


def _now() -> str:
    return _datetime.datetime.now(_datetime.timezone.utc).isoformat(timespec="microseconds")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_places(folder: Path, to: Path) -> tuple[Path, Path]:
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} is not a folder")
    folder, to = folder.resolve(), to.expanduser().resolve()
    if to == folder or folder in to.parents or to in folder.parents:
        raise ValueError(f"the quarantine {str(to)!r} must be outside the scanned folder "
                         f"{str(folder)!r} (and not contain it)")
    return folder, to


def _selected(report: pd.DataFrame, issues: Iterable[str]) -> pd.DataFrame:
    chosen = set([issues] if isinstance(issues, str) else issues)
    unknown = chosen - set(ISSUES)
    if unknown:
        raise ValueError(f"unknown issue codes {sorted(unknown)}; the codes are {list(ISSUES)}")
    for column in ("path", "issues", "sha256"):
        if column not in report:
            raise ValueError(f"report has no {column!r} column: pass the table scan() returned")
    return report[report["issues"].map(lambda codes: bool(chosen & set(codes)))]


def _safe_relative(relative: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"report path {relative!r} is not a plain relative path")
    return path


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(os.fspath(source), os.fspath(target))  # a rename on one disk: bytes untouched


def _write_manifest(to: Path, document: dict) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    stamp = _datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    manifest = to / f"manifest-{stamp}.json"
    partial = manifest.with_suffix(".json.part")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False))
    os.replace(partial, manifest)
    return manifest


def _plan_moves(report: pd.DataFrame, folder: Path, to: Path, issues) -> list[dict]:
    """Check every chosen file before anything moves; return the planned manifest entries."""
    entries, problems = [], []
    for row in _selected(report, issues).itertuples():
        relative = _safe_relative(row.path)
        source, target = folder / relative, to / relative
        if not os.path.lexists(source):
            problems.append(f"{row.path}: no longer in the folder")
        elif os.path.lexists(target):
            problems.append(f"{row.path}: {target} already exists in the quarantine")
        elif isinstance(row.sha256, str) and not source.is_symlink() \
                and _file_sha256(source) != row.sha256:
            problems.append(f"{row.path}: changed since the scan (sha256 differs)")
        entries.append({"path": row.path, "quarantined": relative.as_posix(),
                        "sha256": row.sha256 if isinstance(row.sha256, str) else None,
                        "issues": list(row.issues)})
    if problems:
        raise ValueError("nothing was moved:\n  " + "\n  ".join(problems[:20])
                         + ("\n  ..." if len(problems) > 20 else "") + "\nScan the folder again.")
    return entries


def quarantine(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
               issues: Iterable[str] = DEFAULT_QUARANTINE) -> Path:
    """Move the files of ``report`` that have any of ``issues`` from ``folder`` into ``to``.

    Files keep their relative paths under ``to``. Every file is checked first (still there,
    unchanged since the scan, its place in ``to`` free); if one check fails nothing moves.
    Writes a JSON manifest (original path, new path, sha256, issues, time) into ``to`` and
    returns its path, for ``undo``. Nothing is deleted.

    Example:
        >>> manifest = quarantine(report, "messy", "messy_quarantine")     # doctest: +SKIP
        >>> undo(manifest)                                                 # doctest: +SKIP
    """
    folder, to = _check_places(Path(folder).expanduser(), Path(to))
    entries = _plan_moves(report, folder, to, issues)
    moved = []
    try:
        for entry in entries:
            _move(folder / entry["path"], to / entry["quarantined"])
            entry["time"] = _now()
            moved.append(entry)
    except BaseException:
        for entry in reversed(moved):  # put back what already moved, then report the error
            _move(to / entry["quarantined"], folder / entry["path"])
        raise
    return _write_manifest(to, {"folder": str(folder), "quarantine": str(to), "created": _now(),
                                "issues": sorted(set(issues) if not isinstance(issues, str)
                                                 else {issues}),
                                "entries": entries})


def undo(manifest: str | os.PathLike) -> int:
    """Put every file of a quarantine (or repair) manifest back where it was; return how many.

    Refuses with a ValueError, moving nothing, if a destination is occupied, a quarantined file
    is missing or changed, or the manifest was already undone. Repaired files (from ``repair``)
    are moved into the quarantine folder under ``undone-repairs/``, never deleted.

    Example:
        >>> undo("messy_quarantine/manifest-20250101-120000-000000.json")   # doctest: +SKIP
        42
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ValueError(f"manifest {str(manifest)!r} does not exist")
    document = json.loads(manifest.read_text())
    if document.get("undone"):
        raise ValueError(f"{manifest} was already undone at {document['undone']}")
    folder, to = Path(document["folder"]), Path(document["quarantine"])
    problems = []
    for entry in document["entries"]:
        original, kept = folder / entry["path"], to / entry["quarantined"]
        repaired = entry.get("repaired")
        if not os.path.lexists(kept):
            problems.append(f"{entry['quarantined']}: missing from the quarantine")
        elif entry["sha256"] and not kept.is_symlink() and _file_sha256(kept) != entry["sha256"]:
            problems.append(f"{entry['quarantined']}: changed in the quarantine")
        if repaired:
            fixed = folder / repaired
            if not fixed.is_file() or _file_sha256(fixed) != entry["repaired_sha256"]:
                problems.append(f"{repaired}: the repaired file is missing or was edited")
            if os.path.lexists(to / "undone-repairs" / repaired):
                problems.append(f"{repaired}: undone-repairs/{repaired} already exists")
        if os.path.lexists(original) and entry["path"] != repaired:
            problems.append(f"{entry['path']}: the destination is occupied")
    if problems:
        raise ValueError("nothing was moved:\n  " + "\n  ".join(problems[:20]))
    for entry in document["entries"]:
        if entry.get("repaired"):
            _move(folder / entry["repaired"], to / "undone-repairs" / entry["repaired"])
        _move(to / entry["quarantined"], folder / entry["path"])
    document["undone"] = _now()
    partial = manifest.with_suffix(".json.part")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False))
    os.replace(partial, manifest)
    return len(document["entries"])


# ----------------------------------------------------------------------------- repair


def repair(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
           issues: Iterable[str] = FIXABLE | {"unsupported_format"}) -> Path:
    """Convert fixable files to plain 8-bit RGB the pipeline reads; keep each original in ``to``.

    For every file with one of ``issues`` that Pillow can decode (not ``huge``, ``truncated``,
    ``unreadable``): the original moves to ``to`` (as in ``quarantine``) and a converted copy
    takes its place: first frame only, 16-bit scaled to 8-bit, alpha composited over white,
    CMYK/palette/grayscale converted to RGB. The copy keeps the file name when its extension
    is one the pipeline reads (a PNG named ``.jpg`` is re-encoded as JPEG, quality 95), else
    it gets ``.png``. Returns the manifest path; ``undo`` reverses it.

    Example:
        >>> manifest = repair(report, "messy", "messy_quarantine")         # doctest: +SKIP
    """
    folder, to = _check_places(Path(folder).expanduser(), Path(to))
    candidates = report[report["format"].notna() & report["issues"].map(
        lambda codes: not ({"huge", "truncated", "unreadable", "symlink"} & set(codes)))]
    candidates = candidates[candidates["format"].isin(
        [name for name in Image.registered_extensions().values()])]
    entries = _plan_moves(candidates, folder, to, issues)
    targets = {}
    for entry in entries:
        relative = PurePosixPath(entry["path"])
        suffix = relative.suffix.lower()
        if suffix in {".jpg", ".jpeg", ".png", ".bmp"}:
            name = relative
        else:
            name = relative.with_name(relative.stem + ".png")  # photo.webp -> photo.png
            if suffix not in Image.registered_extensions() or name in targets.values() \
                    or os.path.lexists(folder / name):
                name = relative.with_name(relative.name + ".png")  # photo.webp.png, download.png
        if name != relative and (name in targets.values() or os.path.lexists(folder / name)):
            raise ValueError(f"nothing was moved: {name} already exists in the folder")
        targets[entry["path"]] = name
    done = []
    try:
        for entry in entries:
            original = folder / entry["path"]
            with Image.open(original) as image:
                converted = _to_rgb(image)
            _move(original, to / entry["quarantined"])
            done.append(entry)
            target = folder / targets[entry["path"]]
            kind = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(target.suffix.lower(), "PNG")
            converted.save(target, kind, **({"quality": 95} if kind == "JPEG" else {}))
            entry.update(time=_now(), repaired=targets[entry["path"]].as_posix(),
                         repaired_sha256=_file_sha256(target))
    except BaseException:
        for entry in reversed(done):
            if entry.get("repaired"):
                _move(folder / entry["repaired"], to / "undone-repairs" / entry["repaired"])
            elif os.path.lexists(folder / targets[entry["path"]]):
                _move(folder / targets[entry["path"]], to / "undone-repairs" / targets[entry["path"]])
            _move(to / entry["quarantined"], folder / entry["path"])
        raise
    return _write_manifest(to, {"folder": str(folder), "quarantine": str(to), "created": _now(),
                                "issues": sorted(set(issues)), "repair": True, "entries": entries})


# ----------------------------------------------------------------------------- splits and leakage


def _fractions(fractions) -> dict[str, float]:
    if isinstance(fractions, Mapping):
        named = {str(name): value for name, value in fractions.items()}
    else:
        values = list(fractions)
        names = ("train", "validation", "test")
        if not 1 <= len(values) <= 3:
            raise ValueError(f"give 1 to 3 fractions (train, validation, test) or a dict of "
                             f"name -> fraction, got {fractions!r}")
        named = dict(zip(names, values))
    try:
        named = {name: float(value) for name, value in named.items()}
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be numbers, got {fractions!r}") from None
    if any(not 0 < value <= 1 for value in named.values()) or abs(sum(named.values()) - 1) > 1e-6:
        raise ValueError(f"fractions must be > 0 and add up to 1, got {named} "
                         f"(sum {sum(named.values()):.4f})")
    return named


def _unit_hash(key: str, seed: int) -> float:
    """A number in [0, 1) that depends only on the key and the seed (stable across runs)."""
    return int(hashlib.sha256(f"{seed}\0{key}".encode()).hexdigest()[:15], 16) / 16 ** 15


def split(data: "pd.DataFrame | str | os.PathLike", fractions=(0.7, 0.15, 0.15),
          seed: int = 0) -> "pd.DataFrame":
    """Assign every usable image of a scan report (or folder) to train/validation/test.

    Deterministic and stable: each file's split depends only on a hash of its *group* and
    ``seed``, so adding or removing files never moves another one. A group is an image with
    all its exact duplicates, near duplicates and label-conflict copies (from the scan), so
    copies of one image never land in two splits; it is named after its shortest path, so a
    new copy with a shorter name (or removing the one that named it) moves that group, whole. Each label is split separately (stratified): every
    label gets ``fractions`` up to sampling noise (about ``sqrt(f * (1 - f) / n)``).
    Files with a broken-file code or a link, and files without a label, are left out.

    ``fractions``: up to 3 numbers (train, validation, test) or a dict name -> fraction,
    adding up to 1. Returns the report's usable rows with ``group`` and ``split`` columns.

    Example:
        >>> splits = split(scan("photos"), (0.8, 0.1, 0.1), seed=0)       # doctest: +SKIP
        >>> splits.groupby(["label", "split"]).size()                      # doctest: +SKIP
    """
    if isinstance(data, (str, os.PathLike)):
        data = scan(data, progress=False)
    named = _fractions(fractions)
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    for column in ("path", "label", "issues", "duplicate_of", "conflicts_with"):
        if column not in data:
            raise ValueError(f"data has no {column!r} column: pass the table scan() returned")
    excluded = BROKEN | {"symlink"}
    usable = data[data["label"].map(lambda value: isinstance(value, str))
                  & data["issues"].map(lambda codes: not (excluded & set(codes)))].copy()
    paths = list(usable["path"])
    index = {path: k for k, path in enumerate(paths)}
    groups = _Groups(len(paths))
    for k, row in enumerate(usable.itertuples()):
        related = [row.duplicate_of] if isinstance(row.duplicate_of, str) else []
        for other in related + list(row.conflicts_with or ()):
            if other in index:
                groups.union(k, index[other])
    members: dict[int, list[str]] = {}
    for k, path in enumerate(paths):
        members.setdefault(groups.find(k), []).append(path)
    keeper = {root: min(found, key=lambda path: (len(path), path)) for root, found in members.items()}
    usable["group"] = [keeper[groups.find(k)] for k in range(len(paths))]
    edges = np.cumsum(list(named.values()))
    names = list(named)
    # one independent draw per group: every label gets the fractions, copies stay together
    draws = [_unit_hash(group, seed) for group in usable["group"]]
    usable["split"] = [names[min(int(np.searchsorted(edges, u, side="right")), len(names) - 1)]
                       for u in draws]
    return usable


def check_leakage(data: "pd.DataFrame | Mapping[str, pd.DataFrame]", split_column: str = "split",
                  near_threshold: int = 20) -> "pd.DataFrame":
    """Return every pair of files in *different* splits that are the same or nearly the same image.

    ``data`` is a table with a ``split_column`` (what ``split`` returns), or a dict
    split name -> scan report (e.g. ``{"train": scan(root / "train"), "validation": ...}``).
    Exact copies are matched by ``sha256`` or ``pixel_sha256``, near copies by ``dhash`` within
    ``near_threshold`` bits (blank images, which all look alike to dHash, only by exact
    match). Columns: ``path_a``, ``split_a``, ``path_b``, ``split_b``, ``kind``
    (``exact`` or ``near``), ``distance`` (bits). An empty table means no leakage.

    Example:
        >>> check_leakage(split(scan("photos")))                          # doctest: +SKIP
        Empty DataFrame
    """
    import pandas as pd

    if isinstance(data, Mapping):
        data = pd.concat([report.assign(**{split_column: name}) for name, report in data.items()],
                         ignore_index=True)
    for column in ("path", "sha256", "pixel_sha256", "dhash", split_column):
        if column not in data:
            raise ValueError(f"data has no {column!r} column; pass split()'s table or a dict "
                             "of scan reports")
    rows = data.reset_index(drop=True)
    found: dict[tuple[int, int], tuple[str, int]] = {}
    for column in ("sha256", "pixel_sha256"):
        keyed = rows[rows[column].map(lambda value: isinstance(value, str))]
        for _, group in keyed.groupby(column):
            positions = list(group.index)
            for a in positions:
                for b in positions:
                    if a < b and rows.at[a, split_column] != rows.at[b, split_column]:
                        found[(a, b)] = ("exact", 0)
    blank = rows["issues"].map(lambda codes: "blank" in codes) if "issues" in rows else False
    hashed = rows[rows["dhash"].map(lambda value: isinstance(value, str)) & ~blank]
    positions = list(hashed.index)
    for i, j, distance in _close_pairs(list(hashed["dhash"]), near_threshold):
        a, b = positions[i], positions[j]
        if rows.at[a, split_column] != rows.at[b, split_column]:
            found.setdefault((a, b), ("near", distance))
    table = pd.DataFrame(
        [{"path_a": rows.at[a, "path"], "split_a": rows.at[a, split_column],
          "path_b": rows.at[b, "path"], "split_b": rows.at[b, split_column],
          "kind": kind, "distance": distance} for (a, b), (kind, distance) in sorted(found.items())],
        columns=["path_a", "split_a", "path_b", "split_b", "kind", "distance"])
    return table


# ----------------------------------------------------------------------------- the lesson's messy folder


def _encode(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(
        ">I", zlib.crc32(kind + payload))


def _png_16bit_rgb(image: Image.Image) -> bytes:
    """Encode an RGB image as a 16-bit-per-channel PNG (Pillow cannot write those)."""
    array = np.asarray(image.convert("RGB")).astype(">u2") * 257  # 0..255 -> 0..65535
    rows = b"".join(b"\x00" + row.tobytes() for row in array)
    header = struct.pack(">IIBBBBB", image.width, image.height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows, 6)) + _png_chunk(b"IEND", b""))


def _png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit palette PNG of width x height black pixels: ~50 KB on disk, 400 MP decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff") + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def _png_corrupt(image: Image.Image) -> bytes:
    """A PNG whose header is fine but whose pixel data is zeroed (valid checksums): undecodable."""
    data = bytearray(_encode(image, "PNG"))
    start = data.find(b"IDAT")
    length = struct.unpack(">I", data[start - 4:start])[0]
    data[start + 4:start + 4 + length] = bytes(length)
    data[start + 4 + length:start + 8 + length] = struct.pack(
        ">I", zlib.crc32(bytes(data[start:start + 4 + length])))
    return bytes(data)


_HTML_403 = (b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head>\n<body><h1>Forbidden"
             b"</h1><p>You don't have permission to access this resource.</p></body></html>\n")
_SVG = ('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        'width="120" height="100" viewBox="0 0 120 100">\n<circle cx="60" cy="55" r="35" '
        'fill="#f4a460"/>\n<polygon points="30,35 38,5 52,25" fill="#f4a460"/>\n'
        '<polygon points="90,35 82,5 68,25" fill="#f4a460"/>\n</svg>\n').encode()
_DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(2048 - 8)
_APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4096 - 24)


def _frames(image: Image.Image) -> list[Image.Image]:
    width, height = image.size
    crops = [(0, 0, width, height), (width // 20, height // 20, width - width // 20, height - height // 20),
             (width // 10, height // 10, width - width // 10, height - height // 10)]
    return [image.crop(box).resize(image.size).convert("P", palette=Image.Palette.ADAPTIVE)
            for box in crops]


def _animated_gif(image: Image.Image) -> bytes:
    frames = _frames(image)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return buffer.getvalue()


def _with_alpha(image: Image.Image, channels: str = "RGB") -> Image.Image:
    """Add a round vignette alpha mask (transparent corners) to an image."""
    yy, xx = np.mgrid[0:image.height, 0:image.width]
    radius = np.hypot((xx - image.width / 2) / image.width, (yy - image.height / 2) / image.height)
    alpha = Image.fromarray(np.where(radius < 0.45, 255, 0).astype(np.uint8))
    result = image.convert(channels)
    result.putalpha(alpha)
    return result


def _blank(size: tuple[int, int], colour, noise: float, rng: np.random.Generator) -> Image.Image:
    base = np.full((size[1], size[0], 3), colour, dtype=np.float64)
    base += rng.normal(0, noise, base.shape) if noise else 0
    return Image.fromarray(base.round().clip(0, 255).astype(np.uint8))


# (name, where, expected codes, build(source image, source bytes, stem, rng) -> (file name, bytes))
# "where" 0 / 1 is the first / second class folder. A defect never shares its source image with
# another file, except the copies (duplicate, near duplicate, label conflict), on purpose.
_DEFECTS = [
    ("empty download", 0, ("empty_file",), lambda im, raw, stem, rng: (f"{stem}.jpg", b"")),
    ("HTML error page saved as .jpg", 0, ("not_image",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _HTML_403)),
    ("truncated JPEG (interrupted download)", 0, ("truncated",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", raw[:int(len(raw) * rng.uniform(0.3, 0.8))])),
    ("PNG with corrupt pixel data", 1, ("unreadable",),
     lambda im, raw, stem, rng: (f"{stem}.png", _png_corrupt(im))),
    ("PNG saved with a .jpg name", 0, ("extension_mismatch",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(im, "PNG"))),
    ("JPEG saved with a .png name", 1, ("extension_mismatch",),
     lambda im, raw, stem, rng: (f"{stem}.png", raw)),
    ("JPEG without an extension", 1, ("extension_mismatch",),
     lambda im, raw, stem, rng: (stem.replace(".", "_"), raw)),
    ("WebP image", 0, ("unsupported_format",),
     lambda im, raw, stem, rng: (f"{stem}.webp", _encode(im, "WEBP", quality=85))),
    ("TIFF image", 1, ("unsupported_format",),
     lambda im, raw, stem, rng: (f"{stem}.tif", _encode(im, "TIFF"))),
    ("SVG drawing", 0, ("unsupported_format",),
     lambda im, raw, stem, rng: (f"{stem}.svg", _SVG)),
    ("1-bit BMP", 1, ("unsupported_format", "grayscale"),
     lambda im, raw, stem, rng: (f"{stem}.bmp", _encode(im.convert("1"), "BMP"))),
    ("animated GIF", 0, ("animated", "palette"),
     lambda im, raw, stem, rng: (f"{stem}.gif", _animated_gif(im))),
    ("CMYK JPEG", 1, ("cmyk",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(im.convert("CMYK"), "JPEG", quality=90))),
    ("palette PNG", 0, ("palette",),
     lambda im, raw, stem, rng: (f"{stem}.png", _encode(
         im.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))),
    ("RGBA PNG with transparent corners", 1, ("has_alpha",),
     lambda im, raw, stem, rng: (f"{stem}.png", _encode(_with_alpha(im), "PNG"))),
    ("grayscale PNG with transparency", 0, ("has_alpha", "grayscale"),
     lambda im, raw, stem, rng: (f"{stem}.png", _encode(_with_alpha(im, "L"), "PNG"))),
    ("grayscale JPEG", 1, ("grayscale",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(im.convert("L"), "JPEG", quality=90))),
    ("16-bit RGB PNG", 0, ("high_bit_depth",),
     lambda im, raw, stem, rng: (f"{stem}.png", _png_16bit_rgb(im))),
    ("thumbnail 24 pixels wide", 1, ("too_small",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(
         im.resize((24, max(1, round(24 * im.height / im.width)))), "JPEG", quality=90))),
    ("all-black JPEG", 0, ("blank",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(_blank(im.size, 0, 0, rng), "JPEG"))),
    ("all-white PNG", 1, ("blank",),
     lambda im, raw, stem, rng: (f"{stem}.png", _encode(_blank(im.size, 255, 0, rng), "PNG"))),
    ("grey JPEG with faint noise", 1, ("blank",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", _encode(_blank(im.size, 128, 1.5, rng), "JPEG"))),
    ("decompression bomb (20000 x 20000 PNG, 50 KB)", 1, ("palette", "huge"),
     lambda im, raw, stem, rng: (f"{stem}.png", _png_bomb())),
    ("macOS .DS_Store", 0, ("not_image", "hidden_file"),
     lambda im, raw, stem, rng: (".DS_Store", _DS_STORE)),
    ("macOS AppleDouble '._' file", 1, ("not_image", "hidden_file"),
     lambda im, raw, stem, rng: (f"._{stem}.jpg", _APPLE_DOUBLE)),
    ("hidden copy of a photo", 1, ("hidden_file",),
     lambda im, raw, stem, rng: (f".{stem}.jpg", raw)),
    ("a BMP photo (unusual but fine)", 0, (),
     lambda im, raw, stem, rng: (f"{stem}.bmp", _encode(im, "BMP"))),
    ("a name with spaces and accents (fine)", 1, (),
     lambda im, raw, stem, rng: (f"photo n°{stem.split('.')[-1]} – été.jpg", raw)),
]
# (name, where the copy goes, expected for the copy, expected for the original, build)
_COPIES = [
    ("exact copy", 0, ("duplicate",), (),
     lambda im, raw, stem, rng: (f"{stem} (1).jpg", raw)),
    ("same pixels saved as PNG", 1, ("duplicate",), (),
     lambda im, raw, stem, rng: (f"{stem}.png", _encode(im, "PNG"))),
    ("resized to 90% and re-compressed", 0, ("near_duplicate",), (),
     lambda im, raw, stem, rng: (f"{stem}_small.jpg", _encode(
         im.resize((round(im.width * 0.9), round(im.height * 0.9))), "JPEG", quality=80))),
    ("brightened by 10%", 1, ("near_duplicate",), (),
     lambda im, raw, stem, rng: (f"{stem} copy.jpg", _encode(Image.fromarray(
         (np.asarray(im, dtype=np.float64) * 1.1).clip(0, 255).astype(np.uint8)), "JPEG",
         quality=90))),
    ("copy filed under the other class", "other", ("label_conflict",), ("label_conflict",),
     lambda im, raw, stem, rng: (f"{stem}.jpg", raw)),
]
_ROOT_FILES = [("macOS .DS_Store", ".DS_Store", _DS_STORE, ("not_image", "hidden_file")),
               ("a README", "README.txt", b"Photos scraped for the cats vs dogs project.\n",
                ("not_image",))]


def make_messy_copy(src: str | os.PathLike, dest: str | os.PathLike, seed: int = 0) -> "pd.DataFrame":
    """Copy the real images of ``src`` into ``dest`` and inject one file of every defect kind.

    ``src`` is a folder with class sub-folders (e.g. ``datasets.load() / "train"``); only its
    images that ``scan`` finds clean are used. Most are copied byte for byte; a few are turned
    into broken, fixable or suspicious files (truncated, PNG named ``.jpg``, CMYK, 16-bit,
    animated GIF, blank, exact and near copies, a copy under the wrong class, ``.DS_Store``,
    a 20000 x 20000 PNG bomb, ...). ``dest`` must not exist or be empty; ``src`` is only read.

    Returns the ground truth, one row per file written: ``path`` (relative to ``dest``),
    ``label``, ``expected`` (the tuple of issue codes ``scan`` should report, in ``ISSUES``
    order), ``defect`` (what was done) and ``source`` (the original file, relative to ``src``).

    Example:
        >>> truth = make_messy_copy(datasets.load() / "train", "messy")   # doctest: +SKIP
        >>> truth[truth.expected.map(len) > 0].head()                     # doctest: +SKIP
    """
    import pandas as pd

    src, dest = Path(src).expanduser().resolve(), Path(dest).expanduser().resolve()
    if not src.is_dir():
        raise ValueError(f"src {str(src)!r} is not a folder")
    if dest == src or src in dest.parents or dest in src.parents:
        raise ValueError("dest must be a folder outside src (and not contain it)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"dest {str(dest)!r} must not exist or be an empty folder; "
                         "delete it or choose another one")
    report = scan(src, progress=False)
    usable = report[report["ok"] & report["format"].isin(["JPEG"])
                    & (report[["width", "height"]].min(axis=1) >= 100)
                    & report["label"].map(lambda value: isinstance(value, str))
                    & ~report["label"].map(lambda value: str(value).startswith("."))]
    labels = sorted(usable["label"].unique())
    if len(labels) < 2:
        raise ValueError(f"src needs at least 2 class folders with clean JPEGs, found {labels}")
    labels = labels[:2]
    rng = np.random.default_rng(seed)
    pools = {label: list(rng.permutation(usable.loc[usable["label"] == label, "path"].to_numpy()))
             for label in labels}
    needed = {label: sum(1 for d in _DEFECTS if labels[d[1]] == label)
              + sum(1 for c in _COPIES if c[1] != "other" and labels[c[1]] == label) + 1
              for label in labels}
    for label in labels:
        if len(pools[label]) < needed[label] + 2:
            raise ValueError(f"src/{label} has {len(pools[label])} clean JPEGs of at least 100 "
                             f"pixels; make_messy_copy needs at least {needed[label] + 2}")
    truth = []

    def write(relative: str, data: bytes, label, expected, defect, source) -> None:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        truth.append({"path": relative, "label": label, "expected": tuple(expected),
                      "defect": defect, "source": source})

    def take(label: str) -> tuple[Image.Image, bytes, str, str]:
        source = pools[label].pop()
        raw = (src / source).read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            return image.convert("RGB"), raw, PurePosixPath(source).stem, source

    for name, where, expected, build in _DEFECTS:
        label = labels[where]
        image, raw, stem, source = take(label)
        file_name, data = build(image, raw, stem, rng)
        write(f"{label}/{file_name}", data, label, expected, name, source)
    for name, where, expected_copy, expected_original, build in _COPIES:
        label = labels[0] if where == "other" else labels[where]
        copy_label = labels[1] if where == "other" else label
        image, raw, stem, source = take(label)
        write(f"{label}/{PurePosixPath(source).name}", raw, label, expected_original,
              f"original of: {name}", source)
        file_name, data = build(image, raw, stem, rng)
        write(f"{copy_label}/{file_name}", data, copy_label, expected_copy, name, source)
    for name, file_name, data, expected in _ROOT_FILES:
        write(file_name, data, None, expected, name, None)
    for label in labels:
        for source in sorted(pools[label]):
            write(f"{label}/{PurePosixPath(source).name}", (src / source).read_bytes(), label, (),
                  "clean copy", source)
    order = {code: k for k, code in enumerate(ISSUES)}
    table = pd.DataFrame(truth, columns=["path", "label", "expected", "defect", "source"])
    table["expected"] = table["expected"].map(lambda codes: tuple(sorted(codes, key=order.__getitem__)))
    return table.sort_values("path", ignore_index=True)
