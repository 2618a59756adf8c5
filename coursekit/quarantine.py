"""Move bad files out of a folder (with a manifest), put them back, or repair fixable ones.

``quarantine`` moves the files of a scan report that have chosen issue codes into another
folder and writes a JSON manifest; ``undo(manifest)`` puts them back byte-identical;
``repair`` converts fixable files to plain RGB and keeps each original in the quarantine.
Nothing is ever deleted, and if one check fails before a move, nothing moves.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd
from PIL import Image

from coursekit.scan import ALPHA_MODES, BROKEN, FIXABLE, HIGH_DEPTH_MODES, ISSUES, to_gray

__all__ = ["DEFAULT_QUARANTINE", "quarantine", "repair", "repairable", "to_rgb", "undo"]

#: What ``quarantine`` moves out when not told otherwise: files no model should train on.
DEFAULT_QUARANTINE = BROKEN | {"blank", "duplicate", "label_conflict", "hidden_file", "symlink"}


def to_rgb(image: Image.Image) -> Image.Image:
    """Return the first frame as 8-bit RGB: 16-bit scaled (not clipped), alpha over white.

    Example:
        >>> clear = Image.new("RGBA", (2, 1), (0, 0, 0, 0))      # fully transparent black
        >>> to_rgb(clear).getpixel((0, 0)), to_rgb(Image.new("I;16", (1, 1), 65535)).mode
        ((255, 255, 255), 'RGB')
    """
    image.seek(0)
    image.load()
    if image.mode in HIGH_DEPTH_MODES:
        image = to_gray(image)
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def file_sha256(path: str | os.PathLike) -> str:
    """Return the sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _places(folder, to) -> tuple[Path, Path]:
    folder, to = Path(folder).expanduser(), Path(to).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} is not a folder")
    folder = folder.resolve()
    if to == folder or folder in to.parents or to in folder.parents:
        raise ValueError(f"the quarantine {str(to)!r} must be outside the scanned folder "
                         f"{str(folder)!r} (and not contain it)")
    return folder, to


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(os.fspath(source), os.fspath(target))  # a rename on one disk: bytes untouched


def _write_json(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False))
    os.replace(partial, path)  # a reader never sees half a manifest
    return path


def _refuse(problems: list[str], advice: str = "") -> None:
    if problems:
        raise ValueError("nothing was moved:\n  " + "\n  ".join(problems[:20])
                         + ("\n  ..." if len(problems) > 20 else "") + advice)


def _plan_moves(report: pd.DataFrame, folder: Path, to: Path, issues) -> list[dict]:
    """Check every chosen file before anything moves; return the planned manifest entries."""
    unknown = set(issues) - set(ISSUES)
    if unknown:
        raise ValueError(f"unknown issue codes {sorted(unknown)}; the codes are {list(ISSUES)}")
    missing = [column for column in ("path", "issues", "sha256") if column not in report]
    if missing:
        raise ValueError(f"report has no {missing} column(s): pass the table scan() returned")
    entries, problems = [], []
    for row in report[report["issues"].map(lambda codes: bool(set(issues) & set(codes)))].itertuples():
        relative = PurePosixPath(row.path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"report path {row.path!r} is not a plain relative path")
        source, sha256 = folder / relative, row.sha256 if isinstance(row.sha256, str) else None
        if not os.path.lexists(source):
            problems.append(f"{row.path}: no longer in the folder")
        elif os.path.lexists(to / relative):
            problems.append(f"{row.path}: {to / relative} already exists in the quarantine")
        elif sha256 and not source.is_symlink() and file_sha256(source) != sha256:
            problems.append(f"{row.path}: changed since the scan (sha256 differs)")
        entries.append({"path": row.path, "quarantined": relative.as_posix(), "sha256": sha256,
                        "issues": list(row.issues)})
    _refuse(problems, "\nScan the folder again.")
    return entries


def _manifest(folder: Path, to: Path, issues, entries: list[dict], **extra) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return _write_json(to / f"manifest-{stamp}.json", {
        "folder": str(folder), "quarantine": str(to), "created": _now(),
        "issues": sorted(issues), **extra, "entries": entries})


def quarantine(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
               issues: Iterable[str] = DEFAULT_QUARANTINE) -> Path:
    """Move the files of ``report`` that have any of ``issues`` from ``folder`` into ``to``.

    Files keep their relative paths under ``to``. Every file is checked first (still there,
    unchanged since the scan, its place in ``to`` free); if one check fails nothing moves.
    Writes a JSON manifest (original path, new path, sha256, issues, time) into ``to`` and
    returns its path, for ``undo``. Nothing is deleted.

    Example:
        >>> import tempfile
        >>> from coursekit.scan import scan
        >>> base = Path(tempfile.mkdtemp())
        >>> (base / "photos" / "cats").mkdir(parents=True)
        >>> (base / "photos" / "cats" / "empty.jpg").write_bytes(b"")
        0
        >>> manifest = quarantine(scan(base / "photos", progress=False), base / "photos", base / "q")
        >>> sorted(path.name for path in (base / "q" / "cats").iterdir()), undo(manifest)
        (['empty.jpg'], 1)
    """
    issues = {issues} if isinstance(issues, str) else set(issues)
    folder, to = _places(folder, to)
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
    return _manifest(folder, to, issues, entries)


