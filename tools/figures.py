"""Figures quoted in the course's text, bound to their sources by meaning (``tests/test_results.py`` runs it).

    python tools/figures.py                      # lint every lesson and README.md
    python tools/figures.py README.md notebooks/05_augmentation_and_overfitting.ipynb
    python tools/figures.py --fill [files]       # rewrite every marked number from its source

**The marker.** Every figure the text quotes names its source in an HTML comment written
immediately after the number (no space): ``0.810<!--fig 05:baseline_val_accuracy-->``. JupyterLab,
GitHub, nbconvert and Sphinx/MyST-NB render the comment invisibly. Sources:

- ``NN:name``: lesson NN's record (``results/NN_*.json``): ``figures[name]``, else a field of the
  record itself (``seconds``, ``quick_seconds``, ``machine.cores``). ``seconds``, ``quick_seconds``,
  ``*_seconds`` and ``*_minutes`` are times, converted to the unit the text writes;
- ``code:NAME``: a setting assigned in the lesson's own code cells (``NAME = 60``, or
  ``NAME = 25 if QUICK else 60``: the full-mode value; ``code:NAME@quick``: the quick one;
  ``code:NAME[1]``: an item);
- ``py:module.attribute``: a constant of ``coursekit`` (``py:owndata.QUICK_PER_CLASS["train"]``,
  ``py:recipes.SCRATCH_CNN.epochs``, or a function's default argument: ``py:scan.scan.near_threshold``);
- ``digest:dataset/split/class``: how many files ``coursekit/digests/<dataset>.sha256`` lists there;
- ``cite:reference``: a figure from a publication (not checked; the reference is required);
- ``example:why``: a number that is neither a measurement nor a setting (a hypothetical).

A name instead of a number is bound with a marker after a code span: ``\\`+L2\\`<!--fig 05:best_regularized-->``.

**The lint** fails when a quoted figure has no marker, when its source does not exist, or when
the source, rounded half-up to the digits written, is a different number (a percentage is 100 x
the source; "3.45 M" divides by the multiplier; a time converts seconds to the unit written).
Quoted figures are, outside `code`, fenced code, link targets and $math$: decimal fractions
(``0.735``), percentages, times (``6 min``, ``116 s``), epochs (``20 epochs``, ``epoch 13``, the
integers of a table column whose header says "epoch"), counts (``2000 photos``, ``3.45 M
parameters``, ``50 bits``, ``2000 training``), memory sizes (``1.8 GB``) and ratios (``5.6x``,
``2-3 times``); any other marked number is checked as well. Text between ``<!-- lesson-time -->``
and ``<!-- /lesson-time -->`` is generated from the records by ``tools/course.py`` and its own
test, and is skipped here.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import json
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
DIGESTS = REPO / "coursekit" / "digests"

INTEGER = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
NUMBER = INTEGER + r"(?:\.\d+)?"
RANGE = rf"(?<![\w.])(?P<first>{NUMBER})(?:\s?(?:-|–|to)\s?(?P<second>{NUMBER}))?"
TIME_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60,
              "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600}
MULTIPLIERS = {None: 1, "k": 1e3, "thousand": 1e3, "M": 1e6, "million": 1e6, "billion": 1e9,
               "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9}
COUNT_NOUNS = r"photos?|images?|pictures?|files|JPEGs|parameters|params|weights|bits"
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
    ("ratio", re.compile(RANGE + r"(?:\s?[x×](?!\s?\d)(?!\w)|\stimes\b)")),
    ("fraction", re.compile(r"(?<![\w.])(?P<first>[01]\.\d+)(?!\d|\.\d)")),
]
STRIP = [re.compile(r"```.*?```", re.S), re.compile(r"`[^`]*`"), re.compile(r"\$\$.*?\$\$", re.S),
         re.compile(r"\$[^$\n]*\$"), re.compile(r"\]\([^)]*\)"), re.compile(r"<[^>]+>")]
MARKER = re.compile(r"<!--\s*fig\s+(?P<source>[^>]*?)\s*-->")
GENERATED = re.compile(r"<!--\s*lesson-time\s*-->.*?<!--\s*/lesson-time\s*-->", re.S)
BOUND = re.compile(rf"(?:(?<![\w.]){NUMBER}|`[^`\n]*`)$")   # what a marker binds: the number or code span before it


@dataclass
class Figure:
    """One quoted figure: where, its kind, the number as written, its unit factor, its source."""

    where: str
    kind: str
    number: str
    factor: float
    context: str
    source: str | None = None
    span: tuple[int, int] = (0, 0)    # of the number (or code span) in the document's own text

    def __str__(self) -> str:
        bound = f" <!--fig {self.source}-->" if self.source else ""
        return f"{self.where}: {self.kind} {self.number}{bound} in ...{self.context}..."


class SourceError(ValueError):
    """A marker whose source does not exist (``missing_record`` when a lesson has no record yet)."""

    def __init__(self, message: str, missing_record: bool = False):
        super().__init__(message)
        self.missing_record = missing_record


# ---------------------------------------------------------------- reading the figures of a text

def strip(text: str) -> str:
    """Blank out code, math, link targets and HTML tags (same length, so positions stay)."""
    for pattern in STRIP:
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return text


def _unmark(text: str) -> tuple[str, list[tuple[int, int, str | None]]]:
    """Return the text without markers (generated blocks blanked) and each marker as (position
    in that text, length, source; None when it follows neither a number nor a code span)."""
    text = GENERATED.sub(lambda match: " " * len(match.group()), text)
    code = [match.span() for pattern in STRIP[:2] for match in pattern.finditer(text)]
    pieces, markers, last = [], [], 0
    for match in MARKER.finditer(text):
        if any(start < match.start() < end for start, end in code):
            continue  # a marker shown as code, in the text about markers
        pieces.append(text[last:match.start()])
        clean = "".join(pieces)
        markers.append((len(clean), len(match.group()), match["source"] if BOUND.search(clean) else None))
        last = match.end()
    return "".join(pieces) + text[last:], markers


def _table_epochs(text: str) -> list[tuple[int, int]]:
    """Spans of the integers in table columns whose header says 'epoch'."""
    spans, header, offset = [], None, 0
    for line in text.splitlines(keepends=True):
        if not line.lstrip().startswith("|"):
            header = None
        elif header is None:
            header = [cell.strip().lower() for cell in line.strip().strip("|").split("|")]
        elif not re.fullmatch(r"[\s|:-]+", line):
            start = offset + line.index("|") + 1
            for column, cell in zip(header, line.strip().strip("|").split("|")):
                if "epoch" in column:
                    spans += [(start + m.start(), start + m.end())
                              for m in re.finditer(r"(?<![\w.])\d+(?![\w.])", cell)]
                start += len(cell) + 1
        offset += len(line)
    return spans


def _found(plain: str) -> dict[int, tuple[str, float, int]]:
    """The numbers the patterns read: {end: (kind, unit factor, start)}."""
    found, taken = {}, []
    for kind, pattern in PATTERNS:
        for match in pattern.finditer(plain):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            taken.append(match.span())
            groups = match.groupdict()
            factor = (TIME_UNITS[groups["unit"].strip()] if kind == "time"
                      else MULTIPLIERS[groups.get("mult")] if kind in ("count", "memory") else 1)
            for group in ("first", "second"):
                if groups.get(group):
                    found[match.end(group)] = (kind, factor, match.start(group))
    for start, end in _table_epochs(plain):
        found.setdefault(end, ("epochs", 1, start))
    return found


def extract(text: str, where: str = "") -> tuple[list[Figure], list[str]]:
    """Return the figures a markdown text quotes, in reading order, each with the source its
    marker names (None without one) and its span in ``text``; and problems with markers."""
    clean, markers = _unmark(text)
    found = _found(strip(clean))
    sources = {at: source for at, _, source in markers if source is not None}
    for at in sources:  # a marked number that no pattern reads, or a code span: a figure too
        if at not in found:
            bound = BOUND.search(clean[:at])
            found[at] = ("name" if bound.group().startswith("`") else "number", 1, bound.start())
    removed = lambda position, inclusive: sum(length for at, length, _ in markers
                                              if at < position or (inclusive and at == position))
    figures = []
    for end, (kind, factor, start) in sorted(found.items()):
        context = " ".join(clean[max(0, start - 40):end + 25].split())
        span = (start + removed(start, True), end + removed(end, False))
        figures.append(Figure(where, kind, clean[start:end], factor, context, sources.get(end), span))
    problems = [f"{where}: a marker after no number or code span: ...{clean[max(0, at - 30):at + 20]!r}"
                for at, _, source in markers if source is None]
    return figures, problems


# ---------------------------------------------------------------- what a marker names

def records(folder: Path = RESULTS) -> dict[str, dict]:
    """Committed records by two-digit lesson number (``"05"``)."""
    return {path.name[:2]: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob("[0-9][0-9]_*.json"))}


def _path(value, path: str, what: str):
    """Follow ``a.b[0]["c"]`` into nested dicts, lists and objects."""
    for name, index in re.findall(r"\.?([A-Za-z_]\w*)|\[([^\]]+)\]", path):
        key = ast.literal_eval(index) if index else name
        try:
            value = value[key] if index or isinstance(value, dict) else (
                getattr(value, key) if hasattr(value, key) or not callable(value)
                else inspect.signature(value).parameters[key].default)  # a function's default argument
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise SourceError(f"{what} has no {path!r}") from None
    return value


def _time_unit(name: str) -> float | None:
    """Seconds per unit of a source whose name says it is a time, else None."""
    name = name.lower().split(".")[-1].split("[")[0].split("@")[0]
    return 1 if name in ("seconds", "quick_seconds") or name.endswith("_seconds") else (
        60 if name.endswith("_minutes") else None)


def _record_value(lesson: str, name: str, all_records: dict):
    if lesson not in all_records:
        raise SourceError(f"no record for lesson {lesson} (results/{lesson}_*.json): `make results` writes it",
                          missing_record=True)
    record = all_records[lesson]
    if name.split(".")[0].split("[")[0] in record.get("figures", {}):
        return _path(record["figures"], name, f"lesson {lesson}'s figures")
    try:
        return _path(record, name, f"lesson {lesson}'s record")
    except SourceError:
        close = difflib.get_close_matches(name, list(record.get("figures", {})), n=3)
        raise SourceError(f"lesson {lesson}'s record has no figure {name!r} (yet: `make results` records what the "
                          f"lesson's results.record calls report){'; close: ' + ', '.join(close) if close else ''}",
                          missing_record=True) from None


def _evaluate(node, names: dict, quick: bool):
    """The value of a literal expression in a lesson's code: numbers, tuples, arithmetic,
    names assigned before, and ``a if QUICK else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_evaluate(item, names, quick) for item in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, names, quick)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        return OPERATORS[type(node.op)](_evaluate(node.left, names, quick), _evaluate(node.right, names, quick))
    if isinstance(node, ast.IfExp) and isinstance(node.test, ast.Name) and node.test.id == "QUICK":
        return _evaluate(node.body if quick else node.orelse, names, quick)
    if isinstance(node, ast.Name) and node.id in names:
        return _evaluate(names[node.id], names, quick)
    raise SourceError(f"`{ast.unparse(node)}` is not a literal setting (numbers, tuples, arithmetic, "
                      "`a if QUICK else b`)")


OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Pow: lambda a, b: a ** b}


def code_settings(cells: list[str]) -> dict[str, ast.expr]:
    """The names the code cells assign at their top level, with the expression assigned (a name
    assigned twice maps to None: it has no single value)."""
    names = {}
    for source in cells:
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # a cell with a deliberate error
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0], statement.value
                pairs = (zip(target.elts, value.elts) if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                         else [(target, value)])
                for name, expression in pairs:
                    if isinstance(name, ast.Name):
                        names[name.id] = expression if name.id not in names else None
    return names


def _code_value(source: str, names: dict):
    match = re.fullmatch(r"([A-Za-z_]\w*)(.*?)(@quick)?", source)
    if not match or match[1] not in names:
        raise SourceError(f"no code cell of this lesson assigns {source.split('[')[0].split('@')[0]!r}")
    if names[match[1]] is None:
        raise SourceError(f"{match[1]!r} is assigned more than once in this lesson's code")
    value = _evaluate(names[match[1]], names, bool(match[3]))
    return _path(value, match[2], match[1]) if match[2] else value


def _python_value(expression: str):
    """A constant of coursekit: ``owndata.QUICK_PER_CLASS["train"]`` (``coursekit.`` may be left out)."""
    match = re.fullmatch(r"(?:coursekit\.)?([a-z_]+)((?:\.\w+|\[[^\]]+\])*)", expression)
    if not match:
        raise SourceError(f"py:{expression} is not module.attribute[...]")
    try:
        module = importlib.import_module(f"coursekit.{match[1]}")
    except ImportError as error:
        raise SourceError(f"py:{expression}: {error}") from None
    return _path(module, match[2], f"coursekit.{match[1]}")


