"""Lesson 1's messy folder: real photos, plus one file of every defect a scraped folder holds.

``make_messy_copy(src, dest)`` copies the clean JPEGs of ``src`` and turns a few of them into
broken, fixable or suspicious files, so every answer of ``scan`` can be checked against the
ground truth it returns.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from PIL import Image

from coursekit.scan import ISSUES, scan

__all__ = ["make_messy_copy"]


def _encode(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _png(header: bytes, *chunks: tuple[bytes, bytes]) -> bytes:
    """A PNG file from its IHDR fields and further (type, payload) chunks, with checksums."""
    parts = [(b"IHDR", header), *chunks, (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in parts)


def _png_16bit_rgb(image: Image.Image) -> bytes:
    """Encode an RGB image as a 16-bit-per-channel PNG (Pillow cannot write those)."""
    array = np.asarray(image.convert("RGB")).astype(">u2") * 257  # 0..255 -> 0..65535
    rows = b"".join(b"\x00" + row.tobytes() for row in array)
    return _png(struct.pack(">IIBBBBB", image.width, image.height, 16, 2, 0, 0, 0),
                (b"IDAT", zlib.compress(rows, 6)))


def _png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit palette PNG of width x height black pixels: ~50 KB on disk, 400 MP decoded."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return _png(struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0),
                (b"PLTE", b"\x00\x00\x00\xff\xff\xff"), (b"IDAT", data))


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


def _animated_gif(image: Image.Image) -> bytes:
    """Three frames, each a slightly tighter crop of the photo."""
    width, height = image.size
    frames = [image.crop((width * k // 20, height * k // 20, width - width * k // 20,
                          height - height * k // 20)).resize(image.size)
              .convert("P", palette=Image.Palette.ADAPTIVE) for k in (0, 1, 2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return buffer.getvalue()


def _with_alpha(image: Image.Image, channels: str = "RGB") -> Image.Image:
    """Add a round vignette alpha mask (transparent corners) to an image."""
    yy, xx = np.mgrid[0:image.height, 0:image.width]
    radius = np.hypot((xx - image.width / 2) / image.width, (yy - image.height / 2) / image.height)
    result = image.convert(channels)
    result.putalpha(Image.fromarray(np.where(radius < 0.45, 255, 0).astype(np.uint8)))
    return result


def _blank(size: tuple[int, int], colour, noise: float, rng: np.random.Generator) -> Image.Image:
    base = np.full((size[1], size[0], 3), colour, dtype=np.float64)
    base += rng.normal(0, noise, base.shape) if noise else 0
    return Image.fromarray(base.round().clip(0, 255).astype(np.uint8))


def _brighter(image: Image.Image) -> Image.Image:
    return Image.fromarray((np.asarray(image, dtype=np.float64) * 1.1).clip(0, 255).astype(np.uint8))


def _thumbnail(image: Image.Image) -> Image.Image:
    return image.resize((24, max(1, round(24 * image.height / image.width))))


# (what, class folder 0 or 1, expected codes, file name, build(photo, its bytes, rng) -> bytes).
# The name may use {stem} (cat.12), {flat} (cat_12) and {number} (12). A defect never shares
# its photo with another file, except the copies below (on purpose).
_DEFECTS = [
    ("empty download", 0, ("empty_file",), "{stem}.jpg", lambda im, raw, rng: b""),
    ("HTML error page saved as .jpg", 0, ("not_image",), "{stem}.jpg",
     lambda im, raw, rng: _HTML_403),
    ("truncated JPEG (interrupted download)", 0, ("truncated",), "{stem}.jpg",
     lambda im, raw, rng: raw[:int(len(raw) * rng.uniform(0.3, 0.8))]),
    ("PNG with corrupt pixel data", 1, ("unreadable",), "{stem}.png",
     lambda im, raw, rng: _png_corrupt(im)),
    ("PNG saved with a .jpg name", 0, ("extension_mismatch",), "{stem}.jpg",
     lambda im, raw, rng: _encode(im, "PNG")),
    ("JPEG saved with a .png name", 1, ("extension_mismatch",), "{stem}.png", lambda im, raw, rng: raw),
    ("JPEG without an extension", 1, ("extension_mismatch",), "{flat}", lambda im, raw, rng: raw),
    ("WebP image", 0, ("unsupported_format",), "{stem}.webp",
     lambda im, raw, rng: _encode(im, "WEBP", quality=85)),
    ("TIFF image", 1, ("unsupported_format",), "{stem}.tif", lambda im, raw, rng: _encode(im, "TIFF")),
    ("SVG drawing", 0, ("unsupported_format",), "{stem}.svg", lambda im, raw, rng: _SVG),
    ("1-bit BMP", 1, ("unsupported_format", "grayscale"), "{stem}.bmp",
     lambda im, raw, rng: _encode(im.convert("1"), "BMP")),
    ("animated GIF", 0, ("animated", "palette"), "{stem}.gif", lambda im, raw, rng: _animated_gif(im)),
    ("CMYK JPEG", 1, ("cmyk",), "{stem}.jpg",
     lambda im, raw, rng: _encode(im.convert("CMYK"), "JPEG", quality=90)),
    ("palette PNG", 0, ("palette",), "{stem}.png",
     lambda im, raw, rng: _encode(im.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
    ("RGBA PNG with transparent corners", 1, ("has_alpha",), "{stem}.png",
     lambda im, raw, rng: _encode(_with_alpha(im), "PNG")),
    ("grayscale PNG with transparency", 0, ("has_alpha", "grayscale"), "{stem}.png",
     lambda im, raw, rng: _encode(_with_alpha(im, "L"), "PNG")),
    ("grayscale JPEG", 1, ("grayscale",), "{stem}.jpg",
     lambda im, raw, rng: _encode(im.convert("L"), "JPEG", quality=90)),
    ("16-bit RGB PNG", 0, ("high_bit_depth",), "{stem}.png", lambda im, raw, rng: _png_16bit_rgb(im)),
    ("thumbnail 24 pixels wide", 1, ("too_small",), "{stem}.jpg",
     lambda im, raw, rng: _encode(_thumbnail(im), "JPEG", quality=90)),
    ("all-black JPEG", 0, ("blank",), "{stem}.jpg",
     lambda im, raw, rng: _encode(_blank(im.size, 0, 0, rng), "JPEG")),
    ("all-white PNG", 1, ("blank",), "{stem}.png",
     lambda im, raw, rng: _encode(_blank(im.size, 255, 0, rng), "PNG")),
    ("grey JPEG with faint noise", 1, ("blank",), "{stem}.jpg",
     lambda im, raw, rng: _encode(_blank(im.size, 128, 1.5, rng), "JPEG")),
    ("decompression bomb (20000 x 20000 PNG, 50 KB)", 1, ("palette", "huge"), "{stem}.png",
     lambda im, raw, rng: _png_bomb()),
    ("macOS .DS_Store", 0, ("not_image", "hidden_file"), ".DS_Store", lambda im, raw, rng: _DS_STORE),
    ("macOS AppleDouble '._' file", 1, ("not_image", "hidden_file"), "._{stem}.jpg",
     lambda im, raw, rng: _APPLE_DOUBLE),
    ("hidden copy of a photo", 1, ("hidden_file",), ".{stem}.jpg", lambda im, raw, rng: raw),
    ("a BMP photo (unusual but fine)", 0, (), "{stem}.bmp", lambda im, raw, rng: _encode(im, "BMP")),
    ("a name with spaces and accents (fine)", 1, (), "photo n°{number} – été.jpg",
     lambda im, raw, rng: raw),
]
# (what, class of the copy: 0, 1 or "other", expected for the copy, for the original, name, build)
_COPIES = [
    ("exact copy", 0, ("duplicate",), (), "{stem} (1).jpg", lambda im, raw, rng: raw),
    ("same pixels saved as PNG", 1, ("duplicate",), (), "{stem}.png",
     lambda im, raw, rng: _encode(im, "PNG")),
    ("resized to 90% and re-compressed", 0, ("near_duplicate",), (), "{stem}_small.jpg",
     lambda im, raw, rng: _encode(im.resize((round(im.width * 0.9), round(im.height * 0.9))),
                                  "JPEG", quality=80)),
    ("brightened by 10%", 1, ("near_duplicate",), (), "{stem} copy.jpg",
     lambda im, raw, rng: _encode(_brighter(im), "JPEG", quality=90)),
    ("copy filed under the other class", "other", ("label_conflict",), ("label_conflict",),
     "{stem}.jpg", lambda im, raw, rng: raw),
]
_ROOT_FILES = [("macOS .DS_Store", ".DS_Store", _DS_STORE, ("not_image", "hidden_file")),
               ("a README", "README.txt", b"Photos scraped for the cats vs dogs project.\n",
                ("not_image",))]


def _pools(src: Path, rng: np.random.Generator) -> tuple[list[str], dict[str, list[str]]]:
    """The two first classes of ``src`` and, for each, its clean JPEG photos in random order."""
    report = scan(src, progress=False)
    usable = report[report["ok"] & report["format"].isin(["JPEG"])
                    & (report[["width", "height"]].min(axis=1) >= 100)
                    & report["label"].map(lambda value: isinstance(value, str))]
    labels = sorted(usable["label"].unique())[:2]
    if len(labels) < 2:
        raise ValueError(f"src needs at least 2 class folders with clean JPEGs, found {labels}")
    pools = {label: list(rng.permutation(usable.loc[usable["label"] == label, "path"].to_numpy()))
             for label in labels}
    for k, label in enumerate(labels):
        needed = 3 + sum(where == k for _, where, *_ in _DEFECTS + _COPIES)
        if len(pools[label]) < needed:
            raise ValueError(f"src/{label} has {len(pools[label])} clean JPEGs of at least 100 "
                             f"pixels; make_messy_copy needs at least {needed}")
    return labels, pools


def make_messy_copy(src: str | os.PathLike, dest: str | os.PathLike, seed: int = 0) -> pd.DataFrame:
    """Copy the real images of ``src`` into ``dest`` and inject one file of every defect kind.

    ``src`` is a folder with class sub-folders (e.g. ``datasets.load() / "train"``); only its
    images that ``scan`` finds clean are used. Most are copied byte for byte; a few are turned
    into broken, fixable or suspicious files (truncated, PNG named ``.jpg``, CMYK, 16-bit,
    animated GIF, blank, exact and near copies, a copy under the wrong class, ``.DS_Store``,
    a 20000 x 20000 PNG bomb, ...). ``dest`` must not exist or be empty; ``src`` is only read.

    Returns the ground truth, one row per file written: ``path`` (relative to ``dest``),
    ``label``, ``expected`` (the tuple of issue codes ``scan`` should report, in ``ISSUES``
    order), ``defect`` (what was done) and ``source`` (the original file, relative to ``src``).
    Lesson 1 starts from ``make_messy_copy(datasets.load() / "train", folder)``.
    """
    src, dest = Path(src).expanduser().resolve(), Path(dest).expanduser().resolve()
    if not src.is_dir():
        raise ValueError(f"src {str(src)!r} is not a folder")
    if dest == src or src in dest.parents or dest in src.parents:
        raise ValueError("dest must be a folder outside src (and not contain it)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"dest {str(dest)!r} must not exist or be an empty folder; "
                         "delete it or choose another one")
    rng = np.random.default_rng(seed)
    labels, pools = _pools(src, rng)
    truth = []

    def write(label, name: str, data: bytes, expected, defect: str, source) -> None:
        relative = f"{label}/{name}" if label else name
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        (dest / relative).write_bytes(data)
        truth.append((relative, label, expected, defect, source))

    def take(label: str) -> tuple[Image.Image, bytes, str, dict]:
        source = pools[label].pop()
        raw = (src / source).read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            photo = image.convert("RGB")
        stem = PurePosixPath(source).stem
        return photo, raw, source, {"stem": stem, "flat": stem.replace(".", "_"),
                                    "number": stem.split(".")[-1]}

    for defect, where, expected, name, build in _DEFECTS:
        photo, raw, source, names = take(labels[where])
        write(labels[where], name.format(**names), build(photo, raw, rng), expected, defect, source)
    for defect, where, expected_copy, expected_original, name, build in _COPIES:
        photo, raw, source, names = take(labels[0] if where == "other" else labels[where])
        write(labels[0] if where == "other" else labels[where], PurePosixPath(source).name, raw,
              expected_original, f"original of: {defect}", source)
        write(labels[1] if where == "other" else labels[where], name.format(**names),
              build(photo, raw, rng), expected_copy, defect, source)
    for defect, name, data, expected in _ROOT_FILES:
        write(None, name, data, expected, defect, None)
    for label in labels:
        for source in sorted(pools[label]):
            write(label, PurePosixPath(source).name, (src / source).read_bytes(), (), "clean copy",
                  source)
    order = {code: k for k, code in enumerate(ISSUES)}
    table = pd.DataFrame(truth, columns=["path", "label", "expected", "defect", "source"])
    table["expected"] = table["expected"].map(lambda codes: tuple(sorted(codes, key=order.__getitem__)))
    return table.sort_values("path", ignore_index=True)
