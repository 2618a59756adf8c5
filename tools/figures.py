"""Figures quoted in the course's text, and what backs each one (``tests/test_results.py`` runs it).

    python tools/figures.py                                   # every lesson and README.md
    python tools/figures.py notebooks/04_training_a_cnn.ipynb

**What is a quoted figure.** In a lesson's markdown cells (the header's "Time to run" and the
instructor notes included) and in README.md, outside `code`, fenced code, link targets and
$math$:

- a fraction written with decimals: ``0.735`` (a number 0.x or 1.x);
- a percentage: ``81 %``, ``76-81%``;
- a time: ``6 min``, ``5-15 minutes``, ``116 s``, ``1.5 hours``;
- epochs: ``20 epochs``, ``epoch 13``, and every integer in a table column whose header says "epoch";
- a count: ``2000 photos``, ``50 validation images``, ``3.45 M parameters``, ``1.2 million``,
  ``2000 training`` (a split size); a memory size: ``1.8 GB`` (a figure in bytes backs it).

A range (``5-15 minutes``) gives two figures, each checked.

**What backs a figure.** Rounded half-up to the digits it is written with, it equals

- a figure of its lesson's record (``results/<lesson>.json``: ``figures``; for times ``seconds``,
  ``quick_seconds`` and figures named ``*_seconds`` or ``*_minutes``), or of the record of a lesson
  named in the same paragraph or table row ("lesson 5 reaches 0.978"); a README paragraph that
  names no lesson may use any record;
- a constant in ``results/constants.yml`` (named, with the reason it is not a measurement:
  dataset facts, course settings; ``*_seconds``/``*_minutes`` names are times; ``where`` limits
  one to the lessons or README.md it names);
- for lessons, a number written in one of its code cells (a setting: ``EPOCHS = 20``,
  ``Dropout(0.5)``), never for a time.

A percentage also matches a fraction (0.81 backs "81 %"). Text listed under ``phrases`` in
``constants.yml`` (a hypothetical example, arithmetic worked in the text) is not checked; each
phrase names its file and its reason, and a phrase that no longer occurs is an error.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
CONSTANTS = RESULTS / "constants.yml"

INTEGER = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
NUMBER = INTEGER + r"(?:\.\d+)?"
RANGE = rf"(?<![\w.])(?P<first>{NUMBER})(?:\s?(?:-|–|to)\s?(?P<second>{NUMBER}))?"
TIME_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60,
              "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}
MULTIPLIERS = {None: 1, "k": 1e3, "thousand": 1e3, "M": 1e6, "million": 1e6, "billion": 1e9,
               "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9}
COUNT_NOUNS = r"photos?|images?|pictures?|files|JPEGs|parameters|params|weights"
#: (kind, pattern) in priority order: a span taken by an earlier pattern is not read again.
PATTERNS = [
    ("time", re.compile(RANGE + r"(?P<unit>\s?(?:ms|secs?|seconds?|mins?|minutes?|hours?)|\s(?:s|h))\b")),
    ("percent", re.compile(RANGE + r"\s?(?:%|per ?cent\b)")),
    ("epochs", re.compile(RANGE + r"\s(?:[a-z]+\s)?epochs?\b")),
    ("epochs", re.compile(r"\bepochs?\s(?P<first>\d+)\b")),
    ("count", re.compile(RANGE + r"\s?(?P<mult>million|thousand|billion|M|k)?\s(?:[a-z-]+\s){0,2}?(?:"
                         + COUNT_NOUNS + r")\b")),
    ("count", re.compile(RANGE + r"\s(?P<mult>million|thousand|billion)\b")),
    ("count", re.compile(rf"(?<![\w.])(?P<first>{INTEGER})\s(?:training|validation|test)\b")),
    ("memory", re.compile(RANGE + r"\s?(?P<mult>KB|kB|MB|GB)\b")),
    ("fraction", re.compile(r"(?<![\w.])(?P<first>[01]\.\d+)(?![\d.])")),
]
STRIP = [re.compile(r"```.*?```", re.S), re.compile(r"`[^`]*`"), re.compile(r"\$\$.*?\$\$", re.S),
         re.compile(r"\$[^$\n]*\$"), re.compile(r"\]\([^)]*\)"), re.compile(r"<[^>]+>")]
LESSON_NAMED = re.compile(r"\b[Ll]essons?[\s-](\d)((?:\s*(?:,|and|or|&)\s*\d)*)|notebooks/(\d\d)_")


@dataclass(frozen=True)
class Figure:
    """One number quoted in text: where, its kind, the number as written and its unit factor."""

    where: str
    kind: str
    number: str
    factor: float
    text: str
    lessons: tuple[str, ...]
    context: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.number} in {self.context or self.text!r}"


def strip(text: str) -> str:
    """Blank out code, math, link targets and HTML tags (same length, so positions stay)."""
    for pattern in STRIP:
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return text


def named_lessons(text: str) -> tuple[str, ...]:
    """Lesson numbers (``"3"``) a paragraph names: "lesson 3", "lessons 3 and 4", notebooks/03_ links."""
    found = []
    for match in LESSON_NAMED.finditer(text):
        if match.group(3):
            found.append(str(int(match.group(3))))
        else:
            found += [match.group(1), *re.findall(r"\d", match.group(2) or "")]
    return tuple(dict.fromkeys(found))


def _table_epochs(paragraph: str, where: str, lessons: tuple[str, ...]) -> list[Figure]:
    """Integers in a table row under a column header that says 'epoch'."""
    rows = [line for line in paragraph.splitlines() if line.lstrip().startswith("|")]
    if len(rows) < 3:
        return []
    header = [cell.strip().lower() for cell in rows[0].strip().strip("|").split("|")]
    figures = []
    for row in rows[2:]:
        cells = row.strip().strip("|").split("|")
        for column, cell in zip(header, cells):
            if "epoch" in column:
                figures += [Figure(where, "epochs", number, 1, cell.strip(), lessons)
                            for number in re.findall(r"(?<![\w.])\d+(?![\w.])", cell)]
    return figures


def extract(paragraph: str, where: str, lessons: tuple[str, ...] = ()) -> list[Figure]:
    """Return the figures a paragraph (or table row) quotes, in reading order."""
    text, taken, found = strip(paragraph), [], []
    lessons = tuple(dict.fromkeys(lessons + named_lessons(paragraph)))
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            taken.append(match.span())
            groups = match.groupdict()
            if kind == "time":
                factor = TIME_UNITS[groups["unit"].strip()]
            else:
                factor = MULTIPLIERS[groups.get("mult")] if kind in ("count", "memory") else 1
            numbers = [groups["first"]] + ([groups["second"]] if groups.get("second") else [])
            context = " ".join(paragraph[max(0, match.start() - 40):match.end() + 20].split())
            found += [(match.start(), Figure(where, kind, number, factor, match.group().strip(), lessons,
                                             f"...{context}..."))
                      for number in numbers]
    figures = [figure for _, figure in sorted(found, key=lambda pair: pair[0])]
    return figures + [figure for figure in _table_epochs(paragraph, where, lessons)
                      if figure not in figures]


def paragraphs(source: str) -> list[str]:
    """Split markdown into paragraphs; a table is kept whole (its header names the columns)."""
    return [part for part in re.split(r"\n\s*\n", source) if part.strip()]


def rows(paragraph: str) -> list[str]:
    """A table paragraph as header + one row each (so a row's lesson mention stays its own)."""
    lines = paragraph.splitlines()
    if len(lines) >= 3 and all(line.lstrip().startswith("|") for line in lines):
        return ["\n".join(lines[:2] + [line]) for line in lines[2:]]
    return [paragraph]


def code_numbers(notebook) -> set[float]:
    """Every number literal written in the lesson's code cells (settings, not measurements)."""
    numbers = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # a cell with a deliberate error; nbval runs it, nothing to read here
        numbers |= {float(node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)
                    and isinstance(node.value, (int, float)) and not isinstance(node.value, bool)}
    return numbers


def records(folder: Path = RESULTS) -> dict[str, dict]:
    """Committed records by lesson number (``"3"``)."""
    return {str(int(path.name[:2])): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("[0-9][0-9]_*.json"))}