def _digest_count(where: str) -> int:
    dataset, _, inside = where.strip("/").partition("/")
    digest = DIGESTS / f"{dataset}.sha256"
    if not digest.is_file():
        raise SourceError(f"no digest {digest.relative_to(REPO)}; there are {sorted(p.stem for p in DIGESTS.glob('*.sha256'))}")
    prefix = f"{dataset}/{inside}/" if inside else f"{dataset}/"
    count = sum(line.split(maxsplit=1)[1].strip().startswith(prefix)
                for line in digest.read_text(encoding="utf-8").splitlines() if line.strip())
    if not count:
        raise SourceError(f"{digest.name} lists no file under {prefix}")
    return count


def resolve(source: str, all_records: dict, names: dict | None = None):
    """Return (value, seconds per unit of a time source or None) for a marker's source; value
    None for ``cite:`` and ``example:``. Raises SourceError naming what does not exist."""
    kind, _, rest = source.partition(":")
    rest = rest.strip()
    if re.fullmatch(r"\d\d", kind) and rest:
        return _record_value(kind, rest, all_records), _time_unit(rest)
    if kind == "code" and rest:
        if names is None:
            raise SourceError("code: markers are for lessons, whose code cells hold the setting")
        return _code_value(rest, names), _time_unit(rest)
    if kind == "py" and rest:
        return _python_value(rest), _time_unit(rest)
    if kind == "digest" and rest:
        return _digest_count(rest), None
    if kind in ("cite", "example") and len(rest) > 3:
        return None, None
    raise SourceError(f"unknown source {source!r}: use NN:figure, code:NAME, py:module.NAME, "
                      "digest:dataset/split, cite:reference or example:why")


