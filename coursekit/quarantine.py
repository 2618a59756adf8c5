"""Leave bad files out of a folder (moved, with a manifest), put them back, or repair them.

Nothing is ever deleted, and if one check fails before a move, nothing moves.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd
from PIL import Image

from coursekit.downloads import sha256_file
from coursekit.scan import BROKEN, FIXABLE, ISSUES, require_columns, to_rgb

#: What ``quarantine`` moves out when not told otherwise: files no model should train on.
DEFAULT_QUARANTINE = BROKEN | {"blank", "duplicate", "label_conflict", "hidden_file", "symlink"}


def repairable(report: pd.DataFrame) -> pd.Series:
    """Which files of a scan report Pillow decodes in full, so ``to_rgb`` can convert them."""
    return report["format"].isin(set(Image.registered_extensions().values())) & report[
        "issues"].map(lambda codes: not {"huge", "truncated", "unreadable", "symlink"} & set(codes))


def leave_out(report: pd.DataFrame, codes: Iterable[str] = DEFAULT_QUARANTINE) -> pd.Series:
    """Return why each file stays out of training (its ``codes``, joined), ``""`` when kept; a
    format only Pillow reads (WebP, TIFF, 1-bit BMP) is kept, for ``repair`` to convert.

    >>> report = pd.DataFrame({"format": ["JPEG", "WEBP", None],
    ...                        "issues": [("duplicate",), ("unsupported_format",), ("empty_file",)]})
    >>> leave_out(report).tolist()
    ['duplicate', '', 'empty_file']
    """
    codes = set(codes)
    return pd.Series([", ".join(code for code in issues if code in codes
                                and not (convertible and code == "unsupported_format"))
                      for issues, convertible in zip(report["issues"], repairable(report))],
                     index=report.index, dtype=object)


def repaired_name(relative: str, taken) -> PurePosixPath:
    """The name a repaired file gets: its own if the pipeline reads the extension, else .png
    (``photo.webp`` -> ``photo.png``, or ``photo.webp.png`` when that name is ``taken``)."""
    path = PurePosixPath(relative)
    if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"}:
        return path
    name = path.with_name(path.stem + ".png")
    if path.suffix.lower() not in Image.registered_extensions() or name in taken:
        name = path.with_name(path.name + ".png")  # download -> download.png
    return name


def save_rgb(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Write ``source`` converted by ``to_rgb`` to ``target``, in the format its name says
    (JPEG at quality 95 for ``.jpg``/``.jpeg``, BMP for ``.bmp``, else PNG)."""
    with Image.open(source) as image:
        converted = to_rgb(image)
    kind = {".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}.get(Path(target).suffix.lower(), "PNG")
    converted.save(target, kind, **({"quality": 95} if kind == "JPEG" else {}))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def _places(folder, to) -> tuple[Path, Path]:
    folder, to = Path(folder).expanduser().resolve(), Path(to).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"folder {str(folder)!r} is not a folder")
    if to == folder or folder in to.parents or to in folder.parents:
        raise ValueError(f"the quarantine {str(to)!r} must be outside the scanned folder "
                         f"{str(folder)!r} (and not contain it)")
    return folder, to


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(os.fspath(source), os.fspath(target))  # a rename on one disk: bytes untouched


def _refuse(problems: list[str], advice: str = "") -> None:
    if problems:
        raise ValueError("nothing was moved:\n  " + "\n  ".join(problems[:20])
                         + ("\n  ..." if len(problems) > 20 else "") + advice)


def _plan_moves(report: pd.DataFrame, folder: Path, to: Path, issues) -> list[dict]:
    """Check every chosen file before anything moves; return the planned manifest entries."""
    unknown = sorted(set(issues) - set(ISSUES))
    if unknown:
        raise ValueError(f"unknown issue codes {unknown}; the codes are {list(ISSUES)}")
    require_columns(report, ("path", "issues", "sha256"))
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
        elif sha256 and not source.is_symlink() and sha256_file(source) != sha256:
            problems.append(f"{row.path}: changed since the scan (sha256 differs)")
        entries.append({"path": row.path, "quarantined": relative.as_posix(), "sha256": sha256,
                        "issues": list(row.issues)})
    _refuse(problems, "\nScan the folder again.")
    return entries


