"""A lesson's record is stale when what produced its figures changed after the commit it names.

What produced them: the lesson notebook (its cells' text and code; the numbers its figure markers
bind and the generated lesson-time block are left out, since `tools/figures.py --fill` and
`tools/course.py sync` rewrite them from the record), `coursekit/recipes.py`, and every coursekit
module the lesson imports, directly or through other modules (Python compared without comments
and docstrings). A record made from a working tree that differed from its commit (`dirty`) is
stale too. Re-record with `make results`; the test needs the git history (CI clones it).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess

import pytest

from tests.conftest import REPO
from tools import figures

RECORDS = sorted((REPO / "results").glob("[0-9][0-9]_*.json"))
IMPORT = re.compile(r"^\s*(?:from\s+coursekit(?:\.(\w+))?\s+import\s+(\([^)]*\)|[\w ,]+)|import\s+coursekit\.(\w+))", re.M)
MARKED = re.compile(rf"(?:(?<![\w.]){figures.NUMBER}|`[^`\n]*`)(?=<!--\s*fig\s)")


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def imported_modules(code: str) -> set[str]:
    """coursekit module names that ``code`` imports (``from coursekit import a, b``, ``from
    coursekit.c import x``, ``import coursekit.d``)."""
    found = set()
    for package_module, names, plain in IMPORT.findall(code):
        if package_module or plain:
            found.add(package_module or plain)
        else:
            found |= {name.split(" as ")[0].strip() for name in names.replace("(", "").replace(")", "").split(",")}
    return {name for name in found if (REPO / "coursekit" / f"{name}.py").is_file()}


def lesson_modules(notebook: dict) -> set[str]:
    """The coursekit modules a lesson's code imports, and the modules those import, transitively."""
    todo = imported_modules("\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"))
    todo |= {"__init__", "recipes"}
    done = set()
    while todo:
        name = todo.pop()
        done.add(name)
        todo |= imported_modules((REPO / "coursekit" / f"{name}.py").read_text(encoding="utf-8")) - done
    return done


def lesson_content(text: str) -> list[tuple[str, str]]:
    """A notebook's cells as (type, source), without outputs, metadata, the generated
    lesson-time block and the numbers that figure markers bind."""
    cells = []
    for cell in json.loads(text)["cells"]:
        source = "".join(cell["source"])
        source = MARKED.sub("#", figures.GENERATED.sub("", source)) if cell["cell_type"] == "markdown" else source
        cells.append((cell["cell_type"], source))
    return cells


def python_content(text: str) -> str:
    """A module's code without comments, docstrings and layout."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def changed_since(commit: str, lesson: str) -> list[str]:
    """The files that produced a lesson's figures and differ now from ``commit``."""
    notebook_path = REPO / "notebooks" / f"{lesson}.ipynb"
    now = notebook_path.read_text(encoding="utf-8")
    paths = {f"notebooks/{lesson}.ipynb": lesson_content}
    paths |= {f"coursekit/{name}.py": python_content for name in sorted(lesson_modules(json.loads(now)))}
    changed = []
    for path, content in paths.items():
        then = git("show", f"{commit}:{path}")
        if then.returncode != 0:
            changed.append(f"{path} (not in that commit)")
        elif content(then.stdout) != content((REPO / path).read_text(encoding="utf-8")):
            changed.append(path)
    return changed


def test_lesson_modules_follow_imports_transitively():
    notebook = {"cells": [{"cell_type": "code", "source": ["from coursekit import checks, training\n"]},
                          {"cell_type": "markdown", "source": ["from coursekit import eda"]}]}
    found = lesson_modules(notebook)
    assert {"checks", "training", "cnn", "config", "recipes", "__init__"} <= found  # training imports cnn
    assert imported_modules("from coursekit.cnn import x\nimport coursekit.eda\nfrom coursekit import (widgets,\n  shapes as s)") \
        == {"cnn", "eda", "widgets", "shapes"}


def test_marked_numbers_and_generated_blocks_do_not_count_as_changes():
    def notebook(text):
        return json.dumps({"cells": [{"cell_type": "markdown", "source": [text]}, {"cell_type": "code", "source": ["x = 1"]}]})

    before = notebook("<!-- lesson-time -->about 70 min<!-- /lesson-time -->Reaches 0.810<!--fig 05:a--> "
                      "with `+L2`<!--fig 05:b-->.")
    after = notebook("<!-- lesson-time -->about 75 min<!-- /lesson-time -->Reaches 0.835<!--fig 05:a--> "
                     "with `+augmentation`<!--fig 05:b-->.")
    assert lesson_content(before) == lesson_content(after)
    assert lesson_content(before) != lesson_content(notebook("Reaches 0.810<!--fig 05:c--> with `+L2`<!--fig 05:b-->."))
    assert lesson_content(before) != lesson_content(before.replace("Reaches", "Gets"))
    assert python_content('"""Doc."""\nX = 1  # note\n') == python_content("X = 1\n")
    assert python_content("X = 1\n") != python_content("X = 2\n")


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_record_is_not_older_than_its_lesson(path):
    """Fails until the lead re-records at the final commit (issue 16 item 7): expected until then."""
    record = json.loads(path.read_text(encoding="utf-8"))
    commit = record["commit"]
    if git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        pytest.fail(f"{path.name}: commit {commit} is not in this clone's history (clone with history)")
    changed = changed_since(commit, record["lesson"])
    dirty = ["the record was made from a working tree that differed from that commit (dirty: true)"] if record.get("dirty") else []
    assert not changed and not dirty, (
        f"{path.name} was recorded at {commit[:10]} ({record.get('date')}), and since then changed:\n  "
        + "\n  ".join(changed + dirty) + f"\nRe-record it: python tools/record.py {path.name[:2]} (make results)")