# ---------------------------------------------------------------- checking and filling

def _rounded(value: float, written: str) -> str:
    """``value`` written with as many decimals as ``written`` (and its thousands commas)."""
    plain = written.replace(",", "")
    digits = len(plain.split(".")[1]) if "." in plain else 0
    number = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP)
    return f"{number:,}" if "," in written else str(number)


def expected_text(figure: Figure, value, seconds_per_unit: float | None) -> str:
    """What the figure should say, given its source's value (SourceError when they cannot match)."""
    if figure.kind == "name":
        return f"`{value}`"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SourceError(f"{figure.source} is {value!r}, not a number")
    if (figure.kind == "time") != (seconds_per_unit is not None):
        raise SourceError(f"{figure.source} is {'not ' if figure.kind == 'time' else ''}a time, "
                          f"but the text quotes {'a time' if figure.kind == 'time' else 'a ' + figure.kind}")
    scale = 100 if figure.kind == "percent" else 1
    return _rounded(value * scale * (seconds_per_unit or 1) / figure.factor, figure.number)


@dataclass
class Document:
    """A lesson (its markdown cells and code settings) or README.md."""

    path: Path
    sections: list[tuple[str, str]]        # (where, markdown text)
    names: dict | None = None               # the lesson's code settings; None for README.md