def allow_list(path: Path = CONSTANTS) -> dict:
    """``constants`` ({name: {value, why}}) and ``phrases`` ([{text, where, why}]) from constants.yml."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return {"constants": (loaded or {}).get("constants") or {}, "phrases": (loaded or {}).get("phrases") or []}


def _split_times(named: dict) -> tuple[list[float], list[float]]:
    """(numbers, times in seconds) from named values: ``*_seconds``/``*_minutes`` names are times."""
    numbers, times = [], []
    for name, value in named.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if name.endswith("seconds"):
            times.append(value)
        elif name.endswith("minutes"):
            times.append(60 * value)
        else:
            numbers.append(value)
    return numbers, times


def _applies(entry: dict, document: str) -> bool:
    where = entry.get("where", "*")
    return where == "*" or document in ([where] if isinstance(where, str) else where)


def evidence(lessons: tuple[str, ...], all_records: dict, constants: dict, code: set[float],
             document: str = "*") -> tuple:
    """(numbers, times in seconds) that may back a figure of a paragraph naming ``lessons``."""
    chosen = [all_records[number] for number in lessons if number in all_records]
    numbers, times = _split_times({name: entry["value"] for name, entry in constants.items()
                                   if _applies(entry, document)})
    numbers += sorted(code)
    for record in chosen:
        record_numbers, record_times = _split_times(record.get("figures", {}))
        numbers += record_numbers
        times += record_times + [record[key] for key in ("seconds", "quick_seconds") if key in record]
    return numbers, times


def _rounds_to(value: float, written: str) -> bool:
    written = written.replace(",", "")
    digits = len(written.split(".")[1]) if "." in written else 0
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP) == Decimal(written)


def backed(figure: Figure, numbers: list[float], times: list[float]) -> bool:
    """True when a number or time (seconds) rounds to the figure as written."""
    if figure.kind == "time":
        return any(_rounds_to(seconds / figure.factor, figure.number) for seconds in times)
    if figure.kind == "percent":
        return any(_rounds_to(100 * value, figure.number) or _rounds_to(value, figure.number) for value in numbers)
    return any(_rounds_to(value / figure.factor, figure.number) for value in numbers)


def _exempt(figure: Figure, paragraph: str, phrases: list[dict], document: str, used: set[int]) -> bool:
    for index, phrase in enumerate(phrases):
        if _applies(phrase, document) and phrase["text"] in paragraph and figure.text in phrase["text"]:
            used.add(index)
            return True
    return False


def check_document(document: str, sections: list[tuple[str, str]], own: tuple[str, ...],
                   code: set[float], all_records: dict, allowed: dict) -> tuple[list[Figure], set[int]]:
    """Return (figures nothing backs, indexes of the phrases used) for one lesson or README.

    ``sections`` are (where, paragraph); ``own`` the lesson's number (README: every lesson, used
    for paragraphs that name none).
    """
    flagged, used = [], set()
    for where, paragraph in sections:
        for row in rows(paragraph):
            named = named_lessons(row)
            lessons = tuple(dict.fromkeys(own[:1] + named)) if document != "README.md" else (named or own)
            numbers, times = evidence(lessons, all_records, allowed["constants"], code, document)
            for figure in extract(row, where, lessons):
                if not backed(figure, numbers, times) and not _exempt(figure, row, allowed["phrases"], document, used):
                    flagged.append(figure)
    return flagged, used


def lesson_sections(path: Path) -> tuple[list[tuple[str, str]], set[float]]:
    """(where, paragraph) of a lesson's markdown cells, and the numbers its code cells write."""
    notebook = nbformat.read(path, as_version=4)
    sections = [(f"cell {index}", paragraph) for index, cell in enumerate(notebook.cells)
                if cell.cell_type == "markdown" for paragraph in paragraphs(cell.source)]
    return sections, code_numbers(notebook)


def check(path: Path, all_records: dict | None = None, allowed: dict | None = None) -> tuple[list[Figure], set[int]]:
    """Check one lesson file or README.md against the committed records and the allow-list."""
    all_records = records() if all_records is None else all_records
    allowed = allow_list() if allowed is None else allowed
    path = Path(path)
    if path.suffix == ".ipynb":
        sections, code = lesson_sections(path)
        return check_document(path.stem, sections, (str(int(path.name[:2])),), code, all_records, allowed)
    text = path.read_text(encoding="utf-8")
    every = tuple(str(number) for number in range(10))
    return check_document(path.name, [(f"paragraph {i}", p) for i, p in enumerate(paragraphs(text))],
                          every, set(), all_records, allowed)


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])]
    paths = paths or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")) + [REPO / "README.md"]
    total = 0
    for path in paths:
        flagged, _ = check(path)
        total += len(flagged)
        print(f"{path.name}: {len(flagged)} figure(s) no record, constant or code cell backs")
        for figure in flagged:
            print(f"  {figure}")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
