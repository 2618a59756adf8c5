"""Scan an image folder (read only, links never followed): one row per file, with its real
format and its issue codes (``ISSUES``): ``BROKEN`` ones crash, skip or exhaust the pipeline,
``FIXABLE`` ones ``quarantine.repair`` converts, the rest are suspicious.

Measured with TensorFlow 2.21 / Keras 3.15: ``image_dataset_from_directory`` silently skips
names other than ``.bmp .gif .jpeg .jpg .png``; ``tf.io.decode_image`` sniffs the real format
and decodes JPEG, PNG, GIF (first frame) and plain BMP, fails on 1-bit BMP, TIFF, WebP, SVG,
HEIC... and reads palette BMPs as their palette *indices*.
"""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image, ImageStat, UnidentifiedImageError
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from coursekit.downloads import sha256_file

#: Every issue code and what it means (``scan``'s ``note`` column adds the details per file).
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
BROKEN = frozenset({"empty_file", "not_image", "unreadable", "truncated", "unsupported_format", "huge"})
FIXABLE = frozenset({"extension_mismatch", "animated", "cmyk", "palette", "has_alpha",
                     "grayscale", "high_bit_depth"})
#: Formats (Pillow's names) that image_dataset_from_directory + tf.io.decode_image decode right.
PIPELINE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "GIF", "BMP"})
#: The extensions image_dataset_from_directory keeps (keras ALLOWLIST_FORMATS).
PIPELINE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
#: The first bytes of those formats: JPEG, PNG, GIF and BMP.
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")

_EXTENSIONS_OF = {"JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"}, "MPO": {".jpg", ".jpeg", ".mpo"},
                  "SVG": {".svg", ".svgz"}, "HEIF": {".heic", ".heif"}, "JPEG XL": {".jxl"}}
GRAY_MODES = {"1", "L", "LA", "La", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
HIGH_DEPTH_MODES = {"I": 32, "F": 32, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16}
_ANALYSIS_SIDE = 64  # blank and dHash checks look at the image shrunk to about this short side
_COLUMNS = ["path", "label", "format", "extension", "width", "height", "mode", "frames",
            "bit_depth", "bytes", "sha256", "pixel_sha256", "dhash", "brightness_std",
            "issues", "ok", "duplicate_of", "conflicts_with", "group", "note"]


def dhash(image: Image.Image, hash_size: int = 16) -> np.ndarray:
    """Return the difference hash of an image: ``hash_size**2`` booleans, for each pixel of the
    image shrunk to ``(hash_size + 1) x hash_size`` gray pixels, "brighter than its left neighbour".

    >>> ramp = Image.linear_gradient("L").resize((64, 48))     # dark top, bright bottom
    >>> dhash(Image.new("RGB", (64, 48), "white")).any(), dhash(ramp).shape
    (np.False_, (256,))
    >>> int((dhash(ramp) != dhash(ramp.resize((50, 40)))).sum())   # a resized copy
    0
    """
    if hash_size < 2:
        raise ValueError(f"hash_size must be at least 2, got {hash_size}")
    small = image.convert("L").resize((hash_size + 1, hash_size), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.int16)
    return (pixels[:, 1:] > pixels[:, :-1]).ravel()


def _flag(row: dict, code: str, note: str = "") -> dict:
    row["codes"].append(code)
    row["note"] = note or row["note"]
    return row


def _unidentified(head: bytes, row: dict) -> dict:
    """The row of a file Pillow does not recognise: a format it cannot read, or no image."""
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in head.lower()):
        sniffed = "SVG"
    elif head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}:
        sniffed = "HEIF"
    elif head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        sniffed = "JPEG XL"  # Pillow cannot decode it, idfd skips .jxl
    else:
        sniffed = None
    if sniffed:
        row["format"] = sniffed
        if not _extension_ok(sniffed, row["extension"]):
            row["codes"].append("extension_mismatch")
        return _flag(row, "unsupported_format", "image_dataset_from_directory skips .jxl files, and "
                     "Pillow cannot check them" if sniffed == "JPEG XL" else
                     f"tf.io.decode_image cannot decode {sniffed}")
    if head.startswith(IMAGE_SIGNATURES + (b"II*\x00", b"MM\x00*")) \
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _flag(row, "unreadable", "the header of an image format, but Pillow cannot open it")
    return _flag(row, "not_image")


