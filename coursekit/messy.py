"""Lesson 1's messy folder: real photos, plus one file of every defect a scraped folder holds,
and the ground truth ``scan``'s answers are checked against (``make_messy_copy``).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import numpy as np
import pandas as pd
from PIL import Image

from coursekit.scan import ISSUES, scan


def _encode(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def _png(width: int, height: int, depth: int, colour: int, *chunks: tuple[bytes, bytes]) -> bytes:
    """A PNG file from its header fields and (type, payload) chunks, with checksums (Pillow
    writes neither 16-bit RGB nor a 1-bit image too large to hold in memory)."""
    parts = [(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)), *chunks,
             (b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in parts)


def _png_16bit_rgb(image: Image.Image) -> bytes:
    array = (np.asarray(image).astype(np.uint16) * 257).astype(">u2")  # 0..255 -> 0..65535
    rows = b"".join(b"\x00" + row.tobytes() for row in array)
    return _png(image.width, image.height, 16, 2, (b"IDAT", zlib.compress(rows)))


def _png_bomb(side: int = 20_000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels: ~50 KB on disk, 400 megapixels decoded."""
    compressor, row = zlib.compressobj(9), b"\x00" * (1 + (side + 7) // 8)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return _png(side, side, 1, 3, (b"PLTE", b"\x00\x00\x00\xff\xff\xff"), (b"IDAT", data))


def _png_corrupt(image: Image.Image) -> bytes:
    """The photo's PNG header with zeroed pixel data (and a valid checksum): undecodable."""
    rows = b"".join(b"\x00" + row.tobytes() for row in np.asarray(image))
    return _png(image.width, image.height, 8, 2, (b"IDAT", bytes(len(zlib.compress(rows)))))


def _animated_gif(image: Image.Image) -> bytes:
    """Three frames, each a slightly tighter crop of the photo."""
    w, h = image.size
    frames = [image.crop((w * k // 20, h * k // 20, w - w * k // 20, h - h * k // 20)).resize(image.size)
              .convert("P", palette=Image.Palette.ADAPTIVE) for k in (0, 1, 2)]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


def _with_alpha(image: Image.Image, channels: str = "RGB") -> Image.Image:
    """The photo with a round alpha mask (transparent corners)."""
    yy, xx = np.mgrid[0:image.height, 0:image.width]
    radius = np.hypot((xx - image.width / 2) / image.width, (yy - image.height / 2) / image.height)
    result = image.convert(channels)
    result.putalpha(Image.fromarray(np.where(radius < 0.45, 255, 0).astype(np.uint8)))
    return result


def _plain(p, colour: int, noise: float, photo: float = 0.0) -> Image.Image:
    """A flat ``colour`` with Gaussian ``noise``, plus ``photo`` times the photo's pixels."""
    photo_pixels = np.asarray(p.image, dtype=np.float64)
    pixels = colour + p.rng.normal(0, noise, photo_pixels.shape) + photo * photo_pixels
    return Image.fromarray(pixels.round().clip(0, 255).astype(np.uint8))


_HTML_403 = b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>\n"
_SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="120" '
        b'height="100">\n<circle cx="60" cy="55" r="35" fill="#f4a460"/>\n</svg>\n')
_DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(2040)
_APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(4072)

# (what, class folder 0 or 1, expected codes, file name, build(photo) -> bytes), each from a photo of
# its own (``image``, ``raw`` bytes, ``rng``); names may use {stem} (cat.12), {flat} (cat_12), {number}.
_DEFECTS = [
    ("empty download", 0, ("empty_file",), "{stem}.jpg", lambda p: b""),
    ("HTML error page saved as .jpg", 0, ("not_image",), "{stem}.jpg", lambda p: _HTML_403),
    ("truncated JPEG (interrupted download)", 0, ("truncated",), "{stem}.jpg",
     lambda p: p.raw[:int(len(p.raw) * p.rng.uniform(0.3, 0.8))]),
    ("PNG with corrupt pixel data", 1, ("unreadable",), "{stem}.png", lambda p: _png_corrupt(p.image)),
    ("PNG saved with a .jpg name", 0, ("extension_mismatch",), "{stem}.jpg",
     lambda p: _encode(p.image, "PNG")),
    ("JPEG saved with a .png name", 1, ("extension_mismatch",), "{stem}.png", lambda p: p.raw),
    ("JPEG without an extension", 1, ("extension_mismatch",), "{flat}", lambda p: p.raw),
    ("WebP image", 0, ("unsupported_format",), "{stem}.webp", lambda p: _encode(p.image, "WEBP")),
    ("TIFF image", 1, ("unsupported_format",), "{stem}.tif", lambda p: _encode(p.image, "TIFF")),
    ("SVG drawing", 0, ("unsupported_format",), "{stem}.svg", lambda p: _SVG),
    ("1-bit BMP", 1, ("unsupported_format", "grayscale"), "{stem}.bmp",
     lambda p: _encode(p.image.convert("1"), "BMP")),
    ("animated GIF", 0, ("animated", "palette"), "{stem}.gif", lambda p: _animated_gif(p.image)),
    ("CMYK JPEG", 1, ("cmyk",), "{stem}.jpg", lambda p: _encode(p.image.convert("CMYK"), "JPEG")),
    ("palette PNG", 0, ("palette",), "{stem}.png",
     lambda p: _encode(p.image.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")),
    ("RGBA PNG with transparent corners", 1, ("has_alpha",), "{stem}.png",
     lambda p: _encode(_with_alpha(p.image), "PNG")),
    ("grayscale PNG with transparency", 0, ("has_alpha", "grayscale"), "{stem}.png",
     lambda p: _encode(_with_alpha(p.image, "L"), "PNG")),
    ("grayscale JPEG", 1, ("grayscale",), "{stem}.jpg", lambda p: _encode(p.image.convert("L"), "JPEG")),
    ("16-bit RGB PNG", 0, ("high_bit_depth",), "{stem}.png", lambda p: _png_16bit_rgb(p.image)),
    ("thumbnail 24 pixels wide", 1, ("too_small",), "{stem}.jpg",
     lambda p: _encode(p.image.resize((24, max(1, 24 * p.image.height // p.image.width))), "JPEG")),
    ("all-black JPEG", 0, ("blank",), "{stem}.jpg", lambda p: _encode(_plain(p, 0, 0), "JPEG")),
    ("all-white PNG", 1, ("blank",), "{stem}.png", lambda p: _encode(_plain(p, 255, 0), "PNG")),
    ("grey JPEG with faint noise", 1, ("blank",), "{stem}.jpg",
     lambda p: _encode(_plain(p, 128, 1.5), "JPEG")),
    ("decompression bomb (20000 x 20000 PNG, 50 KB)", 1, ("huge",), "{stem}.png",
     lambda p: _png_bomb()),
    ("macOS .DS_Store", 0, ("not_image", "hidden_file"), ".DS_Store", lambda p: _DS_STORE),
    ("macOS AppleDouble '._' file", 1, ("not_image", "hidden_file"), "._{stem}.jpg", lambda p: _APPLE_DOUBLE),
    ("hidden copy of a photo", 1, ("hidden_file",), ".{stem}.jpg", lambda p: p.raw),
    ("a BMP photo (unusual but fine)", 0, (), "{stem}.bmp", lambda p: _encode(p.image, "BMP")),
    ("a name with spaces and accents (fine)", 1, (), "photo n°{number} – été.jpg", lambda p: p.raw),
]
# (what, class of the copy: 0, 1 or "other", expected for the copy, for the original, name, build)
_COPIES = [
    ("exact copy", 0, ("duplicate",), (), "{stem} (1).jpg", lambda p: p.raw),
    ("same pixels saved as PNG", 1, ("duplicate",), (), "{stem}.png", lambda p: _encode(p.image, "PNG")),
    ("resized to 90% and re-compressed", 0, ("near_duplicate",), (), "{stem}_small.jpg",
     lambda p: _encode(p.image.resize((p.image.width * 9 // 10, p.image.height * 9 // 10)),
                       "JPEG", quality=80)),
    ("brightened by 10%", 1, ("near_duplicate",), (), "{stem} copy.jpg",
     lambda p: _encode(_plain(p, colour=0, noise=0, photo=1.1), "JPEG")),
    ("copy filed under the other class", "other", ("label_conflict",), ("label_conflict",), "{stem}.jpg",
     lambda p: p.raw),
]


def _pools(src: Path, rng: np.random.Generator) -> tuple[list[str], dict[str, list[str]]]:
    """The two first classes of ``src`` and, for each, its clean JPEG photos in random order."""
    report = scan(src, progress=False)
    usable = report[report["ok"] & (report["format"] == "JPEG") & report["label"].notna()
                    & (report[["width", "height"]].min(axis=1) >= 100)]
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
    """Copy the clean images of ``src`` (class folders, only read) into ``dest`` (new or empty),
    turning a few into one file of every defect of ``_DEFECTS`` and ``_COPIES``; return one
    row per file: ``path``, ``label``, ``expected`` (``scan``'s codes), ``defect``, ``source``.
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
        order = {code: k for k, code in enumerate(ISSUES)}
        truth.append((relative, label, tuple(sorted(expected, key=order.get)), defect, source))

    def take(label: str) -> tuple[SimpleNamespace, str, dict]:
        source = pools[label].pop()
        raw = (src / source).read_bytes()
        with Image.open(io.BytesIO(raw)) as image:
            photo = SimpleNamespace(image=image.convert("RGB"), raw=raw, rng=rng)
        stem = PurePosixPath(source).stem
        return photo, source, {"stem": stem, "flat": stem.replace(".", "_"), "number": stem.split(".")[-1]}

    for defect, where, expected, name, build in _DEFECTS:
        photo, source, names = take(labels[where])
        write(labels[where], name.format(**names), build(photo), expected, defect, source)
    for defect, where, expected_copy, expected_original, name, build in _COPIES:
        photo, source, names = take(labels[0] if where == "other" else labels[where])
        write(labels[0] if where == "other" else labels[where], PurePosixPath(source).name, photo.raw,
              expected_original, f"original of: {defect}", source)
        write(labels[1] if where == "other" else labels[where], name.format(**names), build(photo),
              expected_copy, defect, source)
    write(None, ".DS_Store", _DS_STORE, ("not_image", "hidden_file"), "macOS .DS_Store", None)  # at the top
    for label in labels:
        for source in sorted(pools[label]):
            write(label, PurePosixPath(source).name, (src / source).read_bytes(), (), "clean copy", source)
    table = pd.DataFrame(truth, columns=["path", "label", "expected", "defect", "source"])
    return table.sort_values("path", ignore_index=True)
