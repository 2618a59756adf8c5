"""Split a scanned folder into train/validation/test without leaks, and check any split for them.

``split`` deals an image and its copies out together, per class, by a hash of their content;
``check_leakage`` lists the copies in two splits; ``quick_subset`` is the quick-mode rule.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import PurePosixPath
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from coursekit.quarantine import leave_out
from coursekit.scan import BROKEN, close_pairs, require_columns, scan


def _fractions(fractions) -> dict[str, float]:
    named = dict(fractions) if isinstance(fractions, Mapping) else dict(
        zip(("train", "validation", "test"), fractions) if 1 <= len(fractions) <= 3 else {})
    try:
        named = {str(name): float(value) for name, value in named.items()}
    except (TypeError, ValueError):
        named = {}
    if not named or any(not 0 < value <= 1 for value in named.values()) \
            or abs(sum(named.values()) - 1) > 1e-6:
        raise ValueError(f"fractions must be 1 to 3 numbers (train, validation, test) or a dict "
                         f"name -> number, each > 0, adding up to 1; got {fractions!r}")
    return named


def excluded(data: pd.DataFrame) -> pd.DataFrame:
    """Return the rows ``split`` leaves out, with the ``reason``: broken files and links (not
    what ``repair`` converts), label conflicts, and files without a class folder."""
    require_columns(data, ("path", "label", "issues", "format"))
    reasons = leave_out(data, BROKEN | {"symlink", "label_conflict"}).where(
        data["label"].map(lambda value: isinstance(value, str)), "no class folder")
    return data.loc[reasons != "", ["path", "label"]].assign(reason=reasons[reasons != ""])


def split(data: pd.DataFrame | str | os.PathLike, fractions=(0.7, 0.15, 0.15),
          seed: int = 0) -> pd.DataFrame:
    """Return the usable rows of a scan report (or folder) with a ``split`` column, per class.

    An image and its exact and near copies (``scan``'s ``group``) go whole into one split, so no
    copy leaks. Within each class the groups are ordered by a hash of their content and ``seed``
    and dealt out: the first ``fractions[0]`` of the files to train, and so on (``fractions``: up
    to 3 numbers, or a dict split -> fraction, adding up to 1). Same files and seed, same split on
    any machine; renaming files moves nothing. ``excluded(data)`` lists the rows left out, and why.

    >>> paths = [f"cats/{k}.jpg" for k in range(10)]
    >>> report = pd.DataFrame({"path": paths, "group": paths, "label": "cats", "format": "JPEG",
    ...     "issues": [()] * 10, "sha256": [hashlib.sha256(bytes([k])).hexdigest() for k in range(10)]})
    >>> split(report, (0.6, 0.2, 0.2))["split"].value_counts().to_dict()
    {'train': 6, 'validation': 2, 'test': 2}
    """
    if isinstance(data, (str, os.PathLike)):
        data = scan(data, progress=False)
    named = _fractions(fractions)
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    require_columns(data, ("path", "label", "issues", "sha256", "group"))
    usable = data.drop(excluded(data).index)
    groups = usable.groupby("group").agg(label=("label", "first"), size=("path", "size"),
                                         content=("sha256", "min"))
    groups["order"] = [hashlib.sha256(f"{seed}\0{content}".encode()).hexdigest()
                       for content in groups["content"]]
    groups = groups.sort_values(["label", "order"])
    dealt = groups.groupby("label")["size"].cumsum() - groups["size"] / 2  # each group's middle
    position = dealt / groups.groupby("label")["size"].transform("sum")
    which = np.searchsorted(np.cumsum(list(named.values())), position, side="right")
    groups["split"] = np.array(list(named))[np.minimum(which, len(named) - 1)]
    return usable.assign(split=usable["group"].map(groups["split"]))


def check_leakage(data: pd.DataFrame | Mapping[str, pd.DataFrame], split_column: str = "split",
                  near_threshold: int = 20) -> pd.DataFrame:
    """Return every pair of files in *different* splits that are the same or nearly the same image.

    ``data``: a table with a ``split_column`` (what ``split`` returns), or a dict split name ->
    scan report. Exact copies match by ``sha256`` or ``pixel_sha256``, near copies by ``dhash``
    within ``near_threshold`` bits (blank images only exactly). Columns ``path_a``, ``split_a``,
    ``path_b``, ``split_b``, ``kind`` (``exact``/``near``), ``distance``; empty: no leakage.

    >>> table = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"], "split": ["train", "test", "test"],
    ...                       "sha256": ["1", "1", "2"], "pixel_sha256": None,
    ...                       "dhash": ["00000000", "00000000", "ffffffff"]})
    >>> check_leakage(table)[["path_a", "split_a", "path_b", "split_b", "kind"]].values.tolist()
    [['a.jpg', 'train', 'b.jpg', 'test', 'exact']]
    """
    if isinstance(data, Mapping):
        data = pd.concat([report.assign(**{split_column: name}) for name, report in data.items()],
                         ignore_index=True)
    require_columns(data, ("path", "sha256", "pixel_sha256", "dhash", split_column),
                    "split()'s table or a dict of scan reports")
    rows = data.reset_index(drop=True)
    pairs = []
    for column in ("sha256", "pixel_sha256"):
        keyed = rows.loc[rows[column].map(lambda value: isinstance(value, str)), [column]].reset_index()
        joined = keyed.merge(keyed, on=column)
        pairs += [(a, b, "exact", 0) for a, b in zip(joined["index_x"], joined["index_y"]) if a < b]
    blank = rows["issues"].map(lambda codes: "blank" in codes) if "issues" in rows else False
    hashed = rows[rows["dhash"].map(lambda value: isinstance(value, str)) & ~blank]
    pairs += [(hashed.index[i], hashed.index[j], "near", distance)
              for i, j, distance in close_pairs(list(hashed["dhash"]), near_threshold)]
    found: dict[tuple[int, int], tuple[str, int]] = {}
    for a, b, kind, distance in pairs:
        if rows.at[a, split_column] != rows.at[b, split_column]:
            found.setdefault((a, b), (kind, distance))
    return pd.DataFrame(
        [{"path_a": rows.at[a, "path"], "split_a": rows.at[a, split_column],
          "path_b": rows.at[b, "path"], "split_b": rows.at[b, split_column],
          "kind": kind, "distance": distance} for (a, b), (kind, distance) in sorted(found.items())],
        columns=["path_a", "split_a", "path_b", "split_b", "kind", "distance"])


def quick_subset(relative_paths: Iterable[str], per_class: int | Mapping[str, int]) -> list[str]:
    """Return the quick-mode subset, for the default dataset and your own: per folder, the first
    ``per_class`` files (a number, or a dict split -> number; other splits dropped) sorted by
    (length of the name, name), so ``cat.2.jpg`` comes before ``cat.10.jpg``.

    >>> quick_subset(["train/cats/cat.10.jpg", "train/cats/cat.2.jpg", "train/cats/cat.1.jpg",
    ...               "train/dogs/dog.7.jpg", "test/cats/cat.3.jpg"], {"train": 2})
    ['train/cats/cat.1.jpg', 'train/cats/cat.2.jpg', 'train/dogs/dog.7.jpg']
    """
    folders: dict[PurePosixPath, list[str]] = {}
    for path in relative_paths:
        folders.setdefault(PurePosixPath(path).parent, []).append(path)
    kept = []
    for folder, paths in folders.items():
        limit = per_class if isinstance(per_class, int) else per_class.get(str(folder).split("/")[0], 0)
        names = {path: PurePosixPath(path).name for path in paths}
        kept += sorted(paths, key=lambda path: (len(names[path]), names[path]))[:limit]
    return sorted(kept)