def _undo_problems(entry: dict, folder: Path, to: Path) -> list[str]:
    original, kept, repaired = folder / entry["path"], to / entry["quarantined"], entry.get("repaired")
    problems = []
    if not os.path.lexists(kept):
        problems.append(f"{entry['quarantined']}: missing from the quarantine")
    elif entry["sha256"] and not kept.is_symlink() and file_sha256(kept) != entry["sha256"]:
        problems.append(f"{entry['quarantined']}: changed in the quarantine")
    if repaired and (not (folder / repaired).is_file()
                     or file_sha256(folder / repaired) != entry["repaired_sha256"]):
        problems.append(f"{repaired}: the repaired file is missing or was edited")
    if repaired and os.path.lexists(to / "undone-repairs" / repaired):
        problems.append(f"{repaired}: undone-repairs/{repaired} already exists")
    if os.path.lexists(original) and entry["path"] != repaired:
        problems.append(f"{entry['path']}: the destination is occupied")
    return problems


def undo(manifest: str | os.PathLike) -> int:
    """Put every file of a quarantine (or repair) manifest back where it was; return how many.

    Refuses with a ValueError, moving nothing, if a destination is occupied, a quarantined file
    is missing or changed, or the manifest was already undone. Repaired files (from ``repair``)
    are moved into the quarantine folder under ``undone-repairs/``, never deleted. (The
    example of ``quarantine`` undoes one.)
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ValueError(f"manifest {str(manifest)!r} does not exist")
    document = json.loads(manifest.read_text())
    if document.get("undone"):
        raise ValueError(f"{manifest} was already undone at {document['undone']}")
    folder, to = Path(document["folder"]), Path(document["quarantine"])
    _refuse([problem for entry in document["entries"]
             for problem in _undo_problems(entry, folder, to)])
    for entry in document["entries"]:
        if entry.get("repaired"):
            _move(folder / entry["repaired"], to / "undone-repairs" / entry["repaired"])
        _move(to / entry["quarantined"], folder / entry["path"])
    document["undone"] = _now()
    _write_json(manifest, document)
    return len(document["entries"])


def repairable(report: pd.DataFrame) -> pd.Series:
    """Which files of a scan report Pillow decodes in full, so ``to_rgb`` can convert them."""
    return report["format"].isin(set(Image.registered_extensions().values())) & report[
        "issues"].map(lambda codes: not {"huge", "truncated", "unreadable", "symlink"} & set(codes))


def _repaired_name(relative: str, taken) -> PurePosixPath:
    """The name a repaired file gets: its own if the pipeline reads the extension, else .png."""
    path = PurePosixPath(relative)
    suffix = path.suffix.lower()
    if suffix in {".jpg", ".jpeg", ".png", ".bmp"}:
        return path
    name = path.with_name(path.stem + ".png")  # photo.webp -> photo.png
    if suffix not in Image.registered_extensions() or name in taken:
        name = path.with_name(path.name + ".png")  # photo.webp.png, download.png
    return name


def repair(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
           issues: Iterable[str] = FIXABLE | {"unsupported_format"}) -> Path:
    """Convert fixable files to plain 8-bit RGB the pipeline reads; keep each original in ``to``.

    For every file with one of ``issues`` that Pillow can decode (not ``huge``, ``truncated``,
    ``unreadable``): the original moves to ``to`` (as in ``quarantine``) and a converted copy
    takes its place (``to_rgb``: first frame only, 16-bit scaled to 8-bit, alpha composited
    over white, CMYK/palette/grayscale converted to RGB). The copy keeps the file name when its
    extension is one the pipeline reads (a PNG named ``.jpg`` is re-encoded as JPEG, quality
    95), else it gets ``.png``. Returns the manifest path; ``undo`` reverses it.
    """
    issues = set(issues)
    folder, to = _places(folder, to)
    entries = _plan_moves(report[repairable(report)], folder, to, issues)
    taken = {PurePosixPath(path) for path in report["path"]}
    targets = {}
    for entry in entries:
        targets[entry["path"]] = _repaired_name(entry["path"], taken | set(targets.values()))
    clashes = [f"{name} already exists in the folder" for path, name in targets.items()
               if name != PurePosixPath(path) and os.path.lexists(folder / name)]
    _refuse(clashes)
    done = []
    try:
        for entry in entries:
            original, target = folder / entry["path"], folder / targets[entry["path"]]
            with Image.open(original) as image:
                converted = to_rgb(image)
            _move(original, to / entry["quarantined"])
            done.append(entry)
            kind = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(target.suffix.lower(), "PNG")
            converted.save(target, kind, **({"quality": 95} if kind == "JPEG" else {}))
            entry.update(time=_now(), repaired=targets[entry["path"]].as_posix(),
                         repaired_sha256=file_sha256(target))
    except BaseException:
        for entry in reversed(done):  # move each new file aside and its original back
            written = targets[entry["path"]].as_posix()
            if os.path.lexists(folder / written):
                _move(folder / written, to / "undone-repairs" / written)
            _move(to / entry["quarantined"], folder / entry["path"])
        raise
    return _manifest(folder, to, issues, entries, repair=True)
