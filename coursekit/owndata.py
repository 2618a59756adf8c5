"""Your own images: a folder of class sub-folders becomes training data, as lesson 1 does it.

``prepare(folder)`` reads ``folder/<class>/<image>`` (and splits it: ``splits.split``, 70/15/15)
or ``folder/train|validation[|test]/<class>/<image>``. With lesson 1's steps it leaves out what
``quarantine.leave_out`` names (and copies across your splits: ``left_out.csv``), converts what
the pipeline would misread, and writes the copy under ``config.data_dir()/own/``, never into ``folder``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import pandas as pd
from filelock import FileLock

from coursekit import config
from coursekit.downloads import fingerprint
from coursekit.quarantine import leave_out, repaired_name, save_rgb
from coursekit.scan import FIXABLE, scan
from coursekit.splits import check_leakage, quick_subset, split

SPLITS = ("train", "validation", "test")
#: A class with fewer usable images cannot be split into train, validation and test.
MIN_PER_CLASS = 10
#: Quick mode keeps this many files per class and split (as for the default dataset).
QUICK_PER_CLASS = {"train": 100, "validation": 50, "test": 50}
_RECIPE = "2"  # part of the fingerprint: change it when what prepare writes changes


class OwnDataError(ValueError):
    """A folder that cannot become training data; the message names it and says what to do."""


def _layout(source: Path) -> tuple[int, dict[str, list[str]]]:
    """How deep the images sit (1: class/image, 2: split/class/image) and the class folders."""
    names = sorted(path.name for path in source.iterdir() if not path.name.startswith("."))
    if not names:
        raise OwnDataError(f"{source} is empty: put your images in one sub-folder per class "
                           f"({source}/cats/..., {source}/dogs/...)")
    loose = [name for name in names if not (source / name).is_dir()]
    if loose:
        raise OwnDataError(f"{source} has files next to the class folders ({', '.join(loose[:5])}):"
                           " every image must sit in a class folder, folder/<class>/<image>")
    depth = 2 if set(names) & set(SPLITS) else 1
    if depth == 2 and (set(names) - set(SPLITS) or not {"train", "validation"} <= set(names)):
        raise OwnDataError(f"{source} holds {names}: use either only class folders, or train/ "
                           "and validation/ (and test/) with the same class folders in each")
    for folder, directories, _ in os.walk(source):
        directories[:] = sorted(name for name in directories if not name.startswith("."))
        if directories and len(Path(folder).relative_to(source).parts) >= depth:
            raise OwnDataError(f"{source} has folders nested deeper than expected "
                               f"({Path(folder, directories[0])}): use folder/"
                               + ("<split>/" if depth == 2 else "") + "<class>/<image>")
    splits = {"": source} if depth == 1 else {name: source / name for name in names}
    classes = {name: sorted(path.name for path in folder.iterdir()
                            if path.is_dir() and not path.name.startswith("."))
               for name, folder in splits.items()}
    found = classes.get("", classes.get("train"))
    if len(found) < 2:
        raise OwnDataError(f"{source} has {len(found)} class folder(s) {found}: a classifier "
                           "needs at least 2, one sub-folder per class")
    return depth, classes


def _sort_out(report: pd.DataFrame, prefix: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The usable rows of a scan report (with ``convert``), and the left-out ones with why."""
    report = report.assign(path=prefix + report["path"], reason=leave_out(report))
    left_out = report.loc[report["reason"] != "", ["path", "reason", "note"]]
    usable = report[report["reason"] == ""]
    convertible = FIXABLE | {"unsupported_format"}
    usable = usable.assign(convert=usable["issues"].map(lambda codes: bool(convertible & set(codes))))
    return usable, left_out.rename(columns={"note": "detail"})