def quarantine(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
               issues: Iterable[str] = DEFAULT_QUARANTINE) -> Path:
    """Move the files of ``report`` that have any of ``issues`` from ``folder`` into ``to``, all
    checked first; return the path of the JSON manifest written into ``to`` (for ``undo``).

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
    manifest = to / f"manifest-{datetime.datetime.now():%Y%m%d-%H%M%S-%f}.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"folder": str(folder), "quarantine": str(to), "created": _now(),
                                    "issues": sorted(issues), "entries": entries}, indent=1))
    return manifest


def _undo_problems(entry: dict, folder: Path, to: Path) -> list[str]:
    original, kept, repaired = folder / entry["path"], to / entry["quarantined"], entry.get("repaired")
    problems = []
    if not os.path.lexists(kept):
        problems.append(f"{entry['quarantined']}: missing from the quarantine")
    elif entry["sha256"] and not kept.is_symlink() and sha256_file(kept) != entry["sha256"]:
        problems.append(f"{entry['quarantined']}: changed in the quarantine")
    if repaired and (not (folder / repaired).is_file()
                     or sha256_file(folder / repaired) != entry["repaired_sha256"]):
        problems.append(f"{repaired}: the repaired file is missing or was edited")
    if repaired and os.path.lexists(to / "undone-repairs" / repaired):
        problems.append(f"{repaired}: undone-repairs/{repaired} already exists")
    if os.path.lexists(original) and entry["path"] != repaired:
        problems.append(f"{entry['path']}: the destination is occupied")
    return problems


def undo(manifest: str | os.PathLike) -> int:
    """Put every file of a quarantine (or repair) manifest back where it was and return how many;
    moves nothing (ValueError) if one cannot. Repaired files move to ``undone-repairs/``."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ValueError(f"manifest {str(manifest)!r} does not exist")
    document = json.loads(manifest.read_text())
    if document.get("undone"):
        raise ValueError(f"{manifest} was already undone at {document['undone']}")
    folder, to = Path(document["folder"]), Path(document["quarantine"])
    _refuse([problem for entry in document["entries"] for problem in _undo_problems(entry, folder, to)])
    for entry in document["entries"]:
        if entry.get("repaired"):
            _move(folder / entry["repaired"], to / "undone-repairs" / entry["repaired"])
        _move(to / entry["quarantined"], folder / entry["path"])
    document["undone"] = _now()
    manifest.write_text(json.dumps(document, indent=1))
    return len(document["entries"])


def repair(report: pd.DataFrame, folder: str | os.PathLike, to: str | os.PathLike,
           issues: Iterable[str] = FIXABLE | {"unsupported_format"}) -> Path:
    """Quarantine the files with one of ``issues`` that Pillow decodes, each replaced by its
    ``to_rgb`` copy (``repaired_name``); return the manifest path (``undo`` reverses it)."""
    chosen = report[repairable(report)]
    chosen = chosen[chosen["issues"].map(lambda codes: bool(set(issues) & set(codes)))]
    targets, taken = {}, {PurePosixPath(path) for path in report["path"]}
    for path in chosen["path"]:
        targets[path] = repaired_name(path, taken | set(targets.values()))
    _refuse([f"{name} already exists in the folder" for path, name in targets.items()
             if name != PurePosixPath(path) and os.path.lexists(Path(folder, name))])
    manifest = quarantine(chosen, folder, to, issues)
    document = json.loads(manifest.read_text())
    try:  # the manifest lists each copy as soon as it is written, so undo works after any error
        for entry in document["entries"]:
            target = Path(document["folder"], targets[entry["path"]])
            save_rgb(Path(document["quarantine"], entry["quarantined"]), target)
            entry.update(repaired=targets[entry["path"]].as_posix(), repaired_sha256=sha256_file(target))
    finally:
        manifest.write_text(json.dumps({**document, "repair": True}, indent=1))
    return manifest
