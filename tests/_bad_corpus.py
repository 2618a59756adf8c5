"""A folder of bad image files, built with Pillow, and the issue codes scan() must give each.

Written independently of coursekit.messy's own builders, so the tests do not share its bugs.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def photo(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    """A photo-like RGB image: smooth random colour blobs plus a little grain, unique per seed."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (6, 8, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), float)
    grain = rng.normal(0, 6, smooth.shape)
    return Image.fromarray((smooth + grain).clip(0, 255).astype(np.uint8))


def encode(image: Image.Image, kind: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit palette PNG, all zeros: tiny on disk, width*height bytes once decoded."""
    packer = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 3, 0, 0, 0))
            + chunk(b"PLTE", b"\x00\x00\x00\xff\xff\xff") + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def png_rgb16(image: Image.Image) -> bytes:
    array = np.asarray(image).astype(">u2") * 257
    raw = b"".join(b"\x00" + line.tobytes() for line in array)
    header = struct.pack(">IIBBBBB", image.width, image.height, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def png_corrupt(image: Image.Image) -> bytes:
    data = bytearray(encode(image, "PNG"))
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4:at])[0]
    data[at + 4:at + 4 + length] = bytes(length)
    data[at + 4 + length:at + 8 + length] = struct.pack(">I", zlib.crc32(bytes(data[at:at + 4 + length])))
    return bytes(data)


def animated(kind: str, seeds=(30, 31, 32), **options) -> bytes:
    frames = [photo(seed) for seed in seeds]
    if kind == "GIF":
        frames = [frame.convert("P", palette=Image.Palette.ADAPTIVE) for frame in frames]
    buffer = io.BytesIO()
    frames[0].save(buffer, kind, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    return buffer.getvalue()


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n'


def build(root: Path, outside: Path) -> dict[str, tuple[str, ...]]:
    """Write the corpus under ``root`` (and one target file under ``outside``).

    Returns path (relative to root) -> the set of issue codes scan() must report, as a sorted
    tuple. Directories are not rows; the FIFO and the link are.
    """
    expected: dict[str, tuple[str, ...]] = {}

    def put(relative: str, data: bytes, *codes: str) -> None:
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        expected[relative] = tuple(sorted(codes))

    base = photo(1)
    base_jpeg = encode(base, "JPEG", quality=92)
    put("cats/photo.jpg", base_jpeg)
    put("cats/photo copy.jpg", base_jpeg, "duplicate")
    put("cats/photo_same_pixels.png", encode(Image.open(io.BytesIO(base_jpeg)).convert("RGB"), "PNG"),
        "duplicate")
    put("cats/photo_resized.jpg", encode(base.resize((144, 108)), "JPEG", quality=75), "near_duplicate")
    put("cats/empty.jpg", b"", "empty_file")
    put("cats/notes.jpg", b"this is a text file, not a picture\n" * 5, "not_image")
    put("cats/corrupt.png", png_corrupt(photo(2)), "unreadable")
    good = encode(photo(3), "JPEG")
    put("cats/truncated.jpg", good[: len(good) // 2], "truncated")
    put("cats/png_named.jpg", encode(photo(4), "PNG"), "extension_mismatch")
    put("cats/no_extension", encode(photo(5), "JPEG"), "extension_mismatch")
    put("cats/drawing.svg", SVG, "unsupported_format")
    put("cats/svg_named.jpg", SVG.replace(b"10", b"12"), "unsupported_format", "extension_mismatch")
    put("cats/image.webp", encode(photo(6), "WEBP"), "unsupported_format")
    put("cats/newer.jxl", b"\xff\x0a" + bytes(64), "unsupported_format")  # a JPEG XL signature
    put("cats/moving.webp", animated("WEBP", (40, 41, 42)), "animated", "unsupported_format")
    put("cats/photo.tif", encode(photo(7), "TIFF"), "unsupported_format")
    put("cats/one_bit.bmp", encode(photo(8).convert("1"), "BMP"), "unsupported_format", "grayscale")
    put("cats/indexed.bmp", encode(photo(9).convert("P", palette=Image.Palette.ADAPTIVE), "BMP"),
        "unsupported_format", "palette")
    put("cats/fine.bmp", encode(photo(10), "BMP"))
    put("cats/moving.gif", animated("GIF"), "animated", "palette")
    put("cats/cmyk.jpg", encode(photo(11).convert("CMYK"), "JPEG"), "cmyk")
    put("cats/palette.png", encode(photo(12).convert("P", palette=Image.Palette.ADAPTIVE), "PNG"), "palette")
    rgba = photo(13).convert("RGBA")
    rgba.putalpha(128)
    put("cats/alpha.png", encode(rgba, "PNG"), "has_alpha")
    put("cats/gray.jpg", encode(photo(14).convert("L"), "JPEG"), "grayscale")
    deep = (np.asarray(photo(15).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    put("cats/deep_gray.png", encode(Image.fromarray(deep), "PNG"), "grayscale", "high_bit_depth")
    put("cats/deep_rgb.png", png_rgb16(photo(16)), "high_bit_depth")
    put("cats/tiny.png", encode(photo(17, (20, 20)), "PNG"), "too_small")
    put("cats/bomb.png", png_bomb(20_000, 20_000), "huge")  # not even opened: no mode
    put("cats/black.jpg", encode(Image.new("RGB", (160, 120)), "JPEG"), "blank")
    put("cats/white.png", encode(Image.new("RGB", (90, 60), "white"), "PNG"), "blank")
    put("cats/.DS_Store", b"\x00\x00\x00\x01Bud1" + bytes(1000), "not_image", "hidden_file")
    put("cats/.hidden.jpg", encode(photo(18), "JPEG"), "hidden_file")
    put("cats/unicode ünïcødé 猫 name.jpg", encode(photo(19), "JPEG"))
    put("cats/UPPER.JPG", encode(photo(20), "JPEG"))
    put("cats/fake.jpg/inner.jpg", encode(photo(21), "JPEG"))  # a directory named like an image
    shared = encode(photo(22), "JPEG")
    put("cats/shared.jpg", shared, "label_conflict")
    put("dogs/shared.jpg", shared, "label_conflict")
    put("dogs/dog.jpg", encode(photo(23), "JPEG"))
    put("dogs/progressive.jpg", encode(photo(24), "JPEG", progressive=True))
    put("dogs/camera_mpo.jpg", encode(photo(27), "MPO", save_all=True, append_images=[photo(28)]))
    put("loose.png", encode(photo(25), "PNG"))
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.jpg").write_bytes(encode(photo(26), "JPEG"))
    os.symlink(outside / "secret.jpg", root / "cats" / "link_out.jpg")
    expected["cats/link_out.jpg"] = ("symlink",)
    os.symlink(outside, root / "dogs" / "linked_folder")  # a link to a folder: not walked
    expected["dogs/linked_folder"] = ("symlink",)
    if hasattr(os, "mkfifo"):  # opening a pipe would block forever: scan must never open it
        os.mkfifo(root / "dogs" / "pipe.jpg")
        expected["dogs/pipe.jpg"] = ("not_image",)
    return expected


def snapshot(root: Path) -> dict[str, tuple]:
    """Everything under root, links not followed: path -> (kind, bytes / link target, mode)."""
    state = {}
    for folder, directories, files in os.walk(root):
        for name in directories + files:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if path.is_symlink():
                state[relative] = ("link", os.readlink(path), info.st_mode)
            elif path.is_dir():
                state[relative] = ("dir", None, info.st_mode)
            elif path.is_file():
                state[relative] = ("file", path.read_bytes(), info.st_mode, info.st_mtime_ns)
            else:
                state[relative] = ("special", None, info.st_mode)
    return state