def _extension_ok(fmt: str, extension: str) -> bool:
    allowed = _EXTENSIONS_OF.get(fmt) or {
        ext for ext, name in Image.registered_extensions().items() if name == fmt}
    return extension in allowed


def _pipeline_problem(image: Image.Image) -> str | None:
    """Why the TF pipeline cannot use this decodable image, or None if it can."""
    if image.format == "WEBP":
        return "image_dataset_from_directory skips .webp files"
    if image.format not in PIPELINE_FORMATS:
        return f"tf.io.decode_image cannot decode {image.format}"
    if image.format == "BMP" and image.mode in {"1", "P"}:
        return "tf.io.decode_image fails on 1-bit BMPs and reads palette BMPs as indices"
    if image.format == "BMP" and image.info.get("compression", 0) not in (0, 3):
        return "tf.io.decode_image only reads uncompressed BMPs"
    return None


def _decode_error(row: dict, error: BaseException) -> dict:
    code = "truncated" if "truncated" in str(error).lower() else "unreadable"
    return _flag(row, code, f"{type(error).__name__}: {error}")


def _inspect(absolute: str, relative: str, options: dict) -> dict:
    """Read one file and return its row (without the codes that compare files)."""
    parts = PurePosixPath(relative).parts
    row = dict.fromkeys(_COLUMNS)
    row.update(path=relative, label=parts[0] if len(parts) > 1 else None, codes=[], note="",
               extension=PurePosixPath(relative).suffix.lower())
    if any(part.startswith(".") for part in parts):
        row["codes"].append("hidden_file")
    try:
        info = os.lstat(absolute)
        row["bytes"] = info.st_size
        if stat.S_ISLNK(info.st_mode):
            return _flag(row, "symlink", f"link to {os.readlink(absolute)!r}, not followed")
        if not stat.S_ISREG(info.st_mode):
            return _flag(row, "not_image", "not a regular file (pipe, socket or device), not opened")
        row["sha256"] = sha256_file(absolute)  # the decoder then re-reads from the page cache
        if info.st_size == 0:
            return _flag(row, "empty_file")
        with open(absolute, "rb") as handle:
            head = handle.read(4096)
            handle.seek(0)
            try:
                image = Image.open(handle)  # with Pillow's limit as it is: no thread ever lifts it
            except UnidentifiedImageError:
                return _unidentified(head, row)
            except Image.DecompressionBombError as error:  # over twice the limit: never opened
                return _flag(row, "huge", str(error))
            except Exception as error:  # noqa: BLE001 - any plugin error: an unreadable header
                return _decode_error(row, error)
            with image:
                return _inspect_image(image, head, row, options)
    except OSError as error:  # removed while the scan ran, permission denied
        return _flag(row, "unreadable", f"cannot read: {error.strerror or error}")