def _plan(source: Path, depth: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What to copy (``path``, ``label``, ``split``, ``convert``) and what to leave out, why."""
    if depth == 1:
        usable, left_out = _sort_out(scan(source, progress=False))
        if usable.empty:
            return usable.assign(split=None), left_out
        return split(usable, (0.7, 0.15, 0.15))[["path", "label", "split", "convert"]], left_out
    parts, reports = [], {}
    for name in [name for name in SPLITS if (source / name).is_dir()]:
        reports[name], left_out = _sort_out(scan(source / name, progress=False), name + "/")
        parts.append(left_out)
    order = {name: k for k, name in enumerate(SPLITS)}
    leaks = {}  # the copy in the later split (validation after train...) goes
    for leak in check_leakage(reports).itertuples():
        first, second = sorted([(leak.split_a, leak.path_a), (leak.split_b, leak.path_b)],
                               key=lambda item: order[item[0]])
        leaks.setdefault(second[1], f"{leak.kind} copy of {first[1]} (would leak into {second[0]})")
    parts.append(pd.DataFrame({"path": list(leaks), "reason": "cross_split_copy",
                               "detail": list(leaks.values())}))
    kept = pd.concat([report.assign(split=name) for name, report in reports.items()])
    kept = kept[~kept["path"].isin(leaks)]
    return kept[["path", "label", "split", "convert"]], pd.concat(parts, ignore_index=True)


def _check_counts(source: Path, kept: pd.DataFrame, left_out: pd.DataFrame,
                  classes: dict[str, list[str]]) -> None:
    if kept.empty:
        examples = ", ".join(f"{row.path} ({row.reason})" for row in left_out.head(3).itertuples())
        raise OwnDataError(f"{source} holds no image the course can use ({len(left_out)} files, "
                           f"e.g. {examples}): put JPEG or PNG photos in the class folders")
    if "" in classes:  # unsplit: enough images in each class to split them
        counts = kept["label"].value_counts().reindex(classes[""], fill_value=0)
        small = counts[counts < MIN_PER_CLASS]
        if len(small):
            raise OwnDataError(f"{source}: too few usable images to split class(es) "
                               + ", ".join(f"{label!r} ({count})" for label, count in small.items())
                               + f"; each class needs at least {MIN_PER_CLASS}: add images")
        classes = {name: classes[""] for name in ("train", "validation")}
    counts = kept.groupby(["split", "label"]).size()
    for name, labels in classes.items():
        if labels != classes["train"]:
            raise OwnDataError(f"{source}/{name} has classes {labels} but train has "
                               f"{classes['train']}: every split needs the same class folders")
        empty = [label for label in labels if counts.get((name, label), 0) == 0]
        if empty:
            raise OwnDataError(f"{source}: no usable image of class {empty[0]!r} for {name} (0, "
                               "at least 1 needed; copies of one image stay together): add images")


def publish(dest: Path, files: dict[str, tuple[Path, bool]], folders, left_out=None) -> None:
    """Write ``target -> (source, convert)``, the ``folders`` (and ``left_out.csv``) into a temporary
    folder, then rename it to ``dest`` (replacing an old one): it appears whole or not at all."""
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as scratch:
        root = Path(scratch) / "data"
        for folder in folders:  # every class in every split, so Keras numbers the classes alike
            (root / folder).mkdir(parents=True, exist_ok=True)
        for target, (source, convert) in files.items():
            (save_rgb if convert else shutil.copyfile)(source, root / target)
        if left_out is not None:
            left_out.to_csv(root / "left_out.csv", index=False)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(root, dest)


def _build(source: Path, depth: int, classes: dict[str, list[str]], dest: Path) -> None:
    kept, left_out = _plan(source, depth)
    _check_counts(source, kept, left_out, classes)
    taken = {PurePosixPath(path) for path in kept["path"]}  # repair's rule for the new names
    names = [repaired_name(path, taken).name if convert else PurePosixPath(path).name
             for path, convert in zip(kept["path"], kept["convert"])]
    files = {f"{row.split}/{row.label}/{name}": (source / row.path, row.convert)
             for row, name in zip(kept.itertuples(), names)}
    labels = classes.get("", classes.get("train"))
    publish(dest, files, [f"{name}/{label}" for name in kept["split"].unique() for label in labels],
             left_out)
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(f"{source}: {len(kept)} images prepared in {dest}; {len(left_out)} files left out"
              + (f" (listed in left_out.csv):\n{left_out.to_string(index=False)}" if len(left_out) else ""))


def prepare(folder: str | os.PathLike, quick: bool | None = None) -> Path:
    """Return the root of a clean, split copy of ``folder``, built the first time and kept while the
    folder's paths, sizes and modification times stay the same; a file lock keeps two notebooks apart,
    and the copy appears whole or not at all. Quick mode keeps ``QUICK_PER_CLASS`` files per class and
    split. Raises ``OwnDataError`` (a ValueError) naming the folder and what to do."""
    source = Path(folder).expanduser()
    if not source.is_dir():
        raise OwnDataError(f"{source} does not exist or is not a folder: check the path")
    source = source.resolve()
    depth, classes = _layout(source)
    entries = [Path(folder, name).relative_to(source).as_posix()  # each with its size and mtime
               for folder, directories, files in os.walk(source) for name in directories + files]
    key = hashlib.sha256((_RECIPE + fingerprint(source, entries)).encode()).hexdigest()[:10]
    full = config.data_dir() / "own" / f"{source.name}-{key}"
    target = full.with_name(full.name + "-quick") if config.quick_mode(quick) else full
    full.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{full}.lock"):
        if not full.is_dir():
            _build(source, depth, classes, full)
        if not target.is_dir():
            chosen = quick_subset([path.relative_to(full).as_posix() for path in full.glob("*/*/*")],
                                  QUICK_PER_CLASS)
            publish(target, {path: (full / path, False) for path in chosen},
                     [path.relative_to(full).as_posix() for path in full.glob("*/*") if path.is_dir()],
                     pd.read_csv(full / "left_out.csv", keep_default_na=False))
    return target