def read(path: Path) -> Document:
    path = Path(path)
    if path.suffix != ".ipynb":
        return Document(path, [("", path.read_text(encoding="utf-8"))])
    notebook = nbformat.read(path, as_version=4)
    return Document(path, [(f"cell {index}", cell.source) for index, cell in enumerate(notebook.cells)
                           if cell.cell_type == "markdown"],
                    code_settings([cell.source for cell in notebook.cells if cell.cell_type == "code"]))


def _where(document: Document, where: str, text: str, figure: Figure) -> str:
    name = document.path.name
    return f"{name} {where}" if where else f"{name}:{text.count(chr(10), 0, figure.span[0]) + 1}"


def check(path: Path, all_records: dict | None = None) -> list[tuple[str, bool]]:
    """Return the problems of one lesson or README.md: (message, whether a missing record causes it)."""
    return check_document(read(path), records() if all_records is None else all_records)


def check_document(document: Document, all_records: dict) -> list[tuple[str, bool]]:
    """The problems of a document's figures, as ``check`` returns them."""
    problems = []
    for where, text in document.sections:
        figures, marker_problems = extract(text, where)
        problems += [(f"{document.path.name} {message}", False) for message in marker_problems]
        for figure in figures:
            figure.where = _where(document, where, text, figure)
            if figure.source is None:
                problems.append((f"{figure}: no marker names its source", False))
                continue
            try:
                value, unit = resolve(figure.source, all_records, document.names)
                wanted = figure.number if value is None else expected_text(figure, value, unit)
            except SourceError as error:
                problems.append((f"{figure}: {error}", error.missing_record))
                continue
            if wanted != figure.number:
                problems.append((f"{figure}: its source is {value!r}, so it should read {wanted}", False))
    return problems


def fill(path: Path, all_records: dict | None = None) -> int:
    """Rewrite every marked number of a lesson or README.md from its source; return how many
    changed. Figures whose source is missing are left as they are (the lint names them)."""
    all_records = records() if all_records is None else all_records
    document, changed = read(path), 0

    def filled(text: str) -> str:
        nonlocal changed
        figures, _ = extract(text)
        for figure in sorted((f for f in figures if f.source), key=lambda f: -f.span[0]):
            try:
                value, unit = resolve(figure.source, all_records, document.names)
                wanted = figure.number if value is None else expected_text(figure, value, unit)
            except SourceError:
                continue
            if wanted != figure.number:
                text, changed = text[:figure.span[0]] + wanted + text[figure.span[1]:], changed + 1
        return text

    if path.suffix != ".ipynb":
        path.write_text(filled(path.read_text(encoding="utf-8")), encoding="utf-8")
        return changed
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = filled(cell.source)
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    filling = "--fill" in args
    paths = [Path(arg) for arg in args if arg != "--fill"]
    paths = paths or sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")) + [REPO / "README.md"]
    if filling:
        for path in paths:
            print(f"{path.name}: {fill(path)} figure(s) rewritten from their sources")
    total = 0
    for path in paths:
        problems = check(path)
        total += len(problems)
        print(f"{path.name}: {len(problems)} problem(s)")
        for message, _ in problems:
            print(f"  {message}")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