def _inspect_image(image: Image.Image, head: bytes, row: dict, options: dict) -> dict:
    """Fill in the image's own codes; decode it, shrunk, for the blank check and the dHash."""
    codes = row["codes"]
    row.update(format=image.format, width=image.width, height=image.height, mode=image.mode)
    if image.format == "PNG" and head[12:16] == b"IHDR":
        row["bit_depth"] = head[24]  # Pillow reads 16-bit RGB PNGs as 8-bit "RGB"
    else:
        row["bit_depth"] = 1 if image.mode == "1" else HIGH_DEPTH_MODES.get(image.mode, 8)
    checks = {"cmyk": image.mode == "CMYK", "palette": image.mode in {"P", "PA"},
              "has_alpha": image.mode in ALPHA_MODES or "transparency" in image.info,
              "grayscale": image.mode in GRAY_MODES, "high_bit_depth": row["bit_depth"] > 8,
              "extension_mismatch": not _extension_ok(image.format, row["extension"]),
              "too_small": min(image.size) < options["min_side"]}
    codes += [code for code, found in checks.items() if found]
    if image.width * image.height > options["max_pixels"]:
        return _flag(row, "huge", f"{image.width}x{image.height} = {image.width * image.height:,} pixels")
    try:
        row["frames"] = getattr(image, "n_frames", 1)
        if row["frames"] > 1 and image.format != "MPO":  # MPO: a camera JPEG with extra
            codes.append("animated")                      # pictures; idfd reads the main one
        problem = _pipeline_problem(image)
        if problem:
            _flag(row, "unsupported_format", problem)
        scale = 1  # the largest of 1, 2, 4, 8 that keeps the shorter side >= _ANALYSIS_SIDE
        while scale < 8 and min(image.size) // (scale * 2) >= _ANALYSIS_SIDE:
            scale *= 2
        drafted = image.format in {"JPEG", "MPO"} and scale > 1
        if drafted:  # libjpeg decodes at 1/2, 1/4 or 1/8 scale directly: 2-4x faster
            image.draft("L" if image.mode in {"RGB", "L"} else image.mode,
                        (image.width // scale, image.height // scale))
        image.load()  # decodes all the data, even in draft mode: truncation is still detected
    except Exception as error:  # noqa: BLE001 - every decoder failure is recorded, not raised
        return _decode_error(row, error)
    gray = to_gray(image)
    if not drafted and scale > 1:
        gray = gray.reduce(scale)  # the same box average that JPEG draft mode gives
    row["brightness_std"] = float(ImageStat.Stat(gray).stddev[0])
    if row["brightness_std"] < options["blank_std"]:
        codes.append("blank")
    row["dhash"] = np.packbits(dhash(gray)).tobytes().hex()
    return row


def to_gray(image: Image.Image) -> Image.Image:
    """8-bit luminance of the current frame; 16/32-bit images are scaled (Pillow would clip)."""
    if image.mode in HIGH_DEPTH_MODES:
        array = np.asarray(image).astype(np.float64)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        return Image.fromarray(np.round(array / peak * 255).clip(0, 255).astype(np.uint8))
    return image if image.mode == "L" else image.convert("L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Return the first frame as 8-bit RGB: 16-bit scaled (not clipped), alpha over white.

    >>> clear = Image.new("RGBA", (2, 1), (0, 0, 0, 0))      # fully transparent black
    >>> to_rgb(clear).getpixel((0, 0)), to_rgb(Image.new("I;16", (1, 1), 65535)).mode
    ((255, 255, 255), 'RGB')
    """
    frame = image.tell()
    image.seek(0)
    first = image.copy()  # frame 0, decoded, as an image of its own
    image.seek(frame)  # the caller's image stays on the frame it was on
    if first.mode in HIGH_DEPTH_MODES:
        first = to_gray(first)
    if first.mode in ALPHA_MODES or "transparency" in first.info:
        rgba = first.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return first.convert("RGB")


def _pixel_sha256(path: str) -> str | None:
    """sha256 of the pixels the pipeline would see (``to_rgb``), or None if it does not decode."""
    try:
        with Image.open(path) as image:
            converted = to_rgb(image)
    except Exception:  # noqa: BLE001 - a file that changed or broke since the scan: no match
        return None
    return hashlib.sha256(f"{converted.size}".encode() + converted.tobytes()).hexdigest()


def close_pairs(hashes: list[str], threshold: int, block: int = 512) -> list[tuple[int, int, int]]:
    """Return (i, j, distance) for i < j whose hex hashes differ in at most ``threshold`` bits.

    >>> close_pairs(["ff00", "ff01", "00ff"], threshold=2)
    [(0, 1, 1)]
    """
    if len(hashes) < 2:
        return []
    bits = np.unpackbits(np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h in hashes]),
                         axis=1).astype(np.float32)
    pairs = []
    for start in range(0, len(bits), block):
        chunk = bits[start:start + block]
        distance = chunk @ (1 - bits).T + (1 - chunk) @ bits.T  # Hamming distance, blockwise
        rows, cols = np.nonzero(distance <= threshold)
        pairs += [(int(i), int(j), int(distance[i - start, j]))
                  for i, j in zip(rows + start, cols) if i < j]
    return pairs


def components(count: int, pairs) -> np.ndarray:
    """Return a group number for each of ``count`` items, joining the items of each pair.

    >>> components(5, [(0, 3), (3, 4)]).tolist()
    [0, 1, 2, 0, 0]
    """
    pairs = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1]


def _cross_file_codes(rows: list[dict], folder: Path, near_threshold: int) -> None:
    """Add duplicate / near_duplicate / label_conflict codes in place: same bytes (sha256), same
    pixels (equal-sized files with close dHashes, decoded again) or close dHashes."""
    images = [k for k, row in enumerate(rows) if row["format"] is not None]
    first_with: dict[str, int] = {}
    exact = [(k, first_with.setdefault(rows[k]["sha256"], k)) for k in images]
    near = []
    hashed = [k for k in images if rows[k]["dhash"] is not None]
    for i, j, _ in close_pairs([rows[k]["dhash"] for k in hashed], near_threshold):
        a, b = hashed[i], hashed[j]
        if (rows[a]["width"], rows[a]["height"]) == (rows[b]["width"], rows[b]["height"]) \
                and rows[a]["sha256"] != rows[b]["sha256"]:
            for k in (a, b):
                rows[k]["pixel_sha256"] = rows[k]["pixel_sha256"] or _pixel_sha256(
                    os.fspath(folder / rows[k]["path"]))
            if rows[a]["pixel_sha256"] and rows[a]["pixel_sha256"] == rows[b]["pixel_sha256"]:
                exact.append((a, b))
        # Blank images all look alike to a perceptual hash, and so do thumbnails of one kind of
        # object (28x28 Fashion-MNIST trousers chain into one "near copy" group): not copies.
        if not {"blank", "too_small"} & {*rows[a]["codes"], *rows[b]["codes"]}:
            near.append((a, b))
    same_pixels, same_image = components(len(rows), exact), components(len(rows), exact + near)
    for group in pd.Series(range(len(rows))).groupby(same_image).agg(list):
        labels = {rows[k]["label"] for k in group} - {None}
        named = min((rows[k]["path"] for k in group), key=lambda path: (len(path), path))
        for k in group:
            rows[k]["group"] = named
            if len(labels) > 1 and rows[k]["label"] is not None:
                rows[k]["codes"].append("label_conflict")
                rows[k]["conflicts_with"] = tuple(sorted(
                    rows[m]["path"] for m in group if rows[m]["label"] not in {None, rows[k]["label"]}))
        for label in {rows[k]["label"] for k in group}:
            members = sorted((k for k in group if rows[k]["label"] == label),
                             key=lambda k: (len(rows[k]["path"]), rows[k]["path"]))
            for k in members[1:]:  # the first (shortest path, then alphabetical) is kept clean
                rows[k]["codes"].append(
                    "duplicate" if same_pixels[k] == same_pixels[members[0]] else "near_duplicate")
                rows[k]["duplicate_of"] = rows[members[0]]["path"]


def _walk(root: Path) -> list[tuple[str, str]]:
    """(absolute, relative POSIX) of every entry but folders; a link to a folder is an entry."""
    found = []
    for folder, directories, files in os.walk(root):  # never descends into a link
        links = [name for name in directories if os.path.islink(os.path.join(folder, name))]
        found += [(os.path.join(folder, name), Path(folder, name).relative_to(root).as_posix())
                  for name in files + links]
    return sorted(found, key=lambda item: item[1])


def scan(folder: str | os.PathLike, *, workers: int | None = None, progress: bool = True,
         min_side: int = 32, blank_std: float = 5.0, near_threshold: int = 20) -> pd.DataFrame:
    """Return one row per file under ``folder`` with its real format and its issue codes.

    ``workers`` threads (default: one per core) hash and decode each file, shrunk, for its
    ``brightness_std`` (``blank`` below ``blank_std``) and 256-bit ``dhash`` (near copies: at most
    ``near_threshold`` bits apart, neither blank nor too small). ``group``: the shortest path
    among a file and its copies under any label; ``note``: the issues in words.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "cats").mkdir()
    >>> Image.linear_gradient("L").save(folder / "cats" / "photo.jpg", "PNG")
    >>> (folder / "cats" / "download.jpg").write_text("<html>403 Forbidden</html>")
    26
    >>> report = scan(folder, progress=False)
    >>> dict(zip(report.path, report.issues))
    {'cats/download.jpg': ('not_image',), 'cats/photo.jpg': ('extension_mismatch', 'grayscale')}
    >>> report.note[1]
    'a PNG file with a .jpg name; a single channel'
    """
    from tqdm.auto import tqdm

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"scan needs a folder, got {str(folder)!r} (does not exist or is a file)")
    for name, value, low in (("min_side", min_side, 1), ("near_threshold", near_threshold, 0),
                             ("workers", 1 if workers is None else workers, 1)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    root, tasks = root.resolve(), _walk(root.resolve())
    options = {"min_side": min_side, "blank_std": float(blank_std),  # Pillow warns (once) on
               "max_pixels": Image.MAX_IMAGE_PIXELS or 89_478_485}  # a file up to twice that size
    # One thread per core: measured on 2 cores, 1,230-1,350 images/s, against 820-870 with
    # ThreadPoolExecutor's default of cores + 4 (benchmarks/scan.py).
    with ThreadPoolExecutor(workers or os.cpu_count()) as pool:
        rows = list(tqdm(pool.map(lambda task: _inspect(*task, options), tasks), total=len(tasks),
                         desc=f"scan {root.name}", unit="file", disable=not progress))
    _cross_file_codes(rows, root, near_threshold)
    order = {code: k for k, code in enumerate(ISSUES)}
    for row in rows:
        row["issues"] = tuple(sorted(set(row.pop("codes")), key=order.__getitem__))
        row.update(ok=not row["issues"], note=_reason(row), conflicts_with=row["conflicts_with"] or ())
    numbers = dict.fromkeys(["width", "height", "frames", "bit_depth", "bytes"], "Int64")
    report = pd.DataFrame(rows, columns=_COLUMNS, dtype=object).astype(  # object: None stays None
        {**numbers, "brightness_std": "float64", "ok": "bool"})
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


def require_columns(table: pd.DataFrame, columns, what: str = "the table scan() returned") -> None:
    """Raise a ValueError naming the columns ``table`` lacks, and what to pass instead."""
    missing = [column for column in columns if column not in table]
    if missing:
        raise ValueError(f"the table has no {missing} column(s): pass {what}")


def true_format(path: str | os.PathLike) -> str | None:
    """Return the real format of a file by decoding it in full with Pillow, or None if it is no
    image: the replacement for ``imghdr.what`` (gone in Python 3.13), which read a few bytes.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "cat.jpg"
    >>> Image.new("RGB", (8, 8)).save(path, "PNG")             # a PNG named .jpg
    >>> true_format(path)
    'PNG'
    >>> path.write_bytes(path.read_bytes()[:40]) and true_format(path) is None  # truncated
    True
    """
    try:
        with Image.open(path) as image:
            image.load()
            return image.format
    except Exception:  # noqa: BLE001 - every failure means "not a usable image"
        return None
